//! Pearson and Spearman correlation with Fisher-z, bootstrap and permutation inference.
//!
//! - Pearson: `r = Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² Σ(y − ȳ)²)`, centred in two passes.
//! - Spearman: Pearson's `r` of the ranks, tied values sharing the average of their ranks; it
//!   measures monotone rather than linear association and is robust to outliers.
//! - Fisher's `z = atanh r` is close to normal with standard deviation `σ_z = 1/√(n − 3)` for
//!   Pearson on bivariate-normal data; for Spearman, Fieller, Hartley and Pearson (1957) give
//!   `σ_z ≈ √(1.06/(n − 3))`. The interval `tanh(z ± z_{(1+γ)/2} σ_z)` stays inside `[−1, 1]`.
//! - The bootstrap resamples `(x_i, y_i)` pairs; the permutation test shuffles `y` against `x`
//!   (`H0`: `x` and `y` independent) and counts `|r*| ≥ |r|`, two-sided.

use rand::seq::SliceRandom;

use super::bootstrap::{BootstrapInterval, percentile_bootstrap};
use super::permutation::{PermutationTest, at_least_as_extreme, monte_carlo_p_value};
use super::summary::{is_constant, mean_of};
use super::{Interval, check_at_least, check_draws, check_same_len, check_sample, two_sided_z};
use crate::{Error, Result, rng_from_seed};

/// Which correlation coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    /// Pearson's product-moment `r` (linear association).
    Pearson,
    /// Spearman's rank correlation `ρ` (monotone association; average ranks for ties).
    Spearman,
}

/// 1-based ranks, tied values sharing the average of the ranks they occupy
/// (`[10, 20, 20, 30]` → `[1, 2.5, 2.5, 4]`).
pub fn ranks(sample: &[f64]) -> Result<Vec<f64>> {
    check_sample("sample", sample)?;
    Ok(ranks_of(sample))
}

/// Pearson's correlation coefficient; needs at least 2 pairs and neither sample constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    correlation(x, y, CorrelationKind::Pearson)
}

/// Spearman's rank correlation (Pearson's `r` of the average ranks); needs at least 2 pairs and
/// neither sample constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    correlation(x, y, CorrelationKind::Spearman)
}

/// The correlation coefficient of the given kind.
pub fn correlation(x: &[f64], y: &[f64], kind: CorrelationKind) -> Result<f64> {
    check_pairs(x, y)?;
    defined(coefficient_of(x, y, kind))
}

/// Fisher's z interval `tanh(atanh r ± z_{(1+γ)/2} σ_z)` for a correlation `r` of `n ≥ 4` pairs,
/// `σ_z = 1/√(n − 3)` (Pearson) or `√(1.06/(n − 3))` (Spearman).
///
/// ```
/// use mgs::study::stats::{CorrelationKind, fisher_interval};
/// // atanh 0.5 = 0.5493, σ_z = 1/5: tanh(0.5493 ± 1.96/5) = [0.1560, 0.7358].
/// let ci = fisher_interval(0.5, 28, CorrelationKind::Pearson, 0.95)?;
/// assert!((ci.lower - 0.15603).abs() < 1e-4 && (ci.upper - 0.73582).abs() < 1e-4);
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn fisher_interval(r: f64, n: usize, kind: CorrelationKind, level: f64) -> Result<Interval> {
    if !(-1.0..=1.0).contains(&r) {
        return Err(Error::InvalidValue {
            what: "r",
            value: r,
            reason: "a correlation must lie in [-1, 1]",
        });
    }
    check_at_least("n", n, 4, "a Fisher interval needs at least 4 pairs")?;
    let variance_factor = match kind {
        CorrelationKind::Pearson => 1.0,
        CorrelationKind::Spearman => 1.06,
    };
    let half = two_sided_z(level)? * (variance_factor / (n - 3) as f64).sqrt();
    let z = r.atanh();
    Ok(Interval {
        estimate: r,
        lower: (z - half).tanh(),
        upper: (z + half).tanh(),
        level,
    })
}

/// The percentile bootstrap interval of the correlation, resampling `(x_i, y_i)` pairs (Spearman
/// re-ranks every resample). Resamples on which a sample comes out constant are undefined and
/// left out (counted in [`BootstrapInterval::undefined`]).
pub fn correlation_bootstrap(
    x: &[f64],
    y: &[f64],
    kind: CorrelationKind,
    level: f64,
    resamples: usize,
    seed: u64,
) -> Result<BootstrapInterval> {
    let estimate = correlation(x, y, kind)?;
    let (mut bx, mut by) = (Vec::with_capacity(x.len()), Vec::with_capacity(y.len()));
    percentile_bootstrap(x.len(), estimate, level, resamples, seed, |indices| {
        bx.clear();
        by.clear();
        bx.extend(indices.iter().map(|&i| x[i]));
        by.extend(indices.iter().map(|&i| y[i]));
        coefficient_of(&bx, &by, kind)
    })
}

