//! First-order optimisers on a flat parameter vector, and learning-rate schedules.
//!
//! Every step reads a flat gradient `g` and updates the flat parameters `θ` in place; the
//! learning rate `η` of the step is passed in (the trainer takes it from the [`Schedule`]).
//! Decoupled weight decay `λ` (when non-zero) shrinks the parameters first, `θ ← θ·(1 − ηλ)`, as
//! in AdamW (Loshchilov & Hutter); it applies to every parameter, biases included.
//!
//! - [`Sgd`] (PyTorch's conventions, no dampening): `b ← μ b + g` (`b₀ = 0`), then
//!   `θ ← θ − η b`, or with Nesterov `θ ← θ − η (g + μ b)`; with `μ = 0`, `θ ← θ − η g`.
//! - [`Adam`]: `t ← t + 1`, `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`, then
//!   `θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)` (the bias-corrected form PyTorch
//!   evaluates).
//! - [`AdamW`]: decoupled decay, then the Adam step.
//!
//! The state ([`OptimizerState`]: step count and moment buffers) is plain serialisable data and
//! travels in checkpoints. Scalar coefficients are computed in `f64` and rounded once to `T`.
//!
//! ```
//! use mgs::train::{Optimizer, Schedule, Sgd};
//! let opt = Optimizer::Sgd(Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() });
//! opt.check()?;
//! let mut state = opt.init_state::<f64>(2);
//! let mut theta = [1.0, -1.0];
//! opt.step(&mut state, &mut theta, &[1.0, 2.0], 0.1)?;
//! assert_eq!(theta, [1.0 - 0.1, -1.0 - 0.2]);
//! opt.step(&mut state, &mut theta, &[1.0, 2.0], 0.1)?; // b = 0.9·b + g = 1.9 g
//! assert!((theta[0] - (0.9 - 0.19)).abs() < 1e-15);
//! assert_eq!(state.step, 2);
//! // Cosine schedule from 0.1 down to 0.001 over 10 epochs.
//! let s = Schedule::Cosine { min_lr: 1e-3 };
//! assert_eq!(s.lr(0.1, 0, 10), 0.1);
//! assert!((s.lr(0.1, 5, 10) - 0.0505).abs() < 1e-15);
//! # Ok::<(), mgs::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::json;
use crate::error::{check_finite, check_hyper as hyper};
use crate::{Error, Float, Result};

fn check_lr(name: &'static str, lr: f64) -> Result<()> {
    hyper(
        name,
        lr,
        lr.is_finite() && lr > 0.0,
        "must be finite and > 0",
    )
}

fn check_decay(name: &'static str, wd: f64) -> Result<()> {
    hyper(
        name,
        wd,
        wd.is_finite() && wd >= 0.0,
        "must be finite and >= 0",
    )
}

fn check_beta(name: &'static str, beta: f64) -> Result<()> {
    hyper(name, beta, (0.0..1.0).contains(&beta), "must lie in [0, 1)")
}

/// Stochastic gradient descent with optional (Nesterov) momentum and decoupled weight decay.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    /// Base learning rate `η` (> 0); the schedule scales it per epoch.
    pub lr: f64,
    /// Momentum `μ ∈ [0, 1)`; 0 for plain SGD.
    pub momentum: f64,
    /// Nesterov momentum (needs `μ > 0`).
    pub nesterov: bool,
    /// Decoupled weight decay `λ ≥ 0`: `θ ← θ(1 − ηλ)` before each step.
    pub weight_decay: f64,
    #[doc(hidden)]
    #[serde(skip)]
    pub non_exhaustive: crate::NonExhaustive,
}

impl Default for Sgd {
    /// `lr = 0.01`, no momentum, no decay.
    fn default() -> Self {
        Self {
            lr: 0.01,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            non_exhaustive: crate::NonExhaustive::default(),
        }
    }
}

