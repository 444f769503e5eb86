//! Mean squared error.

use faer::{MatMut, MatRef};

use super::{Loss, TargetsView, mean_over_rows};
use crate::{Float, Result};

/// Half the squared error, summed over the `C` outputs and averaged over the samples.
///
/// With `y_i` the target row of sample `i` (the real targets, the one-hot vector of its class,
/// or its soft distribution),
///
/// - value: `L = (1/N) Σ_i ½ ‖f_i − y_i‖²`;
/// - gradient: `∂L/∂f_ic = (f_ic − y_ic) / N`.
///
/// Training and evaluation values are the same. Accepts all three kinds of [`TargetsView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeanSquaredError;

impl MeanSquaredError {
    /// The mean squared error (it has no hyperparameter, so this never fails; a `Result` like
    /// the other losses' constructors).
    pub fn new() -> Result<Self> {
        Ok(Self)
    }

    fn value<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        mean_over_rows(outputs, &targets, 0.0, grad, |_, f, y, mut g| {
            let mut row = 0.0f64;
            for (k, (&fk, &yk)) in f.iter().zip(y).enumerate() {
                let r = fk - yk;
                row += r * r;
                if let Some(g) = g.as_deref_mut() {
                    g[k] = r;
                }
            }
            0.5 * row
        })
    }
}

impl<T: Float> Loss<T> for MeanSquaredError {
    fn name(&self) -> &str {
        "mse"
    }

    fn check_targets(&self, _targets: &TargetsView<'_, T>) -> Result<()> {
        Ok(())
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
