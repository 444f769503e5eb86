//! The MGS penalty `α · g(K(θ))` and its exact gradient: the regulariser part of the framework.
//!
//! `g` is one of the kernel metrics (trace, log-determinant, normalised log-determinant, cosine
//! log-determinant), `K` the full, traced or centred MGS kernel ([`KernelKind`]) of a batch (or
//! of a seeded random subset of it). Optionally a hinge ([`PenaltyBound::Hinge`]) turns the
//! penalty into `α · max(0, g(K) − target)`. The gradient is the exact gradient of the returned
//! value, jitter and normalisation included, by either of two routes that tests show agree:
//!
//! - [`Route::Explicit`]: forms `J`, then `∇g = 2 Σ_r H_r (G J)_r` with forward-over-reverse
//!   Hessian-vector products;
//! - [`Route::Factorised`] (default): never forms `J`; pushes `∂g/∂D^l = 2 (G ∘ S_A^l) D^l` and
//!   `∂g/∂A^{l−1} = 2 M^l A^{l−1}` back through the backward and forward passes
//!   (reverse-over-reverse).
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! use mgs::kernel::{KernelKind, Route};
//! use mgs::penalty::{Penalty, PenaltyConfig, PenaltyMetric};
//! let arch = Architecture::new(3, &[(16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let x = Mat::from_fn(12, 3, |i, j| ((i * 3 + j) as f64 * 0.37).sin());
//! let config = PenaltyConfig { metric: PenaltyMetric::LogDet, kernel: KernelKind::Full, ..Default::default() };
//! let mut fast = Penalty::new(config.clone())?;
//! let mut reference = Penalty::new(PenaltyConfig { route: Route::Explicit, ..config })?;
//! let mut g1 = vec![0.0; mlp.n_params()];
//! let mut g2 = vec![0.0; mlp.n_params()];
//! let mut rng = rng_from_seed(1);
//! let v1 = fast.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut g1, Par::Seq)?;
//! let v2 = reference.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut g2, Par::Seq)?;
//! assert!((v1 - v2).abs() < 1e-10 * v1.abs());
//! let diff = g1.iter().zip(&g2).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
//! let scale = g2.iter().map(|v| v.abs()).fold(0.0, f64::max);
//! assert!(diff < 1e-9 * scale);
//! # Ok::<(), mgs::Error>(())
//! ```

mod explicit;
mod factorised;
mod kernel_grad;

use std::time::{Duration, Instant};

use faer::{MatRef, Par};
use rand::RngExt;

use crate::buffer::{ensure_len, rm, rm_mut};
use crate::derivatives::Signals;
use crate::error::check_finite;
pub use crate::kernel::{KernelKind, Route};
use crate::metrics::{DEFAULT_JITTER, check_jitter};
use crate::{Architecture, Error, Float, ForwardCache, MgsRng, Mlp, Result};

/// The kernel metric `g` that the penalty applies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum PenaltyMetric {
    /// `tr(K)/m`: shrinks gradient norms.
    Trace,
    /// `(1/m) log det(K + ε τ I)`: shrinks the volume spanned by the gradients.
    #[default]
    LogDet,
    /// `(1/m) log det(K + ε τ I) − log τ`: the scale-free log-determinant.
    NormalizedLogDet,
    /// `(1/m) log det(K̂ + ε I)` of the cosine kernel: rewards aligned gradient directions only.
    CosineLogDet,
}

impl PenaltyMetric {
    /// All metrics, for sweeps.
    pub const ALL: [PenaltyMetric; 4] = [
        PenaltyMetric::Trace,
        PenaltyMetric::LogDet,
        PenaltyMetric::NormalizedLogDet,
        PenaltyMetric::CosineLogDet,
    ];

    /// Lower-case name (`"trace"`, `"logdet"`, `"normalized_logdet"`, `"cosine_logdet"`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            PenaltyMetric::Trace => "trace",
            PenaltyMetric::LogDet => "logdet",
            PenaltyMetric::NormalizedLogDet => "normalized_logdet",
            PenaltyMetric::CosineLogDet => "cosine_logdet",
        }
    }
}

