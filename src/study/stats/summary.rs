//! Summaries of one sample: mean, spread and type-7 quantiles.

use super::{check_at_least, check_sample, finite};
use crate::{Error, Result};

/// The arithmetic mean `x̄ = Σ x_i / n`.
pub fn mean(sample: &[f64]) -> Result<f64> {
    check_sample("sample", sample)?;
    finite("mean", mean_of(sample))
}

/// The unbiased sample variance `s² = Σ (x_i − x̄)² / (n − 1)`; needs `n ≥ 2`.
///
/// Two passes with the rounding correction `Σ(x − x̄)² − (Σ(x − x̄))²/n` (Chan, Golub and
/// LeVeque's corrected two-pass algorithm), so a large common offset costs no digits.
pub fn variance(sample: &[f64]) -> Result<f64> {
    check_sample("sample", sample)?;
    check_at_least("sample", sample.len(), 2, "needs at least 2 values")?;
    finite("variance", variance_of(sample))
}

/// The sample standard deviation `s = √s²` ([`variance`]); needs `n ≥ 2`.
pub fn std_dev(sample: &[f64]) -> Result<f64> {
    variance(sample).map(f64::sqrt)
}

/// The standard error of the mean `s/√n`; needs `n ≥ 2`.
pub fn std_error(sample: &[f64]) -> Result<f64> {
    Ok(std_dev(sample)? / (sample.len() as f64).sqrt())
}

/// The median: the type-7 [`quantile`] at `p = 0.5` (the middle value, or the mean of the two
/// middle values).
pub fn median(sample: &[f64]) -> Result<f64> {
    quantile(sample, 0.5)
}

/// The type-7 quantile (Hyndman and Fan 1996; the default of R and NumPy) at `p ∈ [0, 1]`.
///
/// With the sorted sample `x_(1) ≤ … ≤ x_(n)`, `h = (n − 1) p` and `j = ⌊h⌋`:
/// `Q(p) = (1 − (h − j)) x_(j+1) + (h − j) x_(j+2)` (and `x_(n)` at `p = 1`).
pub fn quantile(sample: &[f64], p: f64) -> Result<f64> {
    Ok(quantiles(sample, &[p])?[0])
}

/// Type-7 [`quantile`]s at several probabilities, sorting the sample once.
pub fn quantiles(sample: &[f64], probabilities: &[f64]) -> Result<Vec<f64>> {
    check_sample("sample", sample)?;
    if let Some(&p) = probabilities.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(Error::InvalidHyperparameter {
            name: "p",
            value: p,
            reason: "a quantile's probability must lie in [0, 1]",
        });
    }
    let sorted = sorted(sample);
    Ok(probabilities
        .iter()
        .map(|&p| quantile_sorted(&sorted, p))
        .collect())
}

/// The usual description of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// [`mean`].
    pub mean: f64,
    /// [`std_dev`].
    pub std_dev: f64,
    /// [`std_error`].
    pub std_error: f64,
    /// Smallest value.
    pub min: f64,
    /// First quartile (type 7).
    pub q25: f64,
    /// [`median`].
    pub median: f64,
    /// Third quartile (type 7).
    pub q75: f64,
    /// Largest value.
    pub max: f64,
}

/// Mean, spread, extremes and quartiles of a sample of at least 2 values.
pub fn summarize(sample: &[f64]) -> Result<Summary> {
    let std_dev = std_dev(sample)?;
    let n = sample.len();
    let sorted = sorted(sample);
    Ok(Summary {
        n,
        mean: mean_of(sample),
        std_dev,
        std_error: std_dev / (n as f64).sqrt(),
        min: sorted[0],
        q25: quantile_sorted(&sorted, 0.25),
        median: quantile_sorted(&sorted, 0.5),
        q75: quantile_sorted(&sorted, 0.75),
        max: sorted[n - 1],
    })
}

/// The mean of a non-empty sample.
pub(super) fn mean_of(sample: &[f64]) -> f64 {
    sample.iter().sum::<f64>() / sample.len() as f64
}

/// `Σ (x_i − x̄)²` by the corrected two-pass algorithm; exactly 0 when all values are equal
/// (where the rounded mean can differ from the common value by an ulp).
pub(super) fn centered_sum_of_squares(sample: &[f64]) -> f64 {
    if is_constant(sample) {
        return 0.0;
    }
    let m = mean_of(sample);
    let (ss, s) = sample.iter().fold((0.0, 0.0), |(ss, s), &x| {
        let d = x - m;
        (ss + d * d, s + d)
    });
    (ss - s * s / sample.len() as f64).max(0.0)
}

/// Whether all values of a sample are equal.
pub(super) fn is_constant(sample: &[f64]) -> bool {
    sample.iter().all(|&v| v == sample[0])
}

/// The unbiased variance of a sample of at least 2 values.
pub(super) fn variance_of(sample: &[f64]) -> f64 {
    centered_sum_of_squares(sample) / (sample.len() - 1) as f64
}

/// A sorted copy of a finite sample.
pub(super) fn sorted(sample: &[f64]) -> Vec<f64> {
    let mut v = sample.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The type-7 quantile of a non-empty sorted sample at `p ∈ [0, 1]`.
pub(super) fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let j = h.floor() as usize;
    if j + 1 >= sorted.len() {
        return sorted[sorted.len() - 1];
    }
    let f = h - j as f64;
    (1.0 - f) * sorted[j] + f * sorted[j + 1]
}
