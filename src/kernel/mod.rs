//! MGS kernels `K = J Jᵀ`: full, traced, their centred forms and cross kernels, by two routes.
//!
//! One entry point, in the manner of neural-tangents' `kernel_fn(x1, x2=None, get=…)`:
//! [`kernel`] computes `J(X₁) J(X₂)ᵀ` (`X₂ = X₁` when `x2` is `None`) for the [`KernelParams`]
//! (which [`KernelKind`], by which [`Route`]); [`KernelWorkspace::kernel_into`] is the same
//! computation written into a caller's matrix with buffers kept across calls, and
//! [`layer_kernels`] splits a kernel into its per-layer terms.
//!
//! - [`Route::Explicit`] forms the per-sample Jacobian `J` and multiplies it by its transpose with
//!   faer (one triangle, mirrored).
//! - [`Route::Factorised`] never forms `J`; it sums per-layer Gram matrices of the backpropagated
//!   signals and of the activations, combined by Hadamard products (design note §3.1).
//!
//! Rows and columns of a full kernel follow the fixed order `r = i·C + c`. The centred kinds
//! ([`KernelKind::CentredFull`], [`KernelKind::CentredTraced`]) use the gradients of the centred
//! outputs `f_c − f̄`.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
//! let arch = Architecture::new(3, &[(16, Activation::Tanh), (16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(3))?;
//! let x = Mat::from_fn(10, 3, |i, j| ((i + 1) as f64 * (j + 2) as f64).sin());
//! let full = |route| KernelParams::new(KernelKind::Full, route);
//! let k_exp = kernel(&mlp, x.as_ref(), None, &full(Route::Explicit), Par::Seq)?;
//! let k_fac = kernel(&mlp, x.as_ref(), None, &full(Route::Factorised), Par::Seq)?;
//! assert_eq!(k_exp.nrows(), 20);
//! assert!((&k_exp - &k_fac).norm_max() < 1e-12 * k_exp.norm_max());
//! // The traced kernel is the block trace of the full one.
//! let traced = kernel(&mlp, x.as_ref(), None, &KernelParams::default(), Par::Seq)?;
//! let s: f64 = (0..2).map(|c| k_fac[(2 + c, 6 + c)]).sum();
//! assert!((traced[(1, 3)] - s).abs() < 1e-12 * traced.norm_max());
//! // A cross kernel against a second batch; against the same batch it is the kernel.
//! let x2 = Mat::from_fn(4, 3, |i, j| (i as f64 - j as f64) * 0.2);
//! let cross = kernel(&mlp, x.as_ref(), Some(x2.as_ref()), &full(Route::Factorised), Par::Seq)?;
//! assert_eq!((cross.nrows(), cross.ncols()), (20, 8));
//! let same = kernel(&mlp, x.as_ref(), Some(x.as_ref()), &full(Route::Explicit), Par::Seq)?;
//! assert!((&same - &k_exp).norm_max() < 1e-12 * k_exp.norm_max());
//! // Centred: every sample's block of rows sums to zero.
//! let centred = KernelParams::new(KernelKind::CentredFull, Route::Factorised);
//! let kc = kernel(&mlp, x.as_ref(), None, &centred, Par::Seq)?;
//! assert!((kc[(2, 7)] + kc[(3, 7)]).abs() < 1e-12 * kc[(7, 7)]);
//! # Ok::<(), mgs::Error>(())
//! ```

pub(crate) mod explicit;
pub(crate) mod factorised;
pub(crate) mod hadamard;

use faer::{Mat, MatMut, MatRef, Par};

use crate::buffer::ensure_len;
use crate::derivatives::{Seeds, Signals};
use crate::limits::Request;
use crate::{Error, Float, ForwardCache, Jacobian, Mlp, NonExhaustive, Result};