/// An optional floor under the metric: the penalty `α · max(0, g(K) − target)`.
///
/// The log-determinant metrics are unbounded below (as gradients shrink or align), so an
/// unbounded penalty keeps pushing, and a large `α` can collapse training to near-constant
/// outputs. With a hinge the penalty stops acting once `g` is at or below `target`: its value and
/// gradient are then exactly zero, and above it the gradient is `α ∇g`, that of the unbounded
/// penalty. At `g = target` the subgradient `0` is taken, consistent with the value `0`.
///
/// ```
/// use mgs::penalty::PenaltyBound;
/// let hinge = PenaltyBound::Hinge { target: -2.0 };
/// assert_eq!(hinge.apply(-1.5), 0.5);
/// assert_eq!(hinge.apply(-3.0), 0.0);
/// assert!(!hinge.is_active(-2.0));
/// assert_eq!(PenaltyBound::Unbounded.apply(-3.0), -3.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum PenaltyBound {
    /// `g(K)` itself.
    #[default]
    Unbounded,
    /// `max(0, g(K) − target)`; `target` finite.
    Hinge {
        /// The level of `g` below which the penalty is off.
        target: f64,
    },
}

impl PenaltyBound {
    /// The bounded metric: `g`, or `max(0, g − target)`.
    #[must_use]
    pub fn apply(&self, g: f64) -> f64 {
        match *self {
            PenaltyBound::Unbounded => g,
            PenaltyBound::Hinge { target } => (g - target).max(0.0),
        }
    }

    /// Whether the gradient is that of `g` (`true`) or zero: `1[g > target]` for the hinge.
    #[must_use]
    pub fn is_active(&self, g: f64) -> bool {
        match *self {
            PenaltyBound::Unbounded => true,
            PenaltyBound::Hinge { target } => g > target,
        }
    }

    /// Checks that a hinge's target is finite.
    pub fn check(&self) -> Result<()> {
        match *self {
            PenaltyBound::Hinge { target } if !target.is_finite() => {
                Err(Error::InvalidHyperparameter {
                    name: "target",
                    value: target,
                    reason: "the hinge target must be finite",
                })
            }
            _ => Ok(()),
        }
    }
}

/// Hyperparameters of the MGS penalty, validated once by [`PenaltyConfig::check`].
///
/// Two cautions from the study (`docs/study.md`). The log-determinant is unbounded below as the
/// gradients shrink or align, so a large weight `α` can collapse training to near-constant
/// outputs: tune `α` on a validation split, starting small (`1e-3 … 1e-1`). With `f32` models the
/// kernel carries `f32` rounding into the `f64` factorisation; when gradients become nearly aligned a
/// jitter of `1e-6` may no longer keep `K_ε` positive definite (`Error::NotPositiveDefinite`):
/// use `1e-4` there.
///
/// Serde: an object with the field names below (variants by their Rust names, as for
/// [`KernelKind`]); missing fields take their [`Default`] values, unknown ones are refused.
/// Like a value written in code, a deserialised configuration is validated where it is used
/// ([`Penalty::new`], [`MgsRegularizer::new`](crate::train::MgsRegularizer::new)).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PenaltyConfig {
    /// The metric `g`.
    pub metric: PenaltyMetric,
    /// Full, traced, or centred kernel (the centred kinds need `C ≥ 2`, checked at each call
    /// since the config does not know the model).
    pub kernel: KernelKind,
    /// Relative jitter `ε > 0`.
    pub jitter: f64,
    /// Weight `α ≥ 0`.
    pub weight: f64,
    /// Compute the penalty on `s` samples drawn without replacement from the batch (`None` or
    /// `s ≥ N`: the whole batch). `s ≥ 1`.
    pub subset: Option<usize>,
    /// Gradient route.
    pub route: Route,
    /// Unbounded (default) or a hinge `max(0, g − target)`.
    pub bound: PenaltyBound,
    #[doc(hidden)]
    #[serde(skip)]
    pub non_exhaustive: crate::NonExhaustive,
}

