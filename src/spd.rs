//! Dense symmetric positive-definite linear algebra in `f64` with caller-planned scratch:
//! Cholesky of a jittered kernel, its log-determinant and its inverse.
//!
//! Kernels of either precision are factorised in `f64`: the log-determinant is a sum of `m`
//! logarithms of pivots and the inverse feeds every penalty gradient, and both lose too much in
//! `f32` once `m` reaches the hundreds (see `docs/design.md`).
//!
//! A kernel whose diagonal lies outside `[2⁻²⁵⁶, 2²⁵⁶]` is factorised scaled by a power of four
//! `s` ([`crate::float::safe_scale`]), exactly: `L(sK) = √s · L(K)`, so the log-determinant is
//! that of `sK` minus `m ln s` and the inverse that of `sK` times `s`. A valid SPD kernel near
//! `f64::MAX` (or below `2⁻²⁵⁶`) thus factorises; inside the band nothing is scaled and the
//! results are the unscaled ones bit for bit.

use faer::dyn_stack::StackReq;
use faer::linalg::cholesky::llt;
use faer::{MatMut, MatRef, Par};

use crate::buffer::{StackBuffer, ensure_len};
use crate::float::safe_scale;
use crate::parallel::for_each_chunk;
use crate::symmetric::{Triangle, mirror_strided};
use crate::{Error, Float, Result};

/// Reusable buffers for factorising and inverting kernels of order up to the largest reserved
/// ([`SpdWorkspace::reserve`], before [`SpdWorkspace::load`]).
#[derive(Default)]
pub(crate) struct SpdWorkspace {
    /// The jittered matrix, then its Cholesky factor (lower triangle).
    factor: AlignedColumns,
    /// The inverse (both triangles once [`SpdWorkspace::inverse`] ran).
    inverse: AlignedColumns,
    scratch: StackBuffer,
    /// The power of four the loaded matrix was multiplied by (1 unless it was out of range).
    scale: f64,
}

/// Column-major `m × m` storage whose columns start on 64-byte boundaries: faer's Cholesky and
/// inverse run measurably faster on aligned columns (5–10 % at order 2560–4096 here).
#[derive(Default)]
struct AlignedColumns {
    data: Vec<f64>,
}

impl AlignedColumns {
    /// Leading dimension (column stride) for order `m`: a whole number of 64-byte lines.
    fn ld(m: usize) -> usize {
        m.next_multiple_of(8)
    }

    /// Room for order `m`, with the slack to align the start.
    fn reserve(&mut self, m: usize) {
        ensure_len(&mut self.data, Self::ld(m) * m + 8);
    }

    fn slice_mut(&mut self, m: usize) -> &mut [f64] {
        let off = self.data.as_ptr().align_offset(64);
        &mut self.data[off..off + Self::ld(m) * m]
    }

    fn slice(&self, m: usize) -> &[f64] {
        let off = self.data.as_ptr().align_offset(64);
        &self.data[off..off + Self::ld(m) * m]
    }

    fn view_mut(&mut self, m: usize) -> MatMut<'_, f64> {
        MatMut::from_column_major_slice_with_stride_mut(self.slice_mut(m), m, m, Self::ld(m))
    }

    fn view(&self, m: usize) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice_with_stride(self.slice(m), m, m, Self::ld(m))
    }
}

/// Rows of the loaded matrix per parallel task (a tile edge of the transposing copy).
const LOAD_ROWS: usize = 64;

/// Whether a call on an [`SpdWorkspace`] will also need the inverse.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inverse {
    No,
    Yes,
}

impl SpdWorkspace {
    /// Room for factorising a matrix of order `m` (and inverting it, with [`Inverse::Yes`]).
    pub fn reserve(&mut self, m: usize, inverse: Inverse, par: Par) {
        self.factor.reserve(m);
        let mut req = llt::factor::cholesky_in_place_scratch::<f64>(m, par, Default::default());
        if inverse == Inverse::Yes {
            self.inverse.reserve(m);
            req = StackReq::any_of(&[req, llt::inverse::inverse_scratch::<f64>(m, par)]);
        }
        self.scratch.reserve(req);
    }

