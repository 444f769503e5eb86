//! Softmax cross-entropy with label smoothing.

use faer::{MatMut, MatRef};

use super::{
    Loss, Softmax, TargetsView, check_classification_targets, check_hyper, mean_over_rows,
};
use crate::{Float, Result};

/// Softmax cross-entropy on logits `z`, with label smoothing `ε ∈ [0, 1]` during training
/// (Szegedy et al. 2016, "Rethinking the Inception architecture", §7).
///
/// With `q_i` the target distribution of sample `i` (one-hot of its class, or its soft row) and
/// the smoothed target `t_i = (1 − ε)·q_i + ε/C`,
///
/// - value: `L = (1/N) Σ_i −Σ_c t_ic log p_ic`, `p_i = softmax(z_i)`;
/// - gradient: `∂L/∂z_ik = (p_ik Σ_c t_ic − t_ik) / N`, which is `(p_ik − t_ik)/N` since the
///   targets sum to 1.
///
/// [`evaluate`](Loss::evaluate) uses `ε = 0`. Terms with `t_ic = 0` are skipped, so a
/// confidently wrong huge logit gives a large finite value rather than `0·∞`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropy {
    label_smoothing: f64,
}

impl CrossEntropy {
    /// Cross-entropy with label smoothing `ε ∈ [0, 1]` (0 for plain cross-entropy).
    pub fn new(label_smoothing: f64) -> Result<Self> {
        check_hyper(
            "label_smoothing",
            label_smoothing,
            (0.0..=1.0).contains(&label_smoothing),
            "must lie in [0, 1]",
        )?;
        Ok(Self { label_smoothing })
    }

    /// The label smoothing `ε`.
    #[must_use]
    pub fn label_smoothing(&self) -> f64 {
        self.label_smoothing
    }

    fn value<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        eps: f64,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        Loss::<T>::check_targets(self, &targets)?;
        let mut sm = Softmax::new(outputs.ncols());
        mean_over_rows(outputs, &targets, eps, grad, |_, z, t, g| {
            sm.compute(z);
            cross_entropy_row(&sm, t, g)
        })
    }
}

impl<T: Float> Loss<T> for CrossEntropy {
    fn name(&self) -> &str {
        "cross_entropy"
    }

    fn check_targets(&self, targets: &TargetsView<'_, T>) -> Result<()> {
        check_classification_targets(
            targets,
            "cross-entropy needs class labels or soft targets, not regression targets",
        )
    }

    fn value_and_grad(
        &mut self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        _samples: Option<&[usize]>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        self.value(outputs, targets, self.label_smoothing, grad)
    }

    fn evaluate(&self, outputs: MatRef<'_, T>, targets: TargetsView<'_, T>) -> Result<f64> {
        self.value(outputs, targets, 0.0, None)
    }
}

/// One sample's cross-entropy `−Σ_c t_c log p_c` against the target row `t` (terms with
/// `t_c = 0` skipped), and into `g`, if given, its gradient in the logits,
/// `g_k = p_k Σ_c t_c − t_k`.
pub(super) fn cross_entropy_row(sm: &Softmax, t: &[f64], g: Option<&mut [f64]>) -> f64 {
    let (mut value, mut mass) = (0.0f64, 0.0f64);
    for (&tc, &lc) in t.iter().zip(&sm.logp) {
        if tc != 0.0 {
            value -= tc * lc;
            mass += tc;
        }
    }
    if let Some(g) = g {
        for ((gk, &pk), &tk) in g.iter_mut().zip(&sm.p).zip(t) {
            *gk = pk * mass - tk;
        }
    }
    value
}
