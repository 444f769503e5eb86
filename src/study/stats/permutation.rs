//! What the permutation and sign-flip tests share: the tie rule and the Monte-Carlo p-value.

/// Relative tolerance for ties in permutation and sign-flip tests.
///
/// A rearrangement counts as "at least as extreme" when its statistic `T*` satisfies
/// `T* ≥ T_obs − τ·T_max`, with `τ = 10⁻¹⁰` and `T_max` the largest value the statistic can take
/// on the data (`Σ|d_i|` for the sign-flip sum, 1 for `|r|` and `η²`). Rearrangements that tie
/// with the observed one in exact arithmetic (for example the identity, or two seeds with equal
/// differences swapping signs) can differ from it by a few ulps of `T_max` in floating point;
/// without the tolerance such ties would be missed at random and the p-value would come out too
/// small. `τ` is far above that rounding (`n·ε·T_max`, `ε ≈ 2.2·10⁻¹⁶`) and far below any
/// difference that matters.
pub const TIE_TOLERANCE: f64 = 1e-10;

/// The result of a Monte-Carlo permutation test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationTest {
    /// The observed statistic.
    pub statistic: f64,
    /// `(b + 1)/(m + 1)`, `b` the number of the `m` random rearrangements whose statistic is at
    /// least as extreme as the observed one ([`TIE_TOLERANCE`]).
    pub p_value: f64,
    /// The number `m` of random rearrangements drawn.
    pub permutations: usize,
}

/// Whether a rearranged statistic is at least as extreme as the observed one.
pub(super) fn at_least_as_extreme(statistic: f64, observed: f64, largest: f64) -> bool {
    statistic >= observed - TIE_TOLERANCE * largest
}

/// The Monte-Carlo p-value `(b + 1)/(m + 1)`: counting the observed arrangement among the draws
/// makes it a valid p-value (`P(p ≤ α) ≤ α` under the null) that is never zero.
pub(super) fn monte_carlo_p_value(exceed: usize, draws: usize) -> f64 {
    (exceed + 1) as f64 / (draws + 1) as f64
}
