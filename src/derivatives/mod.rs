//! Analytic derivatives of an [`Mlp`], batched over samples.
//!
//! - [`vjp`] — reverse mode: output cotangents `U` (`N × C`) → `Σ_i J_iᵀ u_i` and the input
//!   gradient;
//! - [`jvp`] — forward mode: parameter and/or input tangents → output tangents `J v`;
//! - [`hvp`] — forward-over-reverse: `Σ_i ∇²_θ(u_iᵀ f(x_i)) v`;
//! - [`Signals`] — the backpropagated signals `δ^l_{i,c}` of every output, from which the
//!   Jacobian and the factorised kernels are built.
//!
//! All of them reuse a [`ForwardCache`]; nothing is taped and nothing is
//! approximated by differences.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! use mgs::derivatives::{jvp, vjp};
//! let arch = Architecture::new(3, &[(6, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1))?;
//! let x = Mat::from_fn(4, 3, |i, j| ((i * 3 + j) as f64).sin());
//! let cache = mlp.forward_cached(x.as_ref(), Par::Seq)?;
//! let u = Mat::from_fn(4, 2, |i, c| (i + 2 * c) as f64 * 0.1);
//! let v: Vec<f64> = (0..mlp.n_params()).map(|p| (p as f64).cos()).collect();
//! // ⟨u, J v⟩ = ⟨Jᵀ u, v⟩
//! let jv = jvp(&mlp, &cache, Some(&v), None, Par::Seq)?;
//! let jtu = vjp(&mlp, &cache, u.as_ref(), Par::Seq)?;
//! let lhs: f64 = (0..4).flat_map(|i| (0..2).map(move |c| (i, c))).map(|(i, c)| u[(i, c)] * jv[(i, c)]).sum();
//! let rhs: f64 = jtu.params.iter().zip(&v).map(|(a, b)| a * b).sum();
//! assert!((lhs - rhs).abs() < 1e-12 * lhs.abs().max(1.0));
//! # Ok::<(), mgs::Error>(())
//! ```

mod forward;
mod hvp;
mod reverse;
mod signals;

pub use forward::jvp;
pub use hvp::hvp;
pub(crate) use hvp::{HvpRows, hvp_partials_len, hvp_rows};
pub use reverse::{Vjp, vjp, vjp_into};
pub(crate) use reverse::{VjpScratch, vjp_into_scratch};
pub(crate) use signals::Seeds;
pub use signals::Signals;

use faer::MatRef;

use crate::{Error, Float, ForwardCache, Mlp, Result};

/// Checks that `cache` came from `mlp` and that `m` is `N × cols` and finite.
pub(crate) fn check_batch_matrix<T: Float>(
    what: &'static str,
    mlp: &Mlp<T>,
    cache: &ForwardCache<T>,
    m: MatRef<'_, T>,
    cols: usize,
) -> Result<()> {
    check_cache(mlp, cache)?;
    if m.nrows() != cache.n || m.ncols() != cols {
        return Err(Error::ShapeMismatch {
            what,
            expected: (cache.n, cols),
            found: (m.nrows(), m.ncols()),
        });
    }
    crate::error::check_finite_mat(what, m)
}

/// Checks that `cache` holds a forward pass of a model with `mlp`'s architecture: the same
/// widths and the same hidden activations (a cache of a `relu` network fed to the derivatives of
/// a `tanh` one would give a wrong gradient).
pub(crate) fn check_cache<T: Float>(mlp: &Mlp<T>, cache: &ForwardCache<T>) -> Result<()> {
    if cache.n == 0 {
        return Err(Error::EmptyBatch {
            what: "forward cache",
        });
    }
    let arch = mlp.arch();
    if cache.widths != arch.widths() {
        return Err(Error::InvalidArchitecture {
            reason: format!(
                "forward cache was computed for widths {:?}, model has {:?}",
                cache.widths,
                arch.widths()
            ),
        });
    }
    if cache.activation_fns != arch.activations() {
        return Err(Error::InvalidArchitecture {
            reason: format!(
                "forward cache was computed for activations {:?}, model has {:?}",
                cache.activation_fns,
                arch.activations()
            ),
        });
    }
    Ok(())
}
