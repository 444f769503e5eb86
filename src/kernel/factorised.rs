//! The factorised route: `K = Σ_l S_D^l ∘ expand(S_A^{l−1} + 1)` without forming `J`.
//!
//! `S_D^l = D^l D^lᵀ` is the Gram matrix of the backpropagated signals of layer `l` and
//! `S_A^{l−1} = A^{l−1} A^{l−1}ᵀ` that of the activations entering it (the `+1` is the bias).
//! The output layer's signals are unit vectors, so its `S_D` is `[c = c']` (full kernel) or the
//! constant `C` (traced kernel). Cost `(N·C)² Σ_l n_l + N² Σ_l n_{l−1}` instead of `(N·C)² P`.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! use mgs::kernel::{KernelKind, factorised};
//! let arch = Architecture::new(4, &[(32, Activation::GeluErf)], 1)?;
//! let mlp = Mlp::<f32>::init(arch, Init::HeNormal, &mut rng_from_seed(5))?;
//! let x = Mat::from_fn(8, 4, |i, j| (i * j) as f32 * 0.1);
//! let k = factorised::kernel(&mlp, x.as_ref(), KernelKind::Traced, Par::Seq)?;
//! assert_eq!((k.nrows(), k.ncols()), (8, 8));
//! assert!(k[(0, 0)] > 0.0);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};

use super::KernelKind;
use super::hadamard::{Blocks, Left, accumulate_layer};
use crate::derivatives::Signals;
use crate::mlp::{ensure_len, rm, rm_mut};
use crate::symmetric::{Triangle, mirror};
use crate::{Float, ForwardCache, Mlp, Result};

/// The factorised MGS kernel of `mlp` on `x` (`N × d`).
pub fn kernel<T: Float>(
    mlp: &Mlp<T>,
    x: MatRef<'_, T>,
    kind: KernelKind,
    par: Par,
) -> Result<Mat<T>> {
    let cache = mlp.forward_cached(x, par)?;
    let signals = Signals::compute(mlp, &cache, par)?;
    let m = kind.order(cache.n, mlp.arch().output_dim());
    let (mut k, mut sa, mut sd) = (Vec::new(), Vec::new(), Vec::new());
    kernel_into(&cache, &signals, kind, &mut k, &mut sa, &mut sd, par);
    Ok(rm(&k, m, m).to_owned())
}

/// The signal factor of hidden layer `h` for `kind`: `(N·C) × n` (full) or `N × (C·n)` (traced).
pub(crate) fn signal_factor<T: Float>(
    signals: &Signals<T>,
    h: usize,
    kind: KernelKind,
) -> MatRef<'_, T> {
    match kind {
        KernelKind::Full => signals.layer(h),
        KernelKind::Traced => signals.layer_by_sample(h),
    }
}

/// Lower-triangular Gram `dst = f fᵀ` (row-major, `f.nrows()²`); the upper triangle is left as is.
pub(crate) fn gram_lower<T: Float>(dst: &mut Vec<T>, f: MatRef<'_, T>, par: Par) {
    let m = f.nrows();
    ensure_len(dst, m * m);
    triangular::matmul(
        rm_mut(dst, m, m),
        BlockStructure::TriangularLower,
        Accum::Replace,
        f,
        BlockStructure::Rectangular,
        f.transpose(),
        BlockStructure::Rectangular,
        T::one(),
        par,
    );
}

/// The output layer's signal Gram: `[c = c']` (full kernel) or the constant `C` (traced).
fn output_layer_left<'a, T: Float>(kind: KernelKind, c: usize) -> Left<'a, T> {
    match kind {
        KernelKind::Full => Left::OutputIdentity,
        KernelKind::Traced => Left::Constant(T::from_f64(c as f64)),
    }
}

/// Writes the kernel into `k` (row-major `m × m`, both triangles); buffers only grow.
///
/// Leaves behind what the penalty's backward pass needs again: `sa[l]` holds the lower triangle
/// of `S_A^l` for every layer input `l`, and `sd` that of the last hidden layer's `S_D` (layers
/// are visited first to last).
pub(crate) fn kernel_into<T: Float>(
    cache: &ForwardCache<T>,
    signals: &Signals<T>,
    kind: KernelKind,
    k: &mut Vec<T>,
    sa: &mut Vec<Vec<T>>,
    sd: &mut Vec<T>,
    par: Par,
) {
    let (n, c) = (cache.n, signals.c);
    let n_layers = cache.widths.len() - 1;
    let m = kind.order(n, c);
    let rep = m / n;
    ensure_len(k, m * m);
    k[..m * m].fill(T::zero());
    sa.resize_with(n_layers, Vec::new);
    for (l, sa) in sa.iter_mut().enumerate() {
        gram_lower(sa, cache.activations(l), par);
        let left = if l + 1 < n_layers {
            gram_lower(sd, signal_factor(signals, l, kind), par);
            Left::Gram(&sd[..m * m])
        } else {
            output_layer_left(kind, c)
        };
        accumulate_layer(
            par,
            k,
            Blocks {
                rows: m,
                cols: m,
                rep,
                lower: true,
            },
            left,
            &sa[..n * n],
        );
    }
    mirror(k, m, Triangle::Lower, par);
}

/// The factorised cross kernel between `x1` (`N₁ × d`) and `x2` (`N₂ × d`).
pub fn cross_kernel<T: Float>(
    mlp: &Mlp<T>,
    x1: MatRef<'_, T>,
    x2: MatRef<'_, T>,
    kind: KernelKind,
    par: Par,
) -> Result<Mat<T>> {
    let c1 = mlp.forward_cached(x1, par)?;
    let c2 = mlp.forward_cached(x2, par)?;
    let s1 = Signals::compute(mlp, &c1, par)?;
    let s2 = Signals::compute(mlp, &c2, par)?;
    let c = mlp.arch().output_dim();
    let (n1, n2) = (c1.n, c2.n);
    let (m1, m2) = (kind.order(n1, c), kind.order(n2, c));
    let rep = m1 / n1;
    let n_layers = mlp.arch().n_layers();
    let mut k = vec![T::zero(); m1 * m2];
    let mut sa = vec![T::zero(); n1 * n2];
    let mut sd = vec![T::zero(); m1 * m2];
    for l in 0..n_layers {
        matmul(
            rm_mut(&mut sa, n1, n2),
            Accum::Replace,
            c1.activations(l),
            c2.activations(l).transpose(),
            T::one(),
            par,
        );
        let left = if l + 1 < n_layers {
            matmul(
                rm_mut(&mut sd, m1, m2),
                Accum::Replace,
                signal_factor(&s1, l, kind),
                signal_factor(&s2, l, kind).transpose(),
                T::one(),
                par,
            );
            Left::Gram(&sd)
        } else {
            output_layer_left(kind, c)
        };
        let shape = Blocks {
            rows: m1,
            cols: m2,
            rep,
            lower: false,
        };
        accumulate_layer(par, &mut k, shape, left, &sa);
    }
    Ok(rm(&k, m1, m2).to_owned())
}