impl Sgd {
    /// Validates the hyperparameters.
    pub fn check(&self) -> Result<()> {
        check_lr("sgd.lr", self.lr)?;
        check_beta("sgd.momentum", self.momentum)?;
        hyper(
            "sgd.momentum",
            self.momentum,
            !self.nesterov || self.momentum > 0.0,
            "Nesterov momentum needs momentum > 0",
        )?;
        check_decay("sgd.weight_decay", self.weight_decay)
    }
}

/// Adam (Kingma & Ba) with bias correction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Base learning rate `η` (> 0).
    pub lr: f64,
    /// First-moment decay `β₁ ∈ [0, 1)`.
    pub beta1: f64,
    /// Second-moment decay `β₂ ∈ [0, 1)`.
    pub beta2: f64,
    /// `ε > 0` added to the denominator.
    pub eps: f64,
    #[doc(hidden)]
    #[serde(skip)]
    pub non_exhaustive: crate::NonExhaustive,
}

impl Default for Adam {
    /// PyTorch's defaults: `lr = 1e-3`, `β = (0.9, 0.999)`, `ε = 1e-8`.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            non_exhaustive: crate::NonExhaustive::default(),
        }
    }
}

impl Adam {
    /// Validates the hyperparameters.
    pub fn check(&self) -> Result<()> {
        check_lr("adam.lr", self.lr)?;
        check_beta("adam.beta1", self.beta1)?;
        check_beta("adam.beta2", self.beta2)?;
        hyper(
            "adam.eps",
            self.eps,
            self.eps.is_finite() && self.eps > 0.0,
            "must be finite and > 0",
        )
    }
}

/// Adam with decoupled weight decay (AdamW).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamW {
    /// The Adam hyperparameters.
    pub adam: Adam,
    /// Decoupled weight decay `λ ≥ 0`: `θ ← θ(1 − ηλ)` before each Adam step.
    pub weight_decay: f64,
    #[doc(hidden)]
    #[serde(skip)]
    pub non_exhaustive: crate::NonExhaustive,
}

impl Default for AdamW {
    /// PyTorch's defaults: Adam's, and `λ = 0.01`.
    fn default() -> Self {
        Self {
            adam: Adam::default(),
            weight_decay: 0.01,
            non_exhaustive: crate::NonExhaustive::default(),
        }
    }
}

impl AdamW {
    /// Validates the hyperparameters.
    pub fn check(&self) -> Result<()> {
        self.adam.check()?;
        check_decay("adamw.weight_decay", self.weight_decay)
    }
}

/// One of the optimisers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Optimizer {
    /// [`Sgd`].
    Sgd(Sgd),
    /// [`Adam`].
    Adam(Adam),
    /// [`AdamW`].
    AdamW(AdamW),
}

impl Default for Optimizer {
    /// `Adam::default()`.
    fn default() -> Self {
        Optimizer::Adam(Adam::default())
    }
}

/// Which algorithm an [`OptimizerState`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OptimizerKind {
    /// [`Sgd`].
    Sgd,
    /// [`Adam`].
    Adam,
    /// [`AdamW`].
    AdamW,
}

/// The state an optimiser carries between steps (serialisable, part of a checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct OptimizerState<T: Float> {
    /// The algorithm this state belongs to.
    pub kind: OptimizerKind,
    /// Number of steps taken.
    pub step: u64,
    /// SGD's momentum buffer `b` or Adam's first moment `m` (empty for SGD without momentum).
    #[serde(with = "json::vec")]
    pub first_moment: Vec<T>,
    /// Adam's second moment `v` (empty for SGD).
    #[serde(with = "json::vec")]
    pub second_moment: Vec<T>,
}

impl Optimizer {
    /// Validates the hyperparameters.
    pub fn check(&self) -> Result<()> {
        match self {
            Optimizer::Sgd(o) => o.check(),
            Optimizer::Adam(o) => o.check(),
            Optimizer::AdamW(o) => o.check(),
        }
    }

