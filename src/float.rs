//! The floating-point abstraction ([`Float`]: `f32` and `f64`) and the crate's numeric helpers.

use faer::traits::RealField;

/// A real floating-point type usable by `mgs`: everything in the crate is generic over it.
///
/// It extends faer's [`RealField`] with the handful of transcendental functions the activations
/// need, so that models, derivatives and kernels are written once for both precisions.
///
/// The trait is sealed: only `f32` and `f64` implement it, and no other type can.
///
/// ```
/// use mgs::Float;
/// fn half<T: Float>(x: T) -> T { x * T::from_f64(0.5) }
/// assert_eq!(half(3.0f32), 1.5);
/// assert_eq!(half(3.0f64).to_f64(), 1.5);
/// ```
pub trait Float:
    sealed::Sealed
    + RealField
    + Copy
    + Send
    + Sync
    + Default
    + std::fmt::Debug
    + std::fmt::Display
    + 'static
{
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// `e^x`.
    #[must_use]
    fn exp(self) -> Self;
    /// `ln(1 + x)`, accurate near zero.
    #[must_use]
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent, by the crate's own branch-free `f64` routine in both precisions (within
    /// 4 ulp of the system's; the scalar and the vectorised forward pass give the same bits).
    #[must_use]
    fn tanh(self) -> Self;
    /// Error function.
    #[must_use]
    fn erf(self) -> Self;
    /// Square root.
    #[must_use]
    fn sqrt(self) -> Self;
    /// Absolute value.
    #[must_use]
    fn abs(self) -> Self;
    /// True for values that are neither NaN nor infinite.
    fn is_finite_value(self) -> bool;
    /// The machine epsilon of the type (`2⁻²³` for `f32`, `2⁻⁵²` for `f64`), as `f64`.
    const MACHINE_EPSILON: f64;
    /// The largest finite value of the type, as `f64`.
    const MAX_FINITE: f64;
}

/// The private supertrait that seals [`Float`].
mod sealed {
    /// Implemented for `f32` and `f64` only.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

macro_rules! impl_float {
    ($t:ty, $erf:path) => {
        impl Float for $t {
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                tanh_f64(self as f64) as $t
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn is_finite_value(self) -> bool {
                <$t>::is_finite(self)
            }
            const MACHINE_EPSILON: f64 = <$t>::EPSILON as f64;
            const MAX_FINITE: f64 = <$t>::MAX as f64;
        }
    };
}

impl_float!(f32, libm::erff);
impl_float!(f64, libm::erf);

/// Values whose magnitude lies within `[2⁻²⁵⁶, 2²⁵⁶]` are used as they are by the scaled
/// reductions and factorisations: products of two such values and sums of up to `2⁵⁰⁰` of them
/// stay normal and finite.
const SAFE_EXPONENT: i32 = 256;

/// The power of four `s` that brings `max_abs` near 1 when it lies outside `[2⁻²⁵⁶, 2²⁵⁶]`,
/// and 1 inside that band (and for 0 or a non-finite `max_abs`).
///
/// Multiplying by a power of two is exact (away from subnormals), so a computation run on
/// `s · x` and unscaled at the end gives the bits it would give on `x` wherever `x` itself does
/// not overflow or underflow; and a power of *four* keeps `√s` exact, for the Cholesky factor.
/// Used by the kernel metrics on kernels near `f64::MAX` or below `2⁻²⁵⁶`.
pub(crate) fn safe_scale(max_abs: f64) -> f64 {
    let band = f64::from_bits(((1023 + SAFE_EXPONENT) as u64) << 52);
    if !(max_abs > 0.0 && max_abs.is_finite()) || (max_abs >= 1.0 / band && max_abs <= band) {
        return 1.0;
    }
    // s = 2^(−2k) with 4^k ≈ max_abs; |2k| ≤ 1022 keeps both s and 1/s normal.
    let k = (max_abs.log2() / 2.0).round().clamp(-511.0, 511.0) as i64;
    f64::from_bits(((1023 - 2 * k) as u64) << 52)
}

/// `log2(e)`, and `ln 2` split so that `k · LN2_HI` is exact for the `|k| ≤ 58` used here.
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// (fdlibm's split: `LN2_HI` ends in 21 zero bits; `LN2_HI + LN2_LO` is `ln 2` to about 1e-26.)
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// `1.5 · 2^52`: adding and subtracting it rounds to the nearest integer, and the sum's low
/// mantissa bits hold that integer.
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// `tanh(x)` within a few ulp, branch-free so that a loop over it vectorises (the forward pass runs
/// it through [`crate::simd::tanh_into`]).
///
/// `tanh|x| = −t / (2 + t)` with `t = expm1(−2|x|)`, `|x|` clamped at 20 (where `tanh` is 1 in
/// `f64`); `expm1(u) = 2^k (expm1(r) + 1) − 1` after `u = k ln 2 + r`, `|r| ≤ ln 2 / 2`, and
/// `expm1(r)` is its Taylor polynomial to degree 13 (remainder below 1e-17 relative). NaN is passed
/// through; the sign is restored last, so `tanh(−0) = −0`.
///
#[inline(always)]
pub(crate) fn tanh_f64(x: f64) -> f64 {
    let u = -2.0 * x.abs().min(20.0);
    let shifted = u.mul_add(LOG2_E, ROUNDER);
    let k = shifted - ROUNDER;
    let r = k.mul_add(-LN2_LO, k.mul_add(-LN2_HI, u));
    // 2^k from the integer in `shifted`'s low bits (k ∈ [−58, 0], so the exponent is normal).
    let two_k = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    let mut p: f64 = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
    ] {
        p = p.mul_add(r, c);
    }
    let expm1_r = p * r;
    let t = two_k.mul_add(expm1_r, two_k - 1.0);
    let y = (-t / (2.0 + t)).copysign(x);
    if x.is_nan() { x } else { y }
}

