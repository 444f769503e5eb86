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
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::{Mat, MatRef, Par};

use crate::spd::SpdWorkspace;
use crate::{Error, Float, Result};

/// The default relative jitter `ε` of the log-determinant metrics.
pub const DEFAULT_JITTER: f64 = 1e-6;

/// What [`metrics`] computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsConfig {
    /// Relative jitter `ε > 0` of the log-determinants.
    pub jitter: f64,
    /// Also compute the spectrum (eigenvalues, effective rank, condition number): `O(m³)` with a
    /// larger constant than the Cholesky, so it can be turned off for cheap monitoring.
    pub spectrum: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            jitter: DEFAULT_JITTER,
            spectrum: true,
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
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Eigenvalues of `K` (not jittered), nondecreasing.
    pub eigenvalues: Vec<f64>,
    /// `exp(−Σ p_k log p_k)`, `p = max(λ, 0)/Σ max(λ, 0)`.
    pub effective_rank: f64,
    /// `λ_max(K_ε)/λ_min(K_ε)`.
    pub condition_number: f64,
}

/// All metrics of one kernel.
#[derive(Debug, Clone, PartialEq)]
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

/// Checks that `k` is square, non-empty and finite.
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
    for j in 0..k.ncols() {
        for i in 0..k.nrows() {
            if !k[(i, j)].is_finite_value() {
                return Err(Error::NonFinite {
                    what: "kernel",
                    index: i * k.ncols() + j,
                });
            }
        }
    }
    Ok(())
}

/// `tr(K)/m` in `f64` (no checks).
pub(crate) fn mean_diag<T: Float>(k: MatRef<'_, T>) -> f64 {
    let m = k.nrows();
    (0..m).map(|i| k[(i, i)].to_f64()).sum::<f64>() / m as f64
}

/// `(1/m) log det(K + shift·I)` through `ws` (factor left in `ws`).
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
    Ok(mean_diag(k))
}

/// `(1/m) log det(K + ε τ I)` by Cholesky.
pub fn logdet<T: Float>(k: MatRef<'_, T>, jitter: f64, par: Par) -> Result<f64> {
    check_kernel(k)?;
    check_jitter(jitter)?;
    let tau = positive_tau(k, jitter)?;
    shifted_logdet(&mut SpdWorkspace::default(), k, jitter * tau, jitter, par)
}

/// `(1/m) log det(K + ε τ I) − log τ`.
pub fn normalized_logdet<T: Float>(k: MatRef<'_, T>, jitter: f64, par: Par) -> Result<f64> {
    let value = logdet(k, jitter, par)?;
    Ok(value - mean_diag(k).ln())
}

/// The cosine kernel `K̂_ij = K_ij / √(K_ii K_jj)` (`f64`); needs a positive diagonal.
pub fn cosine_kernel<T: Float>(k: MatRef<'_, T>) -> Result<Mat<f64>> {
    check_kernel(k)?;
    let mut s = Vec::new();
    inv_sqrt_diag(k, &mut s)?;
    Ok(Mat::from_fn(k.nrows(), k.nrows(), |i, j| {
        k[(i, j)].to_f64() * s[i] * s[j]
    }))
}

/// Writes `1/√K_ii` into `out`, or names the first non-positive diagonal entry.
pub(crate) fn inv_sqrt_diag<T: Float>(k: MatRef<'_, T>, out: &mut Vec<f64>) -> Result<()> {
    out.clear();
    for i in 0..k.nrows() {
        let d = k[(i, i)].to_f64();
        if d.is_nan() || d <= 0.0 {
            return Err(Error::NotPositiveDefinite {
                order: k.nrows(),
                pivot: i,
                jitter: 0.0,
            });
        }
        out.push(1.0 / d.sqrt());
    }
    Ok(())
}

/// Mean off-diagonal entry of the cosine kernel (`1` when `m = 1`).
pub fn cosine_mean<T: Float>(k: MatRef<'_, T>) -> Result<f64> {
    let c = cosine_kernel(k)?;
    Ok(mean_off_diagonal(c.as_ref()))
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
    let c = cosine_kernel(k)?;
    shifted_logdet(
        &mut SpdWorkspace::default(),
        c.as_ref(),
        jitter,
        jitter,
        par,
    )
}

/// Eigenvalues of the symmetric kernel (lower triangle read), nondecreasing.
///
/// faer's parallel symmetric eigensolver splits its work differently for different thread
/// counts, so the decomposition itself always runs sequentially: the spectrum is then identical
/// bit for bit whatever the caller's `par`, which is accepted for uniformity.
pub fn eigenvalues<T: Float>(k: MatRef<'_, T>, par: Par) -> Result<Vec<f64>> {
    let _ = par;
    let par = Par::Seq;
    check_kernel(k)?;
    let m = k.nrows();
    let a = Mat::from_fn(m, m, |i, j| {
        if i >= j {
            k[(i, j)].to_f64()
        } else {
            k[(j, i)].to_f64()
        }
    });
    let mut s = Diag::<f64>::zeros(m);
    let req =
        evd::self_adjoint_evd_scratch::<f64>(m, ComputeEigenvectors::No, par, Default::default());
    let mut mem = MemBuffer::new(req);
    evd::self_adjoint_evd(
        a.as_ref(),
        s.as_mut(),
        None,
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| Error::EigenFailure { order: m })?;
    let mut eig: Vec<f64> = (0..m).map(|i| s[i]).collect();
    eig.sort_by(f64::total_cmp);
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
    let total: f64 = eigenvalues.iter().map(|&l| l.max(0.0)).sum();
    if total <= 0.0 {
        return Err(Error::NotPositiveDefinite {
            order: eigenvalues.len(),
            pivot: 0,
            jitter: 0.0,
        });
    }
    let entropy: f64 = eigenvalues
        .iter()
        .map(|&l| l.max(0.0) / total)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    Ok(entropy.exp())
}

/// Condition number `λ_max(K_ε)/λ_min(K_ε)` of the jittered kernel.
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
    Ok((eig[eig.len() - 1] + shift) / lo)
}

/// All metrics of `k` in one call (one Cholesky per log-determinant, one eigen-decomposition if
/// the spectrum is asked for).
pub fn metrics<T: Float>(k: MatRef<'_, T>, config: &MetricsConfig, par: Par) -> Result<Metrics> {
    config.check()?;
    check_kernel(k)?;
    let eps = config.jitter;
    let m = k.nrows();
    let tau = positive_tau(k, eps)?;
    let mut ws = SpdWorkspace::default();
    let logdet = shifted_logdet(&mut ws, k, eps * tau, eps, par)?;
    let cos = cosine_kernel(k)?;
    let cosine_logdet = shifted_logdet(&mut ws, cos.as_ref(), eps, eps, par)?;
    let spectrum = if config.spectrum {
        let eigenvalues = eigenvalues(k, par)?;
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
        trace: tau,
        logdet,
        normalized_logdet: logdet - tau.ln(),
        cosine_mean: mean_off_diagonal(cos.as_ref()),
        cosine_logdet,
        spectrum,
    })
}
