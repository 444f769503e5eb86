//! Backpropagated signals `δ^l_{i,c}` of every output, the building block of per-sample
//! Jacobians and factorised MGS kernels.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatRef, Par};

use super::check_cache;
use crate::buffer::{ensure_len, ensure_lens, rm, rm_mut};
use crate::error::{check_finite, max_abs_finite};
use crate::limits::Request;
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::{Architecture, Float, ForwardCache, Mlp, Result};

/// The output directions that seed the signals: row `q` of a seed matrix `S` (`s × C`) gives the
/// signal rows `(i, q)` of the scalar output `(S f)_q`. The recursion is linear in the seed, so
/// only its start changes: `U^{L−1}[(i,q), :] = (S W^L)[q, :]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Seeds {
    /// `S = I_C`: the outputs `f_c` (`s = C`).
    #[default]
    Outputs,
    /// `S = P = I_C − 11ᵀ/C`: the centred outputs `f_c − f̄` (`s = C`).
    Centred,
    /// `S = Qᵀ` with `Q` the `C × (C − 1)` Helmert basis of `1⊥` (`QᵀQ = I`, `QQᵀ = P`): row `k`
    /// (1-based) is `(1, …, 1, −k, 0, …, 0)/√(k(k + 1))` with `k` ones (`s = C − 1`).
    CentredBasis,
}

impl Seeds {
    /// Signal rows per sample, `s`.
    pub(crate) fn rows(self, c: usize) -> usize {
        match self {
            Seeds::Outputs | Seeds::Centred => c,
            Seeds::CentredBasis => c - 1,
        }
    }

    /// Writes `S` (`s × C`, row-major) into the first `s·C` entries of `out`.
    fn fill_matrix<T: Float>(self, c: usize, out: &mut [T]) {
        let s = self.rows(c);
        out[..s * c].fill(T::zero());
        for q in 0..s {
            let row = &mut out[q * c..(q + 1) * c];
            match self {
                Seeds::Outputs => row[q] = T::one(),
                Seeds::Centred => {
                    row.fill(T::from_f64(-1.0 / c as f64));
                    row[q] = T::from_f64(1.0 - 1.0 / c as f64);
                }
                Seeds::CentredBasis => {
                    let k = (q + 1) as f64;
                    let scale = 1.0 / (k * (k + 1.0)).sqrt();
                    row[..=q].fill(T::from_f64(scale));
                    row[q + 1] = T::from_f64(-k * scale);
                }
            }
        }
    }
}

/// The signals `δ^l_{i,c} = ∂f_c(x_i)/∂z^l` of the hidden layers, stacked as
/// `D^l ∈ ℝ^{(N·C) × n_l}` with rows in the fixed order `r = i·C + c`.
///
/// The output layer's signals are the unit vectors `e_c` and are not stored. Since each layer's
/// parameter gradient is an outer product, `∂f_c(x_i)/∂W^l = δ^l_{i,c} (a^{l−1}_i)ᵀ`, these
/// matrices and the activations determine the whole Jacobian.
///
/// ```
/// use faer::{Mat, Par};
/// use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
/// use mgs::derivatives::Signals;
/// let arch = Architecture::new(2, &[(5, Activation::Tanh), (4, Activation::Relu)], 3)?;
/// let mlp = Mlp::<f64>::init(arch, Init::HeNormal, &mut rng_from_seed(2))?;
/// let x = Mat::from_fn(6, 2, |i, j| (i as f64 - j as f64) * 0.3);
/// let cache = mlp.forward_cached(x.as_ref(), Par::Seq)?;
/// let s = Signals::compute(&mlp, &cache, Par::Seq)?;
/// assert_eq!((s.layer(0).nrows(), s.layer(0).ncols()), (6 * 3, 5));
/// # Ok::<(), mgs::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Signals<T: Float> {
    pub(crate) n: usize,
    /// Signal rows per sample: `C` from [`Signals::compute`]; `s` for other seeds.
    pub(crate) c: usize,
    /// The seeds and their matrix `S` (`s × C`, row-major).
    pub(crate) seeds: Seeds,
    pub(crate) seed_matrix: Vec<T>,
    /// `S W^L` (`s × n_{L−1}`, row-major): the rows of `U^{L−1}` (empty without hidden layers).
    pub(crate) top: Vec<T>,
    pub(crate) widths: Vec<usize>,
    /// `D^1 … D^{L−1}`, each `(N·C) × n_l` row-major.
    pub(crate) d: Vec<Vec<T>>,
    /// `U^h = D^{h+1} W^{h+1}` (before `∘ σ'`) for the hidden layers below the last, kept only by
    /// `compute_seeded` when asked: the penalty's backward pass needs them again.
    pub(crate) products: Vec<Vec<T>>,
    /// Per hidden layer, an upper bound on `max|D^h|` (see [`Signals::compute`]).
    pub(crate) bounds: Vec<f64>,
}

