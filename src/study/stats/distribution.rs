//! The standard normal and Student-t distributions: CDFs and quantiles in `f64`.
//!
//! - Normal CDF: `Φ(z) = ½ erfc(−z/√2)` with `libm`'s `erfc` (below one ulp).
//! - Normal quantile: Acklam's rational approximation (relative error below 1.2·10⁻⁹) refined by
//!   one Halley step on `Φ(x) − p`, `x ← x − u/(1 + x u/2)` with `u = (Φ(x) − p)·√(2π)·e^{x²/2}`,
//!   which brings it to a few ulps. The lower tail is always the one computed (`1 − p` is exact
//!   for `p ≥ ½`), so upper-tail quantiles keep their digits.
//! - Student-t CDF with `ν > 0` degrees of freedom: the upper tail is
//!   `S(t) = P(T > t) = ½ I_x(ν/2, ½)` for `t ≥ 0`, `x = ν/(ν + t²)`, `y = 1 − x = t²/(ν + t²)`,
//!   with `I` the regularised incomplete beta function, `x`, `y` and their logarithms formed
//!   without cancellation. Near the centre (`y ≤ ½` and `t < 1` or `νy ≤ 2`) it is
//!   `S = ½ − ½ I_y(½, ν/2)` by the power series of `I_y`; elsewhere `S = ½ I_x(ν/2, ½)` directly,
//!   by the continued fraction in `z = x/(1 − x)` of Moshier's Cephes library, which (unlike the
//!   usual fraction in `x`) keeps its digits at large `ν` and needs fewer than 100 terms for any
//!   `ν`. `ln B(ν/2, ½)` comes from Stirling's series once `ν/2 ≥ 10` (two `lgamma`s would cancel).
//!   Against a 60-digit reference over `ν ∈ [0.01, 10⁸]`, `t ∈ [10⁻⁸, 10⁶]` the relative error is
//!   below 6·10⁻¹⁴, and about 10⁻¹⁵ away from the far power tail (where the rounding of `t`
//!   itself moves `S` by `ν·ε` relative).
//! - Student-t quantile: the Cornish–Fisher expansion of `t` in `z` and `1/ν` (Abramowitz and
//!   Stegun 26.7.5) as a start, then Newton's method on `ln S(t) = ln α`,
//!   `t ← t + (ln S(t) − ln α)·S(t)/f(t)` (`f` the density), kept inside a bracket by bisection.
//!   The logarithmic form makes the step nearly exact in the power-law tails, so even `ν = 1` at
//!   `p = 10⁻¹²` converges in a few steps; the result is as accurate as the CDF allows.

use crate::{Error, Result};

/// The standard normal CDF `Φ(z) = ½ erfc(−z/√2)`; `±∞` give 1 and 0.
pub fn normal_cdf(z: f64) -> Result<f64> {
    if z.is_nan() {
        return Err(Error::NonFinite {
            what: "z",
            index: 0,
        });
    }
    Ok(phi(z))
}

/// The standard normal quantile `Φ⁻¹(p)` for `p ∈ (0, 1)`.
pub fn normal_quantile(p: f64) -> Result<f64> {
    check_probability(p)?;
    Ok(if p > 0.5 {
        -normal_lower_quantile(1.0 - p)
    } else {
        normal_lower_quantile(p)
    })
}

/// The Student-t CDF `P(T ≤ t)` with `df > 0` degrees of freedom (not necessarily whole).
pub fn student_t_cdf(t: f64, df: f64) -> Result<f64> {
    check_df(df)?;
    if t.is_nan() {
        return Err(Error::NonFinite {
            what: "t",
            index: 0,
        });
    }
    let tail = t_upper_tail(t.abs(), df)?;
    Ok(if t >= 0.0 { 1.0 - tail } else { tail })
}

