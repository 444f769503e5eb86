//! [`Dataset`]: a feature matrix with class labels or regression targets.
//!
//! ```
//! use mgs::data::{Dataset, Targets};
//! let ds = Dataset::new(
//!     vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
//!     2,
//!     Targets::Classes { labels: vec![1, 0, 1], n_classes: 2 },
//! )?;
//! assert_eq!((ds.n_samples(), ds.n_features(), ds.n_classes()), (3, 2, Some(2)));
//! assert_eq!(ds.features()[(2, 1)], 5.0);
//! assert_eq!(ds.class_counts(), Some(vec![1, 2]));
//! let part = ds.subset(&[2, 0])?;
//! assert_eq!(part.labels(), Some(&[1, 1][..]));
//! assert_eq!(part.features_as::<f32>()[(0, 0)], 4.0f32);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::{Mat, MatRef};
use rand::Rng;

use crate::data::noise::LabelNoise;
use crate::error::check_finite;
use crate::{Error, Float, Result};

/// What is to be predicted for each sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class labels in `0..n_classes`.
    Classes {
        /// One label per sample.
        labels: Vec<usize>,
        /// Number of classes (a subset keeps its parent's count even if some class is absent).
        n_classes: usize,
    },
    /// Real-valued targets: `n_targets` per sample.
    Regression {
        /// Row-major `n × n_targets` values.
        values: Vec<f64>,
        /// Number of targets per sample (at least 1).
        n_targets: usize,
    },
}

impl Targets {
    /// One real-valued target per sample.
    #[must_use]
    pub fn regression(values: Vec<f64>) -> Self {
        Targets::Regression {
            values,
            n_targets: 1,
        }
    }

    /// Number of samples the targets describe (0 for regression targets with `n_targets = 0`,
    /// which [`Dataset::new`] rejects).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Regression { values, n_targets } => {
                values.len().checked_div(*n_targets).unwrap_or(0)
            }
        }
    }

    /// True when there are no samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the samples at `indices` (which the caller has checked).
    fn select(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Classes { labels, n_classes } => Targets::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                n_classes: *n_classes,
            },
            Targets::Regression { values, n_targets } => Targets::Regression {
                values: indices
                    .iter()
                    .flat_map(|&i| &values[i * n_targets..(i + 1) * n_targets])
                    .copied()
                    .collect(),
                n_targets: *n_targets,
            },
        }
    }
}

/// A tabular dataset: `n × d` features stored row-major as `f64`, plus targets.
///
/// Every feature and regression target is finite and every class label lies in
/// `0..n_classes`; the constructors check this. A dataset may have zero samples (a split part
/// with fraction 0) but always has at least one feature column, and one row of features always
/// fits in memory (`8 · n_features ≤ isize::MAX` bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Vec<f64>,
    n_features: usize,
    targets: Targets,
    feature_names: Option<Vec<String>>,
    class_names: Option<Vec<String>>,
}

impl Dataset {
    /// Builds a dataset from row-major `features` (`n_samples × n_features`, where
    /// `n_samples = targets.len()`).
    ///
    /// Errors: [`Error::EmptyBatch`] for zero feature columns or zero regression targets per
    /// sample; [`Error::TooLarge`] when one row (or the whole matrix) of `f64` values would
    /// exceed `isize::MAX` bytes (so `n_features = usize::MAX` fails at once, before anything is
    /// allocated or iterated); [`Error::LengthMismatch`] when `features.len() ≠ n_samples ·
    /// n_features` or the regression values are not a whole number of rows; [`Error::NonFinite`]
    /// for a NaN or infinite feature or regression target; [`Error::InvalidLabel`] for a class
    /// label `≥ n_classes`.
    pub fn new(features: Vec<f64>, n_features: usize, targets: Targets) -> Result<Self> {
        if n_features == 0 {
            return Err(Error::EmptyBatch {
                what: "feature columns",
            });
        }
        check_matrix_size("one row of features", 1, n_features)?;
        check_target_shape(&targets)?;
        let n = targets.len();
        check_matrix_size("the feature matrix", n, n_features)?;
        // `check_matrix_size` has ruled out overflow.
        let expected = n * n_features;
        if features.len() != expected {
            return Err(Error::LengthMismatch {
                what: "feature values (n_samples · n_features)",
                expected,
                found: features.len(),
            });
        }
        check_finite("features", &features)?;
        validate_targets(&targets)?;
        Ok(Self {
            features,
            n_features,
            targets,
            feature_names: None,
            class_names: None,
        })
    }

