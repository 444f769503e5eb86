//! The elementwise step of the factorised kernel: Hadamard accumulation of one layer's Gram
//! matrices.

use faer::Par;

use crate::Float;
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
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
