//! mgs
pub mod activation;
pub mod architecture;
pub mod error;
pub mod float;
pub mod init;
pub mod mlp;
mod parallel;
pub mod simd;

pub use activation::Activation;
pub use architecture::Architecture;
pub use error::{Error, Result};
pub use float::Float;
pub use init::{Init, MgsRng, rng_from_seed};
pub use mlp::{ForwardCache, Mlp};
pub mod derivatives;
pub mod jacobian;
pub mod kernel;
pub use jacobian::Jacobian;
pub mod train;
pub use train::{TrainConfig, Trainer};
