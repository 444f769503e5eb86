//! Forward mode (Jacobian-vector products), batched over samples.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use super::{check_batch_matrix, check_cache};
use crate::buffer::{rm, rm_mut};
use crate::error::check_finite;
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::{Error, Float, ForwardCache, Mlp, Result};

/// Forward-mode product: the output tangents `ḟ(x_i) = J_i θ̇ + (∂f/∂x)(x_i) ẋ_i` (`N × C`) for a
/// parameter tangent `θ̇` (length `P`) and/or input tangents `Ẋ` (`N × d`); a missing tangent
/// counts as zero.
///
/// Propagates `ż^l = Ẇ^l a^{l−1} + W^l ȧ^{l−1} + ḃ^l`, `ȧ^l = σ'(z^l) ∘ ż^l` with batched GEMMs.
/// Output tangents that overflow are [`Error::NonFinite`] (`"output tangent"`).
pub fn jvp<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    param_tangent: Option<&[T]>,
    input_tangent: Option<MatRef<'_, T>>,
    par: Par,
) -> Result<Mat<T>> {
    let arch = mlp.arch();
    check_cache(mlp, cache)?;
    if let Some(v) = param_tangent {
        if v.len() != mlp.n_params() {
            return Err(Error::ShapeMismatch {
                what: "parameter tangent",
                expected: (mlp.n_params(), 1),
                found: (v.len(), 1),
            });
        }
        check_finite("parameter tangent", v)?;
    }
    if let Some(xt) = input_tangent {
        check_batch_matrix("input tangent", mlp, cache, xt, arch.input_dim())?;
    }
    let n = cache.n;
    let widths = arch.widths();
    let max_w = arch.max_width();
    let mut at = vec![T::zero(); n * max_w];
    let mut zt = vec![T::zero(); n * max_w];
    if let Some(xt) = input_tangent {
        rm_mut(&mut at, n, widths[0]).copy_from(xt);
    }
    let mut have_at = input_tangent.is_some();
    for l in 0..arch.n_layers() {
        let (n_in, n_out) = (widths[l], widths[l + 1]);
        rm_mut(&mut zt, n, n_out).fill(T::zero());
        if have_at {
            matmul(
                rm_mut(&mut zt, n, n_out),
                Accum::Add,
                rm(&at, n, n_in),
                mlp.weights(l).transpose(),
                T::one(),
                par,
            );
        }
        if let Some(v) = param_tangent {
            let wt = rm(&v[arch.weight_range(l)], n_out, n_in);
            matmul(
                rm_mut(&mut zt, n, n_out),
                Accum::Add,
                cache.activations(l),
                wt.transpose(),
                T::one(),
                par,
            );
            let bt = &v[arch.bias_range(l)];
            for_each_chunk(par, &mut zt[..n * n_out], BLOCK_ROWS * n_out, |_, rows| {
                for row in rows.chunks_exact_mut(n_out) {
                    crate::simd::add_assign(row, bt);
                }
            });
        }
        if l + 1 < arch.n_layers() {
            let d1 = &cache.d1[l];
            for_each_chunk(par, &mut zt[..n * n_out], BLOCK_ROWS * n_out, |b, chunk| {
                let start = b * BLOCK_ROWS * n_out;
                crate::simd::mul_assign(chunk, &d1[start..start + chunk.len()]);
            });
            std::mem::swap(&mut at, &mut zt);
            have_at = true;
        }
    }
    let c = arch.output_dim();
    check_finite("output tangent", &zt[..n * c])?;
    Ok(rm(&zt, n, c).to_owned())
}
