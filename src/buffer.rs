//! Flat buffers: row-major matrix views of slices, and growing workspace vectors.

use faer::{MatMut, MatRef};

use crate::Float;

/// A row-major view of `buf` as a `rows × cols` matrix.
#[inline]
pub(crate) fn rm<T: Float>(buf: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(&buf[..rows * cols], rows, cols)
}

/// A mutable row-major view of `buf` as a `rows × cols` matrix.
#[inline]
pub(crate) fn rm_mut<T: Float>(buf: &mut [T], rows: usize, cols: usize) -> MatMut<'_, T> {
    MatMut::from_row_major_slice_mut(&mut buf[..rows * cols], rows, cols)
}

/// Grows `buf` to at least `len` elements (never shrinks: workspaces keep their capacity).
#[inline]
pub(crate) fn ensure_len<T: Float>(buf: &mut Vec<T>, len: usize) {
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
}
