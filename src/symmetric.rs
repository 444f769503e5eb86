//! Symmetric matrices stored in one triangle: the tiled, parallel mirror copy that completes
//! them, and the Gram products `F Fᵀ` computed one triangle at a time.

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, MatRef, Par};

use crate::Float;
use crate::buffer::rm_mut;
use crate::parallel::for_each_index;

/// Tile edge of the mirror copy (keeps both the read and the write side in cache).
const TILE: usize = 64;

/// The triangle of a row-major matrix that holds the data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Triangle {
    Lower,
    Upper,
}

/// Copies the strict `from` triangle of the row-major `m × m` matrix in `k` onto the other one.
///
/// (A column-major matrix with its lower triangle filled is, read row-major, one with its upper
/// triangle filled.)
pub(crate) fn mirror<T: Copy + Send + Sync>(k: &mut [T], m: usize, from: Triangle, par: Par) {
    mirror_strided(k, m, m, from, par);
}

/// [`mirror`] for rows `ld ≥ m` elements apart.
pub(crate) fn mirror_strided<T: Copy + Send + Sync>(
    k: &mut [T],
    m: usize,
    ld: usize,
    from: Triangle,
    par: Par,
) {
    assert!(ld >= m && (m == 0 || k.len() >= (m - 1) * ld + m));
    struct SharedPtr<T>(*mut T);
    // SAFETY: the task of row tile `t` touches only entries `(r, s)` and `(s, r)` with `r` in
    // tile `t` and `s > r`: it reads one of the two and writes the other, and no entry is reached
    // from two tiles (the smaller index names the tile), so tasks never race.
    unsafe impl<T> Send for SharedPtr<T> {}
    unsafe impl<T> Sync for SharedPtr<T> {}
    let ptr = SharedPtr(k.as_mut_ptr());
    let n_tiles = m.div_ceil(TILE);
    for_each_index(par, n_tiles, |t| {
        let p = &ptr;
        let r0 = t * TILE;
        let r1 = (r0 + TILE).min(m);
        for s0 in (r0..m).step_by(TILE) {
            let s1 = (s0 + TILE).min(m);
            for r in r0..r1 {
                for s in s0.max(r + 1)..s1 {
                    // SAFETY: r < s < m, so (r, s) is strictly upper and (s, r) strictly lower,
                    // both inside the buffer checked above.
                    unsafe {
                        let (upper, lower) = (p.0.add(r * ld + s), p.0.add(s * ld + r));
                        match from {
                            Triangle::Lower => *upper = *lower,
                            Triangle::Upper => *lower = *upper,
                        }
                    }
                }
            }
        }
    });
}

/// Lower-triangular Gram `dst = f fᵀ` (row-major, the first `f.nrows()²` entries); the upper
/// triangle is left as is.
pub(crate) fn gram_lower<T: Float>(dst: &mut [T], f: MatRef<'_, T>, par: Par) {
    let m = f.nrows();
    triangular::matmul(
        rm_mut(dst, m, m),
        BlockStructure::TriangularLower,
        Accum::Replace,
        f,
        BlockStructure::Rectangular,
        f.transpose(),
        BlockStructure::Rectangular,
        T::one(),
        par,
    );
}

/// `F Fᵀ` into `k` (row-major `m × m`, the first `m²` entries, both triangles): the lower triangle
/// by one faer product, then mirrored.
pub(crate) fn gram_into<T: Float>(k: &mut [T], f: MatRef<'_, T>, par: Par) {
    gram_lower(k, f, par);
    mirror(k, f.nrows(), Triangle::Lower, par);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_fills_the_other_triangle_for_any_thread_count() {
        let m = 150; // several tiles, the last one partial
        for ld in [m, m + 6] {
            for from in [Triangle::Lower, Triangle::Upper] {
                for par in [Par::Seq, Par::rayon(2)] {
                    let mut k: Vec<f64> = (0..m * ld).map(|v| v as f64).collect();
                    mirror_strided(&mut k, m, ld, from, par);
                    for r in 0..m {
                        for s in 0..ld {
                            let (i, j) = match from {
                                _ if s >= m => (r, s), // padding untouched
                                Triangle::Lower => (r.max(s), r.min(s)),
                                Triangle::Upper => (r.min(s), r.max(s)),
                            };
                            assert_eq!(k[r * ld + s], (i * ld + j) as f64);
                        }
                    }
                }
            }
        }
    }
}
