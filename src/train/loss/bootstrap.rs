//! Bootstrapping (soft and hard).

use faer::{MatMut, MatRef};

use super::cross_entropy::cross_entropy_row;
use super::{
    Loss, Softmax, TargetsView, check_classification_targets, check_hyper, mean_over_rows, row,
};
use crate::{Float, Result};

/// Bootstrapping (Reed et al. 2015, "Training deep neural networks on noisy labels with
/// bootstrapping"): cross-entropy against a blend of the given target and the model's own
/// prediction, `β ∈ [0, 1]` the weight of the given target.
///
/// With `q_i` the target distribution of sample `i` (one-hot or soft) and `p_i = softmax(z_i)`,
/// the bootstrapped target is `b_i = β q_i + (1 − β) p_i` (soft) or
/// `b_i = β q_i + (1 − β) onehot(argmax p_i)` (hard; first maximum on ties), and
///
/// - value: `L = (1/N) Σ_i −Σ_c b_ic log p_ic`;
/// - gradient: `∂L/∂z_ik = (p_ik Σ_c b_ic − b_ik) / N`, i.e. **`b_i` is treated as a constant**
///   (a stop-gradient on the prediction inside the target, the usual implementation; Reed et
///   al. note that soft bootstrapping is equivalent to minimum-entropy regularisation, which
///   would also differentiate through `p_i` in `b_i`). For the soft variant this is therefore
///   not the derivative of the value as a function of `z`: it is the derivative of the
///   cross-entropy against the target `b_i` frozen at the current outputs.
///
/// `β = 1` is the plain cross-entropy. The paper uses `β = 0.95` (soft) and `β = 0.8` (hard).
/// Evaluation uses the same bootstrapped value (it has no training-only term).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrapping {
    beta: f64,
    hard: bool,
}

impl Bootstrapping {
    /// Soft (`hard = false`) or hard bootstrapping with target weight `β ∈ [0, 1]`.
    pub fn new(beta: f64, hard: bool) -> Result<Self> {
        check_hyper(
            "bootstrap.beta",
            beta,
            (0.0..=1.0).contains(&beta),
            "must lie in [0, 1]",
        )?;
        Ok(Self { beta, hard })
    }

    fn value<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        Loss::<T>::check_targets(self, &targets)?;
        let Self { beta, hard } = *self;
        let mut sm = Softmax::new(outputs.ncols());
        let mut b = row(outputs.ncols());
        mean_over_rows(outputs, &targets, 0.0, grad, |_, z, t, g| {
            sm.compute(z);
            for (k, ((bk, &tk), &pk)) in b.iter_mut().zip(t).zip(&sm.p).enumerate() {
                let own = if hard {
                    f64::from(u8::from(k == sm.argmax))
                } else {
                    pk
                };
                *bk = beta * tk + (1.0 - beta) * own;
            }
            cross_entropy_row(&sm, &b, g)
        })
    }
}

impl<T: Float> Loss<T> for Bootstrapping {
    fn name(&self) -> &str {
        if self.hard {
            "bootstrap_hard"
        } else {
            "bootstrap_soft"
        }
    }

    fn check_targets(&self, targets: &TargetsView<'_, T>) -> Result<()> {
        check_classification_targets(
            targets,
            "bootstrapping needs class labels or soft targets, not regression targets",
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
