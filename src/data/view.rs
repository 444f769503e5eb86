//! The borrowed side of the data vocabulary: [`DatasetView`], [`TargetsView`], and the
//! [`CastDataset`] that lends views in another float type.

use faer::{Mat, MatRef};

use super::{Dataset, Targets};
use crate::error::check_finite_mat;
use crate::train::Loss;
use crate::{Architecture, Error, Float, Result};

/// The targets of a batch or data set, one per sample (row of the outputs), borrowed.
///
/// The owned counterpart is [`Targets`](super::Targets) ([`Dataset::view`] borrows a dataset's
/// targets as this).
#[derive(Debug, Clone, Copy)]
pub enum TargetsView<'a, T: Float> {
    /// Class labels in `0..C` (classification).
    Classes(&'a [usize]),
    /// `N × C` soft targets, each row a probability distribution (e.g. from mixup).
    Soft(MatRef<'a, T>),
    /// Real-valued targets, `N × C` (regression).
    Regression(MatRef<'a, T>),
}

impl<'a, T: Float> TargetsView<'a, T> {
    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            TargetsView::Classes(l) => l.len(),
            TargetsView::Soft(y) | TargetsView::Regression(y) => y.nrows(),
        }
    }

    /// True when there are no samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class labels, if these are class targets.
    #[must_use]
    pub fn classes(&self) -> Option<&'a [usize]> {
        match *self {
            TargetsView::Classes(l) => Some(l),
            TargetsView::Soft(_) | TargetsView::Regression(_) => None,
        }
    }

    /// The targets of the samples `start..start + len` (a borrowed view, nothing copied).
    ///
    /// Panics if `start + len > self.len()`, like slice indexing.
    #[must_use]
    pub fn rows(&self, start: usize, len: usize) -> TargetsView<'a, T> {
        match *self {
            TargetsView::Classes(l) => TargetsView::Classes(&l[start..start + len]),
            TargetsView::Soft(y) => TargetsView::Soft(y.subrows(start, len)),
            TargetsView::Regression(y) => TargetsView::Regression(y.subrows(start, len)),
        }
    }

    /// Checks that there are `n` targets for a model with `c` outputs: labels below `c`; or an
    /// `n × c` finite matrix, whose rows, for soft targets, are also non-negative and sum to 1
    /// within `1e-6·c` (summed in `f64`).
    pub fn check(&self, n: usize, c: usize) -> Result<()> {
        match self {
            TargetsView::Classes(labels) => check_labels(labels, n, c),
            TargetsView::Soft(y) => {
                check_target_shape(*y, n, c)?;
                check_finite_mat("soft targets", *y)?;
                check_distributions("soft target", *y, 1e-6 * c as f64)
            }
            TargetsView::Regression(y) => {
                check_target_shape(*y, n, c)?;
                check_finite_mat("targets", *y)
            }
        }
    }
}

/// Inputs (`N × d`, one sample per row) and their targets ([`TargetsView`]), borrowed in the
/// float type of the model: what the [`Trainer`](crate::train::Trainer) and the
/// [`evaluate`](crate::train::evaluate) function take.
///
/// A view is made in three ways:
///
/// - from an owned [`Dataset`] for an `f64` model: [`Dataset::view`] or `&dataset` (`From`),
///   which borrow its buffers (nothing is copied, nothing re-checked);
/// - for a model of another float type (`f32`): [`Dataset::cast`] converts the features (and
///   regression targets) once into a [`CastDataset`], which lends views the same way;
/// - from a caller's own matrices: [`DatasetView::classification`],
///   [`DatasetView::regression`] or [`DatasetView::new`], which check the inputs are finite and
///   the targets have one row per sample.
///
/// The trainer then checks a view against the model once, when the set is added
/// ([`DatasetView::check_model`]: non-empty, input width, targets valid for the outputs and the
/// loss).
///
/// ```
/// use faer::Mat;
/// use mgs::data::{DatasetView, TargetsView, iris};
/// // From an owned dataset: a borrow of its row-major buffers.
/// let iris = iris()?;
/// let view = iris.view();
/// assert_eq!((view.len(), view.inputs().ncols()), (150, 4));
/// assert_eq!(view.inputs().as_ptr(), iris.feature_values().as_ptr());
/// // Converted for an `f32` model: the converted buffers are owned, views borrow them.
/// let iris32 = iris.cast::<f32>()?;
/// assert_eq!(iris32.view().inputs()[(0, 0)], iris.features()[(0, 0)] as f32);
/// // From a caller's matrices.
/// let x = Mat::from_fn(4, 2, |i, j| (i + j) as f64);
/// let labels = [0usize, 1, 1, 0];
/// let data = DatasetView::classification(x.as_ref(), &labels)?;
/// assert_eq!(data.len(), 4);
/// assert!(matches!(data.targets(), TargetsView::Classes(_)));
/// // Targets must match the number of samples.
/// assert!(DatasetView::classification(x.as_ref(), &labels[..3]).is_err());
/// # Ok::<(), mgs::Error>(())
/// ```
///
/// Invariants: the inputs are finite and there is one target per input row (real-valued
/// targets finite). A view may be empty (a split part with fraction 0); the trainer rejects an
/// empty set in [`check_model`](Self::check_model).
#[derive(Debug, Clone, Copy)]
pub struct DatasetView<'a, T: Float> {
    inputs: MatRef<'a, T>,
    targets: TargetsView<'a, T>,
}

