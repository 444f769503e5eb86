//! Forward-over-reverse Hessian-vector products with respect to the parameters.

use faer::{MatRef, Par};

use super::check_batch_matrix;
use crate::error::check_finite;
use crate::parallel::reduce_blocks;
use crate::simd::{axpy, dot, mul_assign};
use crate::{Error, Float, ForwardCache, Mlp, Result};

/// Rows per block of the per-row Hessian-vector work (fixed: the reduction order depends on it).
const HVP_BLOCK: usize = 16;

/// Hessian-vector product `Σ_i ∇²_θ (u_iᵀ f(x_i)) · v` for output cotangents `U` (`N × C`) and a
/// parameter tangent `v` (length `P`).
///
/// Differentiates the backward pass along `v` (forward-over-reverse): the tangent of the
/// backpropagated signal picks up `σ''(z) ∘ ż`; see `docs/math.md`. A product that overflows is
/// [`Error::NonFinite`]; one whose scratch exceeds the memory limit is [`Error::TooLarge`].
pub fn hvp<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    cotangent: MatRef<'_, T>,
    tangent: &[T],
    par: Par,
) -> Result<Vec<T>> {
    let c = mlp.arch().output_dim();
    check_batch_matrix("cotangent", mlp, cache, cotangent, c)?;
    if tangent.len() != mlp.n_params() {
        return Err(Error::ShapeMismatch {
            what: "parameter tangent",
            expected: (mlp.n_params(), 1),
            found: (tangent.len(), 1),
        });
    }
    check_finite("parameter tangent", tangent)?;
    let n = cache.n;
    crate::limits::Request::Hvp { n }.check::<T>(mlp.arch())?;
    let mut u = vec![T::zero(); n * c];
    crate::buffer::rm_mut(&mut u, n, c).copy_from(cotangent);
    let mut out = vec![T::zero(); mlp.n_params()];
    let mut partials = vec![T::zero(); hvp_partials_len(n, mlp.n_params())];
    hvp_rows(
        mlp,
        cache,
        HvpRows {
            rows_per_sample: 1,
            cotangents: &u,
            tangents: tangent,
            tangent_stride: 0,
        },
        &mut out,
        &mut partials,
        par,
    );
    check_finite("Hessian-vector product", &out)?;
    Ok(out)
}

/// Rows of a batched Hessian-vector product `Σ_r ∇²_θ(u_rᵀ f(x_{i(r)})) v_r`.
pub(crate) struct HvpRows<'a, T> {
    /// Row `r` uses sample `r / rows_per_sample`.
    pub rows_per_sample: usize,
    /// `u_r`, `n_rows × C` row-major.
    pub cotangents: &'a [T],
    /// `v_r` at offset `r · tangent_stride` (stride 0: one tangent for all rows).
    pub tangents: &'a [T],
    /// `P` for one tangent per row, `0` for a shared tangent.
    pub tangent_stride: usize,
}

/// Entries of the `partials` scratch of [`hvp_rows`] for `n_rows` rows and `P` parameters.
pub(crate) fn hvp_partials_len(n_rows: usize, p: usize) -> usize {
    n_rows.div_ceil(HVP_BLOCK) * p
}

