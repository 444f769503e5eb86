//! The explicit route: `K = J Jᵀ` from a materialised Jacobian.
//!
//! The centred kinds first centre each sample's `C` rows, `J_c = (I_N ⊗ P) J`
//! (`P = I_C − 11ᵀ/C`), then form the same Gram products.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Jacobian, Mlp, rng_from_seed};
//! use mgs::kernel::{KernelKind, explicit};
//! let arch = Architecture::new(2, &[(4, Activation::Sigmoid)], 3)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierUniform, &mut rng_from_seed(4))?;
//! let x = Mat::from_fn(5, 2, |i, j| (i as f64) - (j as f64));
//! let j = Jacobian::reverse(&mlp, x.as_ref(), Par::Seq)?;
//! let full = explicit::kernel(&j, KernelKind::Full, Par::Seq)?;
//! let traced = explicit::kernel(&j, KernelKind::Traced, Par::Seq)?;
//! // The traced kernel is the block trace of the full one.
//! let s: f64 = (0..3).map(|c| full[(3 + c, 6 + c)]).sum();
//! assert!((traced[(1, 2)] - s).abs() < 1e-12);
//! // Centred: every sample's block of rows sums to zero.
//! let centred = explicit::kernel(&j, KernelKind::CentredFull, Par::Seq)?;
//! let row_block: f64 = (0..3).map(|c| centred[(3 + c, 7)]).sum();
//! assert!(row_block.abs() < 1e-12 * centred[(7, 7)]);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use super::KernelKind;
use super::factorised::gram_lower;
use crate::mlp::{ensure_len, rm};
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::simd::{add_assign, axpy};
use crate::symmetric::{Triangle, mirror};
use crate::{Error, Float, Jacobian, Result};

/// Writes `J_c = (I_N ⊗ P) J` into `out` (row-major `(N·C) × P`): from every row of a sample,
/// the mean of that sample's `C` rows is subtracted.
pub(crate) fn centre_rows<T: Float>(j: &Jacobian<T>, out: &mut Vec<T>, par: Par) {
    let (c, p) = (j.n_outputs(), j.n_params());
    let len = j.n_samples() * c * p;
    ensure_len(out, len);
    let data = j.data();
    let minus_mean = T::from_f64(-1.0 / c as f64);
    for_each_chunk(par, &mut out[..len], BLOCK_ROWS * c * p, |b, chunk| {
        let mut sum = vec![T::zero(); p];
        for (q, rows) in chunk.chunks_exact_mut(c * p).enumerate() {
            let i = b * BLOCK_ROWS + q;
            let src = &data[i * c * p..(i + 1) * c * p];
            sum.fill(T::zero());
            for row in src.chunks_exact(p) {
                add_assign(&mut sum, row);
            }
            rows.copy_from_slice(src);
            for row in rows.chunks_exact_mut(p) {
                axpy(row, minus_mean, &sum);
            }
        }
    });
}

/// The kernel's factor `F` (`K = F Fᵀ`) over Jacobian-shaped data (row-major `(N·C) × P`: `J`,
/// or `J_c` for the centred kinds): `(N·C) × P` for the full kinds, `N × (C·P)` for the traced
/// ones (the sample-major row order makes the second a free reshape).
pub(crate) fn factor_view<T: Float>(
    data: &[T],
    (n, c, p): (usize, usize, usize),
    kind: KernelKind,
) -> MatRef<'_, T> {
    if kind.is_traced() {
        rm(data, n, c * p)
    } else {
        rm(data, n * c, p)
    }
}

/// The factor of `kind`'s kernel for `j`, centring into `centred` when `kind` is centred.
pub(crate) fn factor<'a, T: Float>(
    j: &'a Jacobian<T>,
    kind: KernelKind,
    centred: &'a mut Vec<T>,
    par: Par,
) -> MatRef<'a, T> {
    let shape = (j.n_samples(), j.n_outputs(), j.n_params());
    if kind.is_centred() {
        centre_rows(j, centred, par);
        factor_view(&centred[..], shape, kind)
    } else {
        factor_view(j.data(), shape, kind)
    }
}

/// `F Fᵀ` into `k` (row-major `m × m`, both triangles): the lower triangle by one faer product,
/// then mirrored.
pub(crate) fn gram_into<T: Float>(k: &mut Vec<T>, f: MatRef<'_, T>, par: Par) {
    gram_lower(k, f, par);
    mirror(k, f.nrows(), Triangle::Lower, par);
}

/// `K = J Jᵀ` (full), its block trace (traced), or the same of `J_c = (I_N ⊗ P) J` (centred
/// kinds). Fails for a centred kind with one output.
pub fn kernel<T: Float>(j: &Jacobian<T>, kind: KernelKind, par: Par) -> Result<Mat<T>> {
    kind.check_outputs(j.n_outputs())?;
    let mut centred = Vec::new();
    let f = factor(j, kind, &mut centred, par);
    let m = f.nrows();
    let mut k = Vec::new();
    gram_into(&mut k, f, par);
    let k = rm(&k, m, m).to_owned();
    crate::error::check_finite_mat("kernel", k.as_ref())?;
    Ok(k)
}

/// Cross kernel `J₁ J₂ᵀ` (full), its block trace (traced), or the same of the centred Jacobians
/// (centred kinds). The two Jacobians must come from models with the same number of parameters
/// and outputs.
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
    kind.check_outputs(j1.n_outputs())?;
    let (mut c1, mut c2) = (Vec::new(), Vec::new());
    let (f1, f2) = (
        factor(j1, kind, &mut c1, par),
        factor(j2, kind, &mut c2, par),
    );
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