/// The Student-t quantile `t_{p, df}`: the `t` with `P(T ≤ t) = p`, for `p ∈ (0, 1)` and `df > 0`.
///
/// ```
/// use mgs::study::stats::student_t_quantile;
/// let t = student_t_quantile(0.975, 4.0)?;
/// assert!((t - 2.776445105).abs() < 1e-9);
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn student_t_quantile(p: f64, df: f64) -> Result<f64> {
    check_probability(p)?;
    check_df(df)?;
    if p == 0.5 {
        return Ok(0.0);
    }
    // The upper-tail probability; `1 − p` is exact for `p ≥ ½`.
    let alpha = if p < 0.5 { p } else { 1.0 - p };
    let t = t_upper_quantile(alpha, df)?;
    Ok(if p < 0.5 { -t } else { t })
}

fn check_probability(p: f64) -> Result<()> {
    if !(p > 0.0 && p < 1.0) {
        return Err(Error::InvalidHyperparameter {
            name: "p",
            value: p,
            reason: "must lie in (0, 1)",
        });
    }
    Ok(())
}

fn check_df(df: f64) -> Result<()> {
    if !(df > 0.0 && df.is_finite()) {
        return Err(Error::InvalidHyperparameter {
            name: "df",
            value: df,
            reason: "degrees of freedom must be positive and finite",
        });
    }
    Ok(())
}

