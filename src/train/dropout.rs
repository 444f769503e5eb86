//! Dropout on the hidden activations: a training-mode forward pass with seeded masks, and its
//! reverse-mode derivative through the masked network.
//!
//! Inverted dropout with rate `p`: every hidden activation is multiplied by `s = m / (1 − p)`
//! with `m ~ Bernoulli(1 − p)` drawn independently per sample and unit, so
//! `ã^l = σ(z^l) ∘ s^l` and the expected activation is unchanged; at evaluation nothing is
//! dropped (the plain [`Mlp::forward`] is the evaluation pass). Inputs and outputs are never
//! dropped.
//!
//! The masks are drawn from the generator before any arithmetic, layer after layer, row-major,
//! so the same seed gives the same masks whatever the parallelism. The pass fills an ordinary
//! [`ForwardCache`] of the masked network — activations `ã^l`, and `σ'(z^l) ∘ s^l`,
//! `σ''(z^l) ∘ s^l` in place of the derivatives — so every derivative routine of
//! [`crate::derivatives`] (e.g. [`vjp_into`]) differentiates the masked network with the masks
//! held fixed. With `p = 0` the pass equals [`Mlp::forward_cached`] bit for bit.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::train::DropoutPass;
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! let arch = Architecture::new(3, &[(32, Activation::Relu)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::HeNormal, &mut rng_from_seed(0))?;
//! let x = Mat::from_fn(8, 3, |i, j| (i as f64 - j as f64) * 0.3);
//! let a = DropoutPass::new(&mlp, x.as_ref(), 0.5, &mut rng_from_seed(7), Par::Seq)?;
//! let b = DropoutPass::new(&mlp, x.as_ref(), 0.5, &mut rng_from_seed(7), Par::Seq)?;
//! assert_eq!(a.output(), b.output()); // same seed, same masks
//! let kept = a.mask(0).unwrap();
//! assert!((0..8).all(|i| (0..32).all(|j| kept[(i, j)] == 0.0 || kept[(i, j)] == 2.0)));
//! // Rate 0 is the plain forward pass.
//! let c = DropoutPass::new(&mlp, x.as_ref(), 0.0, &mut rng_from_seed(7), Par::Seq)?;
//! assert_eq!(c.output(), mlp.forward(x.as_ref(), Par::Seq)?.as_ref());
//! // Gradient of Σ U∘f through the masked network.
//! let u = Mat::from_fn(8, 2, |i, c| (i + c) as f64);
//! let mut grad = vec![0.0; mlp.n_params()];
//! a.vjp_into(&mlp, u.as_ref(), &mut grad, Par::Seq)?;
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::{MatRef, Par};
use rand::Rng;
use rand::distr::{Bernoulli, Distribution};

use crate::buffer::rm;
use crate::derivatives::vjp_into;
use crate::{Error, Float, ForwardCache, Mlp, Result};

/// Checks a dropout rate: `0 ≤ p < 1`.
pub fn check_dropout_rate(rate: f64) -> Result<()> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name: "dropout",
            value: rate,
            reason: "must lie in [0, 1)",
        })
    }
}

/// A training-mode forward pass with dropout: the masks and the cache of the masked network.
/// Reusable across calls (buffers keep their capacity).
#[derive(Debug, Clone, Default)]
pub struct DropoutPass<T: Float> {
    cache: ForwardCache<T>,
    /// Per hidden layer, `N × n_l` row-major scale factors `s ∈ {0, 1/(1−p)}`.
    masks: Vec<Vec<T>>,
}

impl<T: Float> DropoutPass<T> {
    /// Runs a pass of `mlp` on `x` with dropout rate `rate`, masks drawn from `rng`.
    pub fn new<R: Rng + ?Sized>(
        mlp: &Mlp<T>,
        x: MatRef<'_, T>,
        rate: f64,
        rng: &mut R,
        par: Par,
    ) -> Result<Self> {
        let mut pass = Self::default();
        pass.compute(mlp, x, rate, rng, par)?;
        Ok(pass)
    }

    /// [`new`](Self::new) into this pass's buffers. On error nothing is drawn from `rng`.
    pub fn compute<R: Rng + ?Sized>(
        &mut self,
        mlp: &Mlp<T>,
        x: MatRef<'_, T>,
        rate: f64,
        rng: &mut R,
        par: Par,
    ) -> Result<()> {
        check_dropout_rate(rate)?;
        mlp.check_inputs(x)?;
        let arch = mlp.arch();
        let n = x.nrows();
        crate::limits::Request::DropoutPass { n }.check::<T>(arch)?;
        let widths = arch.widths();
        let n_layers = arch.n_layers();

        // Masks first, in a fixed order, so that the draws never depend on the parallelism.
        self.masks.resize_with(n_layers - 1, Vec::new);
        let keep = 1.0 - rate;
        let scale = T::from_f64(1.0 / keep);
        let bernoulli = Bernoulli::new(keep).map_err(|_| Error::InvalidHyperparameter {
            name: "dropout",
            value: rate,
            reason: "must lie in [0, 1)",
        })?;
        for (l, mask) in self.masks.iter_mut().enumerate() {
            let len = n * widths[l + 1];
            mask.clear();
            if rate == 0.0 {
                mask.resize(len, T::one());
            } else {
                mask.extend((0..len).map(|_| {
                    if bernoulli.sample(rng) {
                        scale
                    } else {
                        T::zero()
                    }
                }));
            }
        }

        // At rate 0 the plain pass runs, so the outputs equal `Mlp::forward` bit for bit.
        let scales = (rate > 0.0).then_some(&self.masks[..]);
        self.cache.compute_scaled(mlp, x, scales, par)?;
        Ok(())
    }

    /// The forward cache of the masked network (for [`crate::derivatives`]).
    #[must_use]
    pub fn cache(&self) -> &ForwardCache<T> {
        &self.cache
    }

    /// The outputs `f(X)` of the masked network (`N × C`); `0 × 0` for a pass never computed
    /// (`DropoutPass::default()`) or whose last computation failed.
    #[must_use]
    pub fn output(&self) -> MatRef<'_, T> {
        self.cache.output()
    }

    /// The scale factors `s ∈ {0, 1/(1−p)}` of hidden layer `hidden` (0-based, `N × n_{hidden+1}`),
    /// or `None` if there is no such hidden layer.
    #[must_use]
    pub fn mask(&self, hidden: usize) -> Option<MatRef<'_, T>> {
        if self.cache.n_samples() == 0 {
            return None;
        }
        let width = *self.cache.widths.get(hidden + 1)?;
        let mask = self.masks.get(hidden)?;
        Some(rm(mask, self.cache.n, width))
    }

    /// Gradient of `Σ_{i,c} U_ic f̃_c(x_i)` of the masked network with respect to the parameters
    /// (masks fixed), written into `grad_params` (length `P`, overwritten).
    pub fn vjp_into(
        &self,
        mlp: &Mlp<T>,
        cotangent: MatRef<'_, T>,
        grad_params: &mut [T],
        par: Par,
    ) -> Result<()> {
        vjp_into(mlp, &self.cache, cotangent, grad_params, None, par)
    }
}
