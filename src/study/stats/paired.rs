//! Paired differences, their t-interval and the standardised effect `d_z`.

use super::student_t_quantile;
use super::summary::{mean_of, variance_of};
use super::{Interval, check_at_least, check_level, check_same_len, check_sample, finite};
use crate::{Error, Result};

/// The per-seed differences `d_s = a_s − b_s` of two methods run on the same seeds.
pub fn paired_differences(a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    check_sample("a", a)?;
    check_sample("b", b)?;
    check_same_len("b", a.len(), b.len())?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    crate::error::check_finite("differences", &d)?;
    Ok(d)
}

/// The mean with its Student-t confidence interval `x̄ ± t_{(1+γ)/2, n−1} · s/√n` at level `γ`;
/// needs `n ≥ 2`.
///
/// Exact when the values are independent draws from a normal distribution, and close to it for
/// mean differences of a moderate number of seeds unless their distribution is very skewed (then
/// compare with [`super::bootstrap_interval`] and rely on [`super::sign_flip_test`] for the test).
/// Identical values give the zero-width interval `[x̄, x̄]`.
pub fn t_interval(sample: &[f64], level: f64) -> Result<Interval> {
    check_sample("sample", sample)?;
    let n = sample.len();
    check_at_least("sample", n, 2, "a t-interval needs at least 2 values")?;
    check_level(level)?;
    let t = student_t_quantile(0.5 + 0.5 * level, (n - 1) as f64)?;
    let mean = mean_of(sample);
    let half = finite("t interval", t * (variance_of(sample) / n as f64).sqrt())?;
    Ok(Interval {
        estimate: mean,
        lower: mean - half,
        upper: mean + half,
        level,
    })
}

/// Cohen's `d_z = d̄ / s_d` for paired differences: the mean difference in units of the
/// differences' own standard deviation (`n − 1` in `s_d`). Needs `n ≥ 2` and `s_d > 0`.
///
/// `d_z` relates to the paired t statistic by `t = d_z √n`. It is not the between-method `d`
/// (mean difference over the pooled spread of the raw results): seeds that move both methods
/// together shrink `s_d` and raise `d_z`. Its small-sample bias is upward by the factor
/// `1/J(n−1)`, `J(ν) = Γ(ν/2) / (√(ν/2) Γ((ν−1)/2)) ≈ 1 − 3/(4ν − 1)` (Hedges' correction).
pub fn cohens_dz(differences: &[f64]) -> Result<f64> {
    check_sample("differences", differences)?;
    check_at_least(
        "differences",
        differences.len(),
        2,
        "d_z needs at least 2 differences",
    )?;
    let sd = variance_of(differences).sqrt();
    if sd == 0.0 {
        return Err(Error::Undefined {
            what: "differences",
            value: sd,
            reason: "the differences have zero standard deviation: d_z is undefined",
        });
    }
    finite("d_z", mean_of(differences) / sd)
}
