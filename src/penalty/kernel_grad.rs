//! Step 1 of the penalty gradient: the metric `g(K)` and `G = ∂g/∂K` from the Cholesky factor of
//! the jittered kernel.

use std::time::{Duration, Instant};

use faer::{MatRef, Par};

use super::PenaltyMetric;
use crate::metrics::{inv_sqrt_diag, mean_diag, positive_tau, shifted_logdet};
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::spd::SpdWorkspace;
use crate::{Float, Result};

/// Scratch of step 1: the factorisation and the cosine kernel with its diagonal scaling.
#[derive(Default)]
pub(crate) struct MetricScratch {
    spd: SpdWorkspace,
    cosine: Vec<f64>,
    scale: Vec<f64>,
    /// Time spent forming `G` (inverse included) in the last call.
    pub inverse_time: Duration,
}

/// Computes `g(K)` and, if `grad` is given, writes `G = ∂g/∂K` into it (row-major `m × m`,
/// symmetric).
pub(crate) fn metric_and_kernel_grad<T: Float>(
    metric: PenaltyMetric,
    k: MatRef<'_, T>,
    jitter: f64,
    scratch: &mut MetricScratch,
    grad: Option<&mut [T]>,
    par: Par,
) -> Result<f64> {
    let MetricScratch {
        spd,
        cosine,
        scale,
        inverse_time,
    } = scratch;
    *inverse_time = Duration::ZERO;
    let m = k.nrows();
    let mf = m as f64;
    match metric {
        PenaltyMetric::Trace => {
            if let Some(g) = grad {
                g[..m * m].fill(T::zero());
                for i in 0..m {
                    g[i * m + i] = T::from_f64(1.0 / mf);
                }
            }
            Ok(mean_diag(k))
        }
        PenaltyMetric::LogDet | PenaltyMetric::NormalizedLogDet => {
            let tau = positive_tau(k, jitter)?;
            let mut value = shifted_logdet(spd, k, jitter * tau, jitter, par)?;
            // d/dK of (1/m) log det(K + ε tr(K)/m I) = (1/m)[K_ε⁻¹ + (ε/m) tr(K_ε⁻¹) I]
            let mut diag_shift = 0.0;
            if metric == PenaltyMetric::NormalizedLogDet {
                value -= tau.ln();
                // d/dK of −log(tr K / m) = −I/(m τ)
                diag_shift -= 1.0 / (mf * tau);
            }
            if let Some(g) = grad {
                let start = Instant::now();
                let inv = spd.inverse(m, par);
                let tr_inv: f64 = (0..m).map(|i| inv[(i, i)]).sum();
                diag_shift += jitter * tr_inv / (mf * mf);
                for_each_chunk(par, &mut g[..m * m], BLOCK_ROWS * m, |b, rows| {
                    let i0 = b * BLOCK_ROWS;
                    for (q, grow) in rows.chunks_exact_mut(m).enumerate() {
                        let i = i0 + q;
                        // Column i of the symmetric inverse is row i, and contiguous.
                        let col = inv.col(i).try_as_col_major().expect("unit row stride");
                        for (gv, &v) in grow.iter_mut().zip(col.as_slice()) {
                            *gv = T::from_f64(v / mf);
                        }
                        grow[i] += T::from_f64(diag_shift);
                    }
                });
                *inverse_time = start.elapsed();
            }
            Ok(value)
        }
        PenaltyMetric::CosineLogDet => {
            inv_sqrt_diag(k, scale)?;
            let s = &scale[..];
            cosine.clear();
            cosine.resize(m * m, 0.0);
            for_each_chunk(par, &mut cosine[..m * m], BLOCK_ROWS * m, |b, rows| {
                for (q, row) in rows.chunks_exact_mut(m).enumerate() {
                    let i = b * BLOCK_ROWS + q;
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = k[(i, j)].to_f64() * s[i] * s[j];
                    }
                }
            });
            let khat = MatRef::from_row_major_slice(&cosine[..m * m], m, m);
            let value = shifted_logdet(spd, khat, jitter, jitter, par)?;
            if let Some(g) = grad {
                // Ĝ = (K̂ + εI)⁻¹/m; G = S Ĝ S − diag(Σ_j Ĝ_ij K̂_ij / K_ii)
                let start = Instant::now();
                let inv = spd.inverse(m, par);
                for_each_chunk(par, &mut g[..m * m], BLOCK_ROWS * m, |b, rows| {
                    let i0 = b * BLOCK_ROWS;
                    for (q, grow) in rows.chunks_exact_mut(m).enumerate() {
                        let i = i0 + q;
                        let mut row_dot = 0.0;
                        for j in 0..m {
                            let ghat = inv[(j, i)] / mf;
                            row_dot += ghat * khat[(i, j)];
                            grow[j] = T::from_f64(ghat * s[i] * s[j]);
                        }
                        grow[i] -= T::from_f64(row_dot * s[i] * s[i]);
                    }
                });
                *inverse_time = start.elapsed();
            }
            Ok(value)
        }
    }
}