impl<T: Float> Signals<T> {
    /// Computes the signals of all hidden layers from a forward pass.
    ///
    /// Signals that overflow are [`Error::NonFinite`](crate::Error::NonFinite) (`"signals"`,
    /// index flat within the layer's `(N·C) × n_l` block); a request past the memory limit is
    /// [`Error::TooLarge`](crate::Error::TooLarge).
    ///
    /// The check costs far less than a pass over the signals: from the top hidden layer down,
    /// `B_h = n · B_{h+1} · max|W| · max|σ'(z^h)|` (`n` the inner width of the product, `B = 1`
    /// above the top) bounds `max|D^h|` from the operands' magnitudes, whose passes are `C` times
    /// shorter. A layer whose bound is at most a quarter of the largest finite value cannot hold
    /// an overflow (rounding inflates a sum of `n` products by `1 + n ε` at most); only a layer
    /// whose bound is larger is scanned, and its true maximum continues the bound.
    pub fn compute(mlp: &Mlp<T>, cache: &ForwardCache<T>, par: Par) -> Result<Self> {
        let mut s = Self::default();
        s.compute_into(mlp, cache, par)?;
        Ok(s)
    }

    /// [`Signals::compute`] reusing this object's buffers.
    pub fn compute_into(&mut self, mlp: &Mlp<T>, cache: &ForwardCache<T>, par: Par) -> Result<()> {
        self.compute_seeded(mlp, cache, Seeds::Outputs, false, par)
    }

    /// [`Signals::compute_into`] for the given seeds, optionally keeping the products
    /// `U^h = D^{h+1} W^{h+1}` (the penalty's backward pass needs them again). The caller checks
    /// that `C ≥ 2` for the centred seeds.
    pub(crate) fn compute_seeded(
        &mut self,
        mlp: &Mlp<T>,
        cache: &ForwardCache<T>,
        seeds: Seeds,
        keep_products: bool,
        par: Par,
    ) -> Result<()> {
        check_cache(mlp, cache)?;
        let arch = mlp.arch();
        let n = cache.n;
        let c = seeds.rows(arch.output_dim());
        Request::Signals { n }.check::<T>(arch)?;
        let n_hidden = arch.n_layers() - 1;
        let widths = arch.widths();
        self.reserve(arch, n, seeds, keep_products);
        self.n = n;
        self.c = c;
        self.seeds = seeds;
        seeds.fill_matrix(arch.output_dim(), &mut self.seed_matrix);
        if n_hidden > 0 {
            // U^{L−1} rows: S W^L (exactly W^L for S = I).
            let w = widths[n_hidden];
            matmul(
                rm_mut(&mut self.top, c, w),
                Accum::Replace,
                rm(&self.seed_matrix, c, arch.output_dim()),
                mlp.weights(n_hidden),
                T::one(),
                Par::Seq,
            );
        }
        let m = n * c;
        let mut bound = 1.0f64;
        for h in (0..n_hidden).rev() {
            let w = widths[h + 1];
            if h + 1 == n_hidden {
                // δ^{L−1}_{i,q} = σ'(z^{L−1}_i) ∘ (S W^L)[q, :]
                let top = &self.top[..c * w];
                let buf = &mut self.d[h][..m * w];
                for_each_chunk(par, buf, BLOCK_ROWS * c * w, |_, chunk| {
                    for rows in chunk.chunks_exact_mut(c * w) {
                        rows.copy_from_slice(top);
                    }
                });
            } else {
                // D^h = D^{h+1} W^{h+1}, then ∘ σ'(z^h) below
                let (lo, hi) = self.d.split_at_mut(h + 1);
                let dst = if keep_products {
                    &mut self.products[h]
                } else {
                    &mut lo[h]
                };
                matmul(
                    rm_mut(dst, m, w),
                    Accum::Replace,
                    rm(&hi[0], m, widths[h + 2]),
                    mlp.weights(h + 1),
                    T::one(),
                    par,
                );
            }
            let d1 = &cache.d1[h];
            // The product was written to `products[h]` when kept: D^h = U^h ∘ σ' from there.
            let kept = (keep_products && h + 1 < n_hidden).then(|| &self.products[h][..m * w]);
            for_each_chunk(
                par,
                &mut self.d[h][..m * w],
                BLOCK_ROWS * c * w,
                |b, chunk| {
                    let r0 = b * BLOCK_ROWS * c;
                    for (k, row) in chunk.chunks_exact_mut(w).enumerate() {
                        let r = r0 + k;
                        if let Some(u) = kept {
                            row.copy_from_slice(&u[r * w..(r + 1) * w]);
                        }
                        let i = r / c;
                        crate::simd::mul_assign(row, &d1[i * w..(i + 1) * w]);
                    }
                },
            );
            bound = self.layer_bound(mlp, cache, h, bound)?;
            self.bounds[h] = bound;
        }
        Ok(())
    }

