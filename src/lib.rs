//! # mgs — Model Gradient Similarity on the CPU
//!
//! MGS (Szolnoky et al., NeurIPS 2022) studies the per-sample gradients `∇_θ f_c(x_i)` of a model's
//! outputs: their inner products form the **MGS kernel** `K = J Jᵀ` (the empirical neural tangent
//! kernel), whose spectral summaries measure how similar the gradients are, and whose
//! log-determinant, added to the loss with its exact gradient, is a regulariser.
//!
//! This crate gives, for small multilayer perceptrons:
//! - [`Mlp`] with a flat parameter vector in PyTorch's layout, analytic [`derivatives`]
//!   (VJP, JVP, Hessian-vector products) and per-sample [`Jacobian`]s;
//! - MGS [`kernel`]s (full, traced, cross) by an explicit and a factorised route;
//! - kernel [`metrics`] (trace, log-determinants, cosine statistics, spectrum);
//! - the MGS [`penalty`] with its exact gradient by two independent routes;
//! - [`train`]ing with losses, optimisers, explicit regularisers, the MGS regulariser, MGS
//!   monitoring and exact-resume checkpoints;
//! - saving and loading models ([`model_file`]: versioned JSON that PyTorch reads directly);
//! - bundled small [`data`]sets (UCI digits, breast cancer, wine, iris, diabetes), a CSV loader,
//!   stratified splits, standardisation and label noise.
//!
//! Parallelism is explicit: every heavy function takes a [`faer::Par`]; results are identical bit
//! for bit with 1 or 2 rayon threads. Everything is generic over `f32` and `f64` ([`Float`]).
//!
//! ## Quick start
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
//! use mgs::metrics::{MetricsConfig, metrics};
//! use mgs::penalty::{Penalty, PenaltyConfig, PenaltyMetric};
//!
//! // A 4 → 32 → 32 → 3 tanh network and a batch of 16 samples.
//! let arch = Architecture::new(4, &[(32, Activation::Tanh), (32, Activation::Tanh)], 3)?;
//! let mut mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(42))?;
//! let x = Mat::from_fn(16, 4, |i, j| ((i * 4 + j) as f64 * 0.3).sin());
//!
//! // The metric: MGS kernel and its summaries.
//! let traced = KernelParams::new(KernelKind::Traced, Route::Factorised);
//! let k = kernel(&mlp, x.as_ref(), None, &traced, Par::Seq)?;
//! let before = metrics(k.as_ref(), &MetricsConfig::default(), Par::Seq)?;
//! println!("trace {:.3}, normalised log-det {:.3}", before.trace, before.normalized_logdet);
//!
//! // The regulariser: a few gradient steps on the log-determinant penalty alone raise MGS.
//! let config = PenaltyConfig { metric: PenaltyMetric::NormalizedLogDet, weight: 1.0, ..Default::default() };
//! let mut penalty = Penalty::new(config)?;
//! let mut grad = vec![0.0; mlp.n_params()];
//! let mut rng = rng_from_seed(0);
//! for _ in 0..20 {
//!     penalty.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut grad, Par::Seq)?;
//!     for (p, g) in mlp.params_mut().iter_mut().zip(&grad) {
//!         *p -= 0.05 * g;
//!     }
//! }
//! let k = kernel(&mlp, x.as_ref(), None, &traced, Par::Seq)?;
//! let after = metrics(k.as_ref(), &MetricsConfig::default(), Par::Seq)?;
//! assert!(after.normalized_logdet < before.normalized_logdet);
//! # Ok::<(), mgs::Error>(())
//! ```
//!
//! ## Training with the MGS regulariser, watching MGS
//!
//! ```
//! use mgs::data::{self, Standardizer, stratified_split};
//! use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
//! use mgs::train::{Adam, MgsMonitor, MgsRegularizer, ObserveMode, Optimizer, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//!
//! // Iris, standardised on the training part, split with class proportions kept.
//! let iris = data::iris()?;
//! let split = stratified_split(&iris, (0.6, 0.2, 0.2), &mut rng_from_seed(0))?;
//! let scaler = Standardizer::fit(&split.train)?;
//! let (tr, va) = (scaler.transform(&split.train)?, scaler.transform(&split.validation)?);
//!
//! let arch = Architecture::new(4, &[(32, Activation::Tanh), (32, Activation::Tanh)], 3)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1))?;
//! let config = TrainConfig {
//!     epochs: 20,
//!     batch_size: 30,
//!     optimizer: Optimizer::Adam(Adam { lr: 1e-2, ..Adam::default() }),
//!     seed: 2,
//!     ..TrainConfig::default()
//! };
//! // α·(1/m) log det(K_ε) of the traced kernel on 16 samples of each mini-batch.
//! let penalty = PenaltyConfig {
//!     metric: PenaltyMetric::LogDet,
//!     kernel: KernelKind::Traced,
//!     weight: 0.01,
//!     subset: Some(16),
//!     ..Default::default()
//! };
//! // `&tr` is a view of the owned dataset for this `f64` model: nothing is copied.
//! let history = Trainer::new(mlp, config, &tr)?
//!     .with_validation(&va)?
//!     .with_regularizer(MgsRegularizer::new(penalty)?)?
//!     .with_observer(
//!         MgsMonitor::new(&[KernelKind::Traced], 1e-6)?.with_probe("train", tr.features().subrows(0, 40))?,
//!         ObserveMode::Every(5),
//!     )?
//!     .run()?;
//!
//! let last = history.last().unwrap();
//! let mgs = &last.mgs("train", KernelKind::Traced).unwrap().summary;
//! println!(
//!     "val acc {:.3}, MGS penalty {:.3}, normalised log-det {:.3}, mean cosine {:.3}",
//!     last.val.as_ref().unwrap().accuracy.unwrap(),
//!     last.penalties[0].1,
//!     mgs.normalized_logdet,
//!     mgs.cosine_mean,
//! );
//! assert!(last.val.as_ref().unwrap().accuracy.unwrap() > 0.8);
//! # Ok::<(), mgs::Error>(())
//! ```
//!
//! The mathematics (with every derivation) is in [`guide::math`], the design in
//! [`guide::design`], training in [`guide::training`] (the repository's `docs/`).

#![warn(missing_docs)]

pub mod activation;
pub mod architecture;
mod buffer;
pub mod data;
pub mod derivatives;
pub mod error;
pub mod export;
mod float;
pub mod guide;
pub mod init;
pub mod jacobian;
pub mod kernel;
pub mod limits;
pub mod metrics;
pub mod mlp;
pub mod model_file;
mod non_exhaustive;
mod parallel;
pub mod penalty;
mod simd;
mod spd;
pub mod study;
mod symmetric;
pub mod train;

/// The linear-algebra crate of the public signatures (`Mat`, `MatRef`, `Par`), re-exported so
/// that users need not match its version: `use mgs::faer::{Mat, Par};`.
pub use faer;
/// The random-number crate of the public signatures (`Rng`, seeding), re-exported for the same
/// reason.
pub use rand;

pub use activation::Activation;
pub use architecture::Architecture;
pub use data::{Dataset, DatasetView, Targets};
pub use error::{Error, Result};
pub use float::Float;
pub use init::{Init, MgsRng, rng_from_seed};
pub use jacobian::Jacobian;
pub use mlp::{ForwardCache, Mlp};
#[doc(hidden)]
pub use non_exhaustive::NonExhaustive;
pub use train::{TrainConfig, Trainer};

/// The README's quick start, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
