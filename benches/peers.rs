//! The mgs side of the peer comparison (`benches/peers/`, results in `docs/peers.md`).
//!
//! A criterion-free bench binary. It reads one cell written by `benches/peers/peers.py` (a raw
//! little-endian f64 file `PREFIX.bin` plus its JSON header `PREFIX.json`), times the same
//! operations as the Python implementations on exactly the same parameters and inputs, and prints
//! one JSON line per operation with the median time and the check values (kernel trace, penalty
//! value, gradient norm, gradient · probe) that the runner compares across implementations.
//!
//! Operations (each timed end to end from `(θ, X)`):
//! - `jacobian`: [`Jacobian::reverse_into`], the `(N·C) × P` per-sample Jacobian, refilled in
//!   one buffer kept across calls;
//! - `kernel_full`, `kernel_traced`: [`KernelWorkspace::kernel_into`] into one kept output matrix,
//!   by [`Route::Factorised`] (default) or, with `--route explicit`, [`Route::Explicit`];
//! - `penalty_value`, `penalty_grad`: the log-det penalty `(1/m) log det(K + ε τ I)` on the traced
//!   (or `--penalty-kernel full`) kernel, [`Penalty::value`] / [`Penalty::value_and_grad`].
//!
//! Timing: one warm-up call, then `reps = clamp(budget / t_warmup, min_reps, max_reps)` timed
//! calls and their median; a warm-up slower than `--slow` seconds is reported alone
//! (`"warm_only": true`). `--threads T`: `T = 1` runs `Par::Seq`, otherwise `Par::rayon(T)` inside
//! a rayon pool of `T` threads.
//!
//! ```text
//! # CI smoke run: builds its own small cell (no Python), a few seconds
//! cargo bench --bench peers -- --smoke
//! # one cell written by peers.py
//! cargo bench --bench peers -- --data /tmp/peers/cell_N64_W64_C1 --dtype f64 --threads 1
//! ```

use std::time::Instant;

use faer::{Mat, MatRef, Par};
use mgs::kernel::{KernelKind, KernelParams, KernelWorkspace, Route};
use mgs::penalty::{Penalty, PenaltyConfig, PenaltyMetric};
use mgs::{Activation, Architecture, Float, Jacobian, Mlp, rng_from_seed};
use rand_distr::{Distribution, StandardNormal};
use serde_json::{Value, json};

const ALL_OPS: [&str; 5] = [
    "jacobian",
    "kernel_full",
    "kernel_traced",
    "penalty_value",
    "penalty_grad",
];

/// Command-line options.
struct Opts {
    smoke: bool,
    data: Option<String>,
    dtype: String,
    threads: usize,
    ops: Vec<String>,
    route: Route,
    penalty_kernel: KernelKind,
    budget: f64,
    min_reps: usize,
    max_reps: usize,
    slow: f64,
    max_jacobian_bytes: f64,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        smoke: std::env::var("MGS_PEERS_SMOKE").is_ok_and(|v| v == "1"),
        data: None,
        dtype: "f64".into(),
        threads: 1,
        ops: ALL_OPS.iter().map(|s| s.to_string()).collect(),
        route: Route::Factorised,
        penalty_kernel: KernelKind::Traced,
        budget: 2.0,
        min_reps: 3,
        max_reps: 15,
        slow: 20.0,
        max_jacobian_bytes: 1.5e9,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let val = |i: &mut usize| -> String {
        *i += 1;
        args.get(*i)
            .cloned()
            .unwrap_or_else(|| panic!("missing value after {}", args[*i - 1]))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--smoke" => o.smoke = true,
            "--data" => o.data = Some(val(&mut i)),
            "--dtype" => o.dtype = val(&mut i),
            "--threads" => o.threads = val(&mut i).parse().expect("--threads N"),
            "--ops" => o.ops = val(&mut i).split(',').map(|s| s.to_string()).collect(),
            "--route" => {
                o.route = match val(&mut i).as_str() {
                    "explicit" => Route::Explicit,
                    "factorised" => Route::Factorised,
                    r => panic!("unknown route {r}"),
                }
            }
            "--penalty-kernel" => {
                o.penalty_kernel = match val(&mut i).as_str() {
                    "full" => KernelKind::Full,
                    "traced" => KernelKind::Traced,
                    k => panic!("unknown kernel {k}"),
                }
            }
            "--budget" => o.budget = val(&mut i).parse().expect("--budget SECONDS"),
            "--min-reps" => o.min_reps = val(&mut i).parse().expect("--min-reps N"),
            "--max-reps" => o.max_reps = val(&mut i).parse().expect("--max-reps N"),
            "--slow" => o.slow = val(&mut i).parse().expect("--slow SECONDS"),
            "--max-jacobian-bytes" => {
                o.max_jacobian_bytes = val(&mut i).parse().expect("--max-jacobian-bytes B")
            }
            // `cargo bench` passes `--bench`; criterion-style filters are ignored too.
            _ => {}
        }
        i += 1;
    }
    for op in &o.ops {
        assert!(ALL_OPS.contains(&op.as_str()), "unknown op {op}");
    }
    o
}