/// Which MGS kernel.
///
/// The centred kinds replace each sample's output gradients `∇f_c(x_i)` by those of the centred
/// outputs `f_c − f̄`, `f̄ = (1/C) Σ_c f_c`: `J_c = (I_N ⊗ P) J` with `P = I_C − 11ᵀ/C`. For a
/// softmax cross-entropy only differences of logits matter, and `f̄` is exactly the direction the
/// loss cannot see. They need `C ≥ 2` (with one output the centred kernel is identically zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
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
    #[must_use]
    pub fn order(&self, n: usize, c: usize) -> usize {
        if self.is_traced() {
            n
        } else {
            n.saturating_mul(c)
        }
    }

    /// Lower-case name (`"full"`, `"traced"`, `"centred_full"`, `"centred_traced"`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            KernelKind::Full => "full",
            KernelKind::Traced => "traced",
            KernelKind::CentredFull => "centred_full",
            KernelKind::CentredTraced => "centred_traced",
        }
    }

    /// Whether the output gradients are centred (`J_c = (I_N ⊗ P) J`).
    #[must_use]
    pub fn is_centred(&self) -> bool {
        matches!(self, KernelKind::CentredFull | KernelKind::CentredTraced)
    }

    /// Whether the kernel is summed over outputs (`N × N`).
    #[must_use]
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
            return Err(Error::Incompatible {
                what: "kernel and model",
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

/// What [`kernel`] computes: which kernel, by which route.
///
/// New fields may be added: write `KernelParams { kind, ..Default::default() }` or use
/// [`KernelParams::new`]. The default is the traced kernel (neural-tangents' default) by the
/// factorised route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelParams {
    /// Which kernel.
    pub kind: KernelKind,
    /// How it is computed (both routes give the same kernel up to rounding).
    pub route: Route,
    #[doc(hidden)]
    pub non_exhaustive: NonExhaustive,
}

impl Default for KernelParams {
    fn default() -> Self {
        Self::new(KernelKind::Traced, Route::default())
    }
}

impl KernelParams {
    /// The kernel `kind` by `route`.
    #[must_use]
    pub fn new(kind: KernelKind, route: Route) -> Self {
        Self {
            kind,
            route,
            non_exhaustive: NonExhaustive::default(),
        }
    }
}

/// The MGS kernel `J(X₁) J(X₂)ᵀ` of `mlp` between the batches `x1` (`N₁ × d`) and `x2`
/// (`N₂ × d`), or `J(X₁) J(X₁)ᵀ` when `x2` is `None`: `(N₁·C) × (N₂·C)` for the full kinds,
/// `N₁ × N₂` for the traced ones, centred on both sides for the centred kinds.
///
/// With `x2 = None` only one triangle is computed (the kernel is symmetric); `Some(x1)` gives
/// the same matrix at the cost of a general product. Errors: [`Error::TooLarge`] before anything
/// is allocated past the memory limit ([`crate::limits::Request::Kernel`],
/// [`crate::limits::Request::CrossKernel`]); [`Error::Incompatible`] for a centred kind of a
/// one-output model; the input errors of [`Mlp::forward`]; [`Error::NonFinite`] (`"kernel"`,
/// `"cross kernel"`) if the kernel overflows. See the [module](self) example.
pub fn kernel<T: Float>(
    mlp: &Mlp<T>,
    x1: MatRef<'_, T>,
    x2: Option<MatRef<'_, T>>,
    params: &KernelParams,
    par: Par,
) -> Result<Mat<T>> {
    let (m1, m2) = check(mlp, x1, x2, params)?;
    let mut k = Mat::zeros(m1, m2);
    KernelWorkspace::default().fill_checked(mlp, x1, x2, params, k.as_mut(), par)?;
    Ok(k)
}

/// The kernel's shape `(m₁, m₂)` once its kind and memory have been checked.
fn check<T: Float>(
    mlp: &Mlp<T>,
    x1: MatRef<'_, T>,
    x2: Option<MatRef<'_, T>>,
    params: &KernelParams,
) -> Result<(usize, usize)> {
    let KernelParams { kind, route, .. } = *params;
    let arch = mlp.arch();
    let n1 = x1.nrows();
    match x2 {
        None => Request::Kernel { n: n1, kind, route }.check::<T>(arch)?,
        Some(x2) => Request::CrossKernel {
            n1,
            n2: x2.nrows(),
            kind,
            route,
        }
        .check::<T>(arch)?,
    }
    let c = arch.output_dim();
    kind.check_outputs(c)?;
    Ok((kind.order(n1, c), kind.order(x2.unwrap_or(x1).nrows(), c)))
}

/// The per-layer terms `K_l = S_D^l ∘ expand(S_A^{l−1} + 1)` of the (factorised) kernel of
/// `mlp` on `x`, first layer first (`K = Σ_l K_l`); see [`KernelWorkspace::layer_kernels_into`].
pub fn layer_kernels<T: Float>(
    mlp: &Mlp<T>,
    x: MatRef<'_, T>,
    kind: KernelKind,
    par: Par,
) -> Result<Vec<Mat<T>>> {
    let mut out = Vec::new();
    KernelWorkspace::default().layer_kernels_into(mlp, x, kind, par, &mut out)?;
    Ok(out)
}

/// Buffers kept across kernels computed batch after batch, as a monitor does every epoch: the
/// forward cache and the signals (both routes), the Jacobian, its centred copy and the Gram
/// product (explicit route). With [`KernelWorkspace::kernel_into`] and a kept output matrix,
/// repeated kernels of batches no larger than the largest seen touch no fresh memory but the
/// parallel tasks' small scratch: each tile's (factorised route), each block of centred rows
/// (explicit route, centred kinds). Cross kernels use scratch of their own.
///
/// ```
/// use faer::{Mat, Par};
/// use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
/// use mgs::kernel::{KernelKind, KernelParams, KernelWorkspace, Route, kernel};
/// let arch = Architecture::new(3, &[(16, Activation::Tanh)], 2)?;
/// let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(3))?;
/// let params = KernelParams::new(KernelKind::Full, Route::Factorised);
/// let mut ws = KernelWorkspace::default();
/// let mut k = Mat::zeros(10, 10); // order N·C for the full kernel
/// for batch in 0..3 {
///     let x = Mat::from_fn(5, 3, |i, j| (batch + i + 2 * j) as f64 * 0.1);
///     ws.kernel_into(&mlp, x.as_ref(), None, &params, k.as_mut(), Par::Seq)?;
///     assert_eq!(k, kernel(&mlp, x.as_ref(), None, &params, Par::Seq)?);
/// }
/// # Ok::<(), mgs::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct KernelWorkspace<T: Float> {
    cache: ForwardCache<T>,
    signals: Signals<T>,
    jacobian: Jacobian<T>,
    centred: Vec<T>,
    gram: Vec<T>,
}

