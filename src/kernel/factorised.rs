//! The factorised route: `K = Σ_l S_D^l ∘ expand(S_A^{l−1} + 1)` without forming `J`.
//!
//! `S_D^l = D^l D^lᵀ` is the Gram matrix of the backpropagated signals of layer `l` and
//! `S_A^{l−1} = A^{l−1} A^{l−1}ᵀ` that of the activations entering it (the `+1` is the bias).
//! The output layer's signals are unit vectors, so its `S_D` is `[c = c']` (full kernel) or the
//! constant `C` (traced kernel). Cost `(N·C)² Σ_l n_l + N² Σ_l n_{l−1}` instead of `(N·C)² P`.
//!
//! **Centred kinds.** The signals are linear in the output seed, so seeding the backward
//! recursion with the rows of `S W^L` instead of `W^L` gives the signals of the outputs `S f`:
//! `S = P = I − 11ᵀ/C` for the centred full kernel (output-layer Gram `P`), and for the centred
//! traced kernel `S = Qᵀ`, an orthonormal (Helmert) basis of `1⊥`, which yields the same block
//! trace `Σ_c (P J_i)_c · (P J_j)_c = Σ_k (q_kᵀ J_i) · (q_kᵀ J_j)` from `C − 1` signal rows per
//! sample instead of `C` (output-layer constant `C − 1`). The centring itself costs `C² n_{L−1}`.
//!
//! **Per layer.** Each term `K_l = S_D^l ∘ expand(S_A^{l−1} + 1)` is the kernel of layer `l`'s
//! parameters alone; [`super::layer_kernels`] returns them.

use std::ops::Range;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::KernelKind;
use super::hadamard::{Blocks, Left, accumulate_layer, accumulate_row};
use crate::buffer::{rm, rm_mut};
use crate::derivatives::Signals;
use crate::parallel::for_each_index;
use crate::{Float, ForwardCache, Mlp, Result};

/// Forward pass and signals of `x` for `kind` into `cache` and `signals`; returns the kernel
/// order.
pub(crate) fn prepare<T: Float>(
    cache: &mut ForwardCache<T>,
    signals: &mut Signals<T>,
    mlp: &Mlp<T>,
    x: MatRef<'_, T>,
    kind: KernelKind,
    par: Par,
) -> Result<usize> {
    let c = mlp.arch().output_dim();
    kind.check_outputs(c)?;
    cache.compute(mlp, x, par)?;
    signals.compute_seeded(mlp, cache, kind.seeds(), false, par)?;
    Ok(kind.order(cache.n, c))
}

/// Writes the sum of the terms of `layers` of the kernel prepared in `cache` and `signals` into
/// `out` (`m × m`, any strides).
pub(crate) fn fill<T: Float>(
    cache: &ForwardCache<T>,
    signals: &Signals<T>,
    kind: KernelKind,
    out: MatMut<'_, T>,
    layers: Range<usize>,
    par: Par,
) {
    // K is symmetric, so it can be written through whichever orientation has unit stride.
    if out.col_stride() == 1 && out.row_stride() >= 0 {
        kernel_into(cache, signals, kind, out, None, layers, par);
    } else if out.row_stride() == 1 && out.col_stride() >= 0 {
        kernel_into(cache, signals, kind, out.transpose_mut(), None, layers, par);
    } else {
        let mut k = Mat::zeros(out.nrows(), out.ncols());
        fill(cache, signals, kind, k.as_mut(), layers, par);
        let mut out = out;
        out.copy_from(&k);
    }
}

/// The signal factor of hidden layer `h` for `kind`: `(N·s) × n` (full kinds) or `N × (s·n)`
/// (traced), `s` the signal rows per sample.
pub(crate) fn signal_factor<T: Float>(
    signals: &Signals<T>,
    h: usize,
    kind: KernelKind,
) -> MatRef<'_, T> {
    if kind.is_traced() {
        signals.layer_by_sample(h)
    } else {
        signals.layer(h)
    }
}

/// The output layer's signal Gram `S Sᵀ` for seeds `S`: `[c = c']` (full), `P_{cc'}` (centred
/// full), or its trace, the constant `s` (`C` traced, `C − 1` centred traced).
fn output_layer_left<'a, T: Float>(kind: KernelKind, signals: &Signals<T>) -> Left<'a, T> {
    match kind {
        KernelKind::Full => Left::OutputIdentity,
        KernelKind::CentredFull => Left::OutputCentred(T::from_f64(1.0 / signals.c as f64)),
        KernelKind::Traced | KernelKind::CentredTraced => {
            Left::Constant(T::from_f64(signals.c as f64))
        }
    }
}

/// Kernel rows per tile edge of the fused kernel step: big enough for efficient Gram products,
/// small enough that a tile of `K`, `S_D` and `S_A` stays in L2 and that a few hundred samples
/// already give every thread several tiles.
fn tile_rows(m: usize) -> usize {
    if m >= 1024 { 128 } else { 64 }
}

