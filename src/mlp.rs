//! The multilayer perceptron: an [`Architecture`] plus one flat parameter vector.
//!
//! Parameters follow the fixed layout of the design note: layer after layer, `W^l` row-major
//! (`W^l[o, i]` at offset `o·n_{l−1} + i`) then `b^l`, the order of PyTorch's
//! `nn.Linear(weight, bias)`; weights are exchanged with PyTorch or JAX by copying one array.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! let arch = Architecture::new(2, &[(8, Activation::Tanh)], 3)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let x = Mat::from_fn(5, 2, |i, j| (i + j) as f64 * 0.1);
//! let f = mlp.forward(x.as_ref(), Par::Seq)?;
//! assert_eq!((f.nrows(), f.ncols()), (5, 3));
//! assert_eq!(mlp.weights(0).nrows(), 8);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::Rng;

use crate::buffer::{ensure_lens, rm, rm_mut};
use crate::error::{NonFiniteFlag, check_finite, check_finite_mat};
use crate::limits::Request;
use crate::parallel::{BLOCK_ROWS, for_each_chunk, for_each_chunk3};
use crate::{Activation, Architecture, Error, Float, Init, Result};

/// An MLP with linear output layer and its flat parameter vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp<T: Float> {
    arch: Architecture,
    params: Vec<T>,
}

impl<T: Float> Mlp<T> {
    /// Draws fresh parameters with `init` from `rng` (biases zero).
    ///
    /// A parameter vector larger than the memory limit is [`Error::TooLarge`] (see
    /// [`crate::limits`]), refused before anything is allocated.
    pub fn init<R: Rng + ?Sized>(arch: Architecture, init: Init, rng: &mut R) -> Result<Self> {
        Request::Parameters.check::<T>(&arch)?;
        let mut params = vec![T::zero(); arch.n_params()];
        init.fill(&arch, &mut params, rng);
        Ok(Self { arch, params })
    }

    /// Wraps an existing flat parameter vector (e.g. copied from PyTorch); checks its length
    /// and that every entry is finite.
    pub fn from_params(arch: Architecture, params: Vec<T>) -> Result<Self> {
        if params.len() != arch.n_params() {
            return Err(Error::ShapeMismatch {
                what: "parameters",
                expected: (arch.n_params(), 1),
                found: (params.len(), 1),
            });
        }
        check_finite("parameters", &params)?;
        Ok(Self { arch, params })
    }

    /// The architecture.
    #[must_use]
    pub fn arch(&self) -> &Architecture {
        &self.arch
    }

    /// Number of parameters `P`.
    #[must_use]
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// The flat parameter vector.
    #[must_use]
    pub fn params(&self) -> &[T] {
        &self.params
    }

    /// Mutable access to the flat parameter vector (optimisers update it in place).
    pub fn params_mut(&mut self) -> &mut [T] {
        &mut self.params
    }

    /// Replaces the parameters (length and finiteness checked).
    pub fn set_params(&mut self, params: &[T]) -> Result<()> {
        if params.len() != self.params.len() {
            return Err(Error::ShapeMismatch {
                what: "parameters",
                expected: (self.params.len(), 1),
                found: (params.len(), 1),
            });
        }
        check_finite("parameters", params)?;
        self.params.copy_from_slice(params);
        Ok(())
    }