impl<T: Float> KernelWorkspace<T> {
    /// [`kernel`] written into `out`, which must be `m₁ × m₂` (`m = kind.order(N, C)`; any
    /// strides) and is overwritten.
    pub fn kernel_into(
        &mut self,
        mlp: &Mlp<T>,
        x1: MatRef<'_, T>,
        x2: Option<MatRef<'_, T>>,
        params: &KernelParams,
        out: MatMut<'_, T>,
        par: Par,
    ) -> Result<()> {
        let shape = check(mlp, x1, x2, params)?;
        if (out.nrows(), out.ncols()) != shape {
            return Err(Error::ShapeMismatch {
                what: "kernel output",
                expected: shape,
                found: (out.nrows(), out.ncols()),
            });
        }
        self.fill_checked(mlp, x1, x2, params, out, par)
    }

    /// Room for the kernel of `n` samples (the forward cache, the signals and the Jacobian size
    /// themselves as they are computed; only the explicit route needs more).
    fn reserve(&mut self, mlp: &Mlp<T>, n: usize, params: &KernelParams) {
        if params.route != Route::Explicit {
            return;
        }
        let (kind, c, p) = (params.kind, mlp.arch().output_dim(), mlp.n_params());
        let m = kind.order(n, c);
        ensure_len(&mut self.centred, explicit::centred_len((n, c, p), kind));
        ensure_len(&mut self.gram, m * m);
    }