/// One cell: architecture, flat parameters, inputs (row-major), probe vector, jitter.
struct Cell {
    d: usize,
    widths: Vec<usize>,
    c: usize,
    n: usize,
    jitter: f64,
    params: Vec<f64>,
    x: Vec<f64>,
    probe: Vec<f64>,
}

impl Cell {
    fn arch(&self) -> Architecture {
        let hidden: Vec<(usize, Activation)> =
            self.widths.iter().map(|&w| (w, Activation::Tanh)).collect();
        Architecture::new(self.d, &hidden, self.c).expect("valid architecture")
    }
}

fn read_cell(prefix: &str) -> Cell {
    let header: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{prefix}.json")).expect("read PREFIX.json"),
    )
    .expect("parse PREFIX.json");
    let bytes = std::fs::read(format!("{prefix}.bin")).expect("read PREFIX.bin");
    assert_eq!(
        bytes.len() % 8,
        0,
        "PREFIX.bin is not a whole number of f64"
    );
    let all: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let arr = |name: &str| -> Vec<f64> {
        let a = &header["arrays"][name];
        let off = a["offset"].as_u64().expect("offset") as usize;
        let len = a["len"].as_u64().expect("len") as usize;
        all[off..off + len].to_vec()
    };
    let us = |k: &str| header[k].as_u64().unwrap_or_else(|| panic!("header {k}")) as usize;
    assert_eq!(header["activation"].as_str(), Some("tanh"), "only tanh");
    let cell = Cell {
        d: us("d"),
        widths: header["widths"]
            .as_array()
            .expect("widths")
            .iter()
            .map(|w| w.as_u64().expect("width") as usize)
            .collect(),
        c: us("C"),
        n: us("N"),
        jitter: header["jitter"].as_f64().expect("jitter"),
        params: arr("params"),
        x: arr("x"),
        probe: arr("probe"),
    };
    assert_eq!(cell.params.len(), cell.arch().n_params(), "parameter count");
    assert_eq!(cell.x.len(), cell.n * cell.d, "input size");
    cell
}

