//! Feature standardisation `x ↦ (x − μ) / σ` with statistics fitted on training data only.
//!
//! `μ` is the column mean and `σ` the population standard deviation (divisor `n`) of the data
//! passed to [`Standardizer::fit`], so the fitted part itself comes out with mean 0 and
//! standard deviation 1 per column. An exactly constant column gets `σ = 1` (it maps to 0 on
//! the fitted part and stays finite everywhere); any other column gets its own `σ > 0`, however
//! large or small its values (they are scaled by a power of two before squaring). Fit on the training part and transform the validation and
//! test parts with the same statistics, so nothing leaks from them into training.
//!
//! ```
//! use mgs::data::{Dataset, Standardizer, Targets};
//! let train = Dataset::new(vec![1.0, 5.0, 3.0, 5.0], 2, Targets::regression(vec![0.0, 1.0]))?;
//! let test = Dataset::new(vec![2.0, 7.0], 2, Targets::regression(vec![0.5]))?;
//! let scaler = Standardizer::fit(&train)?;
//! assert_eq!(scaler.mean(), &[2.0, 5.0]);
//! assert_eq!(scaler.std(), &[1.0, 1.0]); // the second column is constant
//! assert_eq!(scaler.transform(&test)?.feature_values(), &[0.0, 2.0]);
//! # Ok::<(), mgs::Error>(())
//! ```

use crate::data::Dataset;
use crate::{Error, Result};

/// Per-feature mean and standard deviation fitted on one dataset.
///
/// Serde: `{"mean": [...], "std": [...]}`, deserialised through [`Standardizer::from_stats`]
/// (so with its checks).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "StandardizerStats")]
pub struct Standardizer {
    mean: Vec<f64>,
    std: Vec<f64>,
}

/// The serde form of a [`Standardizer`] as read (unchecked).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StandardizerStats {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl TryFrom<StandardizerStats> for Standardizer {
    type Error = Error;

    fn try_from(stats: StandardizerStats) -> Result<Self> {
        Standardizer::from_stats(stats.mean, stats.std)
    }
}

