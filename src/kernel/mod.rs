//! MGS kernels `K = J Jᵀ`: full, traced, their centred forms and cross kernels, by two routes.
//!
//! - [`explicit`]: forms the per-sample Jacobian `J` and multiplies it by its transpose with
//!   faer (one triangle, mirrored).
//! - [`factorised`]: never forms `J`; sums per-layer Gram matrices of the backpropagated signals
//!   and of the activations, combined by Hadamard products (design note §3.1).
//!
//! Rows and columns of a full kernel follow the fixed order `r = i·C + c`. The centred kinds
//! ([`KernelKind::CentredFull`], [`KernelKind::CentredTraced`]) use the gradients of the centred
//! outputs `f_c − f̄`, and [`factorised::layer_kernels`] splits a kernel into its per-layer terms.
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

use crate::derivatives::Seeds;
use crate::{Error, Float, Mlp, Result};

/// Which MGS kernel.
///
/// The centred kinds replace each sample's output gradients `∇f_c(x_i)` by those of the centred
/// outputs `f_c − f̄`, `f̄ = (1/C) Σ_c f_c`: `J_c = (I_N ⊗ P) J` with `P = I_C − 11ᵀ/C`. For a
/// softmax cross-entropy only differences of logits matter, and `f̄` is exactly the direction the
/// loss cannot see. They need `C ≥ 2` (with one output the centred kernel is identically zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KernelKind {
    /// `(N·C) × (N·C)`: every pair of (sample, output) gradients.
    Full,
    /// `N × N`: summed over outputs, `K_tr[i,j] = Σ_c K[(i,c),(j,c)]` (neural-tangents' default).
    Traced,
    /// `(N·C) × (N·C)`: `K_c = J_c J_cᵀ = (I_N ⊗ P) K (I_N ⊗ P)`.
    ///
    /// Singular by construction: `J_cᵀ (e_i ⊗ 1_C) = 0` for every sample `i`, so the `N` vectors
    /// `e_i ⊗ 1_C` span a null space and `rank K_c ≤ min(N·(C − 1), P)`: one of every `C`
    /// eigenvalues is exactly zero. The jitter `ε τ I` of the log-determinant metrics keeps
    /// `K_ε` positive definite and the log-dets finite, but those `N` directions always
    /// contribute `(1/C) log(ε τ)` to `(1/m) log det K_ε`.
    CentredFull,
    /// `N × N`: `K_ct[i,j] = Σ_c K_c[(i,c),(j,c)] = K_tr[i,j] − C ∇f̄_i · ∇f̄_j`, the block trace
    /// of [`KernelKind::CentredFull`]. Generally of full rank `min(N, P)`.
    CentredTraced,
}

impl KernelKind {
    /// All kinds, for sweeps.
    pub const ALL: [KernelKind; 4] = [
        KernelKind::Full,
        KernelKind::Traced,
        KernelKind::CentredFull,
        KernelKind::CentredTraced,
    ];

    /// Order of the kernel for `n` samples and `c` outputs: `n·c` (full kinds, saturating at
    /// `usize::MAX`, which no kernel passes the size check with) or `n` (traced).
    pub fn order(&self, n: usize, c: usize) -> usize {
        if self.is_traced() {
            n
        } else {
            n.saturating_mul(c)
        }
    }

    /// Lower-case name (`"full"`, `"traced"`, `"centred_full"`, `"centred_traced"`).
    pub fn name(&self) -> &'static str {
        match self {
            KernelKind::Full => "full",
            KernelKind::Traced => "traced",
            KernelKind::CentredFull => "centred_full",
            KernelKind::CentredTraced => "centred_traced",
        }
    }

    /// Whether the output gradients are centred (`J_c = (I_N ⊗ P) J`).
    pub fn is_centred(&self) -> bool {
        matches!(self, KernelKind::CentredFull | KernelKind::CentredTraced)
    }

    /// Whether the kernel is summed over outputs (`N × N`).
    pub fn is_traced(&self) -> bool {
        matches!(self, KernelKind::Traced | KernelKind::CentredTraced)
    }

    /// The output directions the factorised route seeds its backpropagated signals with: the
    /// outputs (`S = I_C`), the centred outputs (`S = P`), or, for the centred traced kernel, an
    /// orthonormal basis of `1⊥` (`S = Qᵀ`, `Q Qᵀ = P`), which gives the same block trace with
    /// `C − 1` instead of `C` signal rows per sample.
    pub(crate) fn seeds(&self) -> Seeds {
        match self {
            KernelKind::Full | KernelKind::Traced => Seeds::Outputs,
            KernelKind::CentredFull => Seeds::Centred,
            KernelKind::CentredTraced => Seeds::CentredBasis,
        }
    }

    /// Checks that a model with `c` outputs has this kind of kernel (`C ≥ 2` when centred).
    pub(crate) fn check_outputs(&self, c: usize) -> Result<()> {
        if self.is_centred() && c < 2 {
            return Err(Error::InvalidHyperparameter {
                name: "kernel (output count)",
                value: c as f64,
                reason: "a centred kernel needs at least 2 outputs (with one it is identically zero)",
            });
        }
        Ok(())
    }
}

/// How a kernel (or a penalty gradient) is computed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
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
            explicit::kernel(&j, kind, par)
        }
        Route::Factorised => factorised::kernel(mlp, x, kind, par),
    }
}

/// The cross kernel `J(X₁) J(X₂)ᵀ` (full kinds: `(N₁·C) × (N₂·C)`; traced: `N₁ × N₂`), centred
/// on both sides for the centred kinds.
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
