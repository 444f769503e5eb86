//! Route A: the penalty gradient through the explicit Jacobian and forward-over-reverse
//! Hessian-vector products, `∇_θ g = 2 Σ_r H_r (G J)_r`.
//!
//! Centred kinds: `K = F_c F_cᵀ` with `F_c` the factor of `J_c = (I_N ⊗ P) J`, so
//! `∇_θ g = 2 Σ_r H^c_r (G F_c)_r` where `H^c_{(i,c)} = ∇²_θ (f_c − f̄)(x_i)`: the same
//! Hessian-vector products with the output cotangent `P e_c` instead of `e_c`.

use faer::linalg::matmul::matmul;
use faer::{Accum, Par};

use super::Workspace;
use crate::buffer::{ensure_len, rm, rm_mut};
use crate::derivatives::{HvpRows, hvp_rows};
use crate::kernel::{KernelKind, explicit};
use crate::{Float, ForwardCache, Jacobian, Mlp, Result};

/// Route A's buffers: the Jacobian of the last call (and its centred copy), `G J`, output
/// cotangents, HVP partial sums.
#[derive(Default)]
pub(crate) struct Buffers<T: Float> {
    jacobian: Option<Jacobian<T>>,
    centred: Vec<T>,
    gj: Vec<T>,
    unit_cotangents: Vec<T>,
    partials: Vec<T>,
}

/// Forms `J` (and `J_c` for the centred kinds) and writes the kernel into `k` (row-major).
pub(crate) fn kernel<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    kind: KernelKind,
    buf: &mut Buffers<T>,
    k: &mut Vec<T>,
    par: Par,
) -> Result<()> {
    let j = Jacobian::reverse_from_cache(mlp, cache, par)?;
    crate::symmetric::gram_into(k, explicit::factor(&j, kind, &mut buf.centred, par), par);
    buf.jacobian = Some(j);
    Ok(())
}

/// `grad = 2 Σ_r H_r (G F)_r` where `F` is `J` or `J_c` (full kinds) or the same viewed
/// `N × (C·P)` (traced): in all cases the rows of `G F`, read as `(N·C) × P`, are the tangents of
/// the rows `(i, c)`, whose cotangents are `e_c` (or `P e_c` when centred).
pub(crate) fn gradient<T: Float>(
    mlp: &Mlp<T>,
    ws: &mut Workspace<T>,
    kind: KernelKind,
    grad: &mut [T],
    par: Par,
) {
    let buf = &mut ws.explicit;
    let j = buf
        .jacobian
        .as_ref()
        .expect("the explicit kernel ran before its gradient");
    let (n, c, p) = (j.n_samples(), j.n_outputs(), j.n_params());
    let data = if kind.is_centred() {
        &buf.centred[..n * c * p]
    } else {
        j.data()
    };
    let f = explicit::factor_view(data, (n, c, p), kind);
    let (m, cols) = (f.nrows(), f.ncols());
    ensure_len(&mut buf.gj, m * cols);
    matmul(
        rm_mut(&mut buf.gj, m, cols),
        Accum::Replace,
        rm(&ws.g, m, m),
        f,
        T::one(),
        par,
    );
    ensure_len(&mut buf.unit_cotangents, n * c * c);
    let units = &mut buf.unit_cotangents[..n * c * c];
    let (on, off) = if kind.is_centred() {
        let kappa = 1.0 / c as f64;
        (T::from_f64(1.0 - kappa), T::from_f64(-kappa))
    } else {
        (T::one(), T::zero())
    };
    units.fill(off);
    for r in 0..n * c {
        units[r * c + r % c] = on;
    }
    hvp_rows(
        mlp,
        &ws.cache,
        HvpRows {
            rows_per_sample: c,
            cotangents: units,
            tangents: &buf.gj[..n * c * p],
            tangent_stride: p,
        },
        grad,
        &mut buf.partials,
        par,
    );
    let two = T::one() + T::one();
    for v in grad.iter_mut() {
        *v *= two;
    }
}