impl<'a, T: Float> DatasetView<'a, T> {
    /// Wraps `inputs` (`N × d`, finite) and `N` targets (finite if real-valued, valid
    /// distributions if soft).
    ///
    /// Errors: [`Error::NonFinite`] for a NaN or infinite input (row-major index) or real
    /// target; [`Error::ShapeMismatch`] when the targets do not have `N` rows;
    /// [`Error::InvalidValue`] for a soft target row that is not a distribution.
    pub fn new(inputs: MatRef<'a, T>, targets: TargetsView<'a, T>) -> Result<Self> {
        check_finite_mat("inputs", inputs)?;
        let n = inputs.nrows();
        match targets {
            TargetsView::Classes(labels) if labels.len() != n => {
                return Err(Error::ShapeMismatch {
                    what: "labels",
                    expected: (n, 1),
                    found: (labels.len(), 1),
                });
            }
            TargetsView::Soft(y) | TargetsView::Regression(y) => targets.check(n, y.ncols())?,
            TargetsView::Classes(_) => {}
        }
        Ok(Self { inputs, targets })
    }

    /// A classification set: inputs and one class label per row.
    pub fn classification(inputs: MatRef<'a, T>, labels: &'a [usize]) -> Result<Self> {
        Self::new(inputs, TargetsView::Classes(labels))
    }

    /// A regression set: inputs and an `N × C` target matrix.
    pub fn regression(inputs: MatRef<'a, T>, targets: MatRef<'a, T>) -> Result<Self> {
        Self::new(inputs, TargetsView::Regression(targets))
    }

    /// The inputs, `N × d`.
    #[must_use]
    pub fn inputs(&self) -> MatRef<'a, T> {
        self.inputs
    }

    /// The targets.
    #[must_use]
    pub fn targets(&self) -> TargetsView<'a, T> {
        self.targets
    }

    /// Number of samples `N`.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// True when there are no samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that this set fits a model of architecture `arch` trained with `loss`: at least
    /// one sample ([`Error::EmptyBatch`] naming `what` otherwise), the input width, class
    /// labels below `C` or `N × C` real targets, and targets of the loss's kind.
    pub fn check_model(
        &self,
        what: &'static str,
        arch: &Architecture,
        loss: &dyn Loss<T>,
    ) -> Result<()> {
        if self.is_empty() {
            return Err(Error::EmptyBatch { what });
        }
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

    /// A view whose invariants the caller guarantees (an owned dataset's own buffers).
    fn from_checked(inputs: MatRef<'a, T>, targets: TargetsView<'a, T>) -> Self {
        debug_assert_eq!(inputs.nrows(), targets.len());
        Self { inputs, targets }
    }
}

impl<'a, T: Float> From<&DatasetView<'a, T>> for DatasetView<'a, T> {
    fn from(view: &DatasetView<'a, T>) -> Self {
        *view
    }
}

impl<'a> From<&'a Dataset> for DatasetView<'a, f64> {
    /// [`Dataset::view`]: a borrow of the dataset's buffers, nothing copied.
    fn from(dataset: &'a Dataset) -> Self {
        dataset.view()
    }
}

impl<'a, T: Float> From<&'a CastDataset<T>> for DatasetView<'a, T> {
    /// [`CastDataset::view`].
    fn from(dataset: &'a CastDataset<T>) -> Self {
        dataset.view()
    }
}

