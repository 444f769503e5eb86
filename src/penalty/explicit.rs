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
use crate::derivatives::{HvpRows, Signals, hvp_partials_len, hvp_rows};
use crate::kernel::{KernelKind, explicit};
use crate::{Architecture, Float, ForwardCache, Jacobian, Mlp, Result};

/// Route A's buffers: the Jacobian of the last call (and its centred copy), `G J`, output
/// cotangents, HVP partial sums.
#[derive(Default)]
pub(crate) struct Buffers<T: Float> {
    jacobian: Jacobian<T>,
    centred: Vec<T>,
    gj: Vec<T>,
    unit_cotangents: Vec<T>,
    partials: Vec<T>,
}

impl<T: Float> Buffers<T> {
    /// Room for `kind`'s kernel of `n` samples (and for its gradient, with `gradient`); the
    /// Jacobian sizes itself as it is computed.
    pub(crate) fn reserve(
        &mut self,
        arch: &Architecture,
        kind: KernelKind,
        n: usize,
        gradient: bool,
    ) {
        let (c, p) = (arch.output_dim(), arch.n_params());
        ensure_len(&mut self.centred, explicit::centred_len((n, c, p), kind));
        if gradient {
            ensure_len(&mut self.gj, n * c * p);
            ensure_len(&mut self.unit_cotangents, n * c * c);
            ensure_len(&mut self.partials, hvp_partials_len(n * c, p));
        }
    }
}

/// Forms `J` (through the signals' buffers, and `J_c` for the centred kinds) and writes the kernel into `k` (row-major, `m²`
/// entries).
pub(crate) fn kernel<T: Float>(
    mlp: &Mlp<T>,
    (cache, signals): (&ForwardCache<T>, &mut Signals<T>),
    kind: KernelKind,
    buf: &mut Buffers<T>,
    k: &mut [T],
    par: Par,
) -> Result<()> {
    buf.jacobian.fill_reverse(mlp, cache, signals, par)?;
    let f = explicit::factor(&buf.jacobian, kind, &mut buf.centred, par);
    crate::symmetric::gram_into(k, f, par);
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
    let j = &buf.jacobian;
    let (n, c, p) = (j.n_samples(), j.n_outputs(), j.n_params());
    let data = if kind.is_centred() {
        &buf.centred[..n * c * p]
    } else {
        j.data()
    };
    let f = explicit::factor_view(data, (n, c, p), kind);
    let (m, cols) = (f.nrows(), f.ncols());
    matmul(
        rm_mut(&mut buf.gj, m, cols),
        Accum::Replace,
        rm(&ws.g, m, m),
        f,
        T::one(),
        par,
    );
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
