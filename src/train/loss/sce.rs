//! Symmetric cross-entropy.

use faer::{MatMut, MatRef};

use super::cross_entropy::cross_entropy_row;
use super::{
    Loss, Softmax, TargetsView, check_classification_targets, check_hyper, mean_over_rows, row,
};
use crate::{Float, Result};

/// Symmetric cross-entropy (Wang et al. 2019, "Symmetric cross entropy for robust learning with
/// noisy labels"): `α·CE + β·RCE`, with the reverse cross-entropy's `log 0` replaced by
/// `A = log_clip < 0` (the paper uses `A = −4`).
///
/// With `q_i` the target distribution of sample `i` (one-hot or soft), `p_i = softmax(z_i)` and
/// `ℓ_ic = max(log q_ic, A)` (so `ℓ = A` where `q_ic = 0`; for a class label `ℓ` is 0 on the
/// class and `A` elsewhere),
///
/// - value: `L = (1/N) Σ_i [α·(−Σ_c q_ic log p_ic) + β·(−Σ_c p_ic ℓ_ic)]`; for a class label
///   `y` the reverse term is `−A (1 − p_iy)`;
/// - gradient: `∂L/∂z_ik = [α (p_ik Σ_c q_ic − q_ik) + β p_ik (Σ_c p_ic ℓ_ic − ℓ_ik)] / N`.
///
/// (The authors' code clamps `p` to `[1e-7, 1]` inside the reverse term; here `p` is used as is,
/// which only differs where some `p_ic < 1e-7`.) Training and evaluation values are the same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymmetricCrossEntropy {
    alpha: f64,
    beta: f64,
    log_clip: f64,
}

impl SymmetricCrossEntropy {
    /// `α·CE + β·RCE` with `α, β ≥ 0` finite, not both 0, and `A = log_clip` finite and `< 0`
    /// (the paper: `α = 0.1, β = 1, A = −4` on CIFAR-10).
    pub fn new(alpha: f64, beta: f64, log_clip: f64) -> Result<Self> {
        let weight = |name, v: f64| {
            check_hyper(
                name,
                v,
                v.is_finite() && v >= 0.0,
                "must be finite and >= 0",
            )
        };
        weight("sce.alpha", alpha)?;
        weight("sce.beta", beta)?;
        check_hyper(
            "sce.beta",
            beta,
            alpha + beta > 0.0,
            "alpha and beta must not both be 0",
        )?;
        check_hyper(
            "sce.log_clip",
            log_clip,
            log_clip.is_finite() && log_clip < 0.0,
            "must be finite and < 0 (the value of log 0 in the reverse cross-entropy)",
        )?;
        Ok(Self {
            alpha,
            beta,
            log_clip,
        })
    }

    fn value<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        Loss::<T>::check_targets(self, &targets)?;
        let Self {
            alpha,
            beta,
            log_clip,
        } = *self;
        let mut sm = Softmax::new(outputs.ncols());
        let mut ell = row(outputs.ncols());
        mean_over_rows(outputs, &targets, 0.0, grad, |_, z, t, mut g| {
            sm.compute(z);
            let ce = cross_entropy_row(&sm, t, g.as_deref_mut());
            let mut p_ell = 0.0f64;
            for ((lc, &tc), &pc) in ell.iter_mut().zip(t).zip(&sm.p) {
                *lc = tc.ln().max(log_clip);
                p_ell += pc * *lc;
            }
            if let Some(g) = g {
                for ((gk, &pk), &lk) in g.iter_mut().zip(&sm.p).zip(&ell) {
                    *gk = alpha * *gk + beta * pk * (p_ell - lk);
                }
            }
            alpha * ce - beta * p_ell
        })
    }
}

impl<T: Float> Loss<T> for SymmetricCrossEntropy {
    fn name(&self) -> &str {
        "sce"
    }

    fn check_targets(&self, targets: &TargetsView<'_, T>) -> Result<()> {
        check_classification_targets(
            targets,
            "symmetric cross-entropy needs class labels or soft targets, not regression targets",
        )
    }

    fn value_and_grad(
        &mut self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        _samples: Option<&[usize]>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        self.value(outputs, targets, grad)
    }

    fn evaluate(&self, outputs: MatRef<'_, T>, targets: TargetsView<'_, T>) -> Result<f64> {
        self.value(outputs, targets, None)
    }
}
