//! A data set borrowed from the caller: inputs (`N × d`, one sample per row) and their targets.
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Dataset, Targets};
//! let x = Mat::from_fn(4, 2, |i, j| (i + j) as f64);
//! let labels = [0usize, 1, 1, 0];
//! let data = Dataset::classification(x.as_ref(), &labels)?;
//! assert_eq!(data.len(), 4);
//! assert!(matches!(data.targets(), Targets::Classes(_)));
//! // Targets must match the number of samples.
//! assert!(Dataset::classification(x.as_ref(), &labels[..3]).is_err());
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::MatRef;

use super::{Loss, Targets};
use crate::{Architecture, Error, Float, Result};

/// Inputs and targets of a training, validation or test split (borrowed, not copied).
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'a, T: Float> {
    inputs: MatRef<'a, T>,
    targets: Targets<'a, T>,
}

impl<'a, T: Float> Dataset<'a, T> {
    /// Wraps `inputs` (`N × d`, `N > 0`, finite) and `N` targets (finite if real-valued, valid
    /// distributions if soft).
    pub fn new(inputs: MatRef<'a, T>, targets: Targets<'a, T>) -> Result<Self> {
        let n = inputs.nrows();
        if n == 0 {
            return Err(Error::EmptyBatch { what: "data set" });
        }
        for i in 0..n {
            for j in 0..inputs.ncols() {
                if !inputs[(i, j)].is_finite_value() {
                    return Err(Error::NonFinite {
                        what: "inputs",
                        index: i * inputs.ncols() + j,
                    });
                }
            }
        }
        match targets {
            Targets::Classes(labels) if labels.len() != n => {
                return Err(Error::ShapeMismatch {
                    what: "labels",
                    expected: (n, 1),
                    found: (labels.len(), 1),
                });
            }
            Targets::Soft(y) | Targets::Regression(y) => targets.check(n, y.ncols())?,
            Targets::Classes(_) => {}
        }
        Ok(Self { inputs, targets })
    }

    /// A classification set: inputs and one class label per row.
    pub fn classification(inputs: MatRef<'a, T>, labels: &'a [usize]) -> Result<Self> {
        Self::new(inputs, Targets::Classes(labels))
    }

    /// A regression set: inputs and an `N × C` target matrix.
    pub fn regression(inputs: MatRef<'a, T>, targets: MatRef<'a, T>) -> Result<Self> {
        Self::new(inputs, Targets::Regression(targets))
    }

    /// The inputs, `N × d`.
    pub fn inputs(&self) -> MatRef<'a, T> {
        self.inputs
    }

    /// The targets.
    pub fn targets(&self) -> Targets<'a, T> {
        self.targets
    }

    /// Number of samples `N`.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// Always false (an empty set cannot be built); present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that this set fits a model of architecture `arch` trained with `loss`: input
    /// width, class labels below `C` or `N × C` real targets, and targets of the loss's kind.
    pub fn check_model(
        &self,
        what: &'static str,
        arch: &Architecture,
        loss: &dyn Loss<T>,
    ) -> Result<()> {
        if self.inputs.ncols() != arch.input_dim() {
            return Err(Error::ShapeMismatch {
                what,
                expected: (self.len(), arch.input_dim()),
                found: (self.len(), self.inputs.ncols()),
            });
        }
        self.targets.check(self.len(), arch.output_dim())?;
        loss.check_targets(&self.targets)
    }
}
