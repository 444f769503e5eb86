//! The elementwise step of the factorised kernel: Hadamard accumulation of one layer's Gram
//! matrices.

use faer::Par;

use crate::Float;
use crate::parallel::{BLOCK_ROWS, for_each_chunk};
use crate::simd::{hadamard_shift_add_assign, scalar};

/// The signal factor of one layer's term `S_D ∘ expand(S_A + 1)`.
#[derive(Clone, Copy)]
pub(crate) enum Left<'a, T> {
    /// A dense signal Gram `S_D` with the kernel's shape (row-major; in [`accumulate_row`], the
    /// row of `S_D` that matches the kernel row).
    Gram(&'a [T]),
    /// The output layer of the full kernel: `S_D[(i,c),(j,c')] = [c = c']`.
    OutputIdentity,
    /// The output layer of the centred full kernel: `S_D[(i,c),(j,c')] = P_{cc'} = [c = c'] − κ`
    /// with `κ = 1/C`.
    OutputCentred(T),
    /// The output layer of the traced kernel: `S_D[i,j] = C`.
    Constant(T),
}

/// The shape of a Hadamard accumulation: `K` is `rows × cols`, each activation-Gram entry covers
/// a `rep × rep` block.
#[derive(Clone, Copy)]
pub(crate) struct Blocks {
    pub rows: usize,
    pub cols: usize,
    pub rep: usize,
}

/// `K[r,s] += Left[r,s] · (S_A[r/rep, s/rep] + 1)` over all of `K` (row-major). `sa` is
/// `(rows/rep) × (cols/rep)` row-major.
pub(crate) fn accumulate_layer<T: Float>(
    par: Par,
    k: &mut [T],
    shape: Blocks,
    left: Left<'_, T>,
    sa: &[T],
) {
    let Blocks { rows, cols, rep } = shape;
    let sa_cols = cols / rep;
    for_each_chunk(
        par,
        &mut k[..rows * cols],
        BLOCK_ROWS * rep * cols,
        |b, chunk| {
            for (q, krow) in chunk.chunks_exact_mut(cols).enumerate() {
                let r = b * BLOCK_ROWS * rep + q;
                let i = r / rep;
                let left = match left {
                    Left::Gram(sd) => Left::Gram(&sd[r * cols..(r + 1) * cols]),
                    other => other,
                };
                accumulate_row(krow, r, rep, left, &sa[i * sa_cols..(i + 1) * sa_cols]);
            }
        },
    );
}

/// One row of [`accumulate_layer`]: `krow[s] += Left[r,s] · (sa_row[s/rep] + 1)` for every `s`
/// of `krow` (a prefix of the row, or a tile's part of it starting at a multiple of `rep`). `r`
/// is the global row index (only `r % rep` matters) and `Left::Gram` holds the matching part of
/// `S_D`'s row.
pub(crate) fn accumulate_row<T: Float>(
    krow: &mut [T],
    r: usize,
    rep: usize,
    left: Left<'_, T>,
    sa_row: &[T],
) {
    let end = krow.len();
    match left {
        Left::Gram(sd_row) if rep == 1 => {
            hadamard_shift_add_assign(krow, &sd_row[..end], &sa_row[..end], T::one());
        }
        // One dispatch for the whole row: the segments are only `rep` long.
        _ => pulp::Arch::new().dispatch(
            #[inline(always)]
            || accumulate_blocks(krow, r, rep, left, sa_row),
        ),
    }
}

/// The `rep > 1` and output-layer cases of [`accumulate_row`], undispatched (its scalar twin).
#[inline(always)]
fn accumulate_blocks<T: Float>(
    krow: &mut [T],
    r: usize,
    rep: usize,
    left: Left<'_, T>,
    sa_row: &[T],
) {
    let one = T::one();
    let end = krow.len();
    match left {
        Left::Gram(sd_row) => {
            for (j, &a) in sa_row.iter().enumerate().take(end.div_ceil(rep)) {
                let seg = j * rep..((j + 1) * rep).min(end);
                scalar::axpy(&mut krow[seg.clone()], a + one, &sd_row[seg]);
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
        Left::OutputCentred(kappa) => {
            let c = r % rep;
            let (on, off) = (one - kappa, -kappa);
            for (j, &a) in sa_row.iter().enumerate().take(end.div_ceil(rep)) {
                let seg = j * rep..((j + 1) * rep).min(end);
                let v = a + one;
                for (q, kv) in krow[seg].iter_mut().enumerate() {
                    *kv += if q == c { on * v } else { off * v };
                }
            }
        }
        Left::Constant(cst) => {
            for (s, kv) in krow.iter_mut().enumerate() {
                *kv += cst * (sa_row[s / rep] + one);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched row kernel against its scalar twin, bit for bit, for every kind of left
    /// factor.
    #[test]
    fn accumulate_row_equals_its_scalar_twin() {
        let v = |n: usize, s: f64| -> Vec<f64> {
            (0..n).map(|i| ((i as f64 + s) * 0.61).sin()).collect()
        };
        for (rep, len) in [(3, 37), (10, 120)] {
            let (sd, sa, k0) = (v(len, 1.0), v(len.div_ceil(rep), 2.0), v(len, 3.0));
            for left in [
                Left::Gram(&sd[..]),
                Left::OutputIdentity,
                Left::OutputCentred(1.0 / rep as f64),
                Left::Constant(2.5),
            ] {
                let (mut a, mut b) = (k0.clone(), k0.clone());
                accumulate_row(&mut a, 4, rep, left, &sa);
                accumulate_blocks(&mut b, 4, rep, left, &sa);
                assert_eq!(a, b);
                assert_ne!(a, k0);
            }
        }
    }
}
