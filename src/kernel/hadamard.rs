//! The elementwise steps of the factorised kernel: Hadamard accumulation of one layer's Gram
//! matrices, and mirroring a lower triangle.

use faer::Par;

use crate::Float;
use crate::parallel::{BLOCK_ROWS, for_each_chunk, for_each_index};
use crate::simd::{axpy, hadamard_shift_add_assign};

/// The signal factor of one layer's term `S_D ∘ expand(S_A + 1)`.
#[derive(Clone, Copy)]
pub(crate) enum Left<'a, T> {
    /// A dense signal Gram `S_D` with the kernel's shape (row-major).
    Gram(&'a [T]),
    /// The output layer of the full kernel: `S_D[(i,c),(j,c')] = [c = c']`.
    OutputIdentity,
    /// The output layer of the traced kernel: `S_D[i,j] = C`.
    Constant(T),
}

/// The shape of a Hadamard accumulation: `K` is `rows × cols`, each activation-Gram entry covers
/// a `rep × rep` block, and `lower` restricts the work to the lower triangle.
#[derive(Clone, Copy)]
pub(crate) struct Blocks {
    pub rows: usize,
    pub cols: usize,
    pub rep: usize,
    pub lower: bool,
}

/// `K[r,s] += Left[r,s] · (S_A[r/rep, s/rep] + 1)` over the lower triangle or all of `K`
/// (row-major). `sa` is `(rows/rep) × (cols/rep)` row-major.
pub(crate) fn accumulate_layer<T: Float>(
    par: Par,
    k: &mut [T],
    shape: Blocks,
    left: Left<'_, T>,
    sa: &[T],
) {
    let Blocks {
        rows,
        cols,
        rep,
        lower,
    } = shape;
    let sa_cols = cols / rep;
    let one = T::one();
    for_each_chunk(
        par,
        &mut k[..rows * cols],
        BLOCK_ROWS * rep * cols,
        |b, chunk| {
            for (q, krow) in chunk.chunks_exact_mut(cols).enumerate() {
                let r = b * BLOCK_ROWS * rep + q;
                let i = r / rep;
                let end = if lower { r + 1 } else { cols };
                let sa_row = &sa[i * sa_cols..(i + 1) * sa_cols];
                match left {
                    Left::Gram(sd) if rep == 1 => {
                        let sd_row = &sd[r * cols..r * cols + end];
                        hadamard_shift_add_assign(&mut krow[..end], sd_row, &sa_row[..end], one);
                    }
                    Left::Gram(sd) => {
                        let sd_row = &sd[r * cols..(r + 1) * cols];
                        for (j, &a) in sa_row.iter().enumerate().take(end.div_ceil(rep)) {
                            let seg = j * rep..((j + 1) * rep).min(end);
                            axpy(&mut krow[seg.clone()], a + one, &sd_row[seg]);
                        }
                    }
                    Left::OutputIdentity => {
                        let c = r % rep;
                        for (j, &a) in sa_row.iter().enumerate().take(end.div_ceil(rep)) {
                            let s = j * rep + c;
                            if s < end {
                                krow[s] += a + one;
                            }
                        }
                    }
                    Left::Constant(cst) => {
                        for s in 0..end {
                            krow[s] += cst * (sa_row[s / rep] + one);
                        }
                    }
                }
            }
        },
    );
}

/// Tile edge for the mirror copy (keeps both the read and the write side in cache).
const TILE: usize = 64;

/// Copies the strict lower triangle of the row-major `m × m` matrix in `k` onto its upper
/// triangle.
pub(crate) fn mirror_lower<T: Float>(k: &mut [T], m: usize, par: Par) {
    assert!(k.len() >= m * m);
    struct SharedPtr<T>(*mut T);
    // SAFETY: each task writes only the strict upper triangle of its own row tile and reads only
    // strict lower entries; no entry is both read and written, so tasks never race.
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
                    // SAFETY: r < s < m, so (s, r) is strictly lower and (r, s) strictly upper,
                    // both inside the m × m buffer checked above.
                    unsafe { *p.0.add(r * m + s) = *p.0.add(s * m + r) };
                }
            }
        }
    });
}