/// Tile `t` of the lower triangle of the sample grid, tiles numbered row by row ((0,0), (1,0),
/// (1,1), (2,0), …) with `ts` samples per edge: samples `i0..i1` × `j0..j1`.
struct Tile {
    i0: usize,
    i1: usize,
    j0: usize,
    j1: usize,
    diagonal: bool,
}

impl Tile {
    fn nth(t: usize, ts: usize, n: usize) -> Self {
        let ti = ((8 * t + 1).isqrt() - 1) / 2;
        let tj = t - ti * (ti + 1) / 2;
        Self {
            i0: ti * ts,
            i1: ((ti + 1) * ts).min(n),
            j0: tj * ts,
            j1: ((tj + 1) * ts).min(n),
            diagonal: ti == tj,
        }
    }
}

/// A raw base pointer shared by the tile tasks of [`kernel_into`].
#[derive(Clone, Copy)]
struct SharedPtr<T>(*mut T);
// SAFETY: the tasks of `kernel_into` write through these pointers only inside their own tile of
// the lower triangle (tiles are disjoint), and nothing else touches the buffers meanwhile.
unsafe impl<T> Send for SharedPtr<T> {}
unsafe impl<T> Sync for SharedPtr<T> {}

impl<T> SharedPtr<T> {
    /// The `rows × cols` block at `(r0, s0)` of a row-major buffer with row stride `ld`.
    ///
    /// # Safety
    /// The block must lie inside the buffer, and no other live reference may overlap it.
    unsafe fn block<'a>(
        self,
        (r0, s0): (usize, usize),
        (rows, cols): (usize, usize),
        ld: usize,
    ) -> MatMut<'a, T> {
        // SAFETY: forwarded to the caller.
        unsafe { MatMut::from_raw_parts_mut(self.0.add(r0 * ld + s0), rows, cols, ld as isize, 1) }
    }

    /// The pointer `count` elements further.
    ///
    /// # Safety
    /// The result must stay inside the buffer.
    unsafe fn offset(self, count: usize) -> Self {
        // SAFETY: forwarded to the caller.
        Self(unsafe { self.0.add(count) })
    }

    /// Copies the `rows × cols` block at `(r0, s0)` of the lower triangle of a row-major buffer
    /// with row stride `ld` onto its mirror image in the upper triangle (for a `diagonal` block,
    /// its strict lower part onto its strict upper part).
    ///
    /// # Safety
    /// Both blocks must lie inside the buffer, and no other live reference may overlap them.
    unsafe fn mirror_tile(
        self,
        (r0, s0): (usize, usize),
        (rows, cols): (usize, usize),
        diagonal: bool,
        ld: usize,
    ) where
        T: Copy,
    {
        for r in 0..rows {
            let end = if diagonal { r } else { cols };
            for s in 0..end {
                // SAFETY: forwarded to the caller.
                unsafe {
                    *self.0.add((s0 + s) * ld + r0 + r) = *self.0.add((r0 + r) * ld + s0 + s)
                };
            }
        }
    }

    /// `len` entries of row `r` from column `s0` of a row-major buffer with row stride `ld`.
    ///
    /// # Safety
    /// As for [`SharedPtr::block`].
    unsafe fn row<'a>(self, r: usize, s0: usize, len: usize, ld: usize) -> &'a mut [T] {
        // SAFETY: forwarded to the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(r * ld + s0), len) }
    }
}

