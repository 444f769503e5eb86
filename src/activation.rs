//! Activation functions with their first and second derivatives.
//!
//! The second derivative is what forward-over-reverse (Hessian-vector products) and the
//! factorised penalty gradient need: the backpropagated signals contain `σ'(z)`, so
//! differentiating them brings in `σ''(z)`.
//!
//! ```
//! use mgs::Activation;
//! let (v, d1, d2) = Activation::Tanh.eval(0.5f64);
//! assert!((v - 0.5f64.tanh()).abs() < 1e-15);
//! assert!((d1 - (1.0 - v * v)).abs() < 1e-15);
//! assert!((d2 + 2.0 * v * (1.0 - v * v)).abs() < 1e-15);
//! ```

use crate::{Error, Float, Result};

/// An elementwise activation `σ` of a hidden layer.
///
/// Serialised (serde) by its [`name`](Activation::name): a parameterless activation as the
/// string (`"tanh"`), one with a parameter as a one-entry object
/// (`{"leaky_relu": {"slope": 0.01}}`, `{"elu": {"alpha": 1.0}}`). Like a value written in
/// code, a deserialised activation is checked ([`Activation::check`]) where an
/// [`Architecture`](crate::Architecture) is built from it, which the deserialisation of an architecture or a model does.
///
/// ```
/// use mgs::Activation;
/// assert_eq!(serde_json::to_string(&Activation::GeluTanh).unwrap(), r#""gelu_tanh""#);
/// let elu: Activation = serde_json::from_str(r#"{"elu":{"alpha":0.5}}"#).unwrap();
/// assert_eq!(elu, Activation::Elu { alpha: 0.5 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Activation {
    /// `σ(z) = z`.
    Identity,
    /// `σ(z) = tanh z`.
    Tanh,
    /// `σ(z) = max(z, 0)`; derivative 0 at `z ≤ 0`.
    Relu,
    /// `σ(z) = z` for `z > 0`, `slope·z` otherwise.
    LeakyRelu {
        /// Slope for negative inputs (finite).
        slope: f64,
    },
    /// Logistic sigmoid `1 / (1 + e^{-z})`.
    Sigmoid,
    /// `σ(z) = ln(1 + e^z)`, evaluated stably.
    Softplus,
    /// `σ(z) = z` for `z > 0`, `alpha·(e^z − 1)` otherwise.
    Elu {
        /// Scale of the negative branch (finite).
        alpha: f64,
    },
    /// `σ(z) = z · sigmoid(z)` (also called swish).
    Silu,
    /// Exact GELU, `z Φ(z)` with the normal CDF written through `erf` (PyTorch's default).
    GeluErf,
    /// GELU's tanh approximation, `½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))`
    /// (PyTorch's `approximate="tanh"`, JAX's default).
    GeluTanh,
}

const GELU_CUBIC: f64 = 0.044715;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

#[inline(always)]
fn sigmoid<T: Float>(z: T) -> T {
    // Two branches so that e^{-z} never overflows.
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

impl Activation {
    /// Checks the activation's own parameters (finite slope / alpha).
    pub fn check(&self) -> Result<()> {
        let (name, value) = match *self {
            Activation::LeakyRelu { slope } => ("leaky_relu.slope", slope),
            Activation::Elu { alpha } => ("elu.alpha", alpha),
            _ => return Ok(()),
        };
        if value.is_finite() {
            Ok(())
        } else {
            Err(Error::InvalidHyperparameter {
                name,
                value,
                reason: "must be finite",
            })
        }
    }

    /// Short lower-case name (`"tanh"`, `"gelu_erf"`, …), as used in reports and fixtures.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Softplus => "softplus",
            Activation::Elu { .. } => "elu",
            Activation::Silu => "silu",
            Activation::GeluErf => "gelu_erf",
            Activation::GeluTanh => "gelu_tanh",
        }
    }

    /// `σ(z)`.
    #[inline]
    pub fn value<T: Float>(&self, z: T) -> T {
        self.eval(z).0
    }

    /// `(σ(z), σ'(z))`.
    #[inline]
    pub fn value_and_derivative<T: Float>(&self, z: T) -> (T, T) {
        let (v, d, _) = self.eval(z);
        (v, d)
    }

    /// [`Activation::eval`] over a slice: `(a, d1, d2)[k] = (σ, σ', σ'')(z[k])`, the same bits,
    /// with `tanh` vectorised.
    pub fn eval_slice<T: Float>(&self, z: &[T], a: &mut [T], d1: &mut [T], d2: &mut [T]) {
        debug_assert!(a.len() == z.len() && d1.len() == z.len() && d2.len() == z.len());
        if *self == Activation::Tanh {
            crate::simd::tanh_into(a, z);
            let two = T::one() + T::one();
            for ((&t, d), dd) in a.iter().zip(d1.iter_mut()).zip(d2.iter_mut()) {
                *d = T::one() - t * t;
                *dd = -two * t * *d;
            }
        } else {
            for k in 0..z.len() {
                (a[k], d1[k], d2[k]) = self.eval(z[k]);
            }
        }
    }

    /// `(σ(z), σ'(z), σ''(z))` in one evaluation (shared subexpressions computed once).
    #[inline]
    pub fn eval<T: Float>(&self, z: T) -> (T, T, T) {
        let zero = T::zero();
        let one = T::one();
        let two = one + one;
        let half = T::from_f64(0.5);
        match *self {
            Activation::Identity => (z, one, zero),
            Activation::Tanh => {
                let t = z.tanh();
                let d = one - t * t;
                (t, d, -two * t * d)
            }
            Activation::Relu => {
                if z > zero {
                    (z, one, zero)
                } else {
                    (zero, zero, zero)
                }
            }
            Activation::LeakyRelu { slope } => {
                let s = T::from_f64(slope);
                if z > zero {
                    (z, one, zero)
                } else {
                    (s * z, s, zero)
                }
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                let d = s * (one - s);
                (s, d, d * (one - two * s))
            }
            Activation::Softplus => {
                // ln(1+e^z) = max(z,0) + ln(1+e^{-|z|})
                let s = sigmoid(z);
                let pos = if z > zero { z } else { zero };
                (pos + (-z.abs()).exp().ln_1p(), s, s * (one - s))
            }
            Activation::Elu { alpha } => {
                if z > zero {
                    (z, one, zero)
                } else {
                    let a = T::from_f64(alpha);
                    let e = z.exp();
                    (a * (e - one), a * e, a * e)
                }
            }
            Activation::Silu => {
                let s = sigmoid(z);
                let ds = s * (one - s);
                (z * s, s + z * ds, ds * (two + z * (one - two * s)))
            }
            Activation::GeluErf => {
                let cdf = half * (one + (z * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf());
                let pdf = T::from_f64(INV_SQRT_2PI) * (-half * z * z).exp();
                (z * cdf, cdf + z * pdf, pdf * (two - z * z))
            }
            Activation::GeluTanh => {
                let k = T::from_f64(SQRT_2_OVER_PI);
                let c = T::from_f64(GELU_CUBIC);
                let three = two + one;
                let u = k * (z + c * z * z * z);
                let du = k * (one + three * c * z * z);
                let ddu = k * two * three * c * z;
                let t = u.tanh();
                let sech2 = one - t * t;
                let v = half * z * (one + t);
                let d = half * (one + t) + half * z * sech2 * du;
                let dd = sech2 * (du + half * z * (ddu - two * t * du * du));
                (v, d, dd)
            }
        }
    }
}