    /// The base learning rate.
    #[must_use]
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd(o) => o.lr,
            Optimizer::Adam(o) => o.lr,
            Optimizer::AdamW(o) => o.adam.lr,
        }
    }

    /// The algorithm.
    #[must_use]
    pub fn kind(&self) -> OptimizerKind {
        match self {
            Optimizer::Sgd(_) => OptimizerKind::Sgd,
            Optimizer::Adam(_) => OptimizerKind::Adam,
            Optimizer::AdamW(_) => OptimizerKind::AdamW,
        }
    }

    /// Lengths of the first and second moment buffers of a state for `n_params` parameters.
    fn moment_lens(&self, n_params: usize) -> (usize, usize) {
        match self {
            Optimizer::Sgd(o) if o.momentum == 0.0 => (0, 0),
            Optimizer::Sgd(_) => (n_params, 0),
            Optimizer::Adam(_) | Optimizer::AdamW(_) => (n_params, n_params),
        }
    }

    /// A fresh state (step 0, zero buffers) for `n_params` parameters.
    #[must_use]
    pub fn init_state<T: Float>(&self, n_params: usize) -> OptimizerState<T> {
        let (first, second) = self.moment_lens(n_params);
        OptimizerState {
            kind: self.kind(),
            step: 0,
            first_moment: vec![T::zero(); first],
            second_moment: vec![T::zero(); second],
        }
    }

    /// Checks that `state` belongs to this optimiser and to `n_params` parameters (kind and
    /// buffer lengths; `O(1)`, allocates nothing). [`validate_state`](Self::validate_state) also
    /// checks the contents.
    pub fn check_state<T: Float>(&self, state: &OptimizerState<T>, n_params: usize) -> Result<()> {
        if state.kind != self.kind() {
            return Err(Error::Format {
                reason: format!(
                    "optimiser state belongs to {:?}, the optimiser is {:?}",
                    state.kind,
                    self.kind()
                ),
            });
        }
        let (first, second) = self.moment_lens(n_params);
        for (what, have, want) in [
            ("optimiser first moment", state.first_moment.len(), first),
            ("optimiser second moment", state.second_moment.len(), second),
        ] {
            if have != want {
                return Err(Error::ShapeMismatch {
                    what,
                    expected: (want, 1),
                    found: (have, 1),
                });
            }
        }
        Ok(())
    }

    /// Checks a state from outside (a checkpoint) in full: [`check_state`](Self::check_state),
    /// then that it can advance (`step < u64::MAX`), that its moments are finite, that Adam's
    /// second moment (a running mean of squares) has no negative entry, and that a state that took
    /// no step (`step = 0`) has zero moments. `O(P)`.
    ///
    /// ```
    /// use mgs::Error;
    /// use mgs::train::{Adam, Optimizer};
    /// let opt = Optimizer::Adam(Adam::default());
    /// let mut state = opt.init_state::<f64>(3);
    /// opt.validate_state(&state, 3)?;
    /// state.step = 1;
    /// state.second_moment[1] = -1.0;
    /// assert!(matches!(opt.validate_state(&state, 3), Err(Error::InvalidState { .. })));
    /// # Ok::<(), mgs::Error>(())
    /// ```
    pub fn validate_state<T: Float>(
        &self,
        state: &OptimizerState<T>,
        n_params: usize,
    ) -> Result<()> {
        self.check_state(state, n_params)?;
        if state.step == u64::MAX {
            return Err(exhausted_counter());
        }
        check_finite("optimiser first moment", &state.first_moment)?;
        check_finite("optimiser second moment", &state.second_moment)?;
        if let Some(i) = state.second_moment.iter().position(|&v| v < T::zero()) {
            return Err(Error::InvalidState {
                what: "optimiser second moment",
                reason: format!(
                    "entry {i} is negative ({}), but it is a running mean of squares",
                    state.second_moment[i]
                ),
            });
        }
        let zero = |v: &[T]| v.iter().all(|&x| x == T::zero());
        if state.step == 0 && !(zero(&state.first_moment) && zero(&state.second_moment)) {
            return Err(Error::InvalidState {
                what: "optimiser state",
                reason: "no step was taken (step 0) but the moments are not zero".into(),
            });
        }
        Ok(())
    }

    /// One step with learning rate `lr`: updates `params` from `grad` and advances `state`.
    ///
    /// Refused before anything changes: a learning rate that is not finite and `≥ 0`, a
    /// gradient of the wrong length or with a NaN or an infinity ([`Error::NonFinite`]
    /// `"gradient"`), a state of another optimiser or size, and a step counter at `u64::MAX`
    /// ([`Error::InvalidState`]). An update that overflows from finite values (a huge gradient
    /// or learning rate) is [`Error::NonFinite`] (`"parameters after the step"`, or the moment
    /// that overflowed), found in the same pass as the update: `params` and `state` then hold
    /// the overflowed step, so a caller that wants to go on restores them from its own copy (as
    /// the trainer does).
    pub fn step<T: Float>(
        &self,
        state: &mut OptimizerState<T>,
        params: &mut [T],
        grad: &[T],
        lr: f64,
    ) -> Result<()> {
        hyper(
            "lr",
            lr,
            lr.is_finite() && lr >= 0.0,
            "must be finite and >= 0",
        )?;
        if grad.len() != params.len() {
            return Err(Error::ShapeMismatch {
                what: "gradient",
                expected: (params.len(), 1),
                found: (grad.len(), 1),
            });
        }
        self.check_state(state, params.len())?;
        check_finite("gradient", grad)?;
        state.step = state.step.checked_add(1).ok_or_else(exhausted_counter)?;
        let eta = T::from_f64(lr);
        let finite = match self {
            Optimizer::Sgd(o) => {
                decay(params, lr, o.weight_decay);
                if o.momentum == 0.0 {
                    params.iter_mut().zip(grad).fold(true, |ok, (p, &g)| {
                        *p -= eta * g;
                        ok & p.is_finite_value()
                    })
                } else {
                    let mu = T::from_f64(o.momentum);
                    let moments = params.iter_mut().zip(grad).zip(&mut state.first_moment);
                    moments.fold(true, |ok, ((p, &g), b)| {
                        *b = mu * *b + g;
                        let d = if o.nesterov { g + mu * *b } else { *b };
                        *p -= eta * d;
                        ok & p.is_finite_value() & b.is_finite_value()
                    })
                }
            }
            Optimizer::Adam(o) => adam_step(o, state, params, grad, lr),
            Optimizer::AdamW(o) => {
                decay(params, lr, o.weight_decay);
                adam_step(&o.adam, state, params, grad, lr)
            }
        };
        if finite {
            return Ok(());
        }
        check_finite("parameters after the step", params)?;
        check_finite("optimiser first moment", &state.first_moment)?;
        check_finite("optimiser second moment", &state.second_moment)
    }
}

