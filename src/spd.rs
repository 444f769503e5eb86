//! Dense symmetric positive-definite linear algebra in `f64` with caller-planned scratch:
//! Cholesky of a jittered kernel, its log-determinant and its inverse.
//!
//! Kernels of either precision are factorised in `f64`: the log-determinant is a sum of `m`
//! logarithms of pivots and the inverse feeds every penalty gradient, and both lose too much in
//! `f32` once `m` reaches the hundreds (see `docs/design.md`).

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt;
use faer::{Mat, MatRef, Par};

use crate::{Error, Float, Result};

/// Reusable buffers for factorising and inverting kernels of order up to the largest seen.
pub(crate) struct SpdWorkspace {
    /// The jittered matrix, then its Cholesky factor (lower triangle).
    factor: Mat<f64>,
    /// The inverse (both triangles once [`SpdWorkspace::inverse`] ran).
    inverse: Mat<f64>,
    scratch: Scratch,
}

/// Scratch memory for faer's factorisation and inverse, grown to the largest request seen.
#[derive(Default)]
struct Scratch {
    mem: Option<MemBuffer>,
    have: Option<StackReq>,
}

impl Scratch {
    fn stack(&mut self, m: usize, par: Par) -> &mut MemStack {
        let req = StackReq::any_of(&[
            llt::factor::cholesky_in_place_scratch::<f64>(m, par, Default::default()),
            llt::inverse::inverse_scratch::<f64>(m, par),
        ]);
        let enough = self.have.is_some_and(|have| {
            have.size_bytes() >= req.size_bytes() && have.align_bytes() >= req.align_bytes()
        });
        if !enough {
            self.mem = None;
            self.have = Some(req);
        }
        MemStack::new(self.mem.get_or_insert_with(|| MemBuffer::new(req)))
    }
}

impl Default for SpdWorkspace {
    fn default() -> Self {
        Self {
            factor: Mat::zeros(0, 0),
            inverse: Mat::zeros(0, 0),
            scratch: Scratch::default(),
        }
    }
}

fn grow(mat: &mut Mat<f64>, m: usize) {
    if mat.nrows() < m {
        *mat = Mat::zeros(m, m);
    }
}

impl SpdWorkspace {
    /// Copies the lower triangle of `k` (any precision) into the factor buffer, adding `shift` to
    /// the diagonal.
    pub fn load<T: Float>(&mut self, k: MatRef<'_, T>, shift: f64) {
        let m = k.nrows();
        grow(&mut self.factor, m);
        let mut a = self.factor.as_mut().submatrix_mut(0, 0, m, m);
        for j in 0..m {
            for i in j..m {
                a[(i, j)] = k[(i, j)].to_f64();
            }
            a[(j, j)] += shift;
        }
    }

    /// Cholesky-factorises the loaded `m × m` matrix in place and returns `Σ_k ln L_kk`
    /// (half the log-determinant). `jitter` is only reported in the error.
    pub fn factor(&mut self, m: usize, jitter: f64, par: Par) -> Result<f64> {
        let stack = self.scratch.stack(m, par);
        let a = self.factor.as_mut().submatrix_mut(0, 0, m, m);
        llt::factor::cholesky_in_place(a, Default::default(), par, stack, Default::default())
            .map_err(|e| match e {
                llt::factor::LltError::NonPositivePivot { index } => Error::NotPositiveDefinite {
                    order: m,
                    pivot: index,
                    jitter,
                },
            })?;
        let half_logdet: f64 = (0..m).map(|k| self.factor[(k, k)].ln()).sum();
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

    /// The inverse `(L Lᵀ)⁻¹` of the factorised matrix, both triangles filled.
    pub fn inverse(&mut self, m: usize, par: Par) -> MatRef<'_, f64> {
        grow(&mut self.inverse, m);
        let stack = self.scratch.stack(m, par);
        let mut inv = self.inverse.as_mut().submatrix_mut(0, 0, m, m);
        llt::inverse::inverse(
            inv.as_mut(),
            self.factor.as_ref().submatrix(0, 0, m, m),
            par,
            stack,
        );
        for j in 0..m {
            for i in 0..j {
                inv[(i, j)] = inv[(j, i)];
            }
        }
        self.inverse.as_ref().submatrix(0, 0, m, m)
    }
}