    /// `W^{l+1}` (0-based `layer`) as an `n_{l+1} × n_l` view into the flat vector.
    ///
    /// # Panics
    /// If `layer >= n_layers()` (a programming error, not bad data).
    #[must_use]
    pub fn weights(&self, layer: usize) -> MatRef<'_, T> {
        let w = self.arch.widths();
        rm(
            &self.params[self.arch.weight_range(layer)],
            w[layer + 1],
            w[layer],
        )
    }

    /// `b^{l+1}` (0-based `layer`) as a slice of the flat vector.
    ///
    /// # Panics
    /// If `layer >= n_layers()`.
    #[must_use]
    pub fn bias(&self, layer: usize) -> &[T] {
        &self.params[self.arch.bias_range(layer)]
    }

    /// Checks a batch of inputs: `N × d` with `N > 0`, all finite; and the parameters.
    pub fn check_inputs(&self, x: MatRef<'_, T>) -> Result<()> {
        if x.nrows() == 0 {
            return Err(Error::EmptyBatch { what: "inputs" });
        }
        if x.ncols() != self.arch.input_dim() {
            return Err(Error::ShapeMismatch {
                what: "inputs",
                expected: (x.nrows(), self.arch.input_dim()),
                found: (x.nrows(), x.ncols()),
            });
        }
        check_finite_mat("inputs", x)?;
        check_finite("parameters", &self.params)
    }

    /// Outputs `f(X)` (`N × C` logits) for a batch `X` (`N × d`).
    ///
    /// Finite inputs and parameters can still overflow: a hidden activation or an output that is
    /// not finite is [`Error::NonFinite`] (`what` = `"hidden activations"` or `"outputs"`,
    /// `index` flat within that layer's `N × n_l` block). A pre-activation that overflows into a
    /// saturating activation (`tanh(∞) = 1`) is not an error: what the pass returns is the exact
    /// limit. (The cached `σ'`, `σ''` are not results: a non-finite one propagates into every
    /// derivative that reads it, and those are checked where they are returned.)
    pub fn forward(&self, x: MatRef<'_, T>, par: Par) -> Result<Mat<T>> {
        let cache = self.forward_cached(x, par)?;
        Ok(cache.output().to_owned())
    }

    /// Forward pass that keeps what the derivatives need (activations, `σ'`, `σ''`).
    pub fn forward_cached(&self, x: MatRef<'_, T>, par: Par) -> Result<ForwardCache<T>> {
        let mut cache = ForwardCache::default();
        cache.compute(self, x, par)?;
        Ok(cache)
    }
}

/// What a forward pass leaves for the derivatives: per layer, activations `a^{l}`,
/// pre-activations `z^l`, and `σ'(z^l)`, `σ''(z^l)` of the hidden layers; all row-major, one
/// sample per row. Reused across calls without reallocating once large enough.
///
/// The cache records the architecture it was computed for, widths *and* activations, and every
/// derivative refuses a cache of another architecture ([`Error::InvalidArchitecture`]). It does
/// not record the parameters: a cache must be recomputed after the parameters change. A
/// `ForwardCache::default()`, or one whose last [`compute`](Self::compute) failed, holds no
/// samples and is refused as [`Error::EmptyBatch`].
#[derive(Debug, Clone, Default)]
pub struct ForwardCache<T: Float> {
    pub(crate) n: usize,
    pub(crate) widths: Vec<usize>,
    /// The hidden activations of the architecture the cache was computed for.
    pub(crate) activation_fns: Vec<Activation>,
    /// `a^0 … a^{L−1}`; `a^0` is a row-major copy of the inputs.
    pub(crate) acts: Vec<Vec<T>>,
    /// `z^1 … z^L`; `z^L` is the output.
    pub(crate) pre: Vec<Vec<T>>,
    /// `σ'(z^l)` for hidden `l = 1 … L−1`.
    pub(crate) d1: Vec<Vec<T>>,
    /// `σ''(z^l)` for hidden `l = 1 … L−1`.
    pub(crate) d2: Vec<Vec<T>>,
}

impl<T: Float> ForwardCache<T> {
    /// Runs the forward pass of `mlp` on `x` into this cache (inputs checked).
    pub fn compute(&mut self, mlp: &Mlp<T>, x: MatRef<'_, T>, par: Par) -> Result<()> {
        self.compute_scaled(mlp, x, None, par)
    }

