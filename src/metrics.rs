//! Spectral summaries of an MGS kernel: the metric part of the framework.
//!
//! For a kernel `K` of order `m`, `τ = tr(K)/m` and a relative jitter `ε > 0`,
//! `K_ε = K + ε τ I`:
//!
//! | metric | definition |
//! | --- | --- |
//! | [`trace`] | `tr(K)/m`, the mean squared gradient norm |
//! | [`logdet`] | `(1/m) log det K_ε`, via Cholesky |
//! | [`normalized_logdet`] | `logdet − log τ`: scale-free, `0` for orthogonal equal-norm gradients, → `log ε` as they align |
//! | [`cosine_mean`] | mean off-diagonal entry of `K̂ = S K S`, `S = diag(K)^{−1/2}` |
//! | [`cosine_logdet`] | `(1/m) log det(K̂ + ε I)` |
//! | [`eigenvalues`], [`effective_rank`], [`condition_number`] | spectrum of `K`, `exp(−Σ p log p)` with `p = λ/Σλ`, `λ_max(K_ε)/λ_min(K_ε)` |
//!
//! High MGS (similar gradients) reads as a low (normalised) log-determinant and a high mean cosine.
//! Every metric is computed in `f64`, whatever the kernel's precision.
//!
//! Every function checks its kernel first: square, non-empty, finite, and symmetric within the
//! relative tolerance `|K_ij − K_ji| ≤ √ε_T · √(|K_ii| |K_jj|)` (`ε_T` the machine epsilon of the
//! kernel's precision: `1.5e-8` in `f64`, `3.5e-4` in `f32`), else
//! [`Error::NotSymmetric`]: the log-determinant reads one triangle and
//! the cosine mean both, so an asymmetric input has no one answer. Kernels far from 1 in scale
//! (down to the smallest and up to the largest finite values) are scaled exactly by a power of
//! four before being summed or factorised; a result that still overflows is
//! [`Error::NonFinite`], never a NaN or an infinity inside `Ok`.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::metrics::{self, MetricsConfig};
//! // Two orthogonal unit gradients: normalised log-det = log(1 + ε).
//! let k = Mat::<f64>::identity(2, 2);
//! let all = metrics::metrics(k.as_ref(), &MetricsConfig::default(), Par::Seq)?;
//! assert!((all.normalized_logdet - (1.0 + 1e-6f64).ln()).abs() < 1e-12);
//! assert_eq!(all.trace, 1.0);
//! assert_eq!(all.cosine_mean, 0.0);
//! assert!((all.spectrum.unwrap().effective_rank - 2.0).abs() < 1e-12);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::diag::Diag;
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::{Mat, MatRef, Par};

use crate::buffer::StackBuffer;
use crate::error::{check_finite, finite_scalar};
use crate::float::safe_scale;
use crate::limits::{bytes_of, check_bytes};
use crate::spd::{Inverse, SpdWorkspace};
use crate::{Error, Float, Result};

/// The default relative jitter `ε` of the log-determinant metrics.
pub const DEFAULT_JITTER: f64 = 1e-6;

/// What [`metrics`] computes (serde: missing fields take their [`Default`] values).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Relative jitter `ε > 0` of the log-determinants.
    pub jitter: f64,
    /// Also compute the spectrum (eigenvalues, effective rank, condition number): `O(m³)` with a
    /// larger constant than the Cholesky, so it can be turned off for cheap monitoring.
    pub spectrum: bool,
    #[doc(hidden)]
    #[serde(skip)]
    pub non_exhaustive: crate::NonExhaustive,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            jitter: DEFAULT_JITTER,
            spectrum: true,
            non_exhaustive: crate::NonExhaustive::default(),
        }
    }
}

impl MetricsConfig {
    /// Validates the configuration (`jitter` finite and positive).
    pub fn check(&self) -> Result<()> {
        check_jitter(self.jitter)
    }
}

