//! The guides, as they are in the repository's `docs/` folder, so that they can be read on
//! docs.rs beside the API: the mathematics with every derivation, the design, and training.
//!
//! The study, the benchmarks, the comparison with PyTorch and JAX and the cluster workflow
//! stay in `docs/` (they describe the example, the measurements and the committed outputs, not
//! the library).

#[doc = include_str!("../docs/math.md")]
pub mod math {}

#[doc = include_str!("../docs/design.md")]
pub mod design {}

#[doc = include_str!("../docs/training.md")]
pub mod training {}
