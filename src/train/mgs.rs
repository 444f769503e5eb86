//! MGS inside the training loop: the penalty as a [`Regularizer`] and the kernel metrics as a
//! [`Monitor`].
//!
//! ```
//! use faer::Mat;
//! use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
//! use mgs::train::{Adam, Dataset, MgsMonitor, MgsRegularizer, Optimizer, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(40, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
//! let y: Vec<usize> = (0..40).map(|i| usize::from(x[(i, 0)] + x[(i, 2)] > 0.0)).collect();
//! let arch = Architecture::new(3, &[(16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1))?;
//! let penalty = PenaltyConfig { metric: PenaltyMetric::LogDet, weight: 0.01, ..Default::default() };
//! let monitor = MgsMonitor::new(x.subrows(0, 16), &[KernelKind::Traced], 1e-6)?;
//! let config = TrainConfig {
//!     epochs: 3,
//!     batch_size: 10,
//!     optimizer: Optimizer::Adam(Adam { lr: 1e-2, ..Adam::default() }),
//!     ..TrainConfig::default()
//! };
//! let history = Trainer::new(mlp, config, Dataset::classification(x.as_ref(), &y)?)?
//!     .with_regularizer(MgsRegularizer::new(penalty)?)?
//!     .with_monitor(monitor)
//!     .run()?;
//! let last = history.last().unwrap();
//! assert_eq!(last.penalties[0].0, "mgs");
//! assert!(last.metrics.iter().any(|(name, _)| name == "traced.normalized_logdet"));
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::{Mat, MatRef};

use super::{Monitor, Regularizer, StepContext};
use crate::kernel::{KernelKind, factorised};
use crate::metrics::{MetricsConfig, metrics};
use crate::penalty::{Penalty, PenaltyConfig};
use crate::{Error, Float, Mlp, Result};

/// The MGS penalty `α g(K)` of [`crate::penalty`] as a training regulariser: every step it adds
/// its exact gradient on the (clean) mini-batch, or on a seeded subset of it, to the loss
/// gradient. Subsets are drawn from the trainer's regulariser stream, which checkpoints save.
pub struct MgsRegularizer<T: Float> {
    penalty: Penalty<T>,
    grad: Vec<T>,
}

impl<T: Float> MgsRegularizer<T> {
    /// Validates `config` and creates the regulariser with an empty workspace.
    pub fn new(config: PenaltyConfig) -> Result<Self> {
        Ok(Self {
            penalty: Penalty::new(config)?,
            grad: Vec::new(),
        })
    }

    /// The penalty's configuration.
    pub fn config(&self) -> &PenaltyConfig {
        self.penalty.config()
    }
}

impl<T: Float> Regularizer<T> for MgsRegularizer<T> {
    fn name(&self) -> &str {
        "mgs"
    }

    fn penalty(&mut self, ctx: &mut StepContext<'_, T>, grad: &mut [T]) -> Result<T> {
        self.grad.resize(grad.len(), T::zero());
        let value =
            self.penalty
                .value_and_grad(ctx.mlp, ctx.inputs, ctx.rng, &mut self.grad, ctx.par)?;
        crate::simd::add_assign(grad, &self.grad);
        Ok(value)
    }
}

/// Computes every MGS metric of the chosen kernels on a fixed probe set (typically a few hundred
/// training samples) whenever the trainer asks: `"<kernel>.<metric>"` for `trace`, `logdet`,
/// `normalized_logdet`, `cosine_mean`, `cosine_logdet`, `effective_rank`, `condition_number`.
pub struct MgsMonitor<T: Float> {
    probe: Mat<T>,
    kernels: Vec<KernelKind>,
    config: MetricsConfig,
    par: faer::Par,
}

impl<T: Float> MgsMonitor<T> {
    /// A monitor on `probe` (`N × d`, copied) for `kernels`, with relative jitter `jitter`.
    pub fn new(probe: MatRef<'_, T>, kernels: &[KernelKind], jitter: f64) -> Result<Self> {
        if probe.nrows() == 0 {
            return Err(Error::EmptyBatch { what: "probe set" });
        }
        if kernels.is_empty() {
            return Err(Error::EmptyBatch {
                what: "monitored kernels",
            });
        }
        let config = MetricsConfig {
            jitter,
            spectrum: true,
        };
        config.check()?;
        Ok(Self {
            probe: probe.to_owned(),
            kernels: kernels.to_vec(),
            config,
            par: faer::Par::Seq,
        })
    }

    /// Runs the measurements with `par` (default `Par::Seq`); results are the same bits for any
    /// thread count.
    pub fn with_par(mut self, par: faer::Par) -> Self {
        self.par = par;
        self
    }

    /// The metrics of `mlp` on the probe set, named as above.
    pub fn measure(&self, mlp: &Mlp<T>, par: faer::Par) -> Result<Vec<(String, f64)>> {
        let mut out = Vec::new();
        for &kind in &self.kernels {
            let k = factorised::kernel(mlp, self.probe.as_ref(), kind, par)?;
            let m = metrics(k.as_ref(), &self.config, par)?;
            let name = kind.name();
            out.push((format!("{name}.trace"), m.trace));
            out.push((format!("{name}.logdet"), m.logdet));
            out.push((format!("{name}.normalized_logdet"), m.normalized_logdet));
            out.push((format!("{name}.cosine_mean"), m.cosine_mean));
            out.push((format!("{name}.cosine_logdet"), m.cosine_logdet));
            if let Some(s) = m.spectrum {
                out.push((format!("{name}.effective_rank"), s.effective_rank));
                out.push((format!("{name}.condition_number"), s.condition_number));
            }
        }
        Ok(out)
    }
}

impl<T: Float> Monitor<T> for MgsMonitor<T> {
    fn observe(&mut self, mlp: &Mlp<T>, _epoch: usize) -> Result<Vec<(String, f64)>> {
        self.measure(mlp, self.par)
    }
}
