//! Route B: the penalty gradient without the Jacobian (reverse-over-reverse through the
//! per-layer factorisation `K = Σ_l S_D^l ∘ expand(S_A^{l−1} + 1)`).
//!
//! With `G = ∂g/∂K` symmetric:
//! - `D̄^l = 2 (G ∘ expand(S_A^{l−1} + 1)) D^l` is the cotangent of layer `l`'s signals;
//! - `Ā^{l−1} = 2 M^l A^{l−1}`, `M^l` the `C × C` block sums of `G ∘ S_D^l`, that of its inputs.
//!
//! Stage 1 carries `D̄` back through the signal recursion `D^{l} = (D^{l+1} W^{l+1}) ∘ σ'(z^l)`,
//! which yields cotangents for `W^{l+1}` and, through `σ''`, for `z^l`. Stage 2 is an ordinary
//! backward pass through the forward network with those extra cotangents. See `docs/math.md`.
//!
//! Centred kinds: the signals are seeded with `S = P` (centred full) or `S = Qᵀ` (centred
//! traced, `s = C − 1` rows per sample), so `U^{L−1}` has rows `(S W^L)[q, :]`; the recursion
//! and its reverse are unchanged, the output layer's `S_D^L = S Sᵀ` changes `M^L`, and the
//! cotangent of `S W^L` reaches `W^L` as `W̄^L = Sᵀ (Σ_i Ū[(i,q), :])_q`.

use faer::linalg::matmul::matmul;
use faer::{Accum, Par};

use super::Workspace;
use crate::buffer::{ensure_len, ensure_lens, rm, rm_mut};
use crate::derivatives::Signals;
use crate::kernel::KernelKind;
use crate::kernel::factorised::signal_factor;
use crate::kernel::hadamard::{Blocks, Left, accumulate_layer};
use crate::parallel::{BLOCK_ROWS, for_each_chunk, for_each_chunk_pair};
use crate::simd::{add_assign, hadamard_add_assign, mul_assign, scalar};
use crate::symmetric::gram_lower;
use crate::symmetric::{Triangle, mirror};
use crate::{Architecture, Float, ForwardCache, Mlp};

/// Route B's buffers, grown to the largest batch seen.
#[derive(Default)]
pub(crate) struct Buffers<T: Float> {
    /// `D̄^l` per hidden layer, `(N·C) × n_l`.
    dbar: Vec<Vec<T>>,
    /// `Ā^l` per layer input (`l ≥ 1`; `Ā^0` is never formed), `N × n_l`.
    abar: Vec<Vec<T>>,
    /// `z̄^l` from the `σ''` terms, per hidden layer, `N × n_l`.
    zbar: Vec<Vec<T>>,
    /// `M^l`, `N × N`.
    mblock: Vec<T>,
    /// `Σ_i Ū[(i,q), :]` of the last hidden layer, `s × n_{L−1}`.
    wsum: Vec<T>,
    /// The cotangent `Ū` of `U^l = D^{l+1} W^{l+1}`, `(N·C) × n_l`.
    ubar: Vec<T>,
    /// Backward-pass ping-pong buffers, `N × max width`.
    back: [Vec<T>; 2],
}

impl<T: Float> Buffers<T> {
    /// Room for the gradient of `kind`'s kernel on `n` samples.
    pub(crate) fn reserve(&mut self, arch: &Architecture, kind: KernelKind, n: usize) {
        let widths = arch.widths();
        let n_layers = arch.n_layers();
        let n_hidden = n_layers - 1;
        // `s` signal rows per sample (`C`, or `C − 1` for the centred traced kernel).
        let s = kind.seeds().rows(arch.output_dim());
        let nc = n * s;
        let max_w = arch.max_width();
        let hidden = &widths[1..n_layers];
        ensure_lens(&mut self.dbar, hidden.iter().map(|&w| nc * w));
        ensure_lens(&mut self.zbar, hidden.iter().map(|&w| n * w));
        // `Ā^0` is never formed.
        let inputs = widths[..n_layers].iter().enumerate();
        ensure_lens(
            &mut self.abar,
            inputs.map(|(l, &w)| if l == 0 { 0 } else { n * w }),
        );
        ensure_len(&mut self.mblock, n * n);
        ensure_len(&mut self.ubar, nc * max_w);
        ensure_len(&mut self.wsum, s * widths[n_hidden]);
        for buf in &mut self.back {
            ensure_len(buf, n * max_w);
        }
    }
}