    /// A workspace with room for order `m`, for a single call.
    pub fn for_order(m: usize, inverse: Inverse, par: Par) -> Self {
        let mut ws = Self::default();
        ws.reserve(m, inverse, par);
        ws
    }

    /// Copies the lower triangle of `k` (any precision) into the factor buffer, adding `shift` to
    /// the diagonal; the copy is scaled by [`safe_scale`] of the largest diagonal entry.
    pub fn load<T: Float>(&mut self, k: MatRef<'_, T>, shift: f64, par: Par) {
        let m = k.nrows();
        let ld = AlignedColumns::ld(m);
        let max_diag = (0..m).fold(0.0f64, |acc, i| acc.max(k[(i, i)].to_f64().abs()));
        let scale = safe_scale(max_diag.max(shift.abs()));
        self.scale = scale;
        let shift = shift * scale;
        // Read row-major, the column-major lower triangle is the upper one: row `j` of the buffer
        // is column `j` of the matrix, filled from row `j` down. Tiles of `LOAD_ROWS × LOAD_ROWS`
        // keep the strided side of the copy in cache.
        for_each_chunk(par, self.factor.slice_mut(m), LOAD_ROWS * ld, |t, rows| {
            let j0 = t * LOAD_ROWS;
            let j1 = j0 + rows.len() / ld;
            for i0 in (j0..m).step_by(LOAD_ROWS) {
                for i in i0..(i0 + LOAD_ROWS).min(m) {
                    for j in j0..j1.min(i + 1) {
                        rows[(j - j0) * ld + i] = k[(i, j)].to_f64() * scale;
                    }
                }
            }
            for j in j0..j1 {
                rows[(j - j0) * ld + j] += shift;
            }
        });
    }

    /// Cholesky-factorises the loaded `m × m` matrix in place and returns `Σ_k ln L_kk`
    /// (half the log-determinant) of the unscaled matrix. `jitter` is only reported in the
    /// error.
    pub fn factor(&mut self, m: usize, jitter: f64, par: Par) -> Result<f64> {
        let stack = self.scratch.stack();
        llt::factor::cholesky_in_place(
            self.factor.view_mut(m),
            Default::default(),
            par,
            stack,
            Default::default(),
        )
        .map_err(|e| match e {
            llt::factor::LltError::NonPositivePivot { index } => Error::NotPositiveDefinite {
                order: m,
                pivot: index,
                jitter,
            },
        })?;
        let l = self.factor.view(m);
        // ln det(K) = ln det(sK) − m ln s; nothing is subtracted when s = 1.
        let half_logdet: f64 =
            (0..m).map(|k| l[(k, k)].ln()).sum::<f64>() - 0.5 * m as f64 * self.scale.ln();
        if half_logdet.is_finite() {
            Ok(half_logdet)
        } else {
            Err(Error::NotPositiveDefinite {
                order: m,
                pivot: 0,
                jitter,
            })
        }
    }

    /// The inverse `(L Lᵀ)⁻¹` of the factorised matrix, both triangles filled (so the view
    /// reads the same transposed).
    pub fn inverse(&mut self, m: usize, par: Par) -> MatRef<'_, f64> {
        let stack = self.scratch.stack();
        llt::inverse::inverse(self.inverse.view_mut(m), self.factor.view(m), par, stack);
        // faer fills the lower triangle: the upper one of the row-major reading.
        let ld = AlignedColumns::ld(m);
        mirror_strided(self.inverse.slice_mut(m), m, ld, Triangle::Upper, par);
        if self.scale != 1.0 {
            // (K)⁻¹ = s (sK)⁻¹, exactly.
            let scale = self.scale;
            for_each_chunk(par, self.inverse.slice_mut(m), LOAD_ROWS * ld, |_, rows| {
                rows.iter_mut().for_each(|v| *v *= scale);
            });
        }
        self.inverse.view(m)
    }
}