/// The error of a step counter that cannot advance.
fn exhausted_counter() -> Error {
    Error::InvalidState {
        what: "optimiser step counter",
        reason: format!(
            "it is at its maximum {}: no further step can be counted",
            u64::MAX
        ),
    }
}

/// `θ ← θ·(1 − ηλ)` (nothing when `λ = 0`).
fn decay<T: Float>(params: &mut [T], lr: f64, weight_decay: f64) {
    if weight_decay != 0.0 {
        let f = T::from_f64(1.0 - lr * weight_decay);
        for p in params.iter_mut() {
            *p *= f;
        }
    }
}

/// The Adam update with `state.step` already advanced; false if a parameter or moment it wrote
/// is not finite.
fn adam_step<T: Float>(
    o: &Adam,
    state: &mut OptimizerState<T>,
    params: &mut [T],
    grad: &[T],
    lr: f64,
) -> bool {
    let t = state.step as f64;
    let step_size = T::from_f64(lr / (1.0 - o.beta1.powf(t)));
    let bc2_sqrt = T::from_f64((1.0 - o.beta2.powf(t)).sqrt());
    let (b1, b2) = (T::from_f64(o.beta1), T::from_f64(o.beta2));
    let (c1, c2) = (T::from_f64(1.0 - o.beta1), T::from_f64(1.0 - o.beta2));
    let eps = T::from_f64(o.eps);
    let moments = state.first_moment.iter_mut().zip(&mut state.second_moment);
    params
        .iter_mut()
        .zip(grad)
        .zip(moments)
        .fold(true, |ok, ((p, &g), (m, v))| {
            *m = b1 * *m + c1 * g;
            *v = b2 * *v + c2 * g * g;
            let denom = v.sqrt() / bc2_sqrt + eps;
            *p -= step_size * (*m / denom);
            // m is a convex combination of finite gradients: it cannot overflow.
            ok & p.is_finite_value() & v.is_finite_value()
        })
}