/// `M[i,j] = Σ_{c,c'} G[(i,c),(j,c')] · S[(i,c),(j,c')]` (`rep = C`), or the elementwise product
/// (`rep = 1`).
fn block_sums<T: Float>(par: Par, mblock: &mut [T], g: &[T], s: &[T], n: usize, rep: usize) {
    let m = n * rep;
    for_each_chunk(par, &mut mblock[..n * n], BLOCK_ROWS * n, |b, chunk| {
        for (q, mrow) in chunk.chunks_exact_mut(n).enumerate() {
            let i = b * BLOCK_ROWS + q;
            mrow.fill(T::zero());
            // One dispatch per row of M: the dot products are only `rep` long.
            pulp::Arch::new().dispatch(
                #[inline(always)]
                || {
                    for r in i * rep..(i + 1) * rep {
                        let (grow, srow) = (&g[r * m..(r + 1) * m], &s[r * m..(r + 1) * m]);
                        for (j, mv) in mrow.iter_mut().enumerate() {
                            let seg = j * rep..(j + 1) * rep;
                            *mv += scalar::dot(&grow[seg.clone()], &srow[seg]);
                        }
                    }
                },
            );
        }
    });
}

/// Writes `∇_θ g` into `grad` from the workspace's forward cache, signals, Gram matrices and `G`
/// (its buffers reserved for this call).
pub(crate) fn gradient<T: Float>(
    mlp: &Mlp<T>,
    ws: &mut Workspace<T>,
    kind: KernelKind,
    grad: &mut [T],
    par: Par,
) {
    let Workspace {
        cache,
        signals,
        k,
        g,
        sa,
        sd,
        factorised: buf,
        ..
    } = ws;
    debug_assert_eq!(
        signals.seeds,
        kind.seeds(),
        "signals seeded for another kind"
    );
    let m = kind.order(cache.n, signals.c);
    grad.fill(T::zero());
    let grams = Grams {
        g: &g[..m * m],
        sa,
        sd,
        staging: &mut k[..m * m],
    };
    factor_cotangents(mlp, cache, signals, kind, grams, buf, par);
    reverse_signals(mlp, cache, signals, buf, grad, par);
    // A model without hidden layers has a kernel that does not depend on θ: its gradient stays
    // zero.
    if mlp.arch().n_layers() > 1 {
        reverse_forward(mlp, cache, buf, grad, par);
    }
}

/// The kernel-sized matrices of the first step: `G`, the Gram matrices the kernel step left
/// (every `S_A`, stacked, and the last hidden layer's `S_D`, lower triangles) and an `m × m`
/// buffer to stage Hadamard products in.
struct Grams<'a, T> {
    g: &'a [T],
    sa: &'a mut [T],
    sd: &'a mut [T],
    staging: &'a mut [T],
}

