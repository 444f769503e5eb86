//! Seeded parameter initialisation schemes.
//!
//! Weights are drawn independently per layer with a scale set by the layer's fan-in
//! `n_{l−1}` and fan-out `n_l`; biases start at zero.
//!
//! | scheme | normal std | uniform limit |
//! | --- | --- | --- |
//! | Xavier/Glorot | `√(2/(fan_in+fan_out))` | `√(6/(fan_in+fan_out))` |
//! | He/Kaiming | `√(2/fan_in)` | `√(6/fan_in)` |
//! | LeCun | `√(1/fan_in)` | `√(3/fan_in)` |
//!
//! ```
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! let arch = Architecture::new(3, &[(5, Activation::Relu)], 1)?;
//! let a = Mlp::<f64>::init(arch.clone(), Init::HeNormal, &mut rng_from_seed(7))?;
//! let b = Mlp::<f64>::init(arch, Init::HeNormal, &mut rng_from_seed(7))?;
//! assert_eq!(a.params(), b.params());
//! # Ok::<(), mgs::Error>(())
//! ```

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Normal, Uniform};

use crate::{Architecture, Float};

/// How to draw the initial weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Init {
    /// Glorot normal.
    XavierNormal,
    /// Glorot uniform.
    XavierUniform,
    /// Kaiming normal (for ReLU-like activations).
    HeNormal,
    /// Kaiming uniform.
    HeUniform,
    /// LeCun normal (for SELU/tanh-like activations).
    LecunNormal,
    /// LeCun uniform.
    LecunUniform,
}

/// The crate's seeded random generator (xoshiro256++: small, fast, reproducible on every platform).
pub type MgsRng = rand::rngs::Xoshiro256PlusPlus;

/// A seeded [`MgsRng`].
#[must_use]
pub fn rng_from_seed(seed: u64) -> MgsRng {
    <MgsRng as rand::SeedableRng>::seed_from_u64(seed)
}

impl Init {
    /// Fills `params` (laid out as `arch` says) with fresh weights and zero biases.
    pub(crate) fn fill<T: Float, R: Rng + ?Sized>(
        &self,
        arch: &Architecture,
        params: &mut [T],
        rng: &mut R,
    ) {
        for l in 0..arch.n_layers() {
            let fan_in = arch.widths()[l] as f64;
            let fan_out = arch.widths()[l + 1] as f64;
            let (normal, variance_numerator, denom) = match self {
                Init::XavierNormal => (true, 2.0, fan_in + fan_out),
                Init::XavierUniform => (false, 2.0, fan_in + fan_out),
                Init::HeNormal => (true, 2.0, fan_in),
                Init::HeUniform => (false, 2.0, fan_in),
                Init::LecunNormal => (true, 1.0, fan_in),
                Init::LecunUniform => (false, 1.0, fan_in),
            };
            // Both forms share the variance; a uniform on [−a, a] has variance a²/3.
            let std = (variance_numerator / denom).sqrt();
            let weights = &mut params[arch.weight_range(l)];
            if normal {
                let dist = Normal::new(0.0, std).expect("std is positive and finite");
                for w in weights.iter_mut() {
                    *w = T::from_f64(dist.sample(rng));
                }
            } else {
                let limit = std * 3f64.sqrt();
                let dist = Uniform::new_inclusive(-limit, limit).expect("finite limits");
                for w in weights.iter_mut() {
                    *w = T::from_f64(rng.sample(dist));
                }
            }
            params[arch.bias_range(l)].fill(T::zero());
        }
    }
}