    /// Attaches one name per feature column.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.n_features {
            return Err(Error::LengthMismatch {
                what: "feature names",
                expected: self.n_features,
                found: names.len(),
            });
        }
        self.feature_names = Some(names);
        Ok(self)
    }

    /// Attaches one name per class (classification datasets only).
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self> {
        let Some(k) = self.n_classes() else {
            return Err(Error::EmptyBatch {
                what: "classes (class names given for a regression dataset)",
            });
        };
        if names.len() != k {
            return Err(Error::LengthMismatch {
                what: "class names",
                expected: k,
                found: names.len(),
            });
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// The same features and names with new targets (checked as in [`Dataset::new`]; class
    /// names are kept only if the number of classes is unchanged).
    pub fn with_targets(&self, targets: Targets) -> Result<Self> {
        check_target_shape(&targets)?;
        if targets.len() != self.n_samples() {
            return Err(Error::LengthMismatch {
                what: "samples in the targets",
                expected: self.n_samples(),
                found: targets.len(),
            });
        }
        validate_targets(&targets)?;
        let class_names = match (&targets, &self.class_names) {
            (Targets::Classes { n_classes, .. }, Some(names)) if names.len() == *n_classes => {
                Some(names.clone())
            }
            _ => None,
        };
        Ok(Self {
            features: self.features.clone(),
            n_features: self.n_features,
            targets,
            feature_names: self.feature_names.clone(),
            class_names,
        })
    }

    /// A copy whose class labels carry exactly `round(p·n)` corrupted labels (see
    /// [`crate::data::noise`]), with the mask of corrupted samples.
    ///
    /// Errors as [`crate::data::noise::symmetric`] / [`crate::data::noise::pair_flip`]; a regression dataset is
    /// [`Error::EmptyBatch`] (it has no class labels).
    pub fn with_label_noise<R: Rng + ?Sized>(
        &self,
        kind: LabelNoise,
        p: f64,
        rng: &mut R,
    ) -> Result<(Self, Vec<bool>)> {
        let (labels, n_classes) = self.require_classes()?;
        let noisy = kind.apply(labels, n_classes, p, rng)?;
        let ds = self.with_targets(Targets::Classes {
            labels: noisy.labels,
            n_classes,
        })?;
        Ok((ds, noisy.corrupted))
    }

    /// Number of samples `n`.
    #[must_use]
    pub fn n_samples(&self) -> usize {
        self.targets.len()
    }

    /// Number of features `d`.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of classes, or `None` for a regression dataset.
    #[must_use]
    pub fn n_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes { n_classes, .. } => Some(*n_classes),
            Targets::Regression { .. } => None,
        }
    }

    /// Number of regression targets per sample, or `None` for a classification dataset.
    #[must_use]
    pub fn n_regression_targets(&self) -> Option<usize> {
        match &self.targets {
            Targets::Regression { n_targets, .. } => Some(*n_targets),
            Targets::Classes { .. } => None,
        }
    }

    /// True for a classification dataset.
    #[must_use]
    pub fn is_classification(&self) -> bool {
        matches!(self.targets, Targets::Classes { .. })
    }

    /// The features as an `n × d` view.
    #[must_use]
    pub fn features(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.features, self.n_samples(), self.n_features)
    }

    /// The features converted to `T` in a new `n × d` matrix.
    #[must_use]
    pub fn features_as<T: Float>(&self) -> Mat<T> {
        row_major_as(&self.features, self.n_samples(), self.n_features)
    }

    /// The row-major feature buffer (`n · d` values).
    #[must_use]
    pub fn feature_values(&self) -> &[f64] {
        &self.features
    }

    /// The features of sample `i`, or `None` when `i ≥ n`.
    #[must_use]
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        let d = self.n_features;
        self.features
            .get(i.checked_mul(d)?..i.checked_add(1)?.checked_mul(d)?)
    }

    /// The targets.
    #[must_use]
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The class labels, or `None` for a regression dataset.
    #[must_use]
    pub fn labels(&self) -> Option<&[usize]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Regression { .. } => None,
        }
    }

    /// The regression targets (row-major `n × n_targets`), or `None` for a classification
    /// dataset.
    #[must_use]
    pub fn regression_targets(&self) -> Option<&[f64]> {
        match &self.targets {
            Targets::Regression { values, .. } => Some(values),
            Targets::Classes { .. } => None,
        }
    }

    /// The targets as a matrix: one-hot `n × K` for classes, `n × n_targets` for regression.
    #[must_use]
    pub fn targets_as<T: Float>(&self) -> Mat<T> {
        match &self.targets {
            Targets::Classes { labels, n_classes } => {
                Mat::from_fn(labels.len(), *n_classes, |i, k| {
                    if labels[i] == k { T::one() } else { T::zero() }
                })
            }
            Targets::Regression { values, n_targets } => {
                row_major_as(values, self.n_samples(), *n_targets)
            }
        }
    }

    /// Feature names, when known.
    #[must_use]
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// Class names, when known.
    #[must_use]
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// Number of samples per class (`None` for regression).
    #[must_use]
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        match &self.targets {
            Targets::Classes { labels, n_classes } => {
                let mut counts = vec![0; *n_classes];
                for &l in labels {
                    counts[l] += 1;
                }
                Some(counts)
            }
            Targets::Regression { .. } => None,
        }
    }

    /// The samples at `indices`, in that order (repeats allowed), with the same names and
    /// number of classes.
    ///
    /// An index `≥ n` is [`Error::IndexOutOfRange`]; more indices than the features of a
    /// matrix can hold in memory is [`Error::TooLarge`].
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        let n = self.n_samples();
        if let Some(&index) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::IndexOutOfRange {
                what: "subset indices",
                index,
                len: n,
            });
        }
        let d = self.n_features;
        check_matrix_size("the subset's features", indices.len(), d)?;
        let mut features = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            features.extend_from_slice(&self.features[i * d..(i + 1) * d]);
        }
        Ok(Self {
            features,
            n_features: d,
            targets: self.targets.select(indices),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        })
    }

    /// Labels and class count, or an error for a regression dataset.
    pub(crate) fn require_classes(&self) -> Result<(&[usize], usize)> {
        match &self.targets {
            Targets::Classes { labels, n_classes } => Ok((labels, *n_classes)),
            Targets::Regression { .. } => Err(Error::EmptyBatch {
                what: "class labels (this is a regression dataset)",
            }),
        }
    }

    /// Replaces the features keeping everything else (length already checked by the caller).
    pub(crate) fn with_features_unchecked(&self, features: Vec<f64>) -> Self {
        Self {
            features,
            n_features: self.n_features,
            targets: self.targets.clone(),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }
}

