//! One optimiser step on one mini-batch, and the buffers that live across steps.
//!
//! A step gathers the batch rows, applies the batch transforms (mixup, then input noise), runs
//! the forward pass (with dropout if configured), takes the loss and its gradient with respect to
//! the outputs, pulls it back to the parameters (VJP), lets every regulariser add its gradient
//! (on the clean batch), checks everything for finiteness and takes the optimiser step. After the
//! first step of the largest batch it allocates nothing: every buffer keeps its capacity.

use faer::{Mat, Par};
use rand_distr::Normal;

use super::batch::{Batch, Mixup};
use super::{DropoutPass, Loss, Optimizer, OptimizerState, Regularizer, StepContext, TrainRngs};
use crate::data::DatasetView;
use crate::derivatives::{VjpScratch, vjp_into_scratch};
use crate::{Error, Float, ForwardCache, Mlp, Result};

/// Where in the run a step is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepAt {
    pub(crate) epoch: usize,
    pub(crate) step: usize,
    pub(crate) lr: f64,
}

/// The training-mode settings a step applies (from [`TrainConfig`](super::TrainConfig)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepSettings {
    pub(crate) dropout: f64,
    pub(crate) noise: Option<Normal<f64>>,
    pub(crate) mixup: Option<Mixup>,
    pub(crate) par: Par,
}

/// What a step changes besides the model: the loss, the regularisers, the optimiser state and the
/// generators.
pub(crate) struct StepParts<'p, 'a, T: Float> {
    pub(crate) loss: &'p mut dyn Loss<T>,
    pub(crate) regularizers: &'p mut [Box<dyn Regularizer<T> + 'a>],
    pub(crate) optimizer: &'p Optimizer,
    pub(crate) optimizer_state: &'p mut OptimizerState<T>,
    pub(crate) rngs: &'p mut TrainRngs,
}

/// The buffers of a step (see the module documentation).
#[derive(Debug)]
pub(crate) struct TrainStep<T: Float> {
    settings: StepSettings,
    batch: Batch<T>,
    cache: ForwardCache<T>,
    pass: DropoutPass<T>,
    grad_out: Mat<T>,
    vjp: VjpScratch<T>,
    grad: Vec<T>,
    prev: Vec<T>,
}

impl<T: Float> TrainStep<T> {
    /// Buffers for a model with `n_params` parameters, applying `settings`.
    pub(crate) fn new(n_params: usize, settings: StepSettings) -> Self {
        Self {
            settings,
            batch: Batch::default(),
            cache: ForwardCache::default(),
            pass: DropoutPass::default(),
            grad_out: Mat::zeros(0, 0),
            vjp: VjpScratch::default(),
            grad: vec![T::zero(); n_params],
            prev: vec![T::zero(); n_params],
        }
    }

    /// One step on the rows `idx` of `data`: updates `mlp`, adds each regulariser's penalty value
    /// to `penalty_sums` (in order), and returns the batch's training-mode loss. On
    /// [`Error::Diverged`] the model keeps the (finite) parameters from before the step.
    pub(crate) fn next_step(
        &mut self,
        mlp: &mut Mlp<T>,
        parts: &mut StepParts<'_, '_, T>,
        data: &DatasetView<'_, T>,
        idx: &[usize],
        at: StepAt,
        penalty_sums: &mut [f64],
    ) -> Result<f64> {
        let diverged = |what| Error::Diverged {
            epoch: at.epoch,
            step: at.step,
            what,
        };
        let settings = self.settings;
        let par = settings.par;
        let n_out = mlp.arch().output_dim();
        self.batch.gather(data, idx);
        if let Some(m) = &settings.mixup {
            self.batch.mixup(m, n_out, &mut parts.rngs.mixup)?;
        }
        if let Some(noise) = &settings.noise {
            self.batch.add_noise(noise, &mut parts.rngs.noise);
        }
        // Overflow anywhere in the step is divergence, reported by what it reached first.
        let or_diverged = |what| {
            move |e: Error| match e {
                Error::NonFinite { .. } => diverged(what),
                other => other,
            }
        };
        let fwd = if settings.dropout > 0.0 {
            let rng = &mut parts.rngs.dropout;
            self.pass
                .compute(mlp, self.batch.inputs(), settings.dropout, rng, par)
                .map_err(or_diverged("loss"))?;
            self.pass.cache()
        } else {
            self.cache
                .compute(mlp, self.batch.inputs(), par)
                .map_err(or_diverged("loss"))?;
            &self.cache
        };
        self.grad_out
            .resize_with(self.batch.len(), n_out, |_, _| T::zero());
        let loss = parts.loss.value_and_grad(
            fwd.output(),
            self.batch.targets(),
            self.batch.samples(),
            Some(self.grad_out.as_mut()),
        )?;
        if !loss.is_finite() {
            return Err(diverged("loss"));
        }
        let g = self.grad_out.as_ref();
        if !(0..g.nrows()).all(|i| (0..n_out).all(|c| g[(i, c)].is_finite_value())) {
            return Err(diverged("gradient"));
        }
        vjp_into_scratch(mlp, fwd, g, &mut self.grad, None, &mut self.vjp, par)
            .map_err(or_diverged("gradient"))?;

        for (sum, reg) in penalty_sums.iter_mut().zip(parts.regularizers.iter_mut()) {
            let mut ctx = StepContext {
                mlp,
                inputs: self.batch.clean_inputs(),
                targets: self.batch.clean_targets(),
                rng: &mut parts.rngs.regularizer,
                par,
                epoch: at.epoch,
                step: at.step,
                lr: at.lr,
            };
            let value = reg
                .penalty(&mut ctx, &mut self.grad)
                .map_err(or_diverged("penalty"))?;
            if !value.is_finite_value() {
                return Err(diverged("penalty"));
            }
            *sum += value.to_f64();
        }
        if !self.grad.iter().all(|g| g.is_finite_value()) {
            return Err(diverged("gradient"));
        }
        self.prev.copy_from_slice(mlp.params());
        let stepped =
            parts
                .optimizer
                .step(parts.optimizer_state, mlp.params_mut(), &self.grad, at.lr);
        if matches!(stepped, Err(Error::NonFinite { .. }))
            || !mlp.params().iter().all(|p| p.is_finite_value())
        {
            mlp.params_mut().copy_from_slice(&self.prev);
            return Err(diverged("parameters"));
        }
        stepped?;
        Ok(loss)
    }
}