/// The cotangents of the kernel's factors, layer by layer: `D̄^l` of every hidden layer and `Ā^l`
/// of every layer input but the first.
fn factor_cotangents<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    signals: &Signals<T>,
    kind: KernelKind,
    grams: Grams<'_, T>,
    buf: &mut Buffers<T>,
    par: Par,
) {
    let arch = mlp.arch();
    let widths = arch.widths();
    let n_layers = arch.n_layers();
    let n_hidden = n_layers - 1;
    let (n, c, n_out) = (cache.n, signals.c, arch.output_dim());
    let m = kind.order(n, c);
    let rep = m / n;
    let two = T::one() + T::one();
    let Grams {
        g,
        sa: sa_all,
        sd,
        staging,
    } = grams;
    // Going from the last layer down lets the kept `S_D` be used before any other overwrites it.
    let mut sd_layer = n_hidden.checked_sub(1);
    for l in (0..n_layers).rev() {
        if l < n_hidden {
            // D̄ = 2 (G ∘ expand(S_A + 1)) D, the Hadamard product staged in the kernel buffer.
            let sa = &mut sa_all[l * n * n..(l + 1) * n * n];
            mirror(sa, n, Triangle::Lower, par);
            staging.fill(T::zero());
            let shape = Blocks {
                rows: m,
                cols: m,
                rep,
            };
            accumulate_layer(par, staging, shape, Left::Gram(g), sa);
            let f = signal_factor(signals, l, kind);
            matmul(
                rm_mut(&mut buf.dbar[l], m, f.ncols()),
                Accum::Replace,
                rm(staging, m, m),
                f,
                two,
                par,
            );
        }
        if l == 0 {
            continue; // the inputs need no cotangent
        }
        if l < n_hidden {
            if sd_layer != Some(l) {
                gram_lower(sd, signal_factor(signals, l, kind), par);
                sd_layer = Some(l);
            }
            mirror(sd, m, Triangle::Lower, par);
            block_sums(par, &mut buf.mblock, g, &sd[..m * m], n, rep);
        } else {
            output_block_sums(par, &mut buf.mblock, g, kind, (n, c, n_out));
        }
        matmul(
            rm_mut(&mut buf.abar[l], n, widths[l]),
            Accum::Replace,
            rm(&buf.mblock, n, n),
            cache.activations(l),
            two,
            par,
        );
    }
}

/// `M^L` of the output layer, whose `S_D = S Sᵀ` is `[c = c']` (full), `P` (centred full) or,
/// traced, the constant `s` (`C`, or `C − 1` centred).
fn output_block_sums<T: Float>(
    par: Par,
    mblock: &mut [T],
    g: &[T],
    kind: KernelKind,
    (n, c, n_out): (usize, usize, usize),
) {
    let m = kind.order(n, c);
    let kappa = T::from_f64(1.0 / n_out as f64);
    let block_sum = |i: usize, j: usize| {
        let rows = (0..c).map(|q| &g[(i * c + q) * m + j * c..(i * c + q) * m + (j + 1) * c]);
        rows.fold(T::zero(), |acc, row| {
            acc + row.iter().fold(T::zero(), |a, &v| a + v)
        })
    };
    for_each_chunk(par, &mut mblock[..n * n], BLOCK_ROWS * n, |b, chunk| {
        for (q, mrow) in chunk.chunks_exact_mut(n).enumerate() {
            let i = b * BLOCK_ROWS + q;
            for (j, mv) in mrow.iter_mut().enumerate() {
                let diag_sum =
                    || (0..c).fold(T::zero(), |acc, q| acc + g[(i * c + q) * m + j * c + q]);
                *mv = match kind {
                    KernelKind::Full => diag_sum(),
                    KernelKind::CentredFull => diag_sum() - kappa * block_sum(i, j),
                    KernelKind::Traced | KernelKind::CentredTraced => {
                        T::from_f64(c as f64) * g[i * m + j]
                    }
                };
            }
        }
    });
}