impl Default for PenaltyConfig {
    fn default() -> Self {
        Self {
            metric: PenaltyMetric::LogDet,
            kernel: KernelKind::Traced,
            jitter: DEFAULT_JITTER,
            weight: 1.0,
            subset: None,
            route: Route::Factorised,
            bound: PenaltyBound::Unbounded,
            non_exhaustive: crate::NonExhaustive::default(),
        }
    }
}

impl PenaltyConfig {
    /// Checks `ε > 0` finite, `α ≥ 0` finite, `s ≥ 1` and a finite hinge target.
    pub fn check(&self) -> Result<()> {
        check_jitter(self.jitter)?;
        self.bound.check()?;
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "weight",
                value: self.weight,
                reason: "must be finite and >= 0",
            });
        }
        if self.subset == Some(0) {
            return Err(Error::InvalidHyperparameter {
                name: "subset",
                value: 0.0,
                reason: "must be >= 1",
            });
        }
        Ok(())
    }
}

/// Buffers reused across calls; they grow to the largest batch seen and never shrink, so a
/// training loop allocates nothing after its first step on the factorised route (the explicit
/// route's HVP blocks and centring allocate task scratch). [`Workspace::reserve`] sizes all of
/// them at the top of a call; the forward cache, the signals and the explicit route's Jacobian
/// size themselves as they are computed.
#[derive(Default)]
pub(crate) struct Workspace<T: Float> {
    /// The batch, or the subset drawn from it, row-major.
    x: Vec<T>,
    pub(crate) cache: ForwardCache<T>,
    pub(crate) signals: Signals<T>,
    /// The kernel, later reused as `G ∘ S_A` scratch.
    pub(crate) k: Vec<T>,
    /// `G = ∂g/∂K`.
    pub(crate) g: Vec<T>,
    /// `S_A^l` of every layer input (stacked `n_layers × N × N`) and the last hidden layer's
    /// `S_D` (lower triangles), left by the factorised kernel step for the backward pass.
    pub(crate) sa: Vec<T>,
    pub(crate) sd: Vec<T>,
    metric: kernel_grad::MetricScratch,
    /// Sample indices for subset draws.
    perm: Vec<usize>,
    pub(crate) factorised: factorised::Buffers<T>,
    pub(crate) explicit: explicit::Buffers<T>,
}

impl<T: Float> Workspace<T> {
    /// Room for one call of `cfg` on `n` samples drawn from `n_all` (and for its gradient, with
    /// `gradient`).
    fn reserve(
        &mut self,
        arch: &Architecture,
        cfg: &PenaltyConfig,
        (n, n_all): (usize, usize),
        gradient: bool,
        par: Par,
    ) {
        let m = cfg.kernel.order(n, arch.output_dim());
        ensure_len(&mut self.x, n * arch.input_dim());
        if n < n_all {
            ensure_len(&mut self.perm, n_all);
        }
        ensure_len(&mut self.k, m * m);
        self.metric.reserve(cfg.metric, m, gradient, par);
        if gradient {
            ensure_len(&mut self.g, m * m);
        }
        match cfg.route {
            Route::Factorised => {
                ensure_len(&mut self.sa, arch.n_layers() * n * n);
                ensure_len(&mut self.sd, m * m);
                if gradient {
                    self.factorised.reserve(arch, cfg.kernel, n);
                }
            }
            Route::Explicit => self.explicit.reserve(arch, cfg.kernel, n, gradient),
        }
    }