/// The spectral part of [`Metrics`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spectrum {
    /// Eigenvalues of `K` (not jittered), nondecreasing.
    pub eigenvalues: Vec<f64>,
    /// `exp(−Σ p_k log p_k)`, `p = max(λ, 0)/Σ max(λ, 0)`.
    pub effective_rank: f64,
    /// `λ_max(K_ε)/λ_min(K_ε)`.
    pub condition_number: f64,
}

/// All metrics of one kernel (serde: an object with these field names; every value is finite,
/// so JSON numbers hold them exactly).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Order `m` of the kernel.
    pub order: usize,
    /// `tr(K)/m`.
    pub trace: f64,
    /// `(1/m) log det K_ε`.
    pub logdet: f64,
    /// `logdet − log τ`.
    pub normalized_logdet: f64,
    /// Mean off-diagonal cosine (`1` for `m = 1`: a gradient is aligned with itself).
    pub cosine_mean: f64,
    /// `(1/m) log det(K̂ + ε I)`.
    pub cosine_logdet: f64,
    /// Eigenvalues, effective rank and condition number, when asked for.
    pub spectrum: Option<Spectrum>,
}

pub(crate) fn check_jitter(jitter: f64) -> Result<()> {
    if jitter.is_finite() && jitter > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name: "jitter",
            value: jitter,
            reason: "must be finite and > 0",
        })
    }
}

/// Checks that `k` is square, non-empty, finite and symmetric (within the relative tolerance of
/// the module docs).
pub(crate) fn check_kernel<T: Float>(k: MatRef<'_, T>) -> Result<()> {
    if k.nrows() == 0 {
        return Err(Error::EmptyBatch { what: "kernel" });
    }
    if k.nrows() != k.ncols() {
        return Err(Error::ShapeMismatch {
            what: "kernel (must be square)",
            expected: (k.nrows(), k.nrows()),
            found: (k.nrows(), k.ncols()),
        });
    }
    crate::error::check_finite_mat("kernel", k)?;
    check_symmetric(k)
}

/// Tile edge of the symmetry check (both the row and the column side stay in cache).
const SYMMETRY_TILE: usize = 64;

/// `|K_ij − K_ji| ≤ √ε_T · √|K_ii| · √|K_jj|` for every `i > j` (entries finite), else the first
/// offending pair in tile order. Reads contiguous columns (or rows) when the storage has them.
fn check_symmetric<T: Float>(k: MatRef<'_, T>) -> Result<()> {
    let m = k.nrows();
    let tol = T::MACHINE_EPSILON.sqrt();
    let cols: Vec<&[T]> = (0..m)
        .map_while(|j| k.col(j).try_as_col_major().map(|c| c.as_slice()))
        .collect();
    if cols.len() == m {
        return symmetric_sweep(m, tol, |i, j| cols[j][i].to_f64());
    }
    let rows: Vec<&[T]> = (0..m)
        .map_while(|i| k.row(i).try_as_row_major().map(|r| r.as_slice()))
        .collect();
    if rows.len() == m {
        return symmetric_sweep(m, tol, |i, j| rows[i][j].to_f64());
    }
    symmetric_sweep(m, tol, |i, j| k[(i, j)].to_f64())
}

