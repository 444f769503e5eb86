//! Statistics for comparing training methods over paired seeds, in `f64`.
//!
//! Everything here is deterministic; whatever is random (bootstrap, Monte-Carlo permutation
//! tests) takes a `seed` and draws from [`crate::rng_from_seed`] in a fixed sequential order, so
//! the same seed gives the same bits on every run and platform. Bad input (an empty sample, a
//! NaN, mismatched lengths, a statistic that is undefined for the data) is an [`crate::Error`],
//! never a panic or a NaN inside `Ok`.
//!
//! ## Paired comparison of two methods
//!
//! With `a_s` and `b_s` the results of two methods on seed `s = 1..n`, everything works on the
//! differences `d_s = a_s − b_s` ([`paired_differences`]):
//!
//! - [`sign_flip_test`]: under `H0` (the two methods are exchangeable on each seed) every sign
//!   pattern `ε ∈ {±1}ⁿ` of the differences is equally likely. The two-sided p-value is
//!   `p = #{ε : |Σ ε_s d_s| ≥ |Σ d_s| − τ Σ|d_s|} / 2ⁿ` over all `2ⁿ` patterns (`n ≤ 24`), with the
//!   tie tolerance `τ =` [`TIE_TOLERANCE`]. Above 24 seeds, [`sign_flip_test_monte_carlo`] draws
//!   `m` patterns uniformly and returns `(b + 1)/(m + 1)`, `b` the number of draws at least as
//!   extreme: a valid p-value (never below the exact one in expectation, never 0).
//! - [`t_interval`]: `d̄ ± t_{(1+γ)/2, n−1} · s/√n` with `s² = Σ(d − d̄)²/(n − 1)` and `γ` the level.
//! - [`bootstrap_interval`]: the percentile bootstrap: the `(1−γ)/2` and `(1+γ)/2` quantiles
//!   (type 7) of the statistic over `B` resamples of the seeds drawn with replacement.
//! - [`cohens_dz`]: the standardised mean difference `d_z = d̄ / s`.
//! - [`holm`]: Holm–Bonferroni adjusted p-values when several comparisons are made at once.
//!
//! ## Across many runs
//!
//! - [`pearson`], [`spearman`] (Pearson's r of average ranks) with [`fisher_interval`]
//!   (`tanh(atanh r ± z_{(1+γ)/2} · σ_z)`, `σ_z = 1/√(n−3)` for Pearson and `√(1.06/(n−3))` for
//!   Spearman), [`correlation_bootstrap`] (pairs resampled) and [`correlation_permutation_test`].
//! - [`fit_polynomial`] (least squares by QR) and [`group_effect`]: the share `η²` of the residual
//!   variance explained by group membership, with a permutation p-value; see [`group_effect`] for
//!   what it does and does not test.
//! - [`wilson_interval`] for a rate such as the share of seeds whose training collapsed.
//! - Summaries: [`mean`], [`variance`], [`std_dev`], [`std_error`], [`median`], [`quantile`]
//!   (Hyndman–Fan type 7), [`quantiles`], [`summarize`].
//! - Distributions: [`normal_cdf`], [`normal_quantile`], [`student_t_cdf`], [`student_t_quantile`].
//!
//! ## Example
//!
//! ```
//! use mgs::study::stats;
//!
//! // Validation accuracy of two methods on the same six seeds.
//! let mgs_reg = [0.912, 0.904, 0.921, 0.899, 0.915, 0.908];
//! let baseline = [0.901, 0.897, 0.910, 0.902, 0.903, 0.899];
//! let d = stats::paired_differences(&mgs_reg, &baseline)?;
//!
//! // Exact test over all 2⁶ = 64 sign patterns.
//! let test = stats::sign_flip_test(&d)?;
//! assert_eq!(test.patterns, 64);
//! assert!(test.exact && test.p_value < 0.1);
//!
//! // The mean difference with a 95 % t-interval and a seeded bootstrap interval.
//! let t = stats::t_interval(&d, 0.95)?;
//! let boot = stats::bootstrap_interval(&d, stats::mean, 0.95, 2000, 7)?;
//! assert!(t.lower < t.estimate && t.estimate < t.upper);
//! assert_eq!(boot, stats::bootstrap_interval(&d, stats::mean, 0.95, 2000, 7)?);
//! println!(
//!     "mean diff {:.4}, p = {:.3}, t-CI [{:.4}, {:.4}], bootstrap CI [{:.4}, {:.4}], d_z = {:.2}",
//!     t.estimate, test.p_value, t.lower, t.upper, boot.lower, boot.upper, stats::cohens_dz(&d)?
//! );
//!
//! // Three comparisons at once: Holm's adjustment.
//! let adjusted = stats::holm(&[test.p_value, 0.04, 0.30])?;
//! assert!(adjusted.iter().all(|&p| (0.0..=1.0).contains(&p)));
//! # Ok::<(), mgs::Error>(())
//! ```
//!
//! ## Error conventions
//!
//! [`Error::EmptyBatch`] for an empty sample, [`Error::NonFinite`] for a NaN or infinity,
//! [`Error::ShapeMismatch`] (as `(len, 1)`) for samples of different lengths,
//! [`Error::InvalidValue`] for a data value out of its range (a p-value, a correlation),
//! [`Error::InvalidHyperparameter`] for an argument out of range (a level, a probability, a
//! number of draws), and [`Error::Undefined`] for data on which the statistic is undefined: too
//! few values (`value` is the sample size), zero variance (`value` is the offending spread), too
//! few groups or distinct `x` (`value` is the count, or the degree asked for).