    /// The kernel of the prepared batch (order `m`) into `k`; the factorised route also leaves
    /// its Gram matrices in `sa` and `sd`.
    fn kernel(&mut self, mlp: &Mlp<T>, cfg: &PenaltyConfig, m: usize, par: Par) -> Result<()> {
        match cfg.route {
            Route::Factorised => {
                crate::kernel::factorised::kernel_into(
                    &self.cache,
                    &self.signals,
                    cfg.kernel,
                    rm_mut(&mut self.k, m, m),
                    Some((&mut self.sa, &mut self.sd)),
                    0..mlp.arch().n_layers(),
                    par,
                );
                Ok(())
            }
            Route::Explicit => {
                let forward = (&self.cache, &mut self.signals);
                explicit::kernel(
                    mlp,
                    forward,
                    cfg.kernel,
                    &mut self.explicit,
                    &mut self.k,
                    par,
                )
            }
        }
    }

    /// `α · ∇_θ g` into `grad` from `G` (in `g`) by the configured route.
    fn parameter_gradient(
        &mut self,
        mlp: &Mlp<T>,
        cfg: &PenaltyConfig,
        grad: &mut [T],
        par: Par,
    ) -> Result<()> {
        match cfg.route {
            Route::Factorised => factorised::gradient(mlp, self, cfg.kernel, grad, par),
            Route::Explicit => explicit::gradient(mlp, self, cfg.kernel, grad, par),
        }
        let alpha = T::from_f64(cfg.weight);
        for v in grad.iter_mut() {
            *v *= alpha;
        }
        check_finite("penalty gradient", grad)
    }

    /// Copies `x` into the workspace, or the `n` rows of a uniform draw without replacement
    /// from `rng` (in their original order) when `n < x.nrows()`.
    fn load_batch(&mut self, x: MatRef<'_, T>, n: usize, rng: &mut MgsRng) {
        let (n_all, d) = (x.nrows(), x.ncols());
        if n < n_all {
            // Partial Fisher–Yates: the first n entries are a uniform draw without replacement.
            let perm = &mut self.perm[..n_all];
            for (k, v) in perm.iter_mut().enumerate() {
                *v = k;
            }
            for k in 0..n {
                let j = rng.random_range(k..n_all);
                perm.swap(k, j);
            }
            let picked = &mut perm[..n];
            picked.sort_unstable();
            for (row, &i) in picked.iter().enumerate() {
                for j in 0..d {
                    self.x[row * d + j] = x[(i, j)];
                }
            }
        } else {
            rm_mut(&mut self.x, n, d).copy_from(x);
        }
    }
}

/// Wall time of each phase of the last [`Penalty`] call: where the time goes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimings {
    /// Subset copy, forward pass and backpropagated signals (and, on a call larger than any
    /// before it, the growth of the workspace).
    pub forward: Duration,
    /// The kernel (factorised Gram products, or `J` and `J Jᵀ` on the explicit route).
    pub kernel: Duration,
    /// Cholesky factorisation and log-determinant (and the cosine kernel, for that metric).
    pub factor: Duration,
    /// Inverse from the Cholesky factor and `G = ∂g/∂K` (zero for `value`, and for a hinge at or
    /// below its target).
    pub inverse: Duration,
    /// From `G` to the parameter gradient (zero for `value`).
    pub backward: Duration,
}

impl PhaseTimings {
    /// Sum of the phases.
    #[must_use]
    pub fn total(&self) -> Duration {
        self.forward + self.kernel + self.factor + self.inverse + self.backward
    }
}

/// The MGS penalty with its workspace.
pub struct Penalty<T: Float> {
    config: PenaltyConfig,
    ws: Workspace<T>,
    timings: PhaseTimings,
}

/// The configuration and the last call's timings; the workspace's buffers are left out.
impl<T: Float> std::fmt::Debug for Penalty<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Penalty")
            .field("config", &self.config)
            .field("timings", &self.timings)
            .finish_non_exhaustive()
    }
}

