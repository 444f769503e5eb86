//! The paired sign-flip (permutation) test of a zero mean difference.
//!
//! Under `H0` the two methods are exchangeable on every seed, so each difference `d_s` is as
//! likely to have come out as `−d_s`: all `2ⁿ` sign patterns `ε` are equally likely. The statistic
//! is `|Σ ε_s d_s|` (equivalently `|mean|`), and the two-sided p-value is the share of patterns at
//! least as extreme as the observed one, ties included (see [`super::TIE_TOLERANCE`]).
//!
//! Unlike the t-test, this needs no normality: the p-value is exact whatever the distribution of
//! the differences, as long as it is symmetric about 0 under `H0` (which exchangeability gives).
//! With `n` seeds the smallest attainable p-value is `2/2ⁿ` (the observed pattern and its
//! negation), e.g. `1/16` with 5 seeds: a study with fewer than 6 seeds can never reach `p < 0.05`.

use rand::RngExt;

use super::permutation::{at_least_as_extreme, monte_carlo_p_value};
use super::{check_draws, check_sample, finite};
use crate::{Error, Result, rng_from_seed};

/// The largest number of differences [`sign_flip_test`] enumerates exactly (`2²⁴ ≈ 1.7·10⁷`
/// patterns, tens of milliseconds).
pub const MAX_EXACT_SIGN_FLIP: usize = 24;

/// The result of a sign-flip test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignFlip {
    /// The mean difference `Σ d_s / n`.
    pub mean: f64,
    /// Two-sided p-value: the exact share of the `2ⁿ` patterns with `|Σ ε d| ≥ |Σ d|` (up to the
    /// tie tolerance), or the Monte-Carlo `(b + 1)/(m + 1)`.
    pub p_value: f64,
    /// Number of differences.
    pub n: usize,
    /// Sign patterns evaluated: `2ⁿ` when exact, the number of random draws `m` otherwise.
    pub patterns: u64,
    /// Whether every pattern was enumerated.
    pub exact: bool,
}

/// The exact two-sided sign-flip test of mean difference 0, enumerating all `2ⁿ` sign patterns
/// (`1 ≤ n ≤` [`MAX_EXACT_SIGN_FLIP`]).
///
/// `p = #{ε ∈ {±1}ⁿ : |Σ ε_s d_s| ≥ |Σ d_s| − τ Σ|d_s|} / 2ⁿ` with `τ =` [`super::TIE_TOLERANCE`].
/// All differences zero give `p = 1`. More than 24 differences is an error: use
/// [`sign_flip_test_monte_carlo`], which takes the seed.
///
/// ```
/// use mgs::study::stats::sign_flip_test;
/// // Of the 8 patterns of [1, 2, 3] only +++ and −−− reach |sum| ≥ 6.
/// let test = sign_flip_test(&[1.0, 2.0, 3.0])?;
/// assert_eq!((test.p_value, test.patterns, test.mean), (0.25, 8, 2.0));
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn sign_flip_test(differences: &[f64]) -> Result<SignFlip> {
    check_sample("differences", differences)?;
    let n = differences.len();
    if n > MAX_EXACT_SIGN_FLIP {
        return Err(Error::InvalidHyperparameter {
            name: "differences",
            value: n as f64,
            reason: "more than 24 differences: use sign_flip_test_monte_carlo with a seed",
        });
    }
    // Meet in the middle: every pattern's sum is (a sum over the first half) + (one over the
    // second), each half's 2^h sums formed directly, so no sum carries accumulated rounding and
    // the all-plus pattern reproduces the observed sum exactly.
    let (first, second) = differences.split_at(n / 2);
    let largest = finite(
        "sum of |differences|",
        differences.iter().map(|d| d.abs()).sum(),
    )?;
    let (a, b) = (half_sums(first), half_sums(second));
    let observed = a[0] + b[0];
    let mut exceed = 0u64;
    for &sa in &a {
        exceed += b
            .iter()
            .filter(|&&sb| at_least_as_extreme((sa + sb).abs(), observed.abs(), largest))
            .count() as u64;
    }
    let patterns = 1u64 << n;
    Ok(SignFlip {
        mean: observed / n as f64,
        p_value: exceed as f64 / patterns as f64,
        n,
        patterns,
        exact: true,
    })
}

/// The sign-flip test by `draws` random sign patterns (any `n ≥ 1`), seeded.
///
/// Each draw flips each sign with probability ½ (bits of the seeded [`crate::MgsRng`], in order);
/// `b` counts the draws with `|Σ ε d| ≥ |Σ d| − τ Σ|d|` and `p = (b + 1)/(draws + 1)`. The
/// Monte-Carlo error of `p` is about `√(p(1 − p)/draws)`: 10⁵ draws pin a p-value near 0.05 to
/// ±0.0014 (two standard errors).
pub fn sign_flip_test_monte_carlo(
    differences: &[f64],
    draws: usize,
    seed: u64,
) -> Result<SignFlip> {
    check_sample("differences", differences)?;
    check_draws("draws", draws)?;
    let n = differences.len();
    let largest = finite(
        "sum of |differences|",
        differences.iter().map(|d| d.abs()).sum(),
    )?;
    let observed: f64 = differences.iter().sum();
    let mut rng = rng_from_seed(seed);
    let mut exceed = 0usize;
    for _ in 0..draws {
        let mut sum = 0.0;
        for chunk in differences.chunks(64) {
            let bits: u64 = rng.random();
            for (i, &d) in chunk.iter().enumerate() {
                sum += if bits >> i & 1 == 1 { -d } else { d };
            }
        }
        if at_least_as_extreme(sum.abs(), observed.abs(), largest) {
            exceed += 1;
        }
    }
    Ok(SignFlip {
        mean: observed / n as f64,
        p_value: monte_carlo_p_value(exceed, draws),
        n,
        patterns: draws as u64,
        exact: false,
    })
}

/// `Σ_i (−1)^{bit i of mask} d_i` for every mask of `values.len()` bits, mask 0 first.
fn half_sums(values: &[f64]) -> Vec<f64> {
    (0..1usize << values.len())
        .map(|mask| {
            values
                .iter()
                .enumerate()
                .map(|(i, &d)| if mask >> i & 1 == 1 { -d } else { d })
                .sum()
        })
        .collect()
}