/// A small cell generated here (no Python): d = 8, widths [16, 16], C = 3, N = 32.
fn smoke_cell() -> Cell {
    let (d, widths, c, n) = (8, vec![16, 16], 3, 32);
    let hidden: Vec<(usize, Activation)> = widths.iter().map(|&w| (w, Activation::Tanh)).collect();
    let arch = Architecture::new(d, &hidden, c).expect("valid architecture");
    let mut rng = rng_from_seed(7);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    let mut params = Vec::with_capacity(arch.n_params());
    let w = arch.widths();
    for l in 0..arch.n_layers() {
        let std = (2.0 / (w[l] + w[l + 1]) as f64).sqrt();
        for _ in 0..w[l] * w[l + 1] {
            params.push(std * normal());
        }
        for _ in 0..w[l + 1] {
            params.push(0.1 * normal());
        }
    }
    let x = (0..n * d).map(|_| normal()).collect();
    let probe = (0..arch.n_params()).map(|_| normal()).collect();
    Cell {
        d,
        widths,
        c,
        n,
        jitter: 1e-6,
        params,
        x,
        probe,
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite times"));
    let k = v.len();
    if k % 2 == 1 {
        v[k / 2]
    } else {
        0.5 * (v[k / 2 - 1] + v[k / 2])
    }
}

/// Warm-up, then timed repeats; returns (median seconds, all times, warm_only, last result).
fn time_op<R>(o: &Opts, mut f: impl FnMut() -> R) -> (f64, Vec<f64>, bool, R) {
    let t = Instant::now();
    let mut out = f();
    let t0 = t.elapsed().as_secs_f64();
    if t0 > o.slow {
        return (t0, vec![t0], true, out);
    }
    let reps = ((o.budget / t0.max(1e-9)) as usize).clamp(o.min_reps.max(1), o.max_reps.max(1));
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        out = f();
        times.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = times.clone();
    (median(&mut sorted), times, false, out)
}

fn sum_sq<T: Float>(v: impl Iterator<Item = T>) -> f64 {
    v.map(|a| {
        let a = a.to_f64();
        a * a
    })
    .sum()
}

fn kernel_checks<T: Float>(k: MatRef<'_, T>) -> Value {
    let trace: f64 = (0..k.nrows()).map(|i| k[(i, i)].to_f64()).sum();
    let mut fro = 0.0;
    for j in 0..k.ncols() {
        for i in 0..k.nrows() {
            let v = k[(i, j)].to_f64();
            fro += v * v;
        }
    }
    json!({"trace": trace, "fro": fro.sqrt()})
}

fn run<T: Float>(o: &Opts, cell: &Cell, pool: &rayon::ThreadPool) {
    let arch = cell.arch();
    let dtype = if std::mem::size_of::<T>() == 4 {
        "f32"
    } else {
        "f64"
    };
    let params: Vec<T> = cell.params.iter().map(|&v| T::from_f64(v)).collect();
    let mlp = Mlp::from_params(arch.clone(), params).expect("parameters");
    let x = Mat::<T>::from_fn(cell.n, cell.d, |i, j| T::from_f64(cell.x[i * cell.d + j]));
    let p = arch.n_params();
    let par = if o.threads == 1 {
        Par::Seq
    } else {
        Par::rayon(o.threads)
    };
    let route_name = match o.route {
        Route::Explicit => "explicit",
        Route::Factorised => "factorised",
    };
    let base = json!({
        "impl": "mgs",
        "variant": route_name,
        "dtype": dtype,
        "threads": o.threads,
        "N": cell.n, "d": cell.d, "widths": cell.widths, "C": cell.c, "P": p,
    });
    let emit = |op: &str, extra: Value| {
        let mut line = base.clone();
        line["op"] = json!(op);
        for (k, v) in extra.as_object().expect("object") {
            line[k] = v.clone();
        }
        println!("{line}");
    };
    let timing =
        |t: (f64, Vec<f64>, bool)| json!({"median_s": t.0, "times": t.1, "warm_only": t.2});
    let merge = |mut a: Value, b: Value| {
        for (k, v) in b.as_object().expect("object") {
            a[k] = v.clone();
        }
        a
    };
    let jac_bytes = (cell.n * cell.c * p * std::mem::size_of::<T>()) as f64;
    for op in &o.ops {
        match op.as_str() {
            "jacobian" => {
                if jac_bytes > o.max_jacobian_bytes {
                    emit(
                        op,
                        json!({"skipped": format!("Jacobian {jac_bytes:.3e} B over limit")}),
                    );
                    continue;
                }
                // One buffer for all calls, as a training loop would keep it.
                let mut jac = Jacobian::default();
                let (m, ts, w, ()) = pool.install(|| {
                    time_op(o, || {
                        jac.reverse_into(&mlp, x.as_ref(), par).expect("jacobian")
                    })
                });
                let jsq = sum_sq(jac.data().iter().copied());
                emit(op, merge(timing((m, ts, w)), json!({"trace": jsq})));
            }
            "kernel_full" | "kernel_traced" => {
                let kind = if op == "kernel_full" {
                    KernelKind::Full
                } else {
                    KernelKind::Traced
                };
                if o.route == Route::Explicit && jac_bytes > o.max_jacobian_bytes {
                    emit(
                        op,
                        json!({"skipped": format!("Jacobian {jac_bytes:.3e} B over limit")}),
                    );
                    continue;
                }
                let order = kind.order(cell.n, cell.c);
                // One workspace and one output matrix for all calls, as a monitor keeps them.
                let params = KernelParams::new(kind, o.route);
                let mut ws = KernelWorkspace::default();
                let mut k = Mat::<T>::zeros(order, order);
                let (m, ts, w, ()) = pool.install(|| {
                    time_op(o, || {
                        ws.kernel_into(&mlp, x.as_ref(), None, &params, k.as_mut(), par)
                            .expect("kernel")
                    })
                });
                emit(op, merge(timing((m, ts, w)), kernel_checks(k.as_ref())));
            }
            "penalty_value" | "penalty_grad" => {
                if o.route == Route::Explicit && jac_bytes > o.max_jacobian_bytes {
                    emit(
                        op,
                        json!({"skipped": format!("Jacobian {jac_bytes:.3e} B over limit")}),
                    );
                    continue;
                }
                let mut penalty = Penalty::<T>::new(PenaltyConfig {
                    metric: PenaltyMetric::LogDet,
                    kernel: o.penalty_kernel,
                    jitter: cell.jitter,
                    weight: 1.0,
                    subset: None,
                    route: o.route,
                    bound: Default::default(),
                    ..PenaltyConfig::default()
                })
                .expect("penalty configuration");
                let mut rng = rng_from_seed(0);
                let kname = o.penalty_kernel.name();
                if op == "penalty_value" {
                    let r = pool
                        .install(|| time_op(o, || penalty.value(&mlp, x.as_ref(), &mut rng, par)));
                    match r.3 {
                        Ok(v) => emit(
                            op,
                            merge(
                                timing((r.0, r.1, r.2)),
                                json!({"value": v.to_f64(), "penalty_kernel": kname}),
                            ),
                        ),
                        Err(e) => emit(op, json!({"error": e.to_string()})),
                    }
                } else {
                    let mut grad = vec![T::zero(); p];
                    let r = pool.install(|| {
                        time_op(o, || {
                            penalty.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut grad, par)
                        })
                    });
                    match r.3 {
                        Ok(v) => {
                            let gn = sum_sq(grad.iter().copied()).sqrt();
                            let gu: f64 = grad
                                .iter()
                                .zip(&cell.probe)
                                .map(|(g, u)| g.to_f64() * u)
                                .sum();
                            emit(
                                op,
                                merge(
                                    timing((r.0, r.1, r.2)),
                                    json!({"value": v.to_f64(), "grad_norm": gn,
                                           "grad_dot_probe": gu, "penalty_kernel": kname}),
                                ),
                            );
                        }
                        Err(e) => emit(op, json!({"error": e.to_string()})),
                    }
                }
            }
            _ => unreachable!("checked in parse_args"),
        }
    }
}

fn main() {
    let mut o = parse_args();
    let cell = if o.smoke {
        // Few repeats: the smoke run only checks that everything runs.
        o.budget = 0.05;
        o.min_reps = 1;
        o.max_reps = 3;
        smoke_cell()
    } else {
        let Some(prefix) = o.data.as_deref() else {
            eprintln!(
                "usage: peers (--smoke | --data PREFIX) [--dtype f64|f32] [--threads T] \
                 [--ops jacobian,kernel_full,kernel_traced,penalty_value,penalty_grad] \
                 [--route factorised|explicit] [--penalty-kernel traced|full] [--budget S] \
                 [--min-reps N] [--max-reps N] [--slow S]"
            );
            std::process::exit(2);
        };
        read_cell(prefix)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads.max(1))
        .build()
        .expect("rayon pool");
    match o.dtype.as_str() {
        "f64" => run::<f64>(&o, &cell, &pool),
        "f32" => run::<f32>(&o, &cell, &pool),
        t => panic!("unknown dtype {t}"),
    }
}
