//! Criterion benches of the per-sample Jacobian, the MGS kernel by both routes, the kernel
//! metrics, and a faer matmul peak to compare them against.
//!
//! Bench ids (group/function):
//! - `matmul_peak/{f64,f32}/t{1,2}/1024`: `C = A B`, all `1024 × 1024`; throughput in elements/s is
//!   FLOP/s (`2·1024³` per iteration).
//! - `jacobian/{dtype}/t{T}/{W}x{W}/C{C}/N{N}`: [`mgs::Jacobian::reverse_into`], refilling one
//!   `Jacobian` across iterations (a fresh buffer per call would time page faults).
//! - `kernel_explicit/{dtype}/t{T}/{W}x{W}/C{C}/{full,traced}/N{N}`: `kernel(.., &KernelParams::new(kind, Route::Explicit), ..)`
//!   (forms `J`, then `J Jᵀ`).
//! - `kernel_factorised/…` (same pattern): `kernel(.., &KernelParams::new(kind, Route::Factorised), ..)`.
//! - `metrics/{dtype}/t{T}/C{C}/{full,traced}/N{N}`: [`mgs::metrics::metrics`] with the default
//!   configuration (two Choleskys and the spectrum) of the kernel of the `[64, 64]` network (the
//!   cost depends on the kernel's order only).
//!
//! The matrix: d = 32, tanh hidden layers of widths `[64, 64]` and `[256, 256]`,
//! `N ∈ {64, 256, 1024}`, `C ∈ {1, 10}`, full and traced kernels, f32 and f64, `t1` = `Par::Seq`
//! and `t2` = `Par::rayon(2)` inside a 2-thread rayon pool. Skipped: cells whose explicit Jacobian
//! `N·C·P·sizeof(T)` exceeds 1.5 GB (jacobian and explicit route), the explicit full kernel at
//! `C = 10, N = 1024`, and metrics of kernels of order above 4096 (the `10240²` full kernel: its
//! eigendecomposition alone takes minutes).
//!
//! `MGS_BENCH_QUICK=1` restricts to `N = 64, C = 1`; so does criterion's test mode
//! (`cargo test --benches`, `cargo bench -- --test`), which runs each cell once.
//!
//! ```text
//! MGS_BENCH_QUICK=1 cargo bench --bench kernel
//! cargo bench --bench kernel -- 'matmul_peak'
//! cargo bench --bench kernel -- 'kernel_factorised/f64/t2/256x256/C10/full/N1024$'
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::metrics::{MetricsConfig, metrics};
use mgs::{Float, Init, Jacobian, Mlp, rng_from_seed};
use rand_distr::{Distribution, StandardNormal};
use rayon::ThreadPool;

mod common;

use common::*;

/// Largest kernel order whose metrics are benchmarked.
const MAX_METRICS_ORDER: usize = 4096;

/// The benchmarked network and batch.
struct Setup<T: Float> {
    mlp: Mlp<T>,
    x: Mat<T>,
}

fn setup<T: Float>(n: usize, width: usize, c: usize) -> Setup<T> {
    let mlp =
        Mlp::<T>::init(arch(width, c), Init::XavierNormal, &mut rng_from_seed(0)).expect("init");
    let mut rng = rng_from_seed(1);
    let x = Mat::<T>::from_fn(n, D, |_, _| T::from_f64(StandardNormal.sample(&mut rng)));
    Setup { mlp, x }
}

/// Cost model (flops) of one cell, only to pick sample sizes.
struct Cost {
    n: f64,
    c: f64,
    p: f64,
    sum_hidden: f64,
    sum_in: f64,
}

impl Cost {
    fn new(n: usize, width: usize, c: usize) -> Self {
        let a = arch(width, c);
        let w = a.widths();
        Self {
            n: n as f64,
            c: c as f64,
            p: a.n_params() as f64,
            sum_hidden: w[1..w.len() - 1].iter().sum::<usize>() as f64,
            sum_in: w[..w.len() - 1].iter().sum::<usize>() as f64,
        }
    }
    fn order(&self, kind: KernelKind) -> f64 {
        if kind.is_traced() {
            self.n
        } else {
            self.n * self.c
        }
    }
    fn jacobian(&self) -> f64 {
        2.0 * self.n * self.p * (1.0 + self.c) + 4.0 * self.n * self.c * self.p
    }
    fn explicit(&self, kind: KernelKind) -> f64 {
        self.jacobian() + self.order(kind) * self.n * self.c * self.p
    }
    fn factorised(&self, kind: KernelKind) -> f64 {
        let m = self.order(kind);
        2.0 * self.n * self.p * (1.0 + self.c)
            + m * self.n * self.c * self.sum_hidden
            + self.n * self.n * self.sum_in
            + 3.0 * m * m
    }
}

fn secs(flops: f64, threads: usize) -> f64 {
    flops / (FLOPS_PER_THREAD * threads as f64)
}

fn jacobian_bytes<T: Float>(n: usize, width: usize, c: usize) -> f64 {
    (n * c * arch(width, c).n_params() * std::mem::size_of::<T>()) as f64
}

