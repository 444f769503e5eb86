//! Per-sample Jacobians `J ∈ ℝ^{(N·C) × P}`, row `r = i·C + c` holding `∇_θ f_c(x_i)`.
//!
//! Built from reverse mode ([`Jacobian::reverse`]: the signals `δ^l_{i,c}` and activations give
//! each layer's block as an outer product) or column by column from forward mode
//! ([`Jacobian::forward`]: `J e_p`). The two are tested against each other.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Jacobian, Mlp, rng_from_seed};
//! let arch = Architecture::new(2, &[(3, Activation::Softplus)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::LecunNormal, &mut rng_from_seed(6))?;
//! let x = Mat::from_fn(3, 2, |i, j| (i + j) as f64);
//! let jr = Jacobian::reverse(&mlp, x.as_ref(), Par::Seq)?;
//! let jf = Jacobian::forward(&mlp, x.as_ref(), Par::Seq)?;
//! assert_eq!((jr.as_mat().nrows(), jr.as_mat().ncols()), (6, mlp.n_params()));
//! assert!((jr.as_mat() - jf.as_mat()).norm_max() < 1e-14);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::{MatRef, Par};

use crate::buffer::rm;
use crate::derivatives::{Signals, jvp};
use crate::error::{check_finite, max_abs_finite};
use crate::limits::Request;
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::{Float, ForwardCache, Mlp, Result};

/// A per-sample Jacobian stored row-major (sample-major rows, contiguous), `(N·C) × P`.
///
/// Building one checks its memory first ([`crate::limits::Request::Jacobian`]: `8·N·C·P` bytes
/// in `f64` for `J` alone) and refuses a request past the limit as
/// [`Error::TooLarge`](crate::Error::TooLarge); entries that overflow are
/// [`Error::NonFinite`](crate::Error::NonFinite) (`"Jacobian"`). Every entry is a signal times
/// an activation (or one of them, or 0 or 1), so `max(1, max|δ|) · max(1, max|a|)` bounds them:
/// `J` itself is scanned only when that bound exceeds half the largest finite value.
///
/// `Jacobian::default()` is empty; [`Jacobian::reverse_into`] refills an existing one in place,
/// so that a loop over batches reuses one buffer instead of faulting in fresh pages every call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Jacobian<T: Float> {
    n: usize,
    c: usize,
    p: usize,
    data: Vec<T>,
}

impl<T: Float> Jacobian<T> {
    /// `J` from reverse mode (backpropagated signals and activations).
    pub fn reverse(mlp: &Mlp<T>, x: MatRef<'_, T>, par: Par) -> Result<Self> {
        let mut jac = Self::default();
        jac.reverse_into(mlp, x, par)?;
        Ok(jac)
    }

    /// [`Jacobian::reverse`] into this Jacobian's storage, which only grows: after the first call
    /// of a batch size, no new memory is touched for `J` itself.
    ///
    /// ```
    /// use faer::{Mat, Par};
    /// use mgs::{Activation, Architecture, Init, Jacobian, Mlp, rng_from_seed};
    /// let arch = Architecture::new(3, &[(8, Activation::Tanh)], 2)?;
    /// let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1))?;
    /// let mut jac = Jacobian::default();
    /// for batch in 0..3 {
    ///     let x = Mat::from_fn(4, 3, |i, j| (batch + i * j) as f64 * 0.1);
    ///     jac.reverse_into(&mlp, x.as_ref(), Par::Seq)?;
    ///     assert_eq!(jac, Jacobian::reverse(&mlp, x.as_ref(), Par::Seq)?);
    /// }
    /// # Ok::<(), mgs::Error>(())
    /// ```
    pub fn reverse_into(&mut self, mlp: &Mlp<T>, x: MatRef<'_, T>, par: Par) -> Result<()> {
        Request::Jacobian { n: x.nrows() }.check::<T>(mlp.arch())?;
        let cache = mlp.forward_cached(x, par)?;
        self.fill_reverse(mlp, &cache, &mut Signals::default(), par)
    }

    /// `J` from reverse mode, reusing a forward pass.
    pub fn reverse_from_cache(mlp: &Mlp<T>, cache: &ForwardCache<T>, par: Par) -> Result<Self> {
        let mut jac = Self::default();
        jac.fill_reverse(mlp, cache, &mut Signals::default(), par)?;
        Ok(jac)
    }

