//! Flat buffers, and the one way the numerical core (derivatives, kernels, metrics, penalty) holds
//! scratch.
//!
//! **Workspaces.** Every buffer that outlives a call sits in a workspace: a struct of `Vec`s that
//! grow and never shrink. A workspace declares what a call needs in one `reserve` method, run at
//! the top of the call from the call's shapes and before any arithmetic; the steps after it only
//! slice (and view slices through [`rm`] and [`rm_mut`]), so that no step allocates and none
//! reaches back to grow a buffer. faer's own scratch is one more buffer of the same kind
//! ([`StackBuffer`]), sized in the same `reserve` from faer's `*_scratch` requirement. Functions
//! below a workspace take slices and views, never `&mut Vec`.
//!
//! The one exception is scratch private to a parallel task (one tile, one block of rows): the task
//! allocates it, because how many tasks run at once depends on the thread count.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
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

/// Grows `buf` to at least `len` elements (never shrinks: workspaces keep their capacity). Called
/// from `reserve` methods only.
#[inline]
pub(crate) fn ensure_len<T: Copy + Default>(buf: &mut Vec<T>, len: usize) {
    if buf.len() < len {
        buf.resize(len, T::default());
    }
}

/// [`ensure_len`] for a list of buffers: `lens[i]` elements for buffer `i`, and exactly
/// `lens.len()` buffers.
pub(crate) fn ensure_lens<T: Copy + Default>(
    bufs: &mut Vec<Vec<T>>,
    lens: impl ExactSizeIterator<Item = usize>,
) {
    bufs.resize_with(lens.len(), Vec::new);
    for (buf, len) in bufs.iter_mut().zip(lens) {
        ensure_len(buf, len);
    }
}

/// Memory for faer's routines that take a [`MemStack`], grown to the largest requirement seen.
#[derive(Default)]
pub(crate) struct StackBuffer {
    mem: Option<MemBuffer>,
    have: Option<StackReq>,
}

impl StackBuffer {
    /// Makes room for `req` as well as for every requirement before it (a no-op when the buffer
    /// already holds as much, as aligned).
    pub(crate) fn reserve(&mut self, req: StackReq) {
        let enough = self.have.is_some_and(|have| {
            have.size_bytes() >= req.size_bytes() && have.align_bytes() >= req.align_bytes()
        });
        if !enough {
            let req = self.have.map_or(req, |have| StackReq::any_of(&[have, req]));
            self.mem = None; // the old buffer goes before the new one is allocated
            self.mem = Some(MemBuffer::new(req));
            self.have = Some(req);
        }
    }

    /// The reserved memory as a stack (empty when nothing was reserved).
    pub(crate) fn stack(&mut self) -> &mut MemStack {
        MemStack::new(
            self.mem
                .get_or_insert_with(|| MemBuffer::new(StackReq::EMPTY)),
        )
    }
}