    /// The forward pass with each hidden activation (and with it `σ'`, `σ''`) multiplied by a
    /// per-unit scale, `scales[h]` being `N × n_{h+1}` row-major: dropout's masked network,
    /// whose cache the ordinary derivatives then differentiate.
    pub(crate) fn compute_scaled(
        &mut self,
        mlp: &Mlp<T>,
        x: MatRef<'_, T>,
        scales: Option<&[Vec<T>]>,
        par: Par,
    ) -> Result<()> {
        // Until the pass has succeeded the cache holds no samples, so a failed pass is never
        // consumed as a valid one.
        self.n = 0;
        mlp.check_inputs(x)?;
        let arch = mlp.arch();
        let n = x.nrows();
        Request::ForwardPass { n }.check::<T>(arch)?;
        self.reserve(arch, n);
        let widths = arch.widths();
        let n_layers = arch.n_layers();
        rm_mut(&mut self.acts[0], n, widths[0]).copy_from(x);
        for l in 0..n_layers {
            let (n_in, n_out) = (widths[l], widths[l + 1]);
            let z = &mut self.pre[l];
            // z = a Wᵀ + 1 bᵀ: the GEMM through faer, the bias per row.
            matmul(
                rm_mut(z, n, n_out),
                Accum::Replace,
                rm(&self.acts[l], n, n_in),
                mlp.weights(l).transpose(),
                T::one(),
                par,
            );
            let bias = mlp.bias(l);
            for_each_chunk(par, &mut z[..n * n_out], BLOCK_ROWS * n_out, |_, rows| {
                for row in rows.chunks_exact_mut(n_out) {
                    crate::simd::add_assign(row, bias);
                }
            });
            if l + 1 < n_layers {
                let act = arch.activations()[l];
                let z = &self.pre[l][..n * n_out];
                let len = n * n_out;
                let (a, d1, d2) = (&mut self.acts[l + 1], &mut self.d1[l], &mut self.d2[l]);
                let chunk = BLOCK_ROWS * n_out;
                let overflow = NonFiniteFlag::new();
                for_each_chunk3(
                    par,
                    [&mut a[..len], &mut d1[..len], &mut d2[..len]],
                    chunk,
                    |b, [a, d1, d2]| {
                        act.eval_slice(&z[b * chunk..b * chunk + a.len()], a, d1, d2);
                        if let Some(scales) = scales {
                            let s = &scales[l][b * chunk..b * chunk + a.len()];
                            for buf in [&mut *a, d1, d2] {
                                crate::simd::mul_assign(buf, s);
                            }
                        }
                        // Checked while the chunk is in cache (the error path rescans).
                        overflow.note(a);
                    },
                );
                overflow.check("hidden activations", &a[..len])?;
            }
        }
        check_finite("outputs", &self.pre[n_layers - 1][..n * widths[n_layers]])?;
        self.n = n;
        Ok(())
    }

    /// Records `arch` and makes room for a pass over `n` samples.
    fn reserve(&mut self, arch: &Architecture, n: usize) {
        let widths = arch.widths();
        self.widths.clear();
        self.widths.extend_from_slice(widths);
        self.activation_fns.clear();
        self.activation_fns.extend_from_slice(arch.activations());
        // a^0 … a^{L−1} (inputs, then hidden), z^1 … z^L, and σ', σ'' of the hidden layers.
        ensure_lens(
            &mut self.acts,
            widths[..widths.len() - 1].iter().map(|&w| n * w),
        );
        ensure_lens(&mut self.pre, widths[1..].iter().map(|&w| n * w));
        let hidden = &widths[1..widths.len() - 1];
        ensure_lens(&mut self.d1, hidden.iter().map(|&w| n * w));
        ensure_lens(&mut self.d2, hidden.iter().map(|&w| n * w));
    }

    /// Number of samples `N` of the last pass.
    #[must_use]
    pub fn n_samples(&self) -> usize {
        self.n
    }

    /// Number of layers `L` of the architecture of the last successful pass (0 for an empty
    /// cache).
    #[must_use]
    pub fn n_layers(&self) -> usize {
        if self.n == 0 {
            0
        } else {
            self.widths.len() - 1
        }
    }

    /// The outputs `f(X) = z^L` (`N × C`); `0 × 0` for an empty cache (never computed, or whose
    /// last pass failed).
    #[must_use]
    pub fn output(&self) -> MatRef<'_, T> {
        match (self.n_layers(), self.pre.last()) {
            (1.., Some(z)) => rm(z, self.n, self.widths[self.widths.len() - 1]),
            _ => MatRef::from_row_major_slice(&[], 0, 0),
        }
    }

    /// Activations `a^l` entering layer `l + 1` (`l = 0` gives the inputs), `N × n_l`.
    ///
    /// # Panics
    /// If `l >= n_layers()` (always for an empty cache): the index is the caller's, who can ask
    /// [`n_layers`](Self::n_layers) first.
    #[track_caller]
    #[must_use]
    pub fn activations(&self, l: usize) -> MatRef<'_, T> {
        assert!(
            l < self.n_layers(),
            "activation index {l} out of range: the cache holds {} layers",
            self.n_layers()
        );
        rm(&self.acts[l], self.n, self.widths[l])
    }
}
