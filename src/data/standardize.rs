//! Feature standardisation `x ↦ (x − μ) / σ` with statistics fitted on training data only.
//!
//! `μ` is the column mean and `σ` the population standard deviation (divisor `n`) of the data
//! passed to [`Standardizer::fit`], so the fitted part itself comes out with mean 0 and
//! standard deviation 1 per column. A constant column gets `σ = 1` (it maps to 0 on the fitted
//! part and stays finite everywhere). Fit on the training part and transform the validation and
//! test parts with the same statistics, so nothing leaks from them into training.
//!
//! ```
//! use mgs::data::{Dataset, Standardizer, Targets};
//! let train = Dataset::new(vec![1.0, 5.0, 3.0, 5.0], 2, Targets::Regression(vec![0.0, 1.0]))?;
//! let test = Dataset::new(vec![2.0, 7.0], 2, Targets::Regression(vec![0.5]))?;
//! let scaler = Standardizer::fit(&train)?;
//! assert_eq!(scaler.mean(), &[2.0, 5.0]);
//! assert_eq!(scaler.std(), &[1.0, 1.0]); // the second column is constant
//! assert_eq!(scaler.transform(&test)?.feature_values(), &[0.0, 2.0]);
//! # Ok::<(), mgs::Error>(())
//! ```

use crate::data::Dataset;
use crate::{Error, Result};

/// Per-feature mean and standard deviation fitted on one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Standardizer {
    /// Fits the column means and population standard deviations of `train`'s features.
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
            // Two passes, for accuracy when the mean is large next to the spread.
            let m = column().sum::<f64>() / n as f64;
            let var = column().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64;
            let s = var.sqrt();
            mean[j] = m;
            std[j] = if s > 0.0 && s.is_finite() { s } else { 1.0 };
        }
        Ok(Self { mean, std })
    }

    /// Column means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Column standard deviations (1 for constant columns).
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// Number of features the statistics describe.
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
    /// Errors: [`Error::ShapeMismatch`] when `n_features` differs from the fitted number or
    /// `values.len()` is not a multiple of it; [`Error::NonFinite`] if a result overflows.
    pub fn transform_in_place(&self, values: &mut [f64], n_features: usize) -> Result<()> {
        let d = self.n_features();
        if n_features != d || values.len() % d != 0 {
            return Err(Error::ShapeMismatch {
                what: "features to standardise",
                expected: (values.len() / d.max(1), d),
                found: (values.len() / n_features.max(1), n_features),
            });
        }
        for row in values.chunks_exact_mut(d) {
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
        let d = self.n_features();
        if n_features != d || values.len() % d != 0 {
            return Err(Error::ShapeMismatch {
                what: "features to de-standardise",
                expected: (values.len() / d.max(1), d),
                found: (values.len() / n_features.max(1), n_features),
            });
        }
        for row in values.chunks_exact_mut(d) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
        crate::error::check_finite("de-standardised features", values)
    }
}