/// Computes `Σ_r ∇²_θ(u_rᵀ f(x_{i(r)})) v_r` into `out` (length `P`). `partials` (at least
/// [`hvp_partials_len`] entries) is kept by the caller so that repeated calls do not allocate.
pub(crate) fn hvp_rows<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    rows: HvpRows<'_, T>,
    out: &mut [T],
    partials: &mut [T],
    par: Par,
) {
    let arch = mlp.arch();
    let widths = arch.widths();
    let n_layers = arch.n_layers();
    let c = arch.output_dim();
    let p = mlp.n_params();
    let n_rows = rows.cotangents.len() / c;
    let n_blocks = n_rows.div_ceil(HVP_BLOCK);
    let sum_w: usize = widths.iter().sum();
    let max_w = arch.max_width();
    let theta = mlp.params();

    reduce_blocks(par, n_blocks, p, partials, out, |b, acc| {
        // Per-block scratch: tangents ż, ȧ of every layer, and the reverse-pass vectors.
        let mut zdot = vec![T::zero(); sum_w];
        let mut adot = vec![T::zero(); sum_w];
        let mut offs = Vec::with_capacity(widths.len());
        let mut o = 0;
        for &w in widths {
            offs.push(o);
            o += w;
        }
        let [mut g, mut gdot, mut t, mut tdot] = std::array::from_fn(|_| vec![T::zero(); max_w]);
        for r in b * HVP_BLOCK..((b + 1) * HVP_BLOCK).min(n_rows) {
            let i = r / rows.rows_per_sample;
            let v = &rows.tangents[r * rows.tangent_stride..r * rows.tangent_stride + p];
            // Forward tangent pass (ȧ^0 = 0).
            adot[..widths[0]].fill(T::zero());
            for l in 0..n_layers {
                let (n_in, n_out) = (widths[l], widths[l + 1]);
                let a = &cache.acts[l][i * n_in..(i + 1) * n_in];
                let wr = arch.weight_range(l);
                let (w, wdot) = (&theta[wr.clone()], &v[wr]);
                let bdot = &v[arch.bias_range(l)];
                let (ad_lo, rest) = adot.split_at_mut(offs[l + 1]);
                let ad = &ad_lo[offs[l]..];
                let zd = &mut zdot[offs[l + 1]..offs[l + 1] + n_out];
                for k in 0..n_out {
                    let mut s = dot(&wdot[k * n_in..(k + 1) * n_in], a) + bdot[k];
                    if l > 0 {
                        s += dot(&w[k * n_in..(k + 1) * n_in], ad);
                    }
                    zd[k] = s;
                }
                if l + 1 < n_layers {
                    let an = &mut rest[..n_out];
                    an.copy_from_slice(zd);
                    mul_assign(an, &cache.d1[l][i * n_out..(i + 1) * n_out]);
                }
            }
            // Reverse pass and its tangent.
            g[..c].copy_from_slice(&rows.cotangents[r * c..(r + 1) * c]);
            gdot[..c].fill(T::zero());
            for l in (0..n_layers).rev() {
                let (n_in, n_out) = (widths[l], widths[l + 1]);
                let a = &cache.acts[l][i * n_in..(i + 1) * n_in];
                let ad = &adot[offs[l]..offs[l] + n_in];
                let wr = arch.weight_range(l);
                let acc_w = &mut acc[wr.clone()];
                for k in 0..n_out {
                    let row = &mut acc_w[k * n_in..(k + 1) * n_in];
                    axpy(row, gdot[k], a);
                    if l > 0 {
                        axpy(row, g[k], ad);
                    }
                }
                axpy(&mut acc[arch.bias_range(l)], T::one(), &gdot[..n_out]);
                if l == 0 {
                    break;
                }
                let (w, wdot) = (&theta[wr.clone()], &v[wr]);
                t[..n_in].fill(T::zero());
                tdot[..n_in].fill(T::zero());
                for k in 0..n_out {
                    axpy(&mut t[..n_in], g[k], &w[k * n_in..(k + 1) * n_in]);
                    axpy(&mut tdot[..n_in], g[k], &wdot[k * n_in..(k + 1) * n_in]);
                    axpy(&mut tdot[..n_in], gdot[k], &w[k * n_in..(k + 1) * n_in]);
                }
                let h = l - 1;
                let d1 = &cache.d1[h][i * n_in..(i + 1) * n_in];
                let d2 = &cache.d2[h][i * n_in..(i + 1) * n_in];
                let zd = &zdot[offs[l]..offs[l] + n_in];
                for k in 0..n_in {
                    g[k] = d1[k] * t[k];
                    gdot[k] = d2[k] * zd[k] * t[k] + d1[k] * tdot[k];
                }
            }
        }
    });
}