/// A per-epoch learning-rate schedule, applied to the optimiser's base rate `η₀`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Schedule {
    /// `η_e = η₀`.
    #[default]
    Constant,
    /// `η_e = η₀ · γ^⌊e / every⌋` (multiply by `γ` every `every` epochs).
    Step {
        /// Factor `γ` (finite, > 0; usually below 1).
        gamma: f64,
        /// Period in epochs (≥ 1).
        every: usize,
    },
    /// Cosine annealing over the run's `E` epochs to a floor:
    /// `η_e = η_min + (η₀ − η_min)·(1 + cos(π e / E))/2` (PyTorch's `CosineAnnealingLR` with
    /// `T_max = E`).
    Cosine {
        /// The floor `η_min` (finite, `0 ≤ η_min ≤ η₀`).
        min_lr: f64,
    },
}

impl Schedule {
    /// Validates the schedule for a base learning rate `base_lr`.
    pub fn check(&self, base_lr: f64) -> Result<()> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { gamma, every } => {
                hyper(
                    "schedule.gamma",
                    gamma,
                    gamma.is_finite() && gamma > 0.0,
                    "must be finite and > 0",
                )?;
                hyper("schedule.every", every as f64, every >= 1, "must be >= 1")
            }
            Schedule::Cosine { min_lr } => hyper(
                "schedule.min_lr",
                min_lr,
                min_lr.is_finite() && min_lr >= 0.0 && min_lr <= base_lr,
                "must be finite with 0 <= min_lr <= the base learning rate",
            ),
        }
    }

    /// [`check`](Self::check), and that every epoch of a run of `total_epochs` epochs gets a
    /// finite, positive learning rate: a step schedule's `η₀ γ^⌊e/every⌋` is monotone in `e`, so
    /// its last epoch is the one that can overflow (`γ > 1`) or underflow to 0 (`γ < 1`). Meant
    /// to be called once, when a run is configured.
    ///
    /// ```
    /// use mgs::train::Schedule;
    /// let s = Schedule::Step { gamma: 10.0, every: 1 };
    /// assert!(s.check_run(0.1, 100).is_ok());
    /// assert!(s.check_run(0.1, 400).is_err()); // 0.1 · 10³⁹⁹ overflows
    /// ```
    pub fn check_run(&self, base_lr: f64, total_epochs: usize) -> Result<()> {
        self.check(base_lr)?;
        if let Schedule::Step { gamma, .. } = *self {
            let last = self.lr(base_lr, total_epochs.saturating_sub(1), total_epochs);
            hyper(
                "schedule.gamma",
                gamma,
                last.is_finite() && last > 0.0,
                "gives the last epoch a learning rate that is not finite and > 0",
            )?;
        }
        Ok(())
    }

    /// The learning rate of (0-based) `epoch` in a run of `total_epochs` epochs.
    #[must_use]
    pub fn lr(&self, base_lr: f64, epoch: usize, total_epochs: usize) -> f64 {
        match *self {
            Schedule::Constant => base_lr,
            Schedule::Step { gamma, every } => {
                let k = epoch / every.max(1);
                base_lr * gamma.powi(k.min(i32::MAX as usize) as i32)
            }
            Schedule::Cosine { min_lr } => {
                if total_epochs == 0 {
                    return base_lr;
                }
                let frac = epoch.min(total_epochs) as f64 / total_epochs as f64;
                min_lr + (base_lr - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
            }
        }
    }
}
