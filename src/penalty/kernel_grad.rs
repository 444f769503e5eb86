//! Step 1 of the penalty gradient: the metric `g(K)` and `G = ∂g/∂K` from the Cholesky factor of
//! the jittered kernel.

use faer::{MatRef, Par};

use super::PenaltyMetric;
use crate::buffer::ensure_len;
use crate::metrics::{inv_sqrt_diag, mean_diag, positive_tau, shifted_logdet};
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::spd::{Inverse, SpdWorkspace};
use crate::{Float, Result};

/// Scratch of step 1: the factorisation, `τ`, and the cosine kernel with its diagonal scaling,
/// left by [`metric_value`] for [`kernel_grad`].
#[derive(Default)]
pub(crate) struct MetricScratch {
    spd: SpdWorkspace,
    tau: f64,
    cosine: Vec<f64>,
    scale: Vec<f64>,
}

impl MetricScratch {
    /// Room for `metric` on a kernel of order `m` (and for its `G`, with `gradient`).
    pub(crate) fn reserve(&mut self, metric: PenaltyMetric, m: usize, gradient: bool, par: Par) {
        if metric == PenaltyMetric::Trace {
            return;
        }
        let inverse = if gradient { Inverse::Yes } else { Inverse::No };
        self.spd.reserve(m, inverse, par);
        if metric == PenaltyMetric::CosineLogDet {
            ensure_len(&mut self.cosine, m * m);
            ensure_len(&mut self.scale, m);
        }
    }
}

/// Computes `g(K)` (on scratch reserved for it), keeping in `scratch` what [`kernel_grad`] needs.
pub(crate) fn metric_value<T: Float>(
    metric: PenaltyMetric,
    k: MatRef<'_, T>,
    jitter: f64,
    scratch: &mut MetricScratch,
    par: Par,
) -> Result<f64> {
    let MetricScratch {
        spd,
        tau,
        cosine,
        scale,
    } = scratch;
    let m = k.nrows();
    match metric {
        PenaltyMetric::Trace => Ok(mean_diag(k)),
        PenaltyMetric::LogDet | PenaltyMetric::NormalizedLogDet => {
            *tau = positive_tau(k, jitter)?;
            let value = shifted_logdet(spd, k, jitter * *tau, jitter, par)?;
            Ok(if metric == PenaltyMetric::NormalizedLogDet {
                value - tau.ln()
            } else {
                value
            })
        }
        PenaltyMetric::CosineLogDet => {
            let s = &mut scale[..m];
            inv_sqrt_diag(k, s)?;
            let s = &*s;
            for_each_chunk(par, &mut cosine[..m * m], BLOCK_ROWS * m, |b, rows| {
                for (q, row) in rows.chunks_exact_mut(m).enumerate() {
                    let i = b * BLOCK_ROWS + q;
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = k[(i, j)].to_f64() * s[i] * s[j];
                    }
                }
            });
            let khat = MatRef::from_row_major_slice(&cosine[..m * m], m, m);
            shifted_logdet(spd, khat, jitter, jitter, par)
        }
    }
}

/// Writes `G = ∂g/∂K` (row-major `m × m`, symmetric) into `g`, from what the preceding
/// [`metric_value`] call on the same `K` left in `scratch`.
pub(crate) fn kernel_grad<T: Float>(
    metric: PenaltyMetric,
    m: usize,
    jitter: f64,
    scratch: &mut MetricScratch,
    g: &mut [T],
    par: Par,
) {
    let MetricScratch {
        spd,
        tau,
        cosine,
        scale,
    } = scratch;
    let mf = m as f64;
    match metric {
        PenaltyMetric::Trace => {
            g[..m * m].fill(T::zero());
            for i in 0..m {
                g[i * m + i] = T::from_f64(1.0 / mf);
            }
        }
        PenaltyMetric::LogDet | PenaltyMetric::NormalizedLogDet => {
            // d/dK of (1/m) log det(K + ε tr(K)/m I) = (1/m)[K_ε⁻¹ + (ε/m) tr(K_ε⁻¹) I]
            let mut diag_shift = 0.0;
            if metric == PenaltyMetric::NormalizedLogDet {
                // d/dK of −log(tr K / m) = −I/(m τ)
                diag_shift -= 1.0 / (mf * *tau);
            }
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
        }
        PenaltyMetric::CosineLogDet => {
            // Ĝ = (K̂ + εI)⁻¹/m; G = S Ĝ S − diag(Σ_j Ĝ_ij K̂_ij / K_ii)
            let (s, khat) = (
                &scale[..m],
                MatRef::from_row_major_slice(&cosine[..m * m], m, m),
            );
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
        }
    }
}

/// Replaces `G` (row-major `(N·C) × (N·C)`) by `(I_N ⊗ P) G (I_N ⊗ P)`, `P = I_C − 11ᵀ/C`: every
/// `C × C` block `B` becomes `P B P` (its row and column means removed).
///
/// For the centred full kernel `dK_c = (I ⊗ P) dK_c (I ⊗ P)`, so `⟨G, dK_c⟩` is unchanged: the
/// gradient is the same in exact arithmetic. Numerically it matters: `K_c` is singular by
/// construction, `K_ε⁻¹` is `1/(ετ)` on its null space `{e_i ⊗ 1}`, and that part of `G`, which
/// multiplies an exact zero, would otherwise multiply rounding errors of order `1e-16 ‖dK‖` and
/// cost about `1e-16/ε` of relative accuracy in step 2.
pub(crate) fn project_centred<T: Float>(g: &mut [T], n: usize, c: usize, par: Par) {
    let m = n * c;
    let inv_c = T::from_f64(1.0 / c as f64);
    for_each_chunk(par, &mut g[..m * m], c * m, |_, rows| {
        // B ← B P: each row of each block loses its mean.
        for block in rows.chunks_exact_mut(c) {
            let mean = block.iter().fold(T::zero(), |acc, &v| acc + v) * inv_c;
            for v in block {
                *v -= mean;
            }
        }
        // B ← P B: each column of the sample's C rows loses its mean.
        for s in 0..m {
            let mean = (0..c).fold(T::zero(), |acc, a| acc + rows[a * m + s]) * inv_c;
            for a in 0..c {
                rows[a * m + s] -= mean;
            }
        }
    });
}
