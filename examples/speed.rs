//! The penalty's headline speed cases with a per-phase breakdown, next to the machine's matmul
//! peak measured in the same run.
//!
//! f64, d = 32, widths [256, 256] (tanh), log-determinant penalty, value and gradient, factorised
//! route; C = 1 with the traced kernel at N = 256 and 1024, C = 10 with the full kernel at N = 256
//! and 1024. Each case: one warm-up call, then the median of `--reps` calls (default 5; 3 for the
//! largest case). GFLOP/s are counted from the dense steps' textbook flop counts; `GFLOP` is the
//! whole call's, `floor` that work at the matmul peak of the same run, and `×floor` how far the
//! measured total is above it.
//!
//! ```text
//! cargo run --release --example speed                  # 2 threads, all four cases
//! cargo run --release --example speed -- --threads 1
//! cargo run --release --example speed -- --quick       # small cases only (CI)
//! ```

use std::time::{Duration, Instant};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use mgs::penalty::{KernelKind, Penalty, PenaltyConfig, PenaltyMetric, PhaseTimings};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
use rand::RngExt;

struct Args {
    threads: usize,
    reps: usize,
    quick: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 2,
        reps: 5,
        quick: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a positive integer"))
        };
        match a.as_str() {
            "--threads" => args.threads = value("--threads")?.max(1),
            "--reps" => args.reps = value("--reps")?.max(1),
            "--quick" => args.quick = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median GFLOP/s of an `n × n × n` f64 product.
fn matmul_peak(n: usize, par: Par) -> f64 {
    let a = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 13) as f64);
    let b = Mat::<f64>::from_fn(n, n, |i, j| ((i * 5 + j) % 11) as f64);
    let mut c = Mat::<f64>::zeros(n, n);
    let times: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par);
            t.elapsed().as_secs_f64()
        })
        .collect();
    2.0 * (n as f64).powi(3) / median(times) / 1e9
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = parse_args()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let par = if args.threads == 1 {
        Par::Seq
    } else {
        Par::rayon(args.threads)
    };
    pool.install(|| run(&args, par))
}

fn run(args: &Args, par: Par) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let peak_n = if args.quick { 256 } else { 1024 };
    let peak = matmul_peak(peak_n, par);
    println!(
        "matmul peak ({peak_n}³ f64, {} thread(s)): {peak:.1} GFLOP/s\n",
        args.threads
    );
    let (width, d) = if args.quick { (32, 8) } else { (256, 32) };
    let cases: Vec<(usize, usize, KernelKind)> = if args.quick {
        vec![(1, 32, KernelKind::Traced), (3, 32, KernelKind::Full)]
    } else {
        vec![
            (1, 256, KernelKind::Traced),
            (1, 1024, KernelKind::Traced),
            (10, 256, KernelKind::Full),
            (10, 1024, KernelKind::Full),
        ]
    };
    println!(
        "{:>3} {:>5} {:>7} {:>6} | {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} | {:>8} {:>8} {:>8} | {:>7} {:>8} {:>7}",
        "C",
        "N",
        "kernel",
        "m",
        "total",
        "forward",
        "kernel",
        "cholesky",
        "inverse",
        "backward",
        "K GF/s",
        "chol %pk",
        "inv %pk",
        "GFLOP",
        "floor",
        "×floor"
    );
    for (c, n, kind) in cases {
        let arch = Architecture::new(
            d,
            &[(width, Activation::Tanh), (width, Activation::Tanh)],
            c,
        )?;
        let mlp = Mlp::<f64>::init(arch.clone(), Init::XavierNormal, &mut rng_from_seed(1))?;
        let mut rng = rng_from_seed(2);
        let x = Mat::from_fn(n, d, |_, _| rng.random::<f64>() * 2.0 - 1.0);
        let cfg = PenaltyConfig {
            metric: PenaltyMetric::LogDet,
            kernel: kind,
            ..Default::default()
        };
        let mut pen = Penalty::new(cfg)?;
        let mut grad = vec![0.0; mlp.n_params()];
        pen.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut grad, par)?;
        let reps = if n * c >= 10_000 {
            args.reps.min(3)
        } else {
            args.reps
        };
        let mut runs: Vec<PhaseTimings> = Vec::new();
        for _ in 0..reps {
            pen.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut grad, par)?;
            runs.push(pen.last_timings());
        }
        let med = |f: &dyn Fn(&PhaseTimings) -> Duration| {
            median(runs.iter().map(|t| secs(f(t))).collect())
        };
        let total = med(&|t| t.total());
        let (fwd, ker, chol, inv, back) = (
            med(&|t| t.forward),
            med(&|t| t.kernel),
            med(&|t| t.factor),
            med(&|t| t.inverse),
            med(&|t| t.backward),
        );
        let m = kind.order(n, c) as f64;
        let nf = n as f64;
        let widths = arch.widths();
        // Gram products, one triangle each: signals (m² n_l per hidden layer) and activations.
        let cols = |w: usize| {
            if kind == KernelKind::Full {
                w as f64
            } else {
                (c * w) as f64
            }
        };
        let kernel_flops: f64 = widths[1..widths.len() - 1]
            .iter()
            .map(|&w| m * m * cols(w))
            .sum::<f64>()
            + widths[..widths.len() - 1]
                .iter()
                .map(|&w| nf * nf * w as f64)
                .sum::<f64>();
        let chol_flops = m.powi(3) / 3.0;
        let inv_flops = 2.0 * m.powi(3) / 3.0;
        let flops = call_flops(widths, n, c, kind);
        let floor = flops / (peak * 1e9);
        println!(
            "{c:>3} {n:>5} {:>7} {:>6} | {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms | {:>8.1} {:>7.0}% {:>7.0}% | {:>7.3} {:>6.1}ms {:>7.2}",
            kind.name(),
            m as usize,
            total * 1e3,
            fwd * 1e3,
            ker * 1e3,
            chol * 1e3,
            inv * 1e3,
            back * 1e3,
            kernel_flops / ker / 1e9,
            100.0 * chol_flops / chol / 1e9 / peak,
            100.0 * inv_flops / inv / 1e9 / peak,
            flops / 1e9,
            floor * 1e3,
            total / floor,
        );
    }
    Ok(())
}