/// The row-major `rows × cols` buffer `values` converted to `T` in a new matrix.
fn row_major_as<T: Float>(values: &[f64], rows: usize, cols: usize) -> Mat<T> {
    Mat::from_fn(rows, cols, |i, j| T::from_f64(values[i * cols + j]))
}

/// Checks that `rows × cols` values of `f64` fit in the crate's memory limit
/// ([`crate::limits`]), in `u128` arithmetic so that nothing overflows or is allocated first.
fn check_matrix_size(what: &'static str, rows: usize, cols: usize) -> Result<()> {
    let bytes = rows as u128 * cols as u128 * size_of::<f64>() as u128;
    crate::limits::check_bytes(what, bytes)
}

/// At least one regression target per sample, a row of them that fits in memory, and whole
/// rows of them.
fn check_target_shape(targets: &Targets) -> Result<()> {
    if let Targets::Regression { values, n_targets } = targets {
        if *n_targets == 0 {
            return Err(Error::EmptyBatch {
                what: "regression target columns",
            });
        }
        check_matrix_size("one row of regression targets", 1, *n_targets)?;
        if values.len() % n_targets != 0 {
            return Err(Error::LengthMismatch {
                what: "regression target values (a whole number of rows of n_targets)",
                expected: values.len().next_multiple_of(*n_targets),
                found: values.len(),
            });
        }
    }
    Ok(())
}

/// Finite regression targets; labels below a positive class count.
fn validate_targets(targets: &Targets) -> Result<()> {
    match targets {
        Targets::Regression { values, .. } => check_finite("regression targets", values),
        Targets::Classes { labels, n_classes } => {
            if let Some(index) = labels.iter().position(|&l| l >= *n_classes) {
                return Err(Error::InvalidLabel {
                    what: "labels",
                    index,
                    label: labels[index],
                    n_classes: *n_classes,
                });
            }
            Ok(())
        }
    }
}