fn matmul_peak<T: Float>(c: &mut Criterion, pool: &ThreadPool) {
    const M: usize = 1024;
    let mut g = c.benchmark_group("matmul_peak");
    g.throughput(Throughput::Elements(2 * (M as u64).pow(3)));
    for threads in THREADS {
        configure(&mut g, secs(2.0 * (M as f64).powi(3), threads));
        let mut state: Option<(Mat<T>, Mat<T>, Mat<T>)> = None;
        g.bench_function(format!("{}/t{threads}/{M}", dtype::<T>()), |b| {
            let (a, bm, out) = state.get_or_insert_with(|| {
                let mut rng = rng_from_seed(2);
                let mut draw = |_, _| T::from_f64(StandardNormal.sample(&mut rng));
                let a = Mat::<T>::from_fn(M, M, &mut draw);
                let bm = Mat::<T>::from_fn(M, M, &mut draw);
                (a, bm, Mat::<T>::zeros(M, M))
            });
            let (a, bm) = (&*a, &*bm);
            in_pool(pool, threads, |par| {
                b.iter(|| {
                    matmul(
                        out.as_mut(),
                        Accum::Replace,
                        a.as_ref(),
                        bm.as_ref(),
                        T::one(),
                        par,
                    );
                    black_box(&*out);
                })
            });
        });
    }
    g.finish();
}

fn jacobian<T: Float>(c: &mut Criterion, pool: &ThreadPool, ns: &[usize], cs: &[usize]) {
    let mut g = c.benchmark_group("jacobian");
    for threads in THREADS {
        for width in WIDTHS {
            for &cc in cs {
                for &n in ns {
                    if jacobian_bytes::<T>(n, width, cc) > MAX_JACOBIAN_BYTES {
                        continue;
                    }
                    let cost = Cost::new(n, width, cc);
                    configure(&mut g, secs(cost.jacobian(), threads));
                    let mut state = None;
                    let id = format!("{}/t{threads}/{width}x{width}/C{cc}/N{n}", dtype::<T>());
                    g.bench_function(id, |b| {
                        let (s, jac): &mut (Setup<T>, Jacobian<T>) =
                            state.get_or_insert_with(|| (setup(n, width, cc), Jacobian::default()));
                        in_pool(pool, threads, |par| {
                            b.iter(|| jac.reverse_into(&s.mlp, s.x.as_ref(), par).expect("J"))
                        });
                    });
                }
            }
        }
    }
    g.finish();
}

fn kernels<T: Float>(
    c: &mut Criterion,
    pool: &ThreadPool,
    route: Route,
    ns: &[usize],
    cs: &[usize],
) {
    let name = match route {
        Route::Explicit => "kernel_explicit",
        Route::Factorised => "kernel_factorised",
    };
    let mut g = c.benchmark_group(name);
    for threads in THREADS {
        for width in WIDTHS {
            for &cc in cs {
                for kind in KINDS {
                    for &n in ns {
                        let cost = Cost::new(n, width, cc);
                        let est = match route {
                            Route::Explicit => {
                                let too_big =
                                    jacobian_bytes::<T>(n, width, cc) > MAX_JACOBIAN_BYTES;
                                let skip_full = kind == KernelKind::Full && cc == 10 && n == 1024;
                                if too_big || skip_full {
                                    continue;
                                }
                                cost.explicit(kind)
                            }
                            Route::Factorised => cost.factorised(kind),
                        };
                        configure(&mut g, secs(est, threads));
                        let mut state = None;
                        let id = format!(
                            "{}/t{threads}/{width}x{width}/C{cc}/{}/N{n}",
                            dtype::<T>(),
                            kind.name()
                        );
                        g.bench_function(id, |b| {
                            let s: &Setup<T> = state.get_or_insert_with(|| setup(n, width, cc));
                            in_pool(pool, threads, |par| {
                                b.iter(|| {
                                    kernel(
                                        &s.mlp,
                                        s.x.as_ref(),
                                        None,
                                        &KernelParams::new(kind, route),
                                        par,
                                    )
                                    .expect("kernel")
                                })
                            });
                        });
                    }
                }
            }
        }
    }
    g.finish();
}

fn metrics_group<T: Float>(c: &mut Criterion, pool: &ThreadPool, ns: &[usize], cs: &[usize]) {
    const WIDTH: usize = 64;
    let mut g = c.benchmark_group("metrics");
    let config = MetricsConfig::default();
    for threads in THREADS {
        for &cc in cs {
            for kind in KINDS {
                for &n in ns {
                    let m = kind.order(n, cc);
                    if m > MAX_METRICS_ORDER {
                        continue;
                    }
                    configure(&mut g, secs(4.0 * (m as f64).powi(3), threads));
                    let mut state: Option<Mat<T>> = None;
                    let id = format!("{}/t{threads}/C{cc}/{}/N{n}", dtype::<T>(), kind.name());
                    g.bench_function(id, |b| {
                        let k: &Mat<T> = state.get_or_insert_with(|| {
                            let s = setup::<T>(n, WIDTH, cc);
                            kernel(
                                &s.mlp,
                                s.x.as_ref(),
                                None,
                                &KernelParams::new(kind, Route::Factorised),
                                Par::Seq,
                            )
                            .expect("kernel")
                        });
                        in_pool(pool, threads, |par| {
                            b.iter(|| metrics(k.as_ref(), &config, par).expect("metrics"))
                        });
                    });
                }
            }
        }
    }
    g.finish();
}

fn main() {
    let (ns, cs) = grid();
    let pool = two_thread_pool();
    let mut c = Criterion::default().configure_from_args();
    matmul_peak::<f64>(&mut c, &pool);
    matmul_peak::<f32>(&mut c, &pool);
    jacobian::<f64>(&mut c, &pool, ns, cs);
    jacobian::<f32>(&mut c, &pool, ns, cs);
    for route in [Route::Explicit, Route::Factorised] {
        kernels::<f64>(&mut c, &pool, route, ns, cs);
        kernels::<f32>(&mut c, &pool, route, ns, cs);
    }
    metrics_group::<f64>(&mut c, &pool, ns, cs);
    metrics_group::<f32>(&mut c, &pool, ns, cs);
    c.final_summary();
}