impl Dataset {
    /// The dataset as a view for an `f64` model: the features as a row-major `n × d` matrix
    /// over the dataset's own buffer, the labels as its slice, regression targets as a
    /// row-major `n × n_targets` matrix over theirs. Nothing is copied or re-checked (the
    /// dataset's values are finite by construction). `&dataset` converts the same way.
    #[must_use]
    pub fn view(&self) -> DatasetView<'_, f64> {
        let targets = match self.targets() {
            Targets::Classes { labels, .. } => TargetsView::Classes(labels),
            Targets::Regression { values, n_targets } => TargetsView::Regression(
                MatRef::from_row_major_slice(values, self.n_samples(), *n_targets),
            ),
        };
        DatasetView::from_checked(self.features(), targets)
    }

    /// The features (and regression targets) converted once to `T` for a model in that type,
    /// in an owned [`CastDataset`] that lends [`DatasetView`]s; class labels are copied. For
    /// an `f64` model use [`view`](Self::view), which copies nothing.
    ///
    /// Errors: [`Error::NonFinite`] (row-major index) when a value overflows `T` (an `f64`
    /// beyond `±f32::MAX` becomes infinite in `f32`).
    pub fn cast<T: Float>(&self) -> Result<CastDataset<T>> {
        let inputs = self.features_as::<T>();
        check_finite_mat(
            "features converted to the model's float type",
            inputs.as_ref(),
        )?;
        let targets = match self.labels() {
            Some(labels) => CastTargets::Classes(labels.to_vec()),
            None => {
                let values = self.targets_as::<T>();
                check_finite_mat(
                    "regression targets converted to the model's float type",
                    values.as_ref(),
                )?;
                CastTargets::Regression(values)
            }
        };
        Ok(CastDataset { inputs, targets })
    }
}

/// A [`Dataset`] converted to the float type `T` of a model ([`Dataset::cast`]): owns the
/// converted `n × d` features, the class labels or the converted regression targets, and lends
/// [`DatasetView`]s of them ([`view`](Self::view) or `&cast`).
///
/// It is a separate owned type, not a generic [`Dataset`], because the conversion is the only
/// thing a model of another type needs: the names, class counts, loaders, splits and
/// standardisation stay on the one `f64` dataset, and the cast is taken last, after them.
#[derive(Debug, Clone)]
pub struct CastDataset<T: Float> {
    inputs: Mat<T>,
    targets: CastTargets<T>,
}

/// The owned targets of a [`CastDataset`].
#[derive(Debug, Clone)]
enum CastTargets<T: Float> {
    Classes(Vec<usize>),
    Regression(Mat<T>),
}

impl<T: Float> CastDataset<T> {
    /// A view of the converted buffers (nothing copied or re-checked).
    #[must_use]
    pub fn view(&self) -> DatasetView<'_, T> {
        let targets = match &self.targets {
            CastTargets::Classes(labels) => TargetsView::Classes(labels),
            CastTargets::Regression(values) => TargetsView::Regression(values.as_ref()),
        };
        DatasetView::from_checked(self.inputs.as_ref(), targets)
    }

    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// True when there are no samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------------------------------------
// Target checks, shared with the losses.

/// `n` class labels, each below `c`.
pub(crate) fn check_labels(labels: &[usize], n: usize, c: usize) -> Result<()> {
    if labels.len() != n {
        return Err(Error::ShapeMismatch {
            what: "labels",
            expected: (n, 1),
            found: (labels.len(), 1),
        });
    }
    match labels.iter().position(|&l| l >= c) {
        Some(index) => Err(Error::InvalidLabel {
            what: "labels",
            index,
            label: labels[index],
            n_classes: c,
        }),
        None => Ok(()),
    }
}

fn check_target_shape<T: Float>(y: MatRef<'_, T>, n: usize, c: usize) -> Result<()> {
    if (y.nrows(), y.ncols()) != (n, c) {
        return Err(Error::ShapeMismatch {
            what: "targets",
            expected: (n, c),
            found: (y.nrows(), y.ncols()),
        });
    }
    Ok(())
}

/// Checks that every row of the finite matrix `rows` is non-negative and sums (in `f64`) to 1
/// within `tol`.
fn check_distributions<T: Float>(what: &'static str, rows: MatRef<'_, T>, tol: f64) -> Result<()> {
    for i in 0..rows.nrows() {
        let mut sum = 0.0f64;
        for j in 0..rows.ncols() {
            let v = rows[(i, j)].to_f64();
            if v < 0.0 {
                return Err(Error::InvalidValue {
                    what,
                    value: v,
                    reason: "soft targets must be >= 0",
                });
            }
            sum += v;
        }
        if (sum - 1.0).abs() > tol {
            return Err(Error::InvalidValue {
                what,
                value: sum,
                reason: "each row of soft targets must sum to 1 (within 1e-6·C)",
            });
        }
    }
    Ok(())
}