mod bootstrap;
mod correlation;
mod distribution;
mod group;
mod holm;
mod paired;
mod permutation;
mod polyfit;
mod sign_flip;
mod summary;
mod wilson;

pub use bootstrap::{BootstrapInterval, bootstrap_interval};
pub use correlation::{
    CorrelationKind, correlation, correlation_bootstrap, correlation_permutation_test,
    fisher_interval, pearson, ranks, spearman,
};
pub use distribution::{normal_cdf, normal_quantile, student_t_cdf, student_t_quantile};
pub use group::{GroupEffect, group_effect};
pub use holm::holm;
pub use paired::{cohens_dz, paired_differences, t_interval};
pub use permutation::{PermutationTest, TIE_TOLERANCE};
pub use polyfit::{Polynomial, PolynomialFit, fit_polynomial};
pub use sign_flip::{MAX_EXACT_SIGN_FLIP, SignFlip, sign_flip_test, sign_flip_test_monte_carlo};
pub use summary::{
    Summary, mean, median, quantile, quantiles, std_dev, std_error, summarize, variance,
};
pub use wilson::wilson_interval;

use crate::error::check_finite;
use crate::{Error, Result};

/// A point estimate with a two-sided confidence interval `[lower, upper]` at `level`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The point estimate.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// Nominal coverage, in `(0, 1)` (e.g. `0.95`).
    pub level: f64,
}

/// Checks that `values` is non-empty and finite.
fn check_sample(what: &'static str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(Error::EmptyBatch { what });
    }
    check_finite(what, values)
}

/// Checks that a sample of `n` values has at least `min` of them (`reason` says why).
fn check_at_least(what: &'static str, n: usize, min: usize, reason: &'static str) -> Result<()> {
    if n < min {
        return Err(Error::Undefined {
            what,
            value: n as f64,
            reason,
        });
    }
    Ok(())
}

/// Checks that a second sample has as many values as the first.
fn check_same_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected != found {
        return Err(Error::ShapeMismatch {
            what,
            expected: (expected, 1),
            found: (found, 1),
        });
    }
    Ok(())
}

/// Checks that a confidence level lies in `(0, 1)`.
fn check_level(level: f64) -> Result<()> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::InvalidHyperparameter {
            name: "level",
            value: level,
            reason: "must lie in (0, 1)",
        });
    }
    Ok(())
}

/// Checks that a number of random draws (resamples, permutations) is at least one.
fn check_draws(name: &'static str, draws: usize) -> Result<()> {
    if draws == 0 {
        return Err(Error::InvalidHyperparameter {
            name,
            value: 0.0,
            reason: "must be at least 1",
        });
    }
    Ok(())
}

/// `value` if it is finite; an overflow to infinity (or NaN) in a result is an error.
fn finite(what: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite { what, index: 0 })
    }
}

/// The normal quantile `z_{(1+γ)/2}` of a two-sided interval at level `γ` (checked).
fn two_sided_z(level: f64) -> Result<f64> {
    check_level(level)?;
    normal_quantile(0.5 + 0.5 * level)
}