    /// [`kernel_into`](Self::kernel_into) once the request and `out`'s shape are checked.
    fn fill_checked(
        &mut self,
        mlp: &Mlp<T>,
        x1: MatRef<'_, T>,
        x2: Option<MatRef<'_, T>>,
        params: &KernelParams,
        mut out: MatMut<'_, T>,
        par: Par,
    ) -> Result<()> {
        let kind = params.kind;
        if x2.is_none() {
            self.reserve(mlp, x1.nrows(), params);
        }
        match (x2, params.route) {
            (None, Route::Factorised) => {
                factorised::prepare(&mut self.cache, &mut self.signals, mlp, x1, kind, par)?;
                let layers = 0..mlp.arch().n_layers();
                factorised::fill(&self.cache, &self.signals, kind, out.as_mut(), layers, par);
            }
            (None, Route::Explicit) => {
                self.cache.compute(mlp, x1, par)?;
                self.jacobian
                    .fill_reverse(mlp, &self.cache, &mut self.signals, par)?;
                let scratch = (&mut self.centred[..], &mut self.gram[..]);
                explicit::kernel_into(&self.jacobian, kind, scratch, out.as_mut(), par);
            }
            (Some(x2), Route::Factorised) => {
                factorised::cross_kernel_into(mlp, x1, x2, kind, out.as_mut(), par)?;
            }
            (Some(x2), Route::Explicit) => {
                let j1 = Jacobian::reverse(mlp, x1, par)?;
                let j2 = Jacobian::reverse(mlp, x2, par)?;
                explicit::cross_kernel_into(&j1, &j2, kind, out.as_mut(), par);
            }
        }
        let what = if x2.is_some() {
            "cross kernel"
        } else {
            "kernel"
        };
        crate::error::check_finite_mat(what, out.as_ref())
    }

    /// The per-layer terms `K_l = S_D^l ∘ expand(S_A^{l−1} + 1)` of the factorised kernel
    /// (`K = Σ_l K_l`, first layer first), written into `out`, which is resized to one `m × m`
    /// matrix per layer; matrices already there are reused.
    ///
    /// `K_l` is the kernel of layer `l`'s parameters alone, `J_l J_lᵀ` with `J_l` the columns of
    /// `J` (or `J_c`) that belong to `W^l` and `b^l`: its trace is that layer's share of the
    /// squared gradient norms. For the output layer `S_D^L` is `[c = c']` (full), `P_{cc'}`
    /// (centred full), `C` (traced) or `C − 1` (centred traced).
    ///
    /// ```
    /// use faer::{Mat, Par};
    /// use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
    /// use mgs::kernel::{KernelKind, KernelParams, KernelWorkspace, Route, kernel};
    /// let arch = Architecture::new(3, &[(8, Activation::Tanh), (6, Activation::Silu)], 3)?;
    /// let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(3))?;
    /// let x = Mat::from_fn(5, 3, |i, j| (i + 2 * j) as f64 * 0.1);
    /// let mut layers = Vec::new();
    /// KernelWorkspace::default().layer_kernels_into(
    ///     &mlp, x.as_ref(), KernelKind::CentredTraced, Par::Seq, &mut layers)?;
    /// assert_eq!(layers.len(), 3);
    /// let params = KernelParams::new(KernelKind::CentredTraced, Route::Factorised);
    /// let k = kernel(&mlp, x.as_ref(), None, &params, Par::Seq)?;
    /// let sum = &layers[0] + &layers[1] + &layers[2];
    /// assert!((&sum - &k).norm_max() < 1e-12 * k.norm_max());
    /// # Ok::<(), mgs::Error>(())
    /// ```
    pub fn layer_kernels_into(
        &mut self,
        mlp: &Mlp<T>,
        x: MatRef<'_, T>,
        kind: KernelKind,
        par: Par,
        out: &mut Vec<Mat<T>>,
    ) -> Result<()> {
        let m = factorised::prepare(&mut self.cache, &mut self.signals, mlp, x, kind, par)?;
        let n_layers = mlp.arch().n_layers();
        out.truncate(n_layers);
        out.resize_with(n_layers, || Mat::zeros(m, m));
        for (l, k) in out.iter_mut().enumerate() {
            if (k.nrows(), k.ncols()) != (m, m) {
                k.resize_with(m, m, |_, _| T::zero());
            }
            factorised::fill(&self.cache, &self.signals, kind, k.as_mut(), l..l + 1, par);
            crate::error::check_finite_mat("layer kernel", k.as_ref())?;
        }
        Ok(())
    }
}
