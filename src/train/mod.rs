//! Training small MLPs on the CPU: losses, optimisers, schedules, regularisers, dropout, the
//! training loop with evaluation and monitoring, histories and exact-resume checkpoints.
//!
//! One concept per module:
//!
//! - [`loss`] — the open [`Loss`] trait; cross-entropy (label smoothing), MSE and losses for
//!   noisy labels (GCE, SCE, bootstrapping, ELR); [`LossConfig`]; accuracy;
//! - [`optim`] — SGD (momentum, Nesterov, decoupled decay), Adam, AdamW; learning-rate schedules;
//! - [`regularizer`] — the [`Regularizer`] trait (how penalties such as L2 or MGS plug in);
//! - [`mgs`] — the MGS penalty as a regulariser and the MGS metrics as a monitor;
//! - [`dropout`] — training-mode forward pass with dropout masks and its VJP;
//! - [`data`] — borrowed data sets;
//! - [`trainer`] — [`TrainConfig`], [`Trainer`], [`Monitor`], callbacks, early stopping;
//! - [`history`] — per-epoch records, CSV and JSON;
//! - [`checkpoint`] — save, load, resume bit for bit.
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Adam, Dataset, L2Penalty, Optimizer, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(32, 2, |i, j| ((i * 13 + j * 5) % 17) as f64 / 8.0 - 1.0);
//! let y: Vec<usize> = (0..32).map(|i| usize::from(x[(i, 0)] > x[(i, 1)])).collect();
//! let (xv, yv) = (x.subrows(0, 8), &y[..8]);
//! let arch = Architecture::new(2, &[(16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let config = TrainConfig {
//!     epochs: 5,
//!     batch_size: 8,
//!     optimizer: Optimizer::Adam(Adam { lr: 1e-2, ..Adam::default() }),
//!     dropout: 0.1,
//!     seed: 42,
//!     ..TrainConfig::default()
//! };
//! let mut trainer = Trainer::new(mlp, config, Dataset::classification(x.as_ref(), &y)?)?
//!     .with_validation(Dataset::classification(xv, yv)?)?
//!     .with_regularizer(L2Penalty::new(1e-4)?)?;
//! let history = trainer.run()?;
//! assert_eq!(history.epochs.len(), 5);
//! assert_eq!(history.epochs[0].penalties[0].0, "l2");
//! assert!(history.to_csv().lines().count() == 6);
//! # Ok::<(), mgs::Error>(())
//! ```

pub mod checkpoint;
pub mod data;
pub mod dropout;
pub mod history;
mod io;
mod json;
pub mod loss;
pub mod mgs;
pub mod optim;
pub mod regularizer;
pub mod trainer;

pub use checkpoint::{CHECKPOINT_FORMAT, CHECKPOINT_VERSION, Checkpoint, RegularizerState};
pub use data::Dataset;
pub use dropout::{DropoutPass, check_dropout_rate};
pub use history::{EpochRecord, Evaluation, History};
pub use loss::{
    Bootstrapping, CrossEntropy, EarlyLearning, GeneralizedCrossEntropy, Loss, LossConfig,
    MeanSquaredError, SymmetricCrossEntropy, Targets, accuracy,
};
pub use mgs::{MgsMonitor, MgsRegularizer};
pub use optim::{Adam, AdamW, Optimizer, OptimizerKind, OptimizerState, Schedule, Sgd};
pub use regularizer::{L2Penalty, Regularizer, StepContext};
pub use trainer::{
    AutoCheckpoint, Best, Control, EarlyStopping, Monitor, TrainConfig, TrainRngs, Trainer,
    evaluate, progress_printer,
};
