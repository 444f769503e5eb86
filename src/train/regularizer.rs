//! Explicit regularisers: terms added to the training loss and to its gradient.
//!
//! A [`Regularizer`] is called once per optimisation step, after the data loss's gradient has
//! been computed into the flat gradient buffer and before the optimiser step. It receives a
//! [`StepContext`] (the model, the clean batch inputs and targets, a seeded random generator of
//! its own stream, the parallelism, and where in the run the step is), **adds** the gradient of
//! its penalty to `grad`, and returns the penalty's value (recorded, averaged per epoch, in the
//! history under [`Regularizer::name`]). The trainer checks the returned value and the summed
//! gradient for finiteness.
//!
//! Implemented here: the coupled L2 penalty [`L2Penalty`] (`λ/2 ‖θ‖²`). Decoupled weight decay
//! is an optimiser option ([`AdamW`](super::AdamW), [`Sgd::weight_decay`](super::Sgd)); dropout,
//! input noise and label smoothing are options of the trainer ([`TrainConfig`](super::TrainConfig)).
//!
//! A user-written regulariser (here a penalty `α Σ_i f(x_i)²` on the batch outputs of a
//! one-output model; any penalty that needs the model, the batch and random numbers looks
//! alike):
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::derivatives::vjp_into;
//! use mgs::train::{Regularizer, StepContext};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//!
//! struct OutputPenalty { alpha: f64 }
//!
//! impl Regularizer<f64> for OutputPenalty {
//!     fn name(&self) -> &str { "output_penalty" }
//!     fn penalty(&mut self, ctx: &mut StepContext<'_, f64>, grad: &mut [f64]) -> mgs::Result<f64> {
//!         let cache = ctx.mlp.forward_cached(ctx.inputs, ctx.par)?;
//!         let f = cache.output();
//!         let value = self.alpha * (0..f.nrows()).map(|i| f[(i, 0)] * f[(i, 0)]).sum::<f64>();
//!         // ∇ α Σ f² = Jᵀ (2α f): a VJP with cotangent 2α f.
//!         let u = Mat::from_fn(f.nrows(), 1, |i, _| 2.0 * self.alpha * f[(i, 0)]);
//!         let mut g = vec![0.0; grad.len()];
//!         vjp_into(ctx.mlp, &cache, u.as_ref(), &mut g, None, ctx.par)?;
//!         grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
//!         Ok(value)
//!     }
//! }
//!
//! let arch = Architecture::new(2, &[(4, Activation::Tanh)], 1)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let x = Mat::from_fn(3, 2, |i, j| (i as f64) - (j as f64));
//! let labels = [0usize, 0, 0];
//! let mut rng = rng_from_seed(1);
//! let mut ctx = StepContext::new(&mlp, x.as_ref(), mgs::data::TargetsView::Classes(&labels), &mut rng, Par::Seq);
//! let mut grad = vec![0.0; mlp.n_params()];
//! let v = OutputPenalty { alpha: 0.5 }.penalty(&mut ctx, &mut grad)?;
//! assert!(v > 0.0 && grad.iter().any(|g| *g != 0.0));
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::{MatRef, Par};

use crate::data::TargetsView;
use crate::{Error, Float, MgsRng, Mlp, Result};

/// What a regulariser sees at one optimisation step.
#[derive(Debug)]
pub struct StepContext<'a, T: Float> {
    /// The model at the current parameters (before the step).
    pub mlp: &'a Mlp<T>,
    /// The batch inputs (`B × d`), clean: without the trainer's input noise.
    pub inputs: MatRef<'a, T>,
    /// The batch targets.
    pub targets: TargetsView<'a, T>,
    /// A seeded generator reserved for regularisers (e.g. subset sampling); its state is part
    /// of the trainer's checkpoint, so resumed runs draw the same numbers.
    pub rng: &'a mut MgsRng,
    /// Parallelism to use (pass it on; never change faer's global setting).
    pub par: Par,
    /// 0-based epoch.
    pub epoch: usize,
    /// 0-based step within the epoch.
    pub step: usize,
    /// The learning rate of this step.
    pub lr: f64,
}

