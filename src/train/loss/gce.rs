//! Generalized cross-entropy (the `L_q` loss).

use faer::{MatMut, MatRef};

use super::{
    Loss, Softmax, TargetsView, check_classification_targets, check_hyper, mean_over_rows, row,
};
use crate::{Float, Result};

/// Generalized cross-entropy `L_q` (Zhang & Sabuncu 2018, "Generalized cross entropy loss for
/// training deep neural networks with noisy labels"), `q ∈ (0, 1]`.
///
/// With `q_i` the target distribution of sample `i` (one-hot or soft) and `p_i = softmax(z_i)`,
///
/// - value: `L = (1/N) Σ_i Σ_c q_ic (1 − p_ic^q) / q`, computed as `−expm1(q log p_ic) / q`
///   (accurate for small `q`); for a class label `y` it is the paper's `(1 − p_iy^q) / q`;
/// - gradient: with `w_ic = q_ic p_ic^q`, `∂L/∂z_ik = (p_ik Σ_c w_ic − w_ik) / N`.
///
/// `q = 1` gives `1 − ⟨q_i, p_i⟩` (for a class label `1 − p_iy = ½ ‖p_i − onehot(y)‖₁`, the mean
/// absolute error); `q → 0` tends to the cross-entropy. Training and evaluation values are the
/// same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneralizedCrossEntropy {
    q: f64,
}

impl GeneralizedCrossEntropy {
    /// `L_q` with exponent `q ∈ (0, 1]` (the paper uses 0.7).
    pub fn new(q: f64) -> Result<Self> {
        check_hyper("gce.q", q, q > 0.0 && q <= 1.0, "must lie in (0, 1]")?;
        Ok(Self { q })
    }

    /// The exponent `q`.
    #[must_use]
    pub fn q(&self) -> f64 {
        self.q
    }

    fn value<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        Loss::<T>::check_targets(self, &targets)?;
        let q = self.q;
        let mut sm = Softmax::new(outputs.ncols());
        let mut w = row(outputs.ncols());
        mean_over_rows(outputs, &targets, 0.0, grad, |_, z, t, g| {
            sm.compute(z);
            let mut value = 0.0f64;
            for ((wc, &tc), &lc) in w.iter_mut().zip(t).zip(&sm.logp) {
                *wc = 0.0;
                if tc != 0.0 {
                    value -= tc * (q * lc).exp_m1() / q;
                    *wc = tc * (q * lc).exp();
                }
            }
            if let Some(g) = g {
                let w_sum: f64 = w.iter().sum();
                for ((gk, &pk), &wk) in g.iter_mut().zip(&sm.p).zip(&w) {
                    *gk = pk * w_sum - wk;
                }
            }
            value
        })
    }
}

impl<T: Float> Loss<T> for GeneralizedCrossEntropy {
    fn name(&self) -> &str {
        "gce"
    }

    fn check_targets(&self, targets: &TargetsView<'_, T>) -> Result<()> {
        check_classification_targets(
            targets,
            "generalized cross-entropy needs class labels or soft targets, not regression targets",
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