/// Writes the kernel, or the sum of its terms of `layers`, into `k` (`m × m`, both triangles,
/// unit column stride).
///
/// Fused and tiled: for each tile of the lower triangle (in parallel, each tile on one thread),
/// every layer's Gram tiles are formed and at once folded into the kernel tile while all three are
/// in cache, and mirrored onto the upper triangle. With `keep = Some((sa, sd))` the Gram tiles
/// are written in place into `sa` (`S_A^l` of every layer input `l`, stacked `n_layers × N × N`)
/// and `sd` (`m × m`; both at least that long), which therefore end up holding the lower
/// triangles of every `S_A` and of the last hidden layer's `S_D`: what the penalty's backward
/// pass needs again. Without, each tile uses scratch of its own.
pub(crate) fn kernel_into<T: Float>(
    cache: &ForwardCache<T>,
    signals: &Signals<T>,
    kind: KernelKind,
    k: MatMut<'_, T>,
    keep: Option<(&mut [T], &mut [T])>,
    layers: Range<usize>,
    par: Par,
) {
    debug_assert_eq!(
        signals.seeds,
        kind.seeds(),
        "signals seeded for another kind"
    );
    let (n, c) = (cache.n, signals.c);
    let n_layers = cache.widths.len() - 1;
    let m = kind.order(n, c);
    let rep = m / n;
    assert!(k.nrows() == m && k.ncols() == m && k.col_stride() == 1 && k.row_stride() >= 0);
    let ld = k.row_stride() as usize;
    let ts = (tile_rows(m) / rep).max(1); // samples per tile edge
    let nt = n.div_ceil(ts);
    let kp = SharedPtr(k.as_ptr_mut());
    // The tiles below write through raw pointers: the layer range and the buffers' lengths are
    // safety conditions.
    assert!(layers.end <= n_layers, "layers past the model's");
    let kept = keep.map(|(sa, sd)| {
        assert!(sa.len() >= n_layers * n * n, "S_A buffer too short");
        assert!(sd.len() >= m * m, "S_D buffer too short");
        (SharedPtr(sa.as_mut_ptr()), SharedPtr(sd.as_mut_ptr()))
    });
    for_each_index(par, nt * (nt + 1) / 2, |t| {
        let tile = Tile::nth(t, ts, n);
        let (i0, i1, j0, j1, diagonal) = (tile.i0, tile.i1, tile.j0, tile.j1, tile.diagonal);
        let (r0, s0, rows, cols) = (i0 * rep, j0 * rep, (i1 - i0) * rep, (j1 - j0) * rep);
        // This tile's S_A^l (layer l at `l · sa_layer`) and S_D: in the kept buffers at the
        // tile's place, or in scratch of the tile's own size.
        let mut scratch = Vec::new();
        // SAFETY (every raw access below): the tile (r0..r0 + rows) × (s0..s0 + cols) of K and
        // S_D, its mirror image in K, and (i0..i1) × (j0..j1) of each S_A belong to this task
        // alone (tiles partition the lower triangle), scratch is the task's own, and each view
        // is dropped before the next one over the same entries is made.
        let ((sa_at, sa_ld, sa_layer), (sd_at, sd_ld)) = match kept {
            Some((sap, sdp)) => unsafe {
                (
                    (sap.offset(i0 * n + j0), n, n * n),
                    (sdp.offset(r0 * m + s0), m),
                )
            },
            None => {
                let sa_len = (i1 - i0) * (j1 - j0);
                scratch.resize(n_layers * sa_len + rows * cols, T::zero());
                let p = SharedPtr(scratch.as_mut_ptr());
                unsafe { ((p, j1 - j0, sa_len), (p.offset(n_layers * sa_len), cols)) }
            }
        };
        for r in 0..rows {
            unsafe { kp.row(r0 + r, s0, cols, ld) }.fill(T::zero());
        }
        for l in layers.clone() {
            let a = cache.activations(l);
            let sal = unsafe { sa_at.offset(l * sa_layer) };
            matmul(
                unsafe { sal.block((0, 0), (i1 - i0, j1 - j0), sa_ld) },
                Accum::Replace,
                a.subrows(i0, i1 - i0),
                a.subrows(j0, j1 - j0).transpose(),
                T::one(),
                Par::Seq,
            );
            let hidden = l + 1 < n_layers;
            if hidden {
                let f = signal_factor(signals, l, kind);
                matmul(
                    unsafe { sd_at.block((0, 0), (rows, cols), sd_ld) },
                    Accum::Replace,
                    f.subrows(r0, rows),
                    f.subrows(s0, cols).transpose(),
                    T::one(),
                    Par::Seq,
                );
            }
            for r in 0..rows {
                let end = if diagonal { r + 1 } else { cols };
                let krow = unsafe { kp.row(r0 + r, s0, end, ld) };
                let left = if hidden {
                    Left::Gram(&*unsafe { sd_at.row(r, 0, end, sd_ld) })
                } else {
                    output_layer_left(kind, signals)
                };
                let sarow = unsafe { sal.row(r / rep, 0, j1 - j0, sa_ld) };
                accumulate_row(krow, r0 + r, rep, left, sarow);
            }
        }
        // The mirror image of the tile, while it is in cache: also this task's alone.
        unsafe { kp.mirror_tile((r0, s0), (rows, cols), diagonal, ld) };
    });
}

/// The factorised cross kernel between `x1` (`N₁ × d`) and `x2` (`N₂ × d`), written into `out`
/// (`m₁ × m₂`, checked by the caller, as are the kind and the memory).
pub(crate) fn cross_kernel_into<T: Float>(
    mlp: &Mlp<T>,
    x1: MatRef<'_, T>,
    x2: MatRef<'_, T>,
    kind: KernelKind,
    out: MatMut<'_, T>,
    par: Par,
) -> Result<()> {
    let c = mlp.arch().output_dim();
    let c1 = mlp.forward_cached(x1, par)?;
    let c2 = mlp.forward_cached(x2, par)?;
    let (mut s1, mut s2) = (Signals::default(), Signals::default());
    s1.compute_seeded(mlp, &c1, kind.seeds(), false, par)?;
    s2.compute_seeded(mlp, &c2, kind.seeds(), false, par)?;
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
            output_layer_left(kind, &s1)
        };
        let shape = Blocks {
            rows: m1,
            cols: m2,
            rep,
        };
        accumulate_layer(par, &mut k, shape, left, &sa);
    }
    let mut out = out;
    out.copy_from(rm(&k, m1, m2));
    Ok(())
}