#[cfg(test)]
mod tests {
    use super::{safe_scale, tanh_f64};

    #[test]
    fn safe_scale_is_one_inside_the_band_and_a_power_of_four_outside() {
        for x in [0.0, 1.0, 1e-70, 1e70, f64::NAN, f64::INFINITY] {
            assert_eq!(safe_scale(x), 1.0, "{x}");
        }
        for x in [1e308, f64::MAX, 1e-100, 1e-310, f64::from_bits(1)] {
            let s = safe_scale(x);
            let e = s.log2();
            assert!(e == e.round() && (e as i64) % 2 == 0, "{x}: {s}");
            assert!(s.is_normal() && (1.0 / s).is_normal(), "{x}: {s}");
            assert!((x * s) > 2f64.powi(-60) && (x * s) < 4.0, "{x}: {s}");
        }
    }

    #[test]
    fn tanh_matches_the_system_tanh_within_four_ulp() {
        let mut worst = 0.0f64;
        for i in -400_000i64..=400_000 {
            let x = i as f64 * 6.1e-5 + (i as f64 * 0.37).sin() * 1e-5;
            let (ours, sys) = (tanh_f64(x), x.tanh());
            let ulp = (ours - sys).abs() / (f64::EPSILON * sys.abs().max(f64::MIN_POSITIVE));
            worst = worst.max(ulp);
        }
        for x in [
            1e-300, 1e-20, 1e-8, 3e-4, 0.346, 0.347, 19.99, 20.0, 25.0, 700.0, 1e300,
        ] {
            for x in [x, -x] {
                let (ours, sys) = (tanh_f64(x), x.tanh());
                worst = worst.max((ours - sys).abs() / (f64::EPSILON * sys.abs()));
            }
        }
        assert!(worst <= 4.0, "worst error {worst} ulp");
        assert_eq!(tanh_f64(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(tanh_f64(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(tanh_f64(f64::INFINITY), 1.0);
        assert_eq!(tanh_f64(f64::NEG_INFINITY), -1.0);
        assert!(tanh_f64(f64::NAN).is_nan());
    }
}
