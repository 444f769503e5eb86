//! MGS kernels `K = J Jᵀ`: full, traced and cross, by two routes.
//!
//! - [`explicit`]: forms the per-sample Jacobian `J` and multiplies it by its transpose with
//!   faer (one triangle, mirrored).
//! - [`factorised`]: never forms `J`; sums per-layer Gram matrices of the backpropagated signals
//!   and of the activations, combined by Hadamard products (design note §3.1).
//!
//! Rows and columns of a full kernel follow the fixed order `r = i·C + c`.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! use mgs::kernel::{KernelKind, Route, mgs_kernel};
//! let arch = Architecture::new(3, &[(16, Activation::Tanh), (16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(3))?;
//! let x = Mat::from_fn(10, 3, |i, j| ((i + 1) as f64 * (j + 2) as f64).sin());
//! let k_exp = mgs_kernel(&mlp, x.as_ref(), KernelKind::Full, Route::Explicit, Par::Seq)?;
//! let k_fac = mgs_kernel(&mlp, x.as_ref(), KernelKind::Full, Route::Factorised, Par::Seq)?;
//! assert_eq!(k_exp.nrows(), 20);
//! assert!((&k_exp - &k_fac).norm_max() < 1e-12 * k_exp.norm_max());
//! # Ok::<(), mgs::Error>(())
//! ```

pub mod explicit;
pub mod factorised;
pub(crate) mod hadamard;

use faer::{Mat, MatRef, Par};

use crate::{Float, Mlp, Result};

/// Which MGS kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// `(N·C) × (N·C)`: every pair of (sample, output) gradients.
    Full,
    /// `N × N`: summed over outputs, `K_tr[i,j] = Σ_c K[(i,c),(j,c)]` (neural-tangents' default).
    Traced,
}

impl KernelKind {
    /// Order of the kernel for `n` samples and `c` outputs (saturating at `usize::MAX`, which no
    /// kernel passes the size check with).
    pub fn order(&self, n: usize, c: usize) -> usize {
        match self {
            KernelKind::Full => n.saturating_mul(c),
            KernelKind::Traced => n,
        }
    }

    /// Lower-case name (`"full"`, `"traced"`).
    pub fn name(&self) -> &'static str {
        match self {
            KernelKind::Full => "full",
            KernelKind::Traced => "traced",
        }
    }
}

/// How a kernel (or a penalty gradient) is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Route {
    /// Through the explicit Jacobian `J` (the reference route).
    Explicit,
    /// Through per-layer Gram matrices; never forms `J` (the fast route for MLPs).
    #[default]
    Factorised,
}

/// The MGS kernel of `mlp` on the batch `x` (`N × d`), by the chosen route.
pub fn mgs_kernel<T: Float>(
    mlp: &Mlp<T>,
    x: MatRef<'_, T>,
    kind: KernelKind,
    route: Route,
    par: Par,
) -> Result<Mat<T>> {
    match route {
        Route::Explicit => {
            crate::limits::Request::Kernel {
                n: x.nrows(),
                kind,
                route,
            }
            .check::<T>(mlp.arch())?;
            let j = crate::Jacobian::reverse(mlp, x, par)?;
            let k = explicit::kernel(&j, kind, par);
            crate::error::check_finite_mat("kernel", k.as_ref())?;
            Ok(k)
        }
        Route::Factorised => factorised::kernel(mlp, x, kind, par),
    }
}

/// The cross kernel `J(X₁) J(X₂)ᵀ` (full: `(N₁·C) × (N₂·C)`; traced: `N₁ × N₂`).
pub fn mgs_cross_kernel<T: Float>(
    mlp: &Mlp<T>,
    x1: MatRef<'_, T>,
    x2: MatRef<'_, T>,
    kind: KernelKind,
    route: Route,
    par: Par,
) -> Result<Mat<T>> {
    match route {
        Route::Explicit => {
            let (n1, n2) = (x1.nrows(), x2.nrows());
            crate::limits::Request::CrossKernel {
                n1,
                n2,
                kind,
                route,
            }
            .check::<T>(mlp.arch())?;
            let j1 = crate::Jacobian::reverse(mlp, x1, par)?;
            let j2 = crate::Jacobian::reverse(mlp, x2, par)?;
            let k = explicit::cross_kernel(&j1, &j2, kind, par)?;
            crate::error::check_finite_mat("cross kernel", k.as_ref())?;
            Ok(k)
        }
        Route::Factorised => factorised::cross_kernel(mlp, x1, x2, kind, par),
    }
}
