//! The floating-point abstraction: everything in `mgs` is generic over `f32` and `f64`.
//!
//! ```
//! use mgs::Float;
//! fn half<T: Float>(x: T) -> T { x * T::from_f64(0.5) }
//! assert_eq!(half(3.0f32), 1.5);
//! assert_eq!(half(3.0f64).to_f64(), 1.5);
//! ```

use faer::traits::RealField;

/// A real floating-point type usable by `mgs` (implemented for `f32` and `f64`).
///
/// It extends faer's [`RealField`] with the handful of transcendental functions the activations
/// need, so that models, derivatives and kernels are written once for both precisions.
pub trait Float:
    RealField + Copy + Send + Sync + Default + std::fmt::Debug + std::fmt::Display + 'static
{
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// `e^x`.
    fn exp(self) -> Self;
    /// `ln(1 + x)`, accurate near zero.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Error function.
    fn erf(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// True for values that are neither NaN nor infinite.
    fn is_finite_value(self) -> bool;
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
                <$t>::tanh(self)
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
        }
    };
}

impl_float!(f32, libm::erff);
impl_float!(f64, libm::erf);
