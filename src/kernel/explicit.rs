//! The explicit route: `K = J Jᵀ` from a materialised Jacobian.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Jacobian, Mlp, rng_from_seed};
//! use mgs::kernel::{KernelKind, explicit};
//! let arch = Architecture::new(2, &[(4, Activation::Sigmoid)], 3)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierUniform, &mut rng_from_seed(4))?;
//! let x = Mat::from_fn(5, 2, |i, j| (i as f64) - (j as f64));
//! let j = Jacobian::reverse(&mlp, x.as_ref(), Par::Seq)?;
//! let full = explicit::kernel(&j, KernelKind::Full, Par::Seq);
//! let traced = explicit::kernel(&j, KernelKind::Traced, Par::Seq);
//! // The traced kernel is the block trace of the full one.
//! let s: f64 = (0..3).map(|c| full[(3 + c, 6 + c)]).sum();
//! assert!((traced[(1, 2)] - s).abs() < 1e-12);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use super::KernelKind;
use super::factorised::gram_lower;
use crate::mlp::rm;
use crate::symmetric::{Triangle, mirror};
use crate::{Error, Float, Jacobian, Result};

/// `J` viewed as the kernel's factor: `(N·C) × P` for the full kernel, `N × (C·P)` for the traced
/// one (the sample-major row order makes the second a free reshape).
pub(crate) fn factor<T: Float>(j: &Jacobian<T>, kind: KernelKind) -> MatRef<'_, T> {
    match kind {
        KernelKind::Full => j.as_mat(),
        KernelKind::Traced => rm(j.data(), j.n_samples(), j.n_outputs() * j.n_params()),
    }
}

/// `K = J Jᵀ` (full) or its block trace (traced): the lower triangle by one faer product, then
/// mirrored.
pub fn kernel<T: Float>(j: &Jacobian<T>, kind: KernelKind, par: Par) -> Mat<T> {
    let f = factor(j, kind);
    let m = f.nrows();
    let mut k = Vec::new();
    gram_lower(&mut k, f, par);
    mirror(&mut k, m, Triangle::Lower, par);
    rm(&k, m, m).to_owned()
}

/// Cross kernel `J₁ J₂ᵀ` (full) or its block trace (traced). The two Jacobians must come from
/// models with the same number of parameters and outputs.
pub fn cross_kernel<T: Float>(
    j1: &Jacobian<T>,
    j2: &Jacobian<T>,
    kind: KernelKind,
    par: Par,
) -> Result<Mat<T>> {
    if (j1.n_outputs(), j1.n_params()) != (j2.n_outputs(), j2.n_params()) {
        return Err(Error::ShapeMismatch {
            what: "second Jacobian (outputs, parameters)",
            expected: (j1.n_outputs(), j1.n_params()),
            found: (j2.n_outputs(), j2.n_params()),
        });
    }
    let (f1, f2) = (factor(j1, kind), factor(j2, kind));
    let mut k = Mat::zeros(f1.nrows(), f2.nrows());
    matmul(
        k.as_mut(),
        Accum::Replace,
        f1,
        f2.transpose(),
        T::one(),
        par,
    );
    Ok(k)
}