impl<T: Float> Penalty<T> {
    /// Validates `config` and creates an empty workspace.
    pub fn new(config: PenaltyConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            config,
            ws: Workspace::default(),
            timings: PhaseTimings::default(),
        })
    }

    /// Per-phase wall time of the last successful call.
    #[must_use]
    pub fn last_timings(&self) -> PhaseTimings {
        self.timings
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &PenaltyConfig {
        &self.config
    }

    /// `α · g(K)` on `x` (or on a subset drawn from `rng`); `α · max(0, g(K) − target)` with a
    /// hinge.
    pub fn value(
        &mut self,
        mlp: &Mlp<T>,
        x: MatRef<'_, T>,
        rng: &mut MgsRng,
        par: Par,
    ) -> Result<T> {
        self.run(mlp, x, rng, None, par)
    }

    /// `α · g(K)` (or its hinge) and its gradient with respect to all parameters, written into
    /// `grad` (length `P`, overwritten; all zeros for a hinge at or below its target).
    pub fn value_and_grad(
        &mut self,
        mlp: &Mlp<T>,
        x: MatRef<'_, T>,
        rng: &mut MgsRng,
        grad: &mut [T],
        par: Par,
    ) -> Result<T> {
        if grad.len() != mlp.n_params() {
            return Err(Error::ShapeMismatch {
                what: "penalty gradient",
                expected: (mlp.n_params(), 1),
                found: (grad.len(), 1),
            });
        }
        self.run(mlp, x, rng, Some(grad), par)
    }

    fn run(
        &mut self,
        mlp: &Mlp<T>,
        x: MatRef<'_, T>,
        rng: &mut MgsRng,
        grad: Option<&mut [T]>,
        par: Par,
    ) -> Result<T> {
        let cfg = &self.config;
        let ws = &mut self.ws;
        let mut timings = PhaseTimings::default();
        let mut clock = Instant::now();
        let mut lap = |phase: &mut Duration| {
            let now = Instant::now();
            *phase = now - clock;
            clock = now;
        };
        mlp.check_inputs(x)?;
        let c = mlp.arch().output_dim();
        cfg.kernel.check_outputs(c)?;
        let n_all = x.nrows();
        let d = x.ncols();
        let n = cfg.subset.map_or(n_all, |s| s.min(n_all));
        // The kernel, `G` and the factor are m × m each: refused before anything is allocated.
        crate::limits::Request::Kernel {
            n,
            kind: cfg.kernel,
            route: cfg.route,
        }
        .check::<T>(mlp.arch())?;
        ws.reserve(mlp.arch(), cfg, (n, n_all), grad.is_some(), par);
        ws.load_batch(x, n, rng);
        let xs = rm(&ws.x, n, d);
        ws.cache.compute(mlp, xs, par)?;
        let m = cfg.kernel.order(n, c);
        if cfg.route == Route::Factorised {
            let seeds = cfg.kernel.seeds();
            ws.signals
                .compute_seeded(mlp, &ws.cache, seeds, grad.is_some(), par)?;
        }
        lap(&mut timings.forward);
        ws.kernel(mlp, cfg, m, par)?;
        lap(&mut timings.kernel);
        let value = kernel_grad::metric_value(
            cfg.metric,
            rm(&ws.k, m, m),
            cfg.jitter,
            &mut ws.metric,
            par,
        )?;
        lap(&mut timings.factor);
        if let Some(grad) = grad {
            if cfg.bound.is_active(value) {
                kernel_grad::kernel_grad(
                    cfg.metric,
                    m,
                    cfg.jitter,
                    &mut ws.metric,
                    &mut ws.g[..m * m],
                    par,
                );
                if cfg.kernel == KernelKind::CentredFull {
                    kernel_grad::project_centred(&mut ws.g[..m * m], n, c, par);
                }
                lap(&mut timings.inverse);
                ws.parameter_gradient(mlp, cfg, grad, par)?;
            } else {
                // A hinge at or below its target: the penalty is flat here.
                grad.fill(T::zero());
            }
            lap(&mut timings.backward);
        }
        let out = T::from_f64(cfg.weight * cfg.bound.apply(value));
        if !out.is_finite_value() {
            return Err(Error::NonFinite {
                what: "penalty value",
                index: 0,
            });
        }
        self.timings = timings;
        Ok(out)
    }
}
