//! The seeded percentile bootstrap.
//!
//! Each of `B` resamples draws `n` indices uniformly with replacement (`random_range(0..n)` of the
//! seeded [`crate::MgsRng`], in order), the statistic is evaluated on the resampled values, and the
//! interval at level `γ` is the pair of type-7 quantiles at `(1 − γ)/2` and `(1 + γ)/2` of the `B`
//! values (Efron's percentile interval). It assumes that the seeds are exchangeable draws; its
//! coverage falls short of `γ` for small `n`, where the t-interval is the better default and the
//! bootstrap a check on skewness: for a mean the percentile interval is close to
//! `x̄ ± z_{(1+γ)/2} · s √((n−1)/n) / √n`, so with 10 normal seeds a nominal 95 % interval covers
//! about `P(|T₉| ≤ 1.96 √0.9) ≈ 90 %`.

use rand::RngExt;

use super::summary::{quantile_sorted, sorted};
use super::{check_draws, check_level, check_sample};
use crate::{Error, Result, rng_from_seed};

/// A percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapInterval {
    /// The statistic on the whole sample.
    pub estimate: f64,
    /// The `(1 − level)/2` quantile of the resampled statistics.
    pub lower: f64,
    /// The `(1 + level)/2` quantile of the resampled statistics.
    pub upper: f64,
    /// Nominal coverage.
    pub level: f64,
    /// Resamples on which the statistic was defined (those the quantiles are taken over).
    pub resamples: usize,
    /// Resamples on which the statistic was undefined (it returned an error or a non-finite
    /// value, e.g. a standard deviation of a resample that repeats one value), left out. A
    /// sizeable share means the interval describes the data poorly.
    pub undefined: usize,
}

/// The percentile bootstrap interval of `statistic` over `resamples` resamples of `sample`.
///
/// `statistic` must succeed on the whole sample (its value is the estimate); resamples on which
/// it fails are counted in [`BootstrapInterval::undefined`] and left out. The same `seed` gives
/// the same interval bit for bit.
///
/// ```
/// use mgs::study::stats::{bootstrap_interval, cohens_dz, median};
/// let d = [0.8, 1.1, 0.3, 1.6, 0.9, 1.2, 0.7, 1.0];
/// let ci = bootstrap_interval(&d, median, 0.9, 1000, 3)?;
/// assert!(ci.lower <= ci.estimate && ci.estimate <= ci.upper);
/// let dz = bootstrap_interval(&d, cohens_dz, 0.9, 1000, 3)?;
/// assert_eq!(dz.resamples + dz.undefined, 1000);
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn bootstrap_interval<F>(
    sample: &[f64],
    statistic: F,
    level: f64,
    resamples: usize,
    seed: u64,
) -> Result<BootstrapInterval>
where
    F: Fn(&[f64]) -> Result<f64>,
{
    check_sample("sample", sample)?;
    let estimate = statistic(sample)?;
    let mut values = Vec::with_capacity(sample.len());
    percentile_bootstrap(sample.len(), estimate, level, resamples, seed, |indices| {
        values.clear();
        values.extend(indices.iter().map(|&i| sample[i]));
        statistic(&values).ok()
    })
}

/// The percentile bootstrap over resampled index sets of `0..n`: `statistic` maps the indices of
/// one resample to its value (`None` where undefined).
pub(super) fn percentile_bootstrap(
    n: usize,
    estimate: f64,
    level: f64,
    resamples: usize,
    seed: u64,
    mut statistic: impl FnMut(&[usize]) -> Option<f64>,
) -> Result<BootstrapInterval> {
    check_level(level)?;
    check_draws("resamples", resamples)?;
    if !estimate.is_finite() {
        return Err(Error::NonFinite {
            what: "statistic",
            index: 0,
        });
    }
    let mut rng = rng_from_seed(seed);
    let mut indices = vec![0usize; n];
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for i in &mut indices {
            *i = rng.random_range(0..n);
        }
        if let Some(v) = statistic(&indices).filter(|v| v.is_finite()) {
            values.push(v);
        }
    }
    if values.is_empty() {
        return Err(Error::Undefined {
            what: "resamples",
            value: resamples as f64,
            reason: "the statistic is undefined on every resample",
        });
    }
    let values = sorted(&values);
    Ok(BootstrapInterval {
        estimate,
        lower: quantile_sorted(&values, 0.5 - 0.5 * level),
        upper: quantile_sorted(&values, 0.5 + 0.5 * level),
        level,
        resamples: values.len(),
        undefined: resamples - values.len(),
    })
}