impl<'a, T: Float> StepContext<'a, T> {
    /// A context at epoch 0, step 0, learning rate 0 (for calling a regulariser outside the
    /// trainer, e.g. in tests); set the public fields to change them.
    pub fn new(
        mlp: &'a Mlp<T>,
        inputs: MatRef<'a, T>,
        targets: TargetsView<'a, T>,
        rng: &'a mut MgsRng,
        par: Par,
    ) -> Self {
        Self {
            mlp,
            inputs,
            targets,
            rng,
            par,
            epoch: 0,
            step: 0,
            lr: 0.0,
        }
    }
}

/// A term `R(θ)` added to the training loss.
///
/// Implementations add `∇_θ R` into `grad` (length `P`, the flat layout of
/// [`Mlp`]) and return `R`. A regulariser with internal state that must survive a checkpoint
/// (e.g. a running average) overrides [`state`](Regularizer::state) and
/// [`load_state`](Regularizer::load_state).
pub trait Regularizer<T: Float> {
    /// Name under which the penalty value is recorded in the history (unique per trainer).
    fn name(&self) -> &str;

    /// Adds `∇_θ R` at the current parameters to `grad` and returns `R`.
    fn penalty(&mut self, ctx: &mut StepContext<'_, T>, grad: &mut [T]) -> Result<T>;

    /// Internal state to store in a checkpoint (`None`, the default, for stateless ones).
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores the state written by [`state`](Regularizer::state).
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let _ = state;
        Ok(())
    }
}

/// A mutable reference to a regulariser is one too, so a caller can keep it and inspect it after
/// the run.
impl<T: Float, R: Regularizer<T> + ?Sized> Regularizer<T> for &mut R {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn penalty(&mut self, ctx: &mut StepContext<'_, T>, grad: &mut [T]) -> Result<T> {
        (**self).penalty(ctx, grad)
    }

    fn state(&self) -> Option<serde_json::Value> {
        (**self).state()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        (**self).load_state(state)
    }
}

/// A boxed regulariser (e.g. `Box<dyn Regularizer<T>>` chosen at run time) is one too.
impl<T: Float, R: Regularizer<T> + ?Sized> Regularizer<T> for Box<R> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn penalty(&mut self, ctx: &mut StepContext<'_, T>, grad: &mut [T]) -> Result<T> {
        (**self).penalty(ctx, grad)
    }

    fn state(&self) -> Option<serde_json::Value> {
        (**self).state()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        (**self).load_state(state)
    }
}

/// Coupled L2 penalty `R(θ) = λ/2 ‖θ‖²`, gradient `λ θ` (on the weights only, or on every
/// parameter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct L2Penalty {
    /// Strength `λ ≥ 0` (finite).
    pub lambda: f64,
    /// Also penalise the biases (default true, like PyTorch's `weight_decay`).
    pub include_biases: bool,
}

impl L2Penalty {
    /// `λ/2 ‖θ‖²` over every parameter; `λ` is checked.
    pub fn new(lambda: f64) -> Result<Self> {
        let p = Self {
            lambda,
            include_biases: true,
        };
        p.check()?;
        Ok(p)
    }

    /// Validates `λ`.
    pub fn check(&self) -> Result<()> {
        if self.lambda.is_finite() && self.lambda >= 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidHyperparameter {
                name: "l2.lambda",
                value: self.lambda,
                reason: "must be finite and >= 0",
            })
        }
    }
}

impl<T: Float> Regularizer<T> for L2Penalty {
    fn name(&self) -> &str {
        "l2"
    }

    fn penalty(&mut self, ctx: &mut StepContext<'_, T>, grad: &mut [T]) -> Result<T> {
        self.check()?;
        let params = ctx.mlp.params();
        if grad.len() != params.len() {
            return Err(Error::ShapeMismatch {
                what: "gradient",
                expected: (params.len(), 1),
                found: (grad.len(), 1),
            });
        }
        let lambda = T::from_f64(self.lambda);
        let arch = ctx.mlp.arch();
        let mut sum = 0.0f64;
        for l in 0..arch.n_layers() {
            let mut ranges = vec![arch.weight_range(l)];
            if self.include_biases {
                ranges.push(arch.bias_range(l));
            }
            for r in ranges {
                for (g, &p) in grad[r.clone()].iter_mut().zip(&params[r]) {
                    *g += lambda * p;
                    sum += (p * p).to_f64();
                }
            }
        }
        Ok(T::from_f64(0.5 * self.lambda * sum))
    }
}
