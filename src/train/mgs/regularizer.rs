//! The MGS penalty as a training regulariser, with a weight schedule and a gradient cap.

use super::super::{Regularizer, StepContext};
use crate::penalty::{Penalty, PenaltyConfig};
use crate::{Error, Float, Result};

/// When the MGS penalty's weight is on, and how strongly its gradient may act.
///
/// The weight of step `t` in epoch `e` is `α · w(e)` with `w(e) = 0` for `e < start_epoch`,
/// `w(e) = min(1, (e − start_epoch + 1) / warmup_epochs)` after (a linear warm-up; `warmup_epochs
/// = 0` switches the full weight on at `start_epoch`). With a `cap` `κ`, the penalty's gradient is
/// scaled down, whenever needed, so that its norm stays at most `κ` times the norm of the
/// gradient accumulated before it (the data loss's and earlier regularisers'): an adaptive weight
/// `α_t = min(α w(e), κ ‖∇L‖ / ‖∇g‖)`, held constant within the step (no gradient flows through
/// it), so the penalty can shape training but never drown the data term and collapse it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WeightSchedule {
    /// First epoch (0-based) with a non-zero weight.
    pub start_epoch: usize,
    /// Epochs of the linear ramp from `α / warmup_epochs` to `α` (0 = no ramp).
    pub warmup_epochs: usize,
    /// Largest ratio `κ > 0` of the penalty's gradient norm to the data gradient's (`None` = no
    /// cap).
    pub cap: Option<f64>,
    #[doc(hidden)]
    pub non_exhaustive: crate::NonExhaustive,
}

impl WeightSchedule {
    /// Validates the cap (finite and > 0).
    pub fn check(&self) -> Result<()> {
        match self.cap {
            Some(c) if !(c.is_finite() && c > 0.0) => Err(Error::InvalidHyperparameter {
                name: "mgs.schedule.cap",
                value: c,
                reason: "must be finite and > 0",
            }),
            _ => Ok(()),
        }
    }

    /// The factor `w(e)` of epoch `e`.
    #[must_use]
    pub fn factor(&self, epoch: usize) -> f64 {
        if epoch < self.start_epoch {
            0.0
        } else if self.warmup_epochs == 0 {
            1.0
        } else {
            ((epoch - self.start_epoch + 1) as f64 / self.warmup_epochs as f64).min(1.0)
        }
    }
}

/// The MGS penalty `α g(K)` of [`crate::penalty`] as a training regulariser: every step it adds
/// its exact gradient on the (clean) mini-batch, or on a seeded subset of it, to the loss
/// gradient, weighted by its [`WeightSchedule`]. Subsets are drawn from the trainer's regulariser
/// stream, which checkpoints save.
pub struct MgsRegularizer<T: Float> {
    penalty: Penalty<T>,
    schedule: WeightSchedule,
    grad: Vec<T>,
}

impl<T: Float> MgsRegularizer<T> {
    /// Validates `config` and creates the regulariser with an empty workspace and no schedule.
    pub fn new(config: PenaltyConfig) -> Result<Self> {
        Ok(Self {
            penalty: Penalty::new(config)?,
            schedule: WeightSchedule::default(),
            grad: Vec::new(),
        })
    }

    /// Sets the weight schedule (checked).
    pub fn with_schedule(mut self, schedule: WeightSchedule) -> Result<Self> {
        schedule.check()?;
        self.schedule = schedule;
        Ok(self)
    }

    /// The penalty's configuration.
    #[must_use]
    pub fn config(&self) -> &PenaltyConfig {
        self.penalty.config()
    }

    /// The weight schedule.
    #[must_use]
    pub fn schedule(&self) -> &WeightSchedule {
        &self.schedule
    }
}

impl<T: Float> std::fmt::Debug for MgsRegularizer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MgsRegularizer")
            .field("config", self.penalty.config())
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

fn norm<T: Float>(v: &[T]) -> f64 {
    v.iter()
        .map(|x| {
            let x = x.to_f64();
            x * x
        })
        .sum::<f64>()
        .sqrt()
}

impl<T: Float> Regularizer<T> for MgsRegularizer<T> {
    fn name(&self) -> &str {
        "mgs"
    }

    fn penalty(&mut self, ctx: &mut StepContext<'_, T>, grad: &mut [T]) -> Result<T> {
        let w = self.schedule.factor(ctx.epoch);
        if w == 0.0 {
            return Ok(T::zero());
        }
        self.grad.resize(grad.len(), T::zero());
        let value =
            self.penalty
                .value_and_grad(ctx.mlp, ctx.inputs, ctx.rng, &mut self.grad, ctx.par)?;
        let mut scale = w;
        if let Some(cap) = self.schedule.cap {
            let (data, pen) = (norm(grad), w * norm(&self.grad));
            if pen > cap * data {
                scale = if pen > 0.0 { w * cap * data / pen } else { 0.0 };
            }
        }
        let s = T::from_f64(scale);
        for (g, &p) in grad.iter_mut().zip(&self.grad) {
            *g += s * p;
        }
        Ok(s * value)
    }
}
