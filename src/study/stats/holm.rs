//! Holm–Bonferroni adjustment for several tests at once.

use super::check_sample;
use crate::{Error, Result};

/// Holm–Bonferroni adjusted p-values, in the order given.
///
/// With the `m` p-values sorted `p_(1) ≤ … ≤ p_(m)`, the adjusted values are
/// `p̃_(i) = min(1, max_{j ≤ i} (m − j + 1) p_(j))`: monotone in the sorted order and capped at 1.
/// Rejecting every hypothesis with `p̃ ≤ α` controls the family-wise error rate at `α` under any
/// dependence between the tests (Holm 1979), and is uniformly more powerful than Bonferroni's
/// `min(1, m p)`. Equal p-values get equal adjusted values.
///
/// ```
/// use mgs::study::stats::holm;
/// // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 → running max.
/// let adjusted = holm(&[0.01, 0.04, 0.03, 0.005])?;
/// let expected = [0.03, 0.06, 0.06, 0.02];
/// assert!(adjusted.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-15));
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>> {
    check_sample("p_values", p_values)?;
    if let Some(&p) = p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(Error::InvalidValue {
            what: "p_values",
            value: p,
            reason: "a p-value must lie in [0, 1]",
        });
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    Ok(adjusted)
}
