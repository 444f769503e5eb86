//! Training small MLPs on the CPU, in three parts kept apart:
//!
//! - the **step** (one optimiser step on one mini-batch: gather, batch transforms such as input
//!   noise and [`Mixup`], forward pass with dropout, [`Loss`], [`Regularizer`]s, backward pass,
//!   update), which owns the buffers that live across steps and allocates nothing after the first;
//! - the **loop** ([`Trainer`]: epochs, schedule, evaluation, checkpoint selection, early stopping,
//!   checkpoint cadence);
//! - **observers** ([`Observer`]: any number, each called at the start, after the epochs its
//!   [`ObserveMode`] selects, and at the end — the [`MgsMonitor`], the label-free [`MgsSelector`],
//!   metric closures, callbacks and the [`progress_printer`]).
//!
//! The run's state is a value ([`RunState`]) that [`Checkpoint`]s persist. One concept per module:
//!
//! - [`loss`] — the [`Loss`] trait and the built-in losses ([`LossConfig`]);
//! - [`optim`] — SGD, Adam, AdamW; learning-rate schedules;
//! - [`regularizer`] — the [`Regularizer`] trait and [`L2Penalty`];
//! - [`mgs`] — the MGS penalty as a regulariser, the MGS monitor and selector;
//! - [`dropout`] — training-mode forward pass with dropout masks and its VJP;
//! - `batch`, `step` — mini-batches, mixup and noise, the step (crate-private);
//! - [`config`] — [`TrainConfig`] and its parts;
//! - [`trainer`] — the loop; [`evaluate`](fn@evaluate) — evaluation mode;
//! - [`observer`] — the [`Observer`] trait;
//! - [`record`], [`history`] — per-epoch records, the run's history, CSV and JSON;
//! - [`state`], [`checkpoint`] — the run state; save, load, resume bit for bit.
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Adam, L2Penalty, LossConfig, Mixup, Optimizer, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(32, 2, |i, j| ((i * 13 + j * 5) % 17) as f64 / 8.0 - 1.0);
//! let y: Vec<usize> = (0..32).map(|i| usize::from(x[(i, 0)] > x[(i, 1)])).collect();
//! let (xv, yv) = (x.subrows(0, 8), &y[..8]);
//! let arch = Architecture::new(2, &[(16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let config = TrainConfig {
//!     epochs: 5,
//!     batch_size: 8,
//!     optimizer: Optimizer::Adam(Adam { lr: 1e-2, ..Adam::default() }),
//!     loss: LossConfig::GeneralizedCrossEntropy { q: 0.7 },
//!     mixup: Some(Mixup::new(0.4)?),
//!     dropout: 0.1,
//!     seed: 42,
//!     ..TrainConfig::default()
//! };
//! let mut trainer = Trainer::new(mlp, config, DatasetView::classification(x.as_ref(), &y)?)?
//!     .with_validation(DatasetView::classification(xv, yv)?)?
//!     .with_regularizer(L2Penalty::new(1e-4)?)?;
//! let history = trainer.run()?;
//! assert_eq!(history.epochs.len(), 5);
//! assert_eq!(history.epochs[0].penalties[0].0, "l2");
//! assert!(history.to_csv().lines().count() == 6);
//! # Ok::<(), mgs::Error>(())
//! ```

mod batch;
pub mod checkpoint;
pub mod config;
pub mod dropout;
mod evaluate;
pub mod history;
pub(crate) mod io;
pub(crate) mod json;
pub mod loss;
pub mod mgs;
pub mod observer;
pub mod optim;
pub mod record;
pub mod regularizer;
pub mod state;
mod step;
pub mod trainer;

pub use batch::Mixup;
pub use checkpoint::{
    CHECKPOINT_FORMAT, CHECKPOINT_MAX_BYTES, CHECKPOINT_VERSION, Checkpoint, ComponentState,
};
pub use config::{AutoCheckpoint, EarlyStopping, SelectOn, TrainConfig};
pub use dropout::{DropoutPass, check_dropout_rate};
pub use evaluate::evaluate;
pub use history::{EpochEvaluations, History, RunSummary};
pub use loss::{
    Bootstrapping, CrossEntropy, EarlyLearning, GeneralizedCrossEntropy, Loss, LossConfig,
    MeanSquaredError, SymmetricCrossEntropy, accuracy,
};
pub use mgs::{Extremum, MgsMonitor, MgsRegularizer, MgsSelector, WeightSchedule};
pub use observer::{Control, Observation, ObserveMode, Observer, progress_printer};
pub use optim::{Adam, AdamW, Optimizer, OptimizerKind, OptimizerState, Schedule, Sgd};
pub use record::{EpochRecord, Evaluation, KernelSummary, LayerSummary, MgsRecord, Summary};
pub use regularizer::{L2Penalty, Regularizer, StepContext};
pub use state::{RunState, Selected, TrainRngs};
pub use trainer::Trainer;
