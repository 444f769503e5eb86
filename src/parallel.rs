//! Sample-block parallelism that gives the same bits for any number of threads.
//!
//! Work over samples is cut into blocks of a fixed number of rows (independent of the thread
//! count); each block is computed by one thread, and reductions over blocks are summed in block
//! order. With `Par::Seq` the same blocks run in order on the calling thread.

use faer::Par;
use rayon::prelude::*;

/// Rows per block for elementwise and per-sample work.
pub(crate) const BLOCK_ROWS: usize = 32;

/// Runs `f(block_index, chunk)` over consecutive chunks of `data` of `chunk_len` elements.
pub(crate) fn for_each_chunk<T, F>(par: Par, data: &mut [T], chunk_len: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync + Send,
{
    let chunk_len = chunk_len.max(1);
    match par {
        Par::Seq => data
            .chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(b, c)| f(b, c)),
        _ => data
            .par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(b, c)| f(b, c)),
    }
}

/// Like [`for_each_chunk`] over two buffers cut at the same block boundaries
/// (`len_a` and `len_b` elements per block).
pub(crate) fn for_each_chunk2<A, B, F>(
    par: Par,
    a: &mut [A],
    len_a: usize,
    b: &mut [B],
    len_b: usize,
    f: F,
) where
    A: Send,
    B: Send,
    F: Fn(usize, &mut [A], &mut [B]) + Sync + Send,
{
    let (len_a, len_b) = (len_a.max(1), len_b.max(1));
    match par {
        Par::Seq => a
            .chunks_mut(len_a)
            .zip(b.chunks_mut(len_b))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y)),
        _ => a
            .par_chunks_mut(len_a)
            .zip(b.par_chunks_mut(len_b))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y)),
    }
}

/// Sums `n_blocks` partial results of length `len` produced by `f(block, partial)` into `out`,
/// in block order (so the sum does not depend on the number of threads). `partials` is scratch of
/// at least `n_blocks * len` elements.
pub(crate) fn reduce_blocks<T, F>(
    par: Par,
    n_blocks: usize,
    len: usize,
    partials: &mut [T],
    out: &mut [T],
    f: F,
) where
    T: crate::Float,
    F: Fn(usize, &mut [T]) + Sync + Send,
{
    debug_assert!(partials.len() >= n_blocks * len && out.len() == len);
    let partials = &mut partials[..n_blocks * len];
    for_each_chunk(par, partials, len, |b, p| {
        p.fill(T::zero());
        f(b, p)
    });
    out.fill(T::zero());
    for p in partials.chunks(len) {
        crate::simd::add_assign(out, p);
    }
}

/// Like [`for_each_chunk`] over three equally long buffers cut at the same boundaries.
pub(crate) fn for_each_chunk3<T, F>(par: Par, bufs: [&mut [T]; 3], chunk_len: usize, f: F)
where
    T: Send,
    F: Fn(usize, [&mut [T]; 3]) + Sync + Send,
{
    let chunk_len = chunk_len.max(1);
    let [a, b, c] = bufs;
    match par {
        Par::Seq => a
            .chunks_mut(chunk_len)
            .zip(b.chunks_mut(chunk_len))
            .zip(c.chunks_mut(chunk_len))
            .enumerate()
            .for_each(|(i, ((x, y), z))| f(i, [x, y, z])),
        _ => a
            .par_chunks_mut(chunk_len)
            .zip(b.par_chunks_mut(chunk_len))
            .zip(c.par_chunks_mut(chunk_len))
            .enumerate()
            .for_each(|(i, ((x, y), z))| f(i, [x, y, z])),
    }
}