    /// The bound on `max|D^h|`, continued from the layer above's `bound` (see
    /// [`Signals::compute`]): `D^h` is scanned only when the operands' bound could hold an
    /// overflow, and an overflow empties the signals.
    fn layer_bound(
        &mut self,
        mlp: &Mlp<T>,
        cache: &ForwardCache<T>,
        h: usize,
        bound: f64,
    ) -> Result<f64> {
        let arch = mlp.arch();
        let widths = arch.widths();
        let w = widths[h + 1];
        let fan = if h + 2 == arch.n_layers() {
            1.0
        } else {
            widths[h + 2] as f64
        };
        let (w_max, w_finite) = max_abs_finite(&mlp.params()[arch.weight_range(h + 1)]);
        let (s_max, s_finite) = max_abs_finite(&cache.d1[h][..cache.n * w]);
        let bound = bound * (fan * w_max * s_max);
        if w_finite && s_finite && bound <= T::MAX_FINITE / 4.0 {
            return Ok(bound);
        }
        let d = &self.d[h][..self.n * self.c * w];
        let (d_max, d_finite) = max_abs_finite(d);
        if !d_finite {
            let err = check_finite("signals", d);
            self.n = 0;
            return err.map(|()| d_max);
        }
        Ok(d_max)
    }

    /// Records the architecture's widths and makes room for the signals of `n` samples from
    /// `seeds` (and for the products below the last hidden layer, with `keep_products`).
    fn reserve(&mut self, arch: &Architecture, n: usize, seeds: Seeds, keep_products: bool) {
        let widths = arch.widths();
        let n_hidden = arch.n_layers() - 1;
        let (n_out, c) = (arch.output_dim(), seeds.rows(arch.output_dim()));
        self.widths.clear();
        self.widths.extend_from_slice(widths);
        ensure_len(&mut self.seed_matrix, c * n_out);
        if n_hidden > 0 {
            ensure_len(&mut self.top, c * widths[n_hidden]);
        }
        let hidden = &widths[1..=n_hidden];
        ensure_lens(&mut self.d, hidden.iter().map(|&w| n * c * w));
        if keep_products {
            // U^h for every hidden layer but the last, whose rows are `top`.
            let below_last = hidden
                .iter()
                .enumerate()
                .map(|(h, &w)| if h + 1 < n_hidden { n * c * w } else { 0 });
            ensure_lens(&mut self.products, below_last);
        }
        self.bounds.resize(n_hidden, 0.0);
    }

    /// Number of samples `N`.
    #[must_use]
    pub fn n_samples(&self) -> usize {
        self.n
    }

    /// Number of outputs `C`.
    #[must_use]
    pub fn n_outputs(&self) -> usize {
        self.c
    }

    /// Number of hidden layers `L − 1` (signals stored).
    #[must_use]
    pub fn n_hidden(&self) -> usize {
        self.d.len()
    }

    /// `D^{h+1}` for hidden layer `h` (0-based): `(N·C) × n_{h+1}`, row `i·C + c`.
    ///
    /// # Panics
    /// If `h >= n_hidden()` (always for `Signals::default()`): the index is the caller's, who
    /// can ask [`n_hidden`](Self::n_hidden) first.
    #[track_caller]
    #[must_use]
    pub fn layer(&self, h: usize) -> MatRef<'_, T> {
        self.check_hidden(h);
        rm(&self.d[h], self.n * self.c, self.widths[h + 1])
    }

    /// The same buffer viewed `N × (C·n_{h+1})`: row `i` concatenates `δ_{i,0}, …, δ_{i,C−1}`
    /// (what the traced kernel needs).
    ///
    /// # Panics
    /// If `h >= n_hidden()`.
    #[track_caller]
    #[must_use]
    pub fn layer_by_sample(&self, h: usize) -> MatRef<'_, T> {
        self.check_hidden(h);
        rm(&self.d[h], self.n, self.c * self.widths[h + 1])
    }

    /// The documented panic of the per-layer accessors.
    #[inline]
    #[track_caller]
    fn check_hidden(&self, h: usize) {
        assert!(
            h < self.n_hidden(),
            "hidden layer index {h} out of range: the signals hold {} hidden layers",
            self.n_hidden()
        );
    }
}