fn phi(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// `Φ⁻¹(p)` for `p ∈ (0, ½]`.
fn normal_lower_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let horner = |coeffs: &[f64], x: f64| coeffs.iter().fold(0.0, |acc, &c| acc * x + c);
    let x = if p < 0.024_25 {
        let q = (-2.0 * p.ln()).sqrt();
        horner(&C, q) / (horner(&D, q) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        horner(&A, r) * q / (horner(&B, r) * r + 1.0)
    };
    // One Halley step; in the extreme tail `e^{x²/2}` can overflow, and Acklam's value stands.
    let u = (phi(x) - p) * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    let refined = x - u / (1.0 + 0.5 * x * u);
    if refined.is_finite() { refined } else { x }
}

/// `(ln r, ln(1 + r))` for `r = t²/ν`, `t ≥ 0`, without overflow for huge `t` (`ln r = −∞` at
/// `t = 0`).
fn ln_t2_over_df(t: f64, df: f64) -> (f64, f64) {
    let r = t * t / df;
    if r.is_finite() {
        (r.ln(), r.ln_1p())
    } else {
        let ln_r = 2.0 * t.ln() - df.ln();
        (ln_r, ln_r + (df / t / t).ln_1p())
    }
}

/// `S(t) = P(T > t)` for `t ≥ 0`.
fn t_upper_tail(t: f64, df: f64) -> Result<f64> {
    if t == 0.0 {
        return Ok(0.5);
    }
    if t == f64::INFINITY {
        return Ok(0.0);
    }
    // x = ν/(ν+t²) = 1/(1 + r) and y = 1 − x = r/(1 + r), through their logarithms.
    let (ln_r, l) = ln_t2_over_df(t, df);
    let (ln_x, ln_y) = (-l, ln_r - l);
    let (x, y) = (ln_x.exp(), ln_y.exp());
    let (a, b) = (0.5 * df, 0.5);
    if y <= 0.5 && (t < 1.0 || df * y <= 2.0) {
        // Near the centre: S = ½ − ½ I_y(½, ν/2), the series converging like (νy/2)ⁿ/n!.
        Ok(0.5 - 0.5 * beta_power_series(b, a, y, ln_y)?)
    } else {
        // S = ½ I_x(ν/2, ½) = ½ x^a y^(b−1) F / (a B(a, b)), F the fraction in z = x/y.
        let front = (a * ln_x + (b - 1.0) * ln_y - ln_beta(a, b)).exp();
        Ok(0.5 * front * beta_fraction(a, b, x, y)? / a)
    }
}

/// The logarithm of the Student-t density.
fn t_ln_density(t: f64, df: f64) -> f64 {
    ln_gamma_ratio(0.5 * df, 0.5)
        - 0.5 * (df * std::f64::consts::PI).ln()
        - 0.5 * (df + 1.0) * ln_t2_over_df(t, df).1
}

/// The `t > 0` with `S(t) = alpha`, for `alpha ∈ (0, ½)`.
fn t_upper_quantile(alpha: f64, df: f64) -> Result<f64> {
    let overflow = || Error::InvalidHyperparameter {
        name: "p",
        value: alpha,
        reason: "the Student-t quantile overflows f64",
    };
    let start = cornish_fisher(-normal_lower_quantile(alpha), df);
    let mut t = if start.is_finite() && start > 0.0 {
        start
    } else {
        1.0
    };
    let ln_alpha = alpha.ln();
    // S(lo) > alpha > S(hi).
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    for _ in 0..MAX_QUANTILE_STEPS {
        let s = t_upper_tail(t, df)?;
        if s == alpha {
            return Ok(t);
        }
        if s > alpha {
            lo = t;
        } else {
            hi = t;
        }
        let step = (s.ln() - ln_alpha) * (s.ln() - t_ln_density(t, df)).exp();
        let newton = t + step;
        // Newton converges quadratically: after a relative step of 10⁻¹¹ the error is far below
        // the CDF's own accuracy, and smaller steps would only chase its rounding noise.
        // (Tested before the bracket check: at the root the step can round onto the bracket end.)
        if (newton - t).abs() <= QUANTILE_STEP_TOLERANCE * t {
            return Ok(newton);
        }
        let next = if newton > lo && newton < hi {
            newton
        } else if hi.is_infinite() {
            4.0 * t
        } else if lo > 0.0 {
            (lo * hi).sqrt()
        } else {
            0.5 * hi
        };
        if !next.is_finite() {
            return Err(overflow());
        }
        if hi.is_finite() && hi - lo <= QUANTILE_STEP_TOLERANCE * hi {
            return Ok(next);
        }
        t = next;
    }
    Err(Error::InvalidHyperparameter {
        name: "df",
        value: df,
        reason: "the Student-t quantile iteration did not converge",
    })
}

/// Relative step below which the Student-t quantile iteration stops.
const QUANTILE_STEP_TOLERANCE: f64 = 1e-11;

/// Newton steps allowed to the Student-t quantile (it takes fewer than 10 in practice; the
/// bisection fallback needs at most about 2100 to pin an `f64` down from its whole range).
const MAX_QUANTILE_STEPS: usize = 4000;

/// The Cornish–Fisher expansion of the upper `t` quantile from the normal one `z`
/// (Abramowitz and Stegun 26.7.5), through `ν⁻⁴`.
fn cornish_fisher(z: f64, df: f64) -> f64 {
    let z2 = z * z;
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)`.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, large) = if a < b { (a, b) } else { (b, a) };
    libm::lgamma(small) - ln_gamma_ratio(large, small)
}

/// Above this argument [`ln_gamma_ratio`] uses Stirling's series instead of two `lgamma`s.
const STIRLING_FROM: f64 = 10.0;

/// `ln Γ(a + b) − ln Γ(a)` for `a, b > 0`.
///
/// For large `a` the two `lgamma` values are about `a ln a` and their difference `≈ b ln a` loses
/// `log₁₀(a ln a)` digits (10⁻¹⁰ relative at `ν = 10⁶` in the t tail), so from `a ≥ 10` it is
/// formed from Stirling's series `ln Γ(x) = (x − ½) ln x − x + ½ ln 2π + c(x)`,
/// `c(x) = 1/(12x) − 1/(360x³) + 1/(1260x⁵) − 1/(1680x⁷) + 1/(1188x⁹) − …` (the next term,
/// `691/(360360x¹¹)`, changes `c(a + b) − c(a)` by less than 10⁻¹⁵ at `a = 10`):
/// `(a − ½) ln(1 + b/a) + b ln(a + b) − b + c(a + b) − c(a)`, without cancellation.
fn ln_gamma_ratio(a: f64, b: f64) -> f64 {
    if a < STIRLING_FROM {
        return libm::lgamma(a + b) - libm::lgamma(a);
    }
    let c = |x: f64| {
        let r = 1.0 / (x * x);
        (1.0 / 12.0 - r * (1.0 / 360.0 - r * (1.0 / 1260.0 - r * (1.0 / 1680.0 - r / 1188.0)))) / x
    };
    (a - 0.5) * (b / a).ln_1p() + b * (a + b).ln() - b + (c(a + b) - c(a))
}

/// Terms allowed to [`beta_power_series`] (it needs fewer than 60 where it is used: the ratio
/// of successive terms is at most `max(y, νy/2n) ≤ ½`).
const MAX_SERIES_TERMS: usize = 1000;

/// `I_x(a, b)` by its power series, for small `x`:
/// `I_x(a, b) = x^a / B(a, b) · [1/a + Σ_{n≥1} ((1 − b)(2 − b)⋯(n − b)/n!) xⁿ/(a + n)]`
/// (the term-by-term integral of `t^{a−1}(1 − t)^{b−1}`; Cephes' `pseries`).
fn beta_power_series(a: f64, b: f64, x: f64, ln_x: f64) -> Result<f64> {
    let mut term = 1.0;
    let mut sum = 1.0 / a;
    for n in 1..=MAX_SERIES_TERMS {
        let n = n as f64;
        term *= (n - b) / n * x;
        let v = term / (a + n);
        sum += v;
        if v.abs() <= 0.25 * f64::EPSILON * sum.abs() {
            return Ok((a * ln_x - ln_beta(a, b)).exp() * sum);
        }
    }
    Err(not_converged(b))
}

/// Iterations allowed to [`beta_fraction`]: it needs fewer than 100 for the Student-t tail at
/// any `ν` (measured over `ν ∈ [10⁻², 10¹⁵]`, `t ∈ [1, 10⁶]`).
const MAX_FRACTION_TERMS: usize = 10_000;

/// The continued fraction `F` with `I_x(a, b) = x^a (1 − x)^b F / (a B(a, b) (1 − x))`, in
/// `z = x/(1 − x)` (Cephes' `incbd`, S. L. Moshier 1984): partial numerators
/// `−z (a + k)(b − 1 − k)/((a + 2k)(a + 2k + 1))` and `z (k + 1)(a + b + k)/((a + 2k + 1)(a + 2k + 2))`,
/// evaluated by the forward recurrences for the convergents with rescaling. Unlike the usual
/// fraction in `x`, whose partial denominators `1 + d_m` cancel at large `a` when `x` is near 1
/// (10⁻¹¹ relative at `ν = 10⁶` in the t tail), it stays accurate there.
fn beta_fraction(a: f64, b: f64, x: f64, y: f64) -> Result<f64> {
    const BIG: f64 = 4_503_599_627_370_496.0; // 2⁵²
    const BIG_INV: f64 = 1.0 / BIG;
    let z = x / y;
    let (mut p2, mut q2, mut p1, mut q1) = (0.0, 1.0, 1.0, 1.0);
    let mut previous = 1.0;
    for k in 0..MAX_FRACTION_TERMS {
        let k = k as f64;
        let odd = -z * (a + k) * (b - 1.0 - k) / ((a + 2.0 * k) * (a + 2.0 * k + 1.0));
        let (p, q) = (p1 + p2 * odd, q1 + q2 * odd);
        (p2, q2, p1, q1) = (p1, q1, p, q);
        let even = z * (k + 1.0) * (a + b + k) / ((a + 2.0 * k + 1.0) * (a + 2.0 * k + 2.0));
        let (p, q) = (p1 + p2 * even, q1 + q2 * even);
        (p2, q2, p1, q1) = (p1, q1, p, q);
        if q != 0.0 {
            let r = p / q;
            if (previous - r).abs() <= 2.0 * f64::EPSILON * r.abs() {
                return Ok(r);
            }
            previous = r;
        }
        if p.abs() + q.abs() > BIG {
            (p2, q2, p1, q1) = (p2 * BIG_INV, q2 * BIG_INV, p1 * BIG_INV, q1 * BIG_INV);
        }
        if q.abs() < BIG_INV || p.abs() < BIG_INV {
            (p2, q2, p1, q1) = (p2 * BIG, q2 * BIG, p1 * BIG, q1 * BIG);
        }
    }
    Err(not_converged(a))
}

/// The error of an incomplete-beta expansion that ran out of terms (not seen in testing).
fn not_converged(half_df: f64) -> Error {
    Error::InvalidHyperparameter {
        name: "df",
        value: 2.0 * half_df,
        reason: "the Student-t tail expansion did not converge",
    }
}
