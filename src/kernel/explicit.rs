//! The explicit route: `K = J Jᵀ` from a materialised Jacobian.
//!
//! The centred kinds first centre each sample's `C` rows, `J_c = (I_N ⊗ P) J`
//! (`P = I_C − 11ᵀ/C`), then form the same Gram products.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::KernelKind;
use crate::buffer::rm;
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::simd::{add_assign, axpy};
use crate::symmetric::gram_into;
use crate::{Float, Jacobian};

/// Entries of the scratch [`factor`] needs for a Jacobian of `(N, C, P)` and `kind`: the
/// centred Jacobian's, or none.
pub(crate) fn centred_len((n, c, p): (usize, usize, usize), kind: KernelKind) -> usize {
    if kind.is_centred() { n * c * p } else { 0 }
}

/// Writes `J_c = (I_N ⊗ P) J` into `out` (row-major `(N·C) × P`, the first `N·C·P` entries): from
/// every row of a sample, the mean of that sample's `C` rows is subtracted.
pub(crate) fn centre_rows<T: Float>(j: &Jacobian<T>, out: &mut [T], par: Par) {
    let (c, p) = (j.n_outputs(), j.n_params());
    let len = j.n_samples() * c * p;
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

/// The factor of `kind`'s kernel for `j`, centring into `centred` (at least [`centred_len`]
/// entries) when `kind` is centred.
pub(crate) fn factor<'a, T: Float>(
    j: &'a Jacobian<T>,
    kind: KernelKind,
    centred: &'a mut [T],
    par: Par,
) -> MatRef<'a, T> {
    let shape = (j.n_samples(), j.n_outputs(), j.n_params());
    if kind.is_centred() {
        centre_rows(j, centred, par);
        factor_view(centred, shape, kind)
    } else {
        factor_view(j.data(), shape, kind)
    }
}

/// `K = J Jᵀ` (full), its block trace (traced), or the same of `J_c = (I_N ⊗ P) J` (centred
/// kinds), written into `out` (`m × m`, checked by the caller, as is the kind) through the
/// scratch `centred` (the centred Jacobian, [`centred_len`]) and `gram` (the row-major product,
/// `m²`).
pub(crate) fn kernel_into<T: Float>(
    j: &Jacobian<T>,
    kind: KernelKind,
    (centred, gram): (&mut [T], &mut [T]),
    out: MatMut<'_, T>,
    par: Par,
) {
    let f = factor(j, kind, centred, par);
    let m = f.nrows();
    gram_into(gram, f, par);
    let mut out = out;
    out.copy_from(rm(&gram[..m * m], m, m));
}

/// Cross kernel `J₁ J₂ᵀ` (full), its block trace (traced), or the same of the centred Jacobians
/// (centred kinds), written into `out` (`m₁ × m₂`, checked by the caller). The two Jacobians come
/// from one model.
pub(crate) fn cross_kernel_into<T: Float>(
    j1: &Jacobian<T>,
    j2: &Jacobian<T>,
    kind: KernelKind,
    out: MatMut<'_, T>,
    par: Par,
) {
    let shape = |j: &Jacobian<T>| (j.n_samples(), j.n_outputs(), j.n_params());
    // One-off scratch: cross kernels keep no workspace.
    let mut c1 = vec![T::zero(); centred_len(shape(j1), kind)];
    let mut c2 = vec![T::zero(); centred_len(shape(j2), kind)];
    let (f1, f2) = (
        factor(j1, kind, &mut c1, par),
        factor(j2, kind, &mut c2, par),
    );
    matmul(out, Accum::Replace, f1, f2.transpose(), T::one(), par);
}