/// The tiled sweep of [`check_symmetric`] over `at(i, j) = K_ij`, with relative tolerance `tol`.
#[inline(always)]
fn symmetric_sweep(m: usize, tol: f64, at: impl Fn(usize, usize) -> f64) -> Result<()> {
    let root: Vec<f64> = (0..m).map(|i| at(i, i).abs().sqrt()).collect();
    for j0 in (0..m).step_by(SYMMETRY_TILE) {
        for i0 in (j0..m).step_by(SYMMETRY_TILE) {
            for j in j0..(j0 + SYMMETRY_TILE).min(m) {
                for i in i0.max(j + 1)..(i0 + SYMMETRY_TILE).min(m) {
                    // Finite entries: the difference is never NaN, and one that overflows
                    // (opposite signs near f64::MAX) compares as asymmetric.
                    if (at(i, j) - at(j, i)).abs() > tol * root[i] * root[j] {
                        return Err(Error::NotSymmetric {
                            what: "kernel",
                            row: i,
                            col: j,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Refuses a metric whose `copies` `f64` copies of an order-`m` kernel (plus `extra` bytes of
/// scratch) exceed the memory limit.
fn check_metric_memory(m: usize, copies: u128, extra: u128) -> Result<()> {
    let one = bytes_of::<f64>((m as u128).saturating_mul(m as u128 + 8));
    check_bytes(
        "kernel metrics (f64 copies of the kernel)",
        one.saturating_mul(copies).saturating_add(extra),
    )
}

/// `tr(K)/m` in `f64` (no checks), summed scaled by [`safe_scale`] of the largest diagonal
/// entry, so that a diagonal near `f64::MAX` does not overflow the sum (unscaled, bit for bit,
/// inside the safe band).
pub(crate) fn mean_diag<T: Float>(k: MatRef<'_, T>) -> f64 {
    let m = k.nrows();
    let max = (0..m).fold(0.0f64, |acc, i| acc.max(k[(i, i)].to_f64().abs()));
    let s = safe_scale(max);
    (0..m).map(|i| k[(i, i)].to_f64() * s).sum::<f64>() / m as f64 / s
}

/// `(1/m) log det(K + shift·I)` through `ws`, reserved for `K`'s order (factor left in `ws`).
pub(crate) fn shifted_logdet<T: Float>(
    ws: &mut SpdWorkspace,
    k: MatRef<'_, T>,
    shift: f64,
    jitter: f64,
    par: Par,
) -> Result<f64> {
    let m = k.nrows();
    ws.load(k, shift, par);
    Ok(2.0 * ws.factor(m, jitter, par)? / m as f64)
}

/// `τ = tr(K)/m`, which must be positive for a relative jitter to make sense.
pub(crate) fn positive_tau<T: Float>(k: MatRef<'_, T>, jitter: f64) -> Result<f64> {
    let tau = mean_diag(k);
    if tau > 0.0 {
        Ok(tau)
    } else {
        Err(Error::NotPositiveDefinite {
            order: k.nrows(),
            pivot: 0,
            jitter,
        })
    }
}

/// Mean squared gradient norm `tr(K)/m`.
pub fn trace<T: Float>(k: MatRef<'_, T>) -> Result<f64> {
    check_kernel(k)?;
    finite_scalar("trace", mean_diag(k))
}

/// `(1/m) log det(K + ε τ I)` by Cholesky.
pub fn logdet<T: Float>(k: MatRef<'_, T>, jitter: f64, par: Par) -> Result<f64> {
    check_kernel(k)?;
    check_jitter(jitter)?;
    check_metric_memory(k.nrows(), 1, 0)?;
    let tau = positive_tau(k, jitter)?;
    let mut ws = SpdWorkspace::for_order(k.nrows(), Inverse::No, par);
    shifted_logdet(&mut ws, k, jitter * tau, jitter, par)
}

/// `(1/m) log det(K + ε τ I) − log τ`.
pub fn normalized_logdet<T: Float>(k: MatRef<'_, T>, jitter: f64, par: Par) -> Result<f64> {
    let value = logdet(k, jitter, par)?;
    finite_scalar("normalised log-determinant", value - mean_diag(k).ln())
}

/// The cosine kernel `K̂_ij = K_ij / √(K_ii K_jj)` (`f64`); needs a positive diagonal.
pub fn cosine_kernel<T: Float>(k: MatRef<'_, T>) -> Result<Mat<f64>> {
    check_kernel(k)?;
    check_metric_memory(k.nrows(), 1, 0)?;
    cosine_of_checked(k)
}

/// [`cosine_kernel`] of a kernel already checked. Entries of a kernel far from positive
/// semi-definite (`|K_ij| ≫ √(K_ii K_jj)`) can overflow: [`Error::NonFinite`].
fn cosine_of_checked<T: Float>(k: MatRef<'_, T>) -> Result<Mat<f64>> {
    let mut s = vec![0.0; k.nrows()];
    inv_sqrt_diag(k, &mut s)?;
    let c = Mat::from_fn(k.nrows(), k.nrows(), |i, j| {
        k[(i, j)].to_f64() * s[i] * s[j]
    });
    crate::error::check_finite_mat("cosine kernel", c.as_ref())?;
    Ok(c)
}

/// Writes `1/√K_ii` into `out` (length `m`), or names the first non-positive diagonal entry.
pub(crate) fn inv_sqrt_diag<T: Float>(k: MatRef<'_, T>, out: &mut [f64]) -> Result<()> {
    debug_assert_eq!(out.len(), k.nrows());
    for (i, o) in out.iter_mut().enumerate() {
        let d = k[(i, i)].to_f64();
        if d.is_nan() || d <= 0.0 {
            return Err(Error::NotPositiveDefinite {
                order: k.nrows(),
                pivot: i,
                jitter: 0.0,
            });
        }
        *o = 1.0 / d.sqrt();
    }
    Ok(())
}

/// Mean off-diagonal entry of the cosine kernel (`1` when `m = 1`).
pub fn cosine_mean<T: Float>(k: MatRef<'_, T>) -> Result<f64> {
    let c = cosine_kernel(k)?;
    finite_scalar("cosine mean", mean_off_diagonal(c.as_ref()))
}

fn mean_off_diagonal(c: MatRef<'_, f64>) -> f64 {
    let m = c.nrows();
    if m == 1 {
        return 1.0;
    }
    let mut s = 0.0;
    for j in 0..m {
        for i in 0..m {
            if i != j {
                s += c[(i, j)];
            }
        }
    }
    s / (m * (m - 1)) as f64
}

/// `(1/m) log det(K̂ + ε I)`.
pub fn cosine_logdet<T: Float>(k: MatRef<'_, T>, jitter: f64, par: Par) -> Result<f64> {
    check_jitter(jitter)?;
    check_kernel(k)?;
    check_metric_memory(k.nrows(), 2, 0)?;
    let c = cosine_of_checked(k)?;
    let mut ws = SpdWorkspace::for_order(k.nrows(), Inverse::No, par);
    shifted_logdet(&mut ws, c.as_ref(), jitter, jitter, par)
}

/// Eigenvalues of the symmetric kernel (lower triangle read), nondecreasing.
///
/// faer's parallel symmetric eigensolver splits its work differently for different thread
/// counts, so the decomposition itself always runs sequentially: the spectrum is then identical
/// bit for bit whatever the caller's `par`, which is accepted for uniformity.
///
/// A kernel whose entries lie outside `[2⁻²⁵⁶, 2²⁵⁶]` in magnitude is decomposed scaled by a
/// power of four and its eigenvalues unscaled; eigenvalues that overflow even so (they can
/// exceed the largest entry `m`-fold) are [`Error::NonFinite`].
pub fn eigenvalues<T: Float>(k: MatRef<'_, T>, par: Par) -> Result<Vec<f64>> {
    check_kernel(k)?;
    eigenvalues_of_checked(k, par)
}

/// [`eigenvalues`] of a kernel already checked.
fn eigenvalues_of_checked<T: Float>(k: MatRef<'_, T>, par: Par) -> Result<Vec<f64>> {
    let _ = par;
    let par = Par::Seq;
    let m = k.nrows();
    let req =
        evd::self_adjoint_evd_scratch::<f64>(m, ComputeEigenvectors::No, par, Default::default());
    check_metric_memory(m, 1, req.size_bytes() as u128)?;
    let lower = |i: usize, j: usize| k[(i.max(j), i.min(j))].to_f64();
    let max = (0..m).fold(0.0f64, |acc, j| {
        (j..m).fold(acc, |acc, i| acc.max(lower(i, j).abs()))
    });
    let scale = safe_scale(max);
    let a = Mat::from_fn(m, m, |i, j| lower(i, j) * scale);
    let mut s = Diag::<f64>::zeros(m);
    let mut mem = StackBuffer::default();
    mem.reserve(req);
    evd::self_adjoint_evd(
        a.as_ref(),
        s.as_mut(),
        None,
        par,
        mem.stack(),
        Default::default(),
    )
    .map_err(|_| Error::EigenFailure { order: m })?;
    let mut eig: Vec<f64> = (0..m).map(|i| s[i] / scale).collect();
    // Sorted first, so that the error's index is one of the documented order.
    eig.sort_by(f64::total_cmp);
    check_finite("eigenvalues", &eig)?;
    Ok(eig)
}

/// Effective rank `exp(−Σ p_k log p_k)`, `p = max(λ, 0)/Σ max(λ, 0)`, of a spectrum.
pub fn effective_rank(eigenvalues: &[f64]) -> Result<f64> {
    if eigenvalues.is_empty() {
        return Err(Error::EmptyBatch {
            what: "eigenvalues",
        });
    }
    if let Some(index) = eigenvalues.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "eigenvalues",
            index,
        });
    }
    // Scaled like the trace, so that the sum of eigenvalues near f64::MAX does not overflow
    // (the p_k are unchanged: both sides of each ratio carry the same exact power of two).
    let s = safe_scale(eigenvalues.iter().fold(0.0f64, |acc, &l| acc.max(l)));
    let total: f64 = eigenvalues.iter().map(|&l| l.max(0.0) * s).sum();
    if total <= 0.0 {
        return Err(Error::NotPositiveDefinite {
            order: eigenvalues.len(),
            pivot: 0,
            jitter: 0.0,
        });
    }
    let entropy: f64 = eigenvalues
        .iter()
        .map(|&l| l.max(0.0) * s / total)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    finite_scalar("effective rank", entropy.exp())
}

/// Condition number `λ_max(K_ε)/λ_min(K_ε)` of the jittered kernel.
///
/// A ratio that overflows (a tiny `ε` on a kernel with a huge spread) is [`Error::NonFinite`].
pub fn condition_number<T: Float>(k: MatRef<'_, T>, jitter: f64, par: Par) -> Result<f64> {
    check_jitter(jitter)?;
    let eig = eigenvalues(k, par)?;
    let tau = positive_tau(k, jitter)?;
    jittered_condition(&eig, jitter * tau, k.nrows(), jitter)
}

fn jittered_condition(eig: &[f64], shift: f64, order: usize, jitter: f64) -> Result<f64> {
    let lo = eig[0] + shift;
    if lo <= 0.0 {
        return Err(Error::NotPositiveDefinite {
            order,
            pivot: 0,
            jitter,
        });
    }
    finite_scalar("condition number", (eig[eig.len() - 1] + shift) / lo)
}

/// All metrics of `k` in one call (one Cholesky per log-determinant, one eigen-decomposition if
/// the spectrum is asked for).
pub fn metrics<T: Float>(k: MatRef<'_, T>, config: &MetricsConfig, par: Par) -> Result<Metrics> {
    config.check()?;
    check_kernel(k)?;
    let eps = config.jitter;
    let m = k.nrows();
    check_metric_memory(m, if config.spectrum { 3 } else { 2 }, 0)?;
    let tau = positive_tau(k, eps)?;
    let mut ws = SpdWorkspace::for_order(m, Inverse::No, par);
    let logdet = shifted_logdet(&mut ws, k, eps * tau, eps, par)?;
    let cos = cosine_of_checked(k)?;
    let cosine_logdet = shifted_logdet(&mut ws, cos.as_ref(), eps, eps, par)?;
    let spectrum = if config.spectrum {
        let eigenvalues = eigenvalues_of_checked(k, par)?;
        Some(Spectrum {
            effective_rank: effective_rank(&eigenvalues)?,
            condition_number: jittered_condition(&eigenvalues, eps * tau, m, eps)?,
            eigenvalues,
        })
    } else {
        None
    };
    Ok(Metrics {
        order: m,
        trace: finite_scalar("trace", tau)?,
        logdet,
        normalized_logdet: finite_scalar("normalised log-determinant", logdet - tau.ln())?,
        cosine_mean: finite_scalar("cosine mean", mean_off_diagonal(cos.as_ref()))?,
        cosine_logdet,
        spectrum,
    })
}