/// The two-sided permutation test of no association: `y` is shuffled against `x` `permutations`
/// times (seeded) and `p = (b + 1)/(m + 1)` with `b = #{|r*| ≥ |r| − τ}` ([`super::TIE_TOLERANCE`]).
///
/// Exact (up to Monte-Carlo error) under independence of `x` and `y` whatever their
/// distributions. It tests independence, not zero correlation: dependent data with zero
/// population correlation (e.g. a spread of `y` that grows with `|x|`) can be rejected more often
/// than the nominal rate.
pub fn correlation_permutation_test(
    x: &[f64],
    y: &[f64],
    kind: CorrelationKind,
    permutations: usize,
    seed: u64,
) -> Result<PermutationTest> {
    check_pairs(x, y)?;
    check_draws("permutations", permutations)?;
    // Spearman's ρ of a shuffled y is Pearson's r of the shuffled ranks: rank once.
    let (u, mut v) = match kind {
        CorrelationKind::Pearson => (x.to_vec(), y.to_vec()),
        CorrelationKind::Spearman => (ranks_of(x), ranks_of(y)),
    };
    let observed = defined(pearson_of(&u, &v))?;
    let mut rng = rng_from_seed(seed);
    let mut exceed = 0;
    for _ in 0..permutations {
        v.shuffle(&mut rng);
        // A permutation keeps both spreads, so r* is defined wherever r is.
        let r = defined(pearson_of(&u, &v))?;
        if at_least_as_extreme(r.abs(), observed.abs(), 1.0) {
            exceed += 1;
        }
    }
    Ok(PermutationTest {
        statistic: observed,
        p_value: monte_carlo_p_value(exceed, permutations),
        permutations,
    })
}

/// Checks two samples of equal length `n ≥ 2`, finite and neither constant.
fn check_pairs(x: &[f64], y: &[f64]) -> Result<()> {
    check_sample("x", x)?;
    check_sample("y", y)?;
    check_same_len("y", x.len(), y.len())?;
    check_at_least("x", x.len(), 2, "a correlation needs at least 2 pairs")?;
    for (what, sample) in [("x", x), ("y", y)] {
        if is_constant(sample) {
            return Err(Error::Undefined {
                what,
                value: 0.0,
                reason: "all values are equal (zero variance): the correlation is undefined",
            });
        }
    }
    Ok(())
}

/// The coefficient of two finite samples of equal length, `None` when one is constant.
fn coefficient_of(x: &[f64], y: &[f64], kind: CorrelationKind) -> Option<f64> {
    match kind {
        CorrelationKind::Pearson => pearson_of(x, y),
        CorrelationKind::Spearman => pearson_of(&ranks_of(x), &ranks_of(y)),
    }
}

/// A coefficient that [`coefficient_of`] could not form although neither sample is constant:
/// only values so large that their deviations overflow `f64`.
fn defined(r: Option<f64>) -> Result<f64> {
    r.ok_or(Error::NonFinite {
        what: "correlation",
        index: 0,
    })
}

/// Pearson's `r` of two finite samples of equal length, `None` when one is constant (or the
/// deviations overflow). The deviations are scaled by their largest magnitude first, so the
/// sums of squares neither overflow nor underflow.
fn pearson_of(x: &[f64], y: &[f64]) -> Option<f64> {
    if is_constant(x) || is_constant(y) {
        return None;
    }
    let deviations = |s: &[f64]| {
        let m = mean_of(s);
        let d: Vec<f64> = s.iter().map(|&v| v - m).collect();
        let scale = d.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
        d.into_iter().map(move |v| v / scale)
    };
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (dx, dy) in deviations(x).zip(deviations(y)) {
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// Average 1-based ranks of a finite sample.
fn ranks_of(sample: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..sample.len()).collect();
    order.sort_by(|&i, &j| sample[i].total_cmp(&sample[j]));
    let mut ranks = vec![0.0; sample.len()];
    let mut start = 0;
    while start < order.len() {
        let value = sample[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| sample[i] == value)
                .count();
        // Positions start..end (0-based) hold ranks start+1..=end: their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}
