//! Route A: the penalty gradient through the explicit Jacobian and forward-over-reverse
//! Hessian-vector products, `∇_θ g = 2 Σ_r H_r (G J)_r`.

use faer::linalg::matmul::matmul;
use faer::{Accum, Par};

use super::Workspace;
use crate::derivatives::{HvpRows, hvp_rows};
use crate::kernel::{KernelKind, explicit};
use crate::mlp::{ensure_len, rm, rm_mut};
use crate::{Float, ForwardCache, Jacobian, Mlp, Result};

/// Route A's buffers: the Jacobian of the last call, `G J`, unit cotangents, HVP partial sums.
#[derive(Default)]
pub(crate) struct Buffers<T: Float> {
    jacobian: Option<Jacobian<T>>,
    gj: Vec<T>,
    unit_cotangents: Vec<T>,
    partials: Vec<T>,
}

/// Forms `J` and writes the kernel `J Jᵀ` (or its block trace) into `k` (row-major).
pub(crate) fn kernel<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    kind: KernelKind,
    buf: &mut Buffers<T>,
    k: &mut Vec<T>,
    par: Par,
) -> Result<()> {
    let j = Jacobian::reverse_from_cache(mlp, cache, par)?;
    let kmat = explicit::kernel(&j, kind, par);
    let m = kmat.nrows();
    ensure_len(k, m * m);
    rm_mut(k, m, m).copy_from(kmat.as_ref());
    buf.jacobian = Some(j);
    Ok(())
}

/// `grad = 2 Σ_r H_r (G F)_r` where `F` is `J` (full kernel) or `J` viewed `N × (C·P)` (traced):
/// in both cases the rows of `G F`, read as `(N·C) × P`, are the tangents of the rows `(i, c)`.
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
    let f = explicit::factor(j, kind);
    let (m, cols) = (f.nrows(), f.ncols());
    let (n, c, p) = (j.n_samples(), j.n_outputs(), j.n_params());
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
    units.fill(T::zero());
    for r in 0..n * c {
        units[r * c + r % c] = T::one();
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
