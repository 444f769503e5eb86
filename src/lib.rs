//! mgs
pub mod activation;
pub mod architecture;
pub mod data;
pub mod error;
pub mod float;
pub mod init;
pub mod mlp;
mod parallel;
pub mod simd;

pub use activation::Activation;
pub use architecture::Architecture;
pub use data::{Dataset, Targets};
pub use error::{Error, Result};
pub use float::Float;
pub use init::{Init, MgsRng, rng_from_seed};
pub use mlp::{ForwardCache, Mlp};