/// Textbook flops of one factorised `value_and_grad` call (`2mnk` per product, `m²k` per
/// one-triangle Gram, `m³/3` Cholesky, `2m³/3` inverse): the work any implementation of this
/// algorithm does. `widths = [d, n_1, …, n_H, C]`. Divided by the matmul peak it gives the floor
/// printed next to each case.
fn call_flops(widths: &[usize], n: usize, c: usize, kind: KernelKind) -> f64 {
    let (nf, cf) = (n as f64, c as f64);
    let nc = nf * cf;
    let m = kind.order(n, c) as f64;
    let w: Vec<f64> = widths.iter().map(|&v| v as f64).collect();
    let layers = w.len() - 1; // L
    let hidden = 1..layers; // widths index h = 1..=H
    // m² × (columns of the signal factor): the same for both kernels' signal Grams.
    let sd = |wh: f64| {
        if kind == KernelKind::Full {
            m * m * wh
        } else {
            nf * nf * cf * wh
        }
    };
    let forward: f64 = (0..layers).map(|l| 2.0 * nf * w[l] * w[l + 1]).sum();
    let signals: f64 = (1..layers - 1).map(|h| 2.0 * nc * w[h + 1] * w[h]).sum();
    let grams: f64 = (0..layers).map(|l| nf * nf * w[l]).sum::<f64>()
        + hidden.clone().map(|h| sd(w[h])).sum::<f64>();
    let factor = m.powi(3) / 3.0 + 2.0 * m.powi(3) / 3.0;
    let dbar: f64 = hidden.clone().map(|h| 2.0 * sd(w[h])).sum();
    // S_D again for the hidden layers the kernel step's buffer does not hold (not the first, which
    // needs none, nor the last, which is kept).
    let sd_again: f64 = (2..layers.saturating_sub(1)).map(|h| sd(w[h])).sum();
    let abar: f64 = (1..layers).map(|l| 2.0 * nf * nf * w[l]).sum();
    let stage1: f64 = (1..layers - 1).map(|h| 4.0 * nc * w[h] * w[h + 1]).sum();
    let stage2: f64 = hidden
        .clone()
        .map(|l| 2.0 * nf * w[l] * w[l - 1])
        .sum::<f64>()
        + (2..layers).map(|l| 2.0 * nf * w[l] * w[l - 1]).sum::<f64>();
    forward + signals + grams + factor + dbar + sd_again + abar + stage1 + stage2
}