impl Standardizer {
    /// A standardiser with given statistics (e.g. saved earlier, or from another library):
    /// `mean` and `std` of equal, non-zero length ([`Error::LengthMismatch`],
    /// [`Error::EmptyBatch`]), every mean finite ([`Error::NonFinite`] naming the first
    /// offending entry) and every standard deviation finite and `> 0`
    /// ([`Error::InvalidHyperparameter`] with the first offending value).
    ///
    /// ```
    /// use mgs::data::Standardizer;
    /// let s = Standardizer::from_stats(vec![1.0, -2.0], vec![0.5, 4.0])?;
    /// let mut row = [2.0, 2.0];
    /// s.transform_in_place(&mut row, 2)?;
    /// assert_eq!(row, [2.0, 1.0]);
    /// assert!(Standardizer::from_stats(vec![0.0], vec![0.0]).is_err());
    /// # Ok::<(), mgs::Error>(())
    /// ```
    pub fn from_stats(mean: Vec<f64>, std: Vec<f64>) -> Result<Self> {
        if mean.is_empty() {
            return Err(Error::EmptyBatch {
                what: "standardisation statistics",
            });
        }
        if std.len() != mean.len() {
            return Err(Error::LengthMismatch {
                what: "standard deviations (one per mean)",
                expected: mean.len(),
                found: std.len(),
            });
        }
        crate::error::check_finite("standardisation means", &mean)?;
        if let Some(&value) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::InvalidHyperparameter {
                name: "standardizer.std",
                value,
                reason: "every standard deviation must be finite and > 0",
            });
        }
        Ok(Self { mean, std })
    }

    /// Fits the column means and population standard deviations of `train`'s features.
    ///
    /// Each column is scaled by the power of two `2^e` at or above its largest magnitude before
    /// the two passes (mean, then mean squared deviation), so values near `1e±300` neither
    /// overflow nor underflow: a column that is not exactly constant always gets `σ > 0`.
    ///
    /// Errors: [`Error::EmptyBatch`] when `train` has no samples.
    pub fn fit(train: &Dataset) -> Result<Self> {
        let n = train.n_samples();
        let d = train.n_features();
        if n == 0 {
            return Err(Error::EmptyBatch {
                what: "training set for standardisation",
            });
        }
        let x = train.feature_values();
        let mut mean = vec![0.0; d];
        let mut std = vec![0.0; d];
        for j in 0..d {
            let column = || (0..n).map(|i| x[i * d + j]);
            let first = x[j];
            if column().all(|v| v == first) {
                // Exactly constant: the mean is the value itself (a sum could round).
                mean[j] = first;
                std[j] = 1.0;
                continue;
            }
            (mean[j], std[j]) = scaled_mean_std(column, n);
        }
        Ok(Self { mean, std })
    }

    /// Column means.
    #[must_use]
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Column standard deviations (1 for constant columns).
    #[must_use]
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// Number of features the statistics describe.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Standardises `dataset`'s features with the fitted statistics (targets and names unchanged).
    ///
    /// Errors: [`Error::ShapeMismatch`] when the number of features differs from the fitted one;
    /// [`Error::NonFinite`] if a value overflows (only possible for extreme inputs).
    pub fn transform(&self, dataset: &Dataset) -> Result<Dataset> {
        let mut values = dataset.feature_values().to_vec();
        self.transform_in_place(&mut values, dataset.n_features())?;
        Ok(dataset.with_features_unchecked(values))
    }

    /// Standardises a row-major buffer of rows with `n_features` columns in place.
    ///
    /// Errors: [`Error::LengthMismatch`] when `n_features` differs from the fitted number or
    /// `values.len()` is not a multiple of it; [`Error::NonFinite`] if a result overflows.
    pub fn transform_in_place(&self, values: &mut [f64], n_features: usize) -> Result<()> {
        self.check_buffer(values, n_features)?;
        for row in values.chunks_exact_mut(n_features) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        crate::error::check_finite("standardised features", values)
    }

    /// Undoes [`Standardizer::transform_in_place`]: `x = z·σ + μ`.
    ///
    /// Errors as [`Standardizer::transform_in_place`].
    pub fn inverse_transform_in_place(&self, values: &mut [f64], n_features: usize) -> Result<()> {
        self.check_buffer(values, n_features)?;
        for row in values.chunks_exact_mut(n_features) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
        crate::error::check_finite("de-standardised features", values)
    }

    /// `n_features` is the fitted number and `values` holds whole rows of it.
    fn check_buffer(&self, values: &[f64], n_features: usize) -> Result<()> {
        let d = self.n_features();
        if n_features != d {
            return Err(Error::LengthMismatch {
                what: "feature columns to (de-)standardise",
                expected: d,
                found: n_features,
            });
        }
        if values.len() % d != 0 {
            return Err(Error::LengthMismatch {
                what: "values to (de-)standardise (whole rows of n_features)",
                expected: values.len().next_multiple_of(d),
                found: values.len(),
            });
        }
        Ok(())
    }
}

/// Mean and population standard deviation of a column that is not exactly constant.
///
/// With `a = max |v_i| = f·2^e` (`f ∈ [0.5, 1)`), `y_i = v_i·2^-e` is exact and `|y_i| < 1`, so
/// `m_y = Σ y_i / n` and `s_y² = Σ (y_i − m_y)² / n` cannot overflow; and since the largest
/// `|y_i|` is at least 0.5 and some other value differs from it by at least its spacing
/// (`2^-54`), the squared deviations cannot all underflow to 0. Then `μ = m_y·2^e` and
/// `σ = s_y·2^e` (for data in the normal range this is bit for bit the unscaled two-pass
/// result, as scaling by a power of two is exact). Only a `σ` below the smallest subnormal (a
/// column of subnormal values) is raised to that smallest positive value, so it is never 0.
fn scaled_mean_std<I: Iterator<Item = f64>>(column: impl Fn() -> I, n: usize) -> (f64, f64) {
    let max_abs = column().fold(0.0f64, |a, v| a.max(v.abs()));
    let (_, e) = libm::frexp(max_abs);
    let scaled = || column().map(|v| libm::scalbn(v, -e));
    let m = scaled().sum::<f64>() / n as f64;
    let var = scaled().map(|y| (y - m) * (y - m)).sum::<f64>() / n as f64;
    let std = libm::scalbn(var.sqrt(), e).max(f64::from_bits(1));
    (libm::scalbn(m, e), std)
}
