//! Shared setup of the criterion benches `kernel` and `penalty`: the benchmarked grid, quick mode,
//! thread pools and sample sizes.
#![allow(dead_code)]

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, SamplingMode};
use faer::Par;
use mgs::kernel::{KernelKind, Route};
use mgs::{Activation, Architecture, Float};
use rayon::ThreadPool;

pub const D: usize = 32;
pub const NS: [usize; 3] = [64, 256, 1024];
pub const WIDTHS: [usize; 2] = [64, 256];
pub const CS: [usize; 2] = [1, 10];
pub const KINDS: [KernelKind; 2] = [KernelKind::Full, KernelKind::Traced];
pub const THREADS: [usize; 2] = [1, 2];
pub const ROUTES: [Route; 2] = [Route::Explicit, Route::Factorised];
/// Largest explicit Jacobian benchmarked, in bytes.
pub const MAX_JACOBIAN_BYTES: f64 = 1.5e9;
/// Rough sustained rate per thread used only to choose sample sizes.
pub const FLOPS_PER_THREAD: f64 = 5e9;

/// Small cells only: `MGS_BENCH_QUICK=1`, or criterion's test mode (each cell runs once there).
pub fn quick() -> bool {
    let env = std::env::var("MGS_BENCH_QUICK").is_ok_and(|v| v == "1");
    let args: Vec<String> = std::env::args().collect();
    let has = |s: &str| args.iter().any(|a| a == s);
    let test_mode = (!has("--bench") || has("--test")) && !has("--list");
    env || test_mode
}

pub fn dtype<T: Float>() -> &'static str {
    if std::mem::size_of::<T>() == 4 {
        "f32"
    } else {
        "f64"
    }
}

/// Runs `f` with `Par::Seq` (one thread) or with `Par::rayon(threads)` inside `pool`.
pub fn in_pool<R: Send>(pool: &ThreadPool, threads: usize, f: impl FnOnce(Par) -> R + Send) -> R {
    if threads == 1 {
        f(Par::Seq)
    } else {
        pool.install(|| f(Par::rayon(threads)))
    }
}

/// Sample size, measurement time and sampling mode from an estimated time per iteration.
pub fn configure(g: &mut BenchmarkGroup<'_, WallTime>, est_secs: f64) {
    g.warm_up_time(Duration::from_secs(1));
    if est_secs < 2e-3 {
        g.sample_size(50)
            .measurement_time(Duration::from_secs(2))
            .sampling_mode(SamplingMode::Auto);
    } else if est_secs < 0.1 {
        g.sample_size(20)
            .measurement_time(Duration::from_secs(3))
            .sampling_mode(SamplingMode::Flat);
    } else {
        g.sample_size(10)
            .measurement_time(Duration::from_secs(5))
            .sampling_mode(SamplingMode::Flat);
    }
}

pub fn arch(width: usize, c: usize) -> Architecture {
    Architecture::new(
        D,
        &[(width, Activation::Tanh), (width, Activation::Tanh)],
        c,
    )
    .expect("valid architecture")
}

/// The `N` and `C` values to run: the whole grid, or `N = 64, C = 1` in quick mode.
pub fn grid() -> (&'static [usize], &'static [usize]) {
    if quick() { (&[64], &[1]) } else { (&NS, &CS) }
}

/// The pool in which the 2-thread cells run.
pub fn two_thread_pool() -> ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread rayon pool")
}
