//! Does group membership explain what a common curve leaves over? `η²` with a permutation test.
//!
//! The question "do all regularisers fall on one accuracy-versus-MGS curve?" is answered in two
//! steps. First fit one curve to all runs pooled, e.g. accuracy against the MGS summary with
//! [`super::fit_polynomial`], and keep the residuals `e_i`. Then ask whether the regulariser
//! `g(i)` of each run explains the residuals:
//!
//! - `η² = SS_between / SS_total` with `SS_total = Σ_i (e_i − ē)²` and
//!   `SS_between = Σ_g n_g (ē_g − ē)²` (`ē_g` the mean residual of group `g`, `n_g` its size): the
//!   share of the residual variance that the group means account for, in `[0, 1]`.
//! - The permutation p-value: group labels are shuffled among the runs `m` times (seeded) and
//!   `p = (b + 1)/(m + 1)`, `b = #{η²* ≥ η² − τ}` ([`super::TIE_TOLERANCE`]). One-sided: only a
//!   large `η²` is evidence against the null.
//!
//! **Interpretation.** A small p says that the runs of some regulariser sit systematically above
//! or below the common curve: the MGS summary does not capture everything through which the
//! regulariser acts on accuracy (or the curve's form is wrong in a range where only some groups
//! have runs, which a higher degree would reveal). A large p says the data show no such offset;
//! it does not prove that one curve fits all (with few runs per group the test has little power),
//! and `η²` then bounds how much of the residual variance group offsets could plausibly take.
//! `η²` is biased upward: under the null its permutation mean is exactly `(G − 1)/(n − 1)` for `G`
//! groups and `n` runs, so compare `η²` with that, not with 0.
//!
//! **Assumptions.** The null is that the residuals are exchangeable across groups. Two things
//! break exchangeability slightly: least-squares residuals are correlated and have unequal
//! variances (the hat matrix), which matters little when the number of runs is much larger than
//! the degree; and runs that share a seed share data and initialisation, so if residuals are
//! correlated within seeds, permuting across seeds makes the test anti-conservative. Runs that
//! differ in spread by group (heteroscedasticity) are not offsets, but can still lower `p`.

use rand::seq::SliceRandom;

use super::permutation::{at_least_as_extreme, monte_carlo_p_value};
use super::summary::{centered_sum_of_squares, mean_of};
use super::{check_draws, check_same_len, check_sample, finite};
use crate::{Error, Result, rng_from_seed};

/// The share of residual variance explained by group membership, with its permutation p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupEffect {
    /// `η² = SS_between / SS_total`, in `[0, 1]`.
    pub eta_squared: f64,
    /// `(b + 1)/(m + 1)`, `b` the number of the `m` label permutations with `η²* ≥ η²`.
    pub p_value: f64,
    /// The number `m` of label permutations drawn.
    pub permutations: usize,
    /// Number of distinct groups `G`.
    pub groups: usize,
    /// Number of values `n`.
    pub n: usize,
    /// `(G − 1)/(n − 1)`: the mean of `η²` over all label permutations (what `η²` is under the
    /// null on average).
    pub null_mean: f64,
}

/// `η²` of `residuals` by `groups` (any labels; equal labels form a group) with a permutation
/// p-value from `permutations` seeded shuffles of the labels. See the module documentation for
/// what it tests.
///
/// Needs at least 2 distinct groups and residuals that are not all equal.
pub fn group_effect(
    residuals: &[f64],
    groups: &[usize],
    permutations: usize,
    seed: u64,
) -> Result<GroupEffect> {
    check_sample("residuals", residuals)?;
    check_same_len("groups", residuals.len(), groups.len())?;
    check_draws("permutations", permutations)?;
    let n = residuals.len();
    // Dense labels 0..G in order of first appearance.
    let mut distinct: Vec<usize> = Vec::new();
    let mut labels: Vec<usize> = groups
        .iter()
        .map(|g| match distinct.iter().position(|d| d == g) {
            Some(k) => k,
            None => {
                distinct.push(*g);
                distinct.len() - 1
            }
        })
        .collect();
    let n_groups = distinct.len();
    if n_groups < 2 {
        return Err(Error::Undefined {
            what: "groups",
            value: n_groups as f64,
            reason: "a group effect needs at least 2 distinct groups",
        });
    }
    let total = finite(
        "residual sum of squares",
        centered_sum_of_squares(residuals),
    )?;
    if total == 0.0 {
        return Err(Error::Undefined {
            what: "residuals",
            value: 0.0,
            reason: "all residuals are equal (zero variance): eta squared is undefined",
        });
    }
    let m = mean_of(residuals);
    let centred: Vec<f64> = residuals.iter().map(|e| e - m).collect();
    let mut sums = vec![0.0; n_groups];
    let mut counts = vec![0usize; n_groups];
    let mut eta_squared = |labels: &[usize]| {
        sums.fill(0.0);
        counts.fill(0);
        for (&e, &g) in centred.iter().zip(labels) {
            sums[g] += e;
            counts[g] += 1;
        }
        // Σ_g n_g ē_g² = Σ_g S_g²/n_g with the residuals centred on their grand mean.
        let between: f64 = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| s * s / c as f64)
            .sum();
        (between / total).clamp(0.0, 1.0)
    };
    let observed = eta_squared(&labels);
    let mut rng = rng_from_seed(seed);
    let mut exceed = 0;
    for _ in 0..permutations {
        labels.shuffle(&mut rng);
        if at_least_as_extreme(eta_squared(&labels), observed, 1.0) {
            exceed += 1;
        }
    }
    Ok(GroupEffect {
        eta_squared: observed,
        p_value: monte_carlo_p_value(exceed, permutations),
        permutations,
        groups: n_groups,
        n,
        null_mean: (n_groups - 1) as f64 / (n - 1) as f64,
    })
}
