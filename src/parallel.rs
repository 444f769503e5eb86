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

/// Like [`for_each_chunk`] over two buffers cut into chunks of different lengths (chunk `b` of
/// each goes to the same call).
pub(crate) fn for_each_chunk_pair<A, B, F>(
    par: Par,
    (a, a_len): (&mut [A], usize),
    (b, b_len): (&mut [B], usize),
    f: F,
) where
    A: Send,
    B: Send,
    F: Fn(usize, &mut [A], &mut [B]) + Sync + Send,
{
    let (a_len, b_len) = (a_len.max(1), b_len.max(1));
    match par {
        Par::Seq => a
            .chunks_mut(a_len)
            .zip(b.chunks_mut(b_len))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y)),
        _ => a
            .par_chunks_mut(a_len)
            .zip(b.par_chunks_mut(b_len))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y)),
    }
}

/// Runs `f(k)` for `k in 0..n`, in parallel unless `par` is `Par::Seq`.
pub(crate) fn for_each_index<F>(par: Par, n: usize, f: F)
where
    F: Fn(usize) + Sync + Send,
{
    match par {
        Par::Seq => (0..n).for_each(f),
        _ => (0..n).into_par_iter().for_each(f),
    }
}