/// Stage 1: reverse through the signal recursion, hidden layers first to last. Adds the weight
/// cotangents of the recursion to `grad` and leaves `z̄^h` (the `σ''` terms) in `buf.zbar`.
fn reverse_signals<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    signals: &Signals<T>,
    buf: &mut Buffers<T>,
    grad: &mut [T],
    par: Par,
) {
    let arch = mlp.arch();
    let widths = arch.widths();
    let n_hidden = arch.n_layers() - 1;
    let (n, c, n_out) = (cache.n, signals.c, arch.output_dim());
    let nc = n * c;
    for h in 0..n_hidden {
        let w = widths[h + 1];
        // U = D^{h+1} W^{h+1}, kept from the signals step (rows (S W^L)[q, :] for the last
        // layer, the same for every sample).
        let last = h + 1 == n_hidden;
        let u: &[T] = if last {
            &signals.top[..c * w]
        } else {
            &signals.products[h][..nc * w]
        };
        let (d1, d2) = (&cache.d1[h], &cache.d2[h]);
        // z̄ = Σ_c D̄ ∘ U ∘ σ''   and   Ū = D̄ ∘ σ'
        let dbar = &buf.dbar[h][..nc * w];
        for_each_chunk_pair(
            par,
            (&mut buf.zbar[h][..n * w], BLOCK_ROWS * w),
            (&mut buf.ubar[..nc * w], BLOCK_ROWS * c * w),
            |b, zchunk, uchunk| {
                for (q, (zrow, ubrows)) in zchunk
                    .chunks_exact_mut(w)
                    .zip(uchunk.chunks_exact_mut(c * w))
                    .enumerate()
                {
                    let i = b * BLOCK_ROWS + q;
                    zrow.fill(T::zero());
                    for (k, ub) in ubrows.chunks_exact_mut(w).enumerate() {
                        let r = i * c + k;
                        let ur = if last { k } else { r };
                        let (db, uu) = (&dbar[r * w..(r + 1) * w], &u[ur * w..(ur + 1) * w]);
                        hadamard_add_assign(zrow, db, uu);
                        ub.copy_from_slice(db);
                        mul_assign(ub, &d1[i * w..(i + 1) * w]);
                    }
                    mul_assign(zrow, &d2[i * w..(i + 1) * w]);
                }
            },
        );
        let ubar = &buf.ubar[..nc * w];
        let wr = arch.weight_range(h + 1);
        if h + 1 < n_hidden {
            let w_next = widths[h + 2];
            // W̄^{h+1} += D^{h+1}ᵀ Ū ;  D̄^{h+1} += Ū W^{h+1}ᵀ
            matmul(
                rm_mut(&mut grad[wr], w_next, w),
                Accum::Add,
                signals.layer(h + 1).transpose(),
                rm(ubar, nc, w),
                T::one(),
                par,
            );
            matmul(
                rm_mut(&mut buf.dbar[h + 1], nc, w_next),
                Accum::Add,
                rm(ubar, nc, w),
                mlp.weights(h + 1).transpose(),
                T::one(),
                par,
            );
        } else {
            // W̄^L = Sᵀ (Σ_i Ū[(i,q), :])_q (W^L gets no other gradient).
            let wsum = &mut buf.wsum[..c * w];
            wsum.fill(T::zero());
            for (r, row) in ubar.chunks_exact(w).enumerate() {
                let q = r % c;
                add_assign(&mut wsum[q * w..(q + 1) * w], row);
            }
            matmul(
                rm_mut(&mut grad[wr], n_out, w),
                Accum::Replace,
                rm(&signals.seed_matrix, c, n_out).transpose(),
                rm(wsum, c, w),
                T::one(),
                Par::Seq,
            );
        }
    }
}

/// Stage 2: an ordinary backward pass through the forward network (at least one hidden layer)
/// with the extra cotangents `Ā^l` and `z̄^l`, added to `grad`.
fn reverse_forward<T: Float>(
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    buf: &mut Buffers<T>,
    grad: &mut [T],
    par: Par,
) {
    let arch = mlp.arch();
    let widths = arch.widths();
    let n_layers = arch.n_layers();
    let n = cache.n;
    let [abuf, zbuf] = &mut buf.back;
    let w_last = widths[n_layers - 1];
    abuf[..n * w_last].copy_from_slice(&buf.abar[n_layers - 1][..n * w_last]);
    for l in (0..n_layers - 1).rev() {
        let w = widths[l + 1];
        // z̄ = ā ∘ σ'(z) + z̄(σ'')
        let zb = &mut zbuf[..n * w];
        zb.copy_from_slice(&abuf[..n * w]);
        mul_assign(zb, &cache.d1[l][..n * w]);
        add_assign(zb, &buf.zbar[l][..n * w]);
        let (n_in, wr, br) = (widths[l], arch.weight_range(l), arch.bias_range(l));
        matmul(
            rm_mut(&mut grad[wr], w, n_in),
            Accum::Add,
            rm(zb, n, w).transpose(),
            cache.activations(l),
            T::one(),
            par,
        );
        let gb = &mut grad[br];
        for row in zb.chunks_exact(w) {
            add_assign(gb, row);
        }
        if l > 0 {
            let ab = &mut abuf[..n * n_in];
            ab.copy_from_slice(&buf.abar[l][..n * n_in]);
            matmul(
                rm_mut(ab, n, n_in),
                Accum::Add,
                rm(zb, n, w),
                mlp.weights(l),
                T::one(),
                par,
            );
        }
    }
}
