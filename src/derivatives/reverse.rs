//! Reverse mode (vector-Jacobian products), batched over samples.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::check_batch_matrix;
use crate::buffer::{ensure_len, rm, rm_mut};
use crate::error::{check_finite, check_finite_mat};
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::{Architecture, Error, Float, ForwardCache, Mlp, Result};

/// The result of [`vjp`]: `Σ_i J_iᵀ u_i` over the parameters, and the per-sample input gradients.
#[derive(Debug, Clone)]
pub struct Vjp<T: Float> {
    /// Gradient of `Σ_{i,c} U_ic f_c(x_i)` with respect to the flat parameters (length `P`).
    pub params: Vec<T>,
    /// Gradient of the same scalar with respect to the inputs (`N × d`).
    pub inputs: Mat<T>,
}

/// Reverse-mode product: for output cotangents `U` (`N × C`), the gradient of
/// `Σ_{i,c} U_ic f_c(x_i)` with respect to the parameters and the inputs.
pub fn vjp<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    cotangent: MatRef<'_, T>,
    par: Par,
) -> Result<Vjp<T>> {
    let mut params = vec![T::zero(); mlp.n_params()];
    let mut inputs = Mat::zeros(cache.n, mlp.arch().input_dim());
    vjp_into(
        mlp,
        cache,
        cotangent,
        &mut params,
        Some(inputs.as_mut()),
        par,
    )?;
    Ok(Vjp { params, inputs })
}

/// [`vjp`] writing into caller-owned outputs: `grad_params` (length `P`, overwritten) and,
/// if given, `grad_inputs` (`N × d`, overwritten).
///
/// A gradient that overflows is [`Error::NonFinite`] (`"parameter gradient"` or
/// `"input gradient"`); the outputs then hold what was computed.
pub fn vjp_into<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    cotangent: MatRef<'_, T>,
    grad_params: &mut [T],
    grad_inputs: Option<MatMut<'_, T>>,
    par: Par,
) -> Result<()> {
    let mut scratch = VjpScratch::default();
    vjp_into_scratch(
        mlp,
        cache,
        cotangent,
        grad_params,
        grad_inputs,
        &mut scratch,
        par,
    )
}

/// The two signal buffers of a backward pass, kept by callers that repeat it (the training
/// step), so that a VJP allocates nothing once they are large enough.
#[derive(Debug, Clone, Default)]
pub(crate) struct VjpScratch<T: Float> {
    g: Vec<T>,
    g_prev: Vec<T>,
}

impl<T: Float> VjpScratch<T> {
    /// Room for a backward pass over `n` samples.
    fn reserve(&mut self, arch: &Architecture, n: usize) {
        ensure_len(&mut self.g, n * arch.max_width());
        ensure_len(&mut self.g_prev, n * arch.max_width());
    }
}

/// [`vjp_into`] with caller-owned scratch.
pub(crate) fn vjp_into_scratch<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    cotangent: MatRef<'_, T>,
    grad_params: &mut [T],
    grad_inputs: Option<MatMut<'_, T>>,
    scratch: &mut VjpScratch<T>,
    par: Par,
) -> Result<()> {
    let arch = mlp.arch();
    check_batch_matrix("cotangent", mlp, cache, cotangent, arch.output_dim())?;
    if grad_params.len() != mlp.n_params() {
        return Err(Error::ShapeMismatch {
            what: "parameter gradient",
            expected: (mlp.n_params(), 1),
            found: (grad_params.len(), 1),
        });
    }
    if let Some(g) = &grad_inputs {
        if (g.nrows(), g.ncols()) != (cache.n, arch.input_dim()) {
            return Err(Error::ShapeMismatch {
                what: "input gradient",
                expected: (cache.n, arch.input_dim()),
                found: (g.nrows(), g.ncols()),
            });
        }
    }
    let mut grad_inputs = grad_inputs;
    backward(
        mlp,
        cache,
        cotangent,
        grad_params,
        grad_inputs.as_mut().map(|g| g.as_mut()),
        scratch,
        par,
    );
    check_finite("parameter gradient", grad_params)?;
    if let Some(gi) = &grad_inputs {
        check_finite_mat("input gradient", gi.as_ref())?;
    }
    Ok(())
}

/// The backward pass of [`vjp_into`].
fn backward<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    cotangent: MatRef<'_, T>,
    grad_params: &mut [T],
    grad_inputs: Option<MatMut<'_, T>>,
    scratch: &mut VjpScratch<T>,
    par: Par,
) {
    let arch = mlp.arch();
    let n = cache.n;
    let widths = arch.widths();
    scratch.reserve(arch, n);
    let VjpScratch { g, g_prev } = scratch;
    rm_mut(g, n, widths[arch.n_layers()]).copy_from(cotangent);
    for l in (0..arch.n_layers()).rev() {
        let (n_in, n_out) = (widths[l], widths[l + 1]);
        let gl = rm(g, n, n_out);
        // ∂/∂W = gᵀ a, ∂/∂b = Σ_i g_i
        matmul(
            rm_mut(&mut grad_params[arch.weight_range(l)], n_out, n_in),
            Accum::Replace,
            gl.transpose(),
            cache.activations(l),
            T::one(),
            par,
        );
        let gb = &mut grad_params[arch.bias_range(l)];
        gb.fill(T::zero());
        for row in g[..n * n_out].chunks_exact(n_out) {
            crate::simd::add_assign(gb, row);
        }
        if l == 0 {
            if let Some(gi) = grad_inputs {
                matmul(gi, Accum::Replace, gl, mlp.weights(0), T::one(), par);
            }
            break;
        }
        // g ← (g W) ∘ σ'(z^{l})
        matmul(
            rm_mut(g_prev, n, n_in),
            Accum::Replace,
            gl,
            mlp.weights(l),
            T::one(),
            par,
        );
        let d1 = &cache.d1[l - 1];
        for_each_chunk(
            par,
            &mut g_prev[..n * n_in],
            BLOCK_ROWS * n_in,
            |b, chunk| {
                let start = b * BLOCK_ROWS * n_in;
                crate::simd::mul_assign(chunk, &d1[start..start + chunk.len()]);
            },
        );
        std::mem::swap(g, g_prev);
    }
}
