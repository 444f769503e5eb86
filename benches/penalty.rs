//! Criterion benches of the MGS penalty (log-det metric): its value, and its value with the exact
//! gradient, by both routes.
//!
//! Bench ids (group/function):
//! - `penalty_value/{explicit,factorised}/{dtype}/t{T}/{W}x{W}/C{C}/{full,traced}/N{N}`:
//!   [`Penalty::value`];
//! - `penalty_value_and_grad/…` (same pattern): [`Penalty::value_and_grad`].
//!
//! One [`Penalty`] is reused across the iterations of a cell, as in a training loop: after the
//! first call its workspace makes the factorised route allocation-free.
//!
//! The matrix: d = 32, tanh hidden layers of widths `[64, 64]` and `[256, 256]`,
//! `N ∈ {64, 256, 1024}`, `C ∈ {1, 10}`, full and traced kernels, f32 and f64, `t1` = `Par::Seq`
//! and `t2` = `Par::rayon(2)` inside a 2-thread rayon pool. Skipped: explicit-route cells whose
//! Jacobian `N·C·P·sizeof(T)` exceeds 1.5 GB (the route also holds `G J`, as large again); of the
//! full kernel at `C = 10, N = 1024` (order 10240) only `penalty_value_and_grad/factorised/f64/t2`
//! is kept (seconds per call).
//!
//! `MGS_BENCH_QUICK=1` restricts to `N = 64, C = 1`; so does criterion's test mode
//! (`cargo test --benches`, `cargo bench -- --test`), which runs each cell once.
//!
//! ```text
//! MGS_BENCH_QUICK=1 cargo bench --bench penalty
//! cargo bench --bench penalty -- 'penalty_value_and_grad/factorised/f64/t2/256x256/C1/traced/N256$'
//! cargo bench --bench penalty -- 'penalty_value_and_grad/factorised/f64/t2/256x256/C10/full/N1024$'
//! ```

use criterion::Criterion;
use faer::Mat;
use mgs::penalty::{KernelKind, Penalty, PenaltyConfig, PenaltyMetric, Route};
use mgs::{Float, Init, Mlp, rng_from_seed};
use rand_distr::{Distribution, StandardNormal};
use rayon::ThreadPool;

mod common;

use common::*;

/// The network, the batch, one reused penalty and its gradient buffer.
struct State<T: Float> {
    mlp: Mlp<T>,
    x: Mat<T>,
    penalty: Penalty<T>,
    grad: Vec<T>,
    rng: mgs::MgsRng,
}

fn state<T: Float>(n: usize, width: usize, c: usize, kind: KernelKind, route: Route) -> State<T> {
    let mlp =
        Mlp::<T>::init(arch(width, c), Init::XavierNormal, &mut rng_from_seed(0)).expect("init");
    let mut rng = rng_from_seed(1);
    let x = Mat::<T>::from_fn(n, D, |_, _| T::from_f64(StandardNormal.sample(&mut rng)));
    let penalty = Penalty::new(PenaltyConfig {
        metric: PenaltyMetric::LogDet,
        kernel: kind,
        route,
        ..Default::default()
    })
    .expect("valid penalty configuration");
    let grad = vec![T::zero(); mlp.n_params()];
    State {
        mlp,
        x,
        penalty,
        grad,
        rng: rng_from_seed(2),
    }
}

/// Rough flop count of one call, only to pick sample sizes.
fn estimate(n: usize, width: usize, c: usize, kind: KernelKind, route: Route, grad: bool) -> f64 {
    let a = arch(width, c);
    let w = a.widths();
    let (nf, cf, p) = (n as f64, c as f64, a.n_params() as f64);
    let sum_hidden = w[1..w.len() - 1].iter().sum::<usize>() as f64;
    let sum_in = w[..w.len() - 1].iter().sum::<usize>() as f64;
    let m = kind.order(n, c) as f64;
    let fwd = 2.0 * nf * p * (1.0 + cf);
    let kernel = match route {
        Route::Explicit => fwd + 4.0 * nf * cf * p + m * nf * cf * p,
        Route::Factorised => fwd + m * nf * cf * sum_hidden + nf * nf * sum_in + 3.0 * m * m,
    };
    let value = kernel + m.powi(3) / 3.0;
    if !grad {
        return value;
    }
    match route {
        Route::Explicit => value + 2.0 * m * nf * cf * p + 10.0 * nf * cf * p + m.powi(3),
        Route::Factorised => value + 2.0 * kernel + m.powi(3),
    }
}

fn jacobian_bytes<T: Float>(n: usize, width: usize, c: usize) -> f64 {
    (n * c * arch(width, c).n_params() * std::mem::size_of::<T>()) as f64
}

fn group<T: Float>(c: &mut Criterion, pool: &ThreadPool, grad: bool, ns: &[usize], cs: &[usize]) {
    let name = if grad {
        "penalty_value_and_grad"
    } else {
        "penalty_value"
    };
    let mut g = c.benchmark_group(name);
    for route in ROUTES {
        for threads in THREADS {
            for width in WIDTHS {
                for &cc in cs {
                    for kind in KINDS {
                        for &n in ns {
                            if route == Route::Explicit
                                && jacobian_bytes::<T>(n, width, cc) > MAX_JACOBIAN_BYTES
                            {
                                continue;
                            }
                            let huge = kind == KernelKind::Full && cc == 10 && n == 1024;
                            let kept = dtype::<T>() == "f64"
                                && threads == 2
                                && route == Route::Factorised
                                && grad;
                            if huge && !kept {
                                continue;
                            }
                            let est = estimate(n, width, cc, kind, route, grad);
                            configure(&mut g, est / (FLOPS_PER_THREAD * threads as f64));
                            let route_name = match route {
                                Route::Explicit => "explicit",
                                Route::Factorised => "factorised",
                            };
                            let id = format!(
                                "{route_name}/{}/t{threads}/{width}x{width}/C{cc}/{}/N{n}",
                                dtype::<T>(),
                                kind.name()
                            );
                            let mut st: Option<State<T>> = None;
                            g.bench_function(id, |b| {
                                let s = st.get_or_insert_with(|| state(n, width, cc, kind, route));
                                let State {
                                    mlp,
                                    x,
                                    penalty,
                                    grad: gbuf,
                                    rng,
                                } = s;
                                let (mlp, x) = (&*mlp, &*x);
                                in_pool(pool, threads, |par| {
                                    if grad {
                                        b.iter(|| {
                                            penalty
                                                .value_and_grad(mlp, x.as_ref(), rng, gbuf, par)
                                                .expect("penalty value and gradient")
                                        })
                                    } else {
                                        b.iter(|| {
                                            penalty
                                                .value(mlp, x.as_ref(), rng, par)
                                                .expect("penalty value")
                                        })
                                    }
                                });
                            });
                        }
                    }
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
    for grad in [false, true] {
        group::<f64>(&mut c, &pool, grad, ns, cs);
        group::<f32>(&mut c, &pool, grad, ns, cs);
    }
    c.final_summary();
}
