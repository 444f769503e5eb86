//! MGS inside the training loop: the penalty as a [`Regularizer`](super::Regularizer) (with a
//! weight schedule and a cap), the kernel summaries on named probe sets as an
//! [`Observer`](super::Observer), and a label-free selection rule read from those summaries.
//!
//! ```
//! use faer::Mat;
//! use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
//! use mgs::train::{Adam, MgsMonitor, MgsRegularizer, ObserveMode, Optimizer, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(40, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
//! let y: Vec<usize> = (0..40).map(|i| usize::from(x[(i, 0)] + x[(i, 2)] > 0.0)).collect();
//! let arch = Architecture::new(3, &[(16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1))?;
//! let penalty = PenaltyConfig { metric: PenaltyMetric::LogDet, weight: 0.01, ..Default::default() };
//! let monitor = MgsMonitor::new(&[KernelKind::Traced], 1e-6)?
//!     .with_probe("train", x.subrows(0, 16))?
//!     .with_probe("heldout", x.subrows(16, 16))?
//!     .with_layers(true);
//! let config = TrainConfig {
//!     epochs: 3,
//!     batch_size: 10,
//!     optimizer: Optimizer::Adam(Adam { lr: 1e-2, ..Adam::default() }),
//!     ..TrainConfig::default()
//! };
//! let history = Trainer::new(mlp, config, DatasetView::classification(x.as_ref(), &y)?)?
//!     .with_regularizer(MgsRegularizer::new(penalty)?)?
//!     .with_observer(monitor, ObserveMode::Every(1))?
//!     .run()?;
//! let last = history.last().unwrap();
//! assert_eq!(last.penalties[0].0, "mgs");
//! let heldout = last.mgs("heldout", KernelKind::Traced).unwrap();
//! let shares: f64 = heldout.layers.iter().map(|l| l.trace_share).sum();
//! assert!((shares - 1.0).abs() < 1e-12);
//! # Ok::<(), mgs::Error>(())
//! ```

mod monitor;
mod regularizer;
mod selector;

pub use monitor::MgsMonitor;
pub use regularizer::{MgsRegularizer, WeightSchedule};
pub use selector::{Extremum, MgsSelector};