    /// `J` from reverse mode into this Jacobian's buffer, reusing a forward pass and the
    /// buffers of `signals` (overwritten).
    pub(crate) fn fill_reverse(
        &mut self,
        mlp: &Mlp<T>,
        cache: &ForwardCache<T>,
        signals: &mut Signals<T>,
        par: Par,
    ) -> Result<()> {
        // Empty until filled, so that a failed call leaves no half-written Jacobian behind.
        (self.n, self.c, self.p) = (0, 0, 0);
        Request::Jacobian { n: cache.n }.check::<T>(mlp.arch())?;
        let arch = mlp.arch();
        let (n, c, p) = (cache.n, arch.output_dim(), arch.n_params());
        // Sized first (exactly: `data()` is the whole buffer); every entry is written below, so
        // old contents never leak through.
        self.data.resize(n * c * p, T::zero());
        signals.compute_into(mlp, cache, par)?;
        let signals = &*signals;
        let widths = arch.widths();
        let n_layers = arch.n_layers();
        for_each_chunk(par, &mut self.data, BLOCK_ROWS * c * p, |b, chunk| {
            for (q, row) in chunk.chunks_exact_mut(p).enumerate() {
                let r = b * BLOCK_ROWS * c + q;
                let (i, out) = (r / c, r % c);
                for l in 0..n_layers {
                    let n_in = widths[l];
                    let a = &cache.acts[l][i * n_in..(i + 1) * n_in];
                    let layer = &mut row[arch.layer_param_range(l)];
                    let (wblock, bblock) = layer.split_at_mut(arch.weight_range(l).len());
                    if l + 1 < n_layers {
                        let w = widths[l + 1];
                        let delta = &signals.d[l][r * w..(r + 1) * w];
                        for (o, &d) in delta.iter().enumerate() {
                            crate::simd::scale_into(&mut wblock[o * n_in..(o + 1) * n_in], d, a);
                        }
                        bblock.copy_from_slice(delta);
                    } else {
                        // Output layer: δ^L = e_c.
                        wblock.fill(T::zero());
                        bblock.fill(T::zero());
                        wblock[out * n_in..(out + 1) * n_in].copy_from_slice(a);
                        bblock[out] = T::one();
                    }
                }
            }
        });
        let delta = signals.bounds.iter().fold(1.0f64, |m, &b| m.max(b));
        let act = (0..n_layers).fold(1.0f64, |m, l| {
            let (a_max, a_finite) = max_abs_finite(&cache.acts[l][..n * widths[l]]);
            if a_finite { m.max(a_max) } else { f64::NAN }
        });
        // (A NaN bound is not safe either.)
        let safe = delta * act <= T::MAX_FINITE / 2.0;
        if !safe {
            check_finite("Jacobian", &self.data)?;
        }
        (self.n, self.c, self.p) = (n, c, p);
        Ok(())
    }

    /// `J` column by column from forward mode (`J e_p` for every parameter `p`); `O(P)` forward
    /// passes, meant for checking the reverse route.
    pub fn forward(mlp: &Mlp<T>, x: MatRef<'_, T>, par: Par) -> Result<Self> {
        Request::ForwardJacobian { n: x.nrows() }.check::<T>(mlp.arch())?;
        let cache = mlp.forward_cached(x, par)?;
        let (n, c, p) = (cache.n, mlp.arch().output_dim(), mlp.n_params());
        let m = n * c;
        // Column-major scratch: column q is J e_q.
        let mut cols = vec![T::zero(); p * m];
        let mut first_err = std::sync::Mutex::new(None);
        for_each_chunk(par, &mut cols, m, |q, col| {
            let mut e = vec![T::zero(); p];
            e[q] = T::one();
            match jvp(mlp, &cache, Some(&e), None, Par::Seq) {
                Ok(jv) => {
                    for r in 0..m {
                        col[r] = jv[(r / c, r % c)];
                    }
                }
                Err(err) => {
                    first_err.lock().expect("no panics").get_or_insert(err);
                }
            }
        });
        if let Some(err) = first_err.get_mut().expect("no panics").take() {
            return Err(err);
        }
        let mut data = vec![T::zero(); m * p];
        for q in 0..p {
            for r in 0..m {
                data[r * p + q] = cols[q * m + r];
            }
        }
        Ok(Self { n, c, p, data })
    }

    /// `J` as an `(N·C) × P` view.
    #[must_use]
    pub fn as_mat(&self) -> MatRef<'_, T> {
        rm(&self.data, self.n * self.c, self.p)
    }

    /// The row-major storage (`N·C·P` values; empty after a failed fill).
    #[must_use]
    pub fn data(&self) -> &[T] {
        &self.data[..self.n * self.c * self.p]
    }

    /// Row `i·C + c`: `∇_θ f_c(x_i)`, or `None` unless `sample < N` and `output < C`.
    #[must_use]
    pub fn row(&self, sample: usize, output: usize) -> Option<&[T]> {
        if sample >= self.n || output >= self.c {
            return None;
        }
        let r = sample * self.c + output;
        Some(&self.data[r * self.p..(r + 1) * self.p])
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

    /// Number of parameters `P`.
    #[must_use]
    pub fn n_params(&self) -> usize {
        self.p
    }
}
