//! The Wilson score interval for a binomial proportion.

use super::{Interval, two_sided_z};
use crate::{Error, Result};

/// The Wilson score interval for a rate of `successes` in `n` trials (e.g. seeds whose training
/// collapsed), at `level`.
///
/// With `p̂ = k/n` and `z = z_{(1+γ)/2}`, the interval is the set of `p` whose score test does not
/// reject, `|p̂ − p| ≤ z √(p(1 − p)/n)`:
/// `(p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)`.
/// Unlike the Wald interval `p̂ ± z √(p̂(1 − p̂)/n)` it never leaves `[0, 1]` and stays honest at
/// `k = 0` or `k = n` (0 collapses in 10 seeds: `[0, 0.278]` at 95 %, not `[0, 0]`).
///
/// ```
/// use mgs::study::stats::wilson_interval;
/// let ci = wilson_interval(0, 10, 0.95)?;
/// assert_eq!(ci.lower, 0.0);
/// assert!((ci.upper - 0.27753).abs() < 1e-5);
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn wilson_interval(successes: usize, n: usize, level: f64) -> Result<Interval> {
    if n == 0 {
        return Err(Error::EmptyBatch { what: "trials" });
    }
    if successes > n {
        return Err(Error::InvalidValue {
            what: "successes",
            value: successes as f64,
            reason: "cannot exceed the number of trials",
        });
    }
    let z = two_sided_z(level)?;
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z2n = z * z / nf;
    let center = (p + 0.5 * z2n) / (1.0 + z2n);
    let half = z / (1.0 + z2n) * (p * (1.0 - p) / nf + 0.25 * z2n / nf).sqrt();
    // At k = 0 (k = n) the lower (upper) end is 0 (1) exactly; rounding can leave an ulp.
    let lower = if successes == 0 { 0.0 } else { center - half };
    let upper = if successes == n { 1.0 } else { center + half };
    Ok(Interval {
        estimate: p,
        lower,
        upper,
        level,
    })
}
