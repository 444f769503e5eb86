//! MGS kernels of a tanh MLP by both routes: wall times, agreement and metrics.
//!
//! ```text
//! cargo run --release --example kernel -- [--quick] [--n N] [--c C] [--threads T] [--seed S] [--f32]
//! ```
//!
//! Defaults: d = 32, hidden widths [256, 256] (tanh), C = 10, N = 256, f64, one thread
//! (`Par::Seq`). `--quick` uses N = 32, widths [32, 32], C = 3 (seconds, for CI); `--n` and `--c`
//! override either preset. `--threads T` (T > 1) runs everything inside a T-thread rayon pool with
//! `Par::rayon(T)`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use faer::{Mat, MatRef, Par};
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::metrics::{Metrics, MetricsConfig, metrics};
use mgs::{Activation, Architecture, Float, Init, Mlp, rng_from_seed};
use rand_distr::{Distribution, StandardNormal};

const USAGE: &str = "usage: kernel [--quick] [--n N] [--c C] [--threads T] [--seed S] [--f32]";

struct Args {
    n: usize,
    c: usize,
    widths: Vec<usize>,
    d: usize,
    threads: usize,
    seed: u64,
    f32: bool,
}

fn parse_usize(flag: &str, value: Option<String>) -> Result<usize, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag}: not a non-negative integer: {v}"))
}

fn parse_args() -> Result<Args, String> {
    let (mut quick, mut n, mut c, mut threads, mut seed, mut f32) =
        (false, None, None, 1, 0u64, false);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--n" => n = Some(parse_usize("--n", it.next())?),
            "--c" => c = Some(parse_usize("--c", it.next())?),
            "--threads" => threads = parse_usize("--threads", it.next())?,
            "--seed" => seed = parse_usize("--seed", it.next())? as u64,
            "--f32" => f32 = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if threads == 0 {
        return Err("--threads must be >= 1".into());
    }
    let (n0, widths, c0) = if quick {
        (32, vec![32, 32], 3)
    } else {
        (256, vec![256, 256], 10)
    };
    Ok(Args {
        n: n.unwrap_or(n0),
        c: c.unwrap_or(c0),
        widths,
        d: 32,
        threads,
        seed,
        f32,
    })
}

/// `N × d` standard-normal inputs from a seeded generator.
fn inputs<T: Float>(n: usize, d: usize, seed: u64) -> Mat<T> {
    let mut rng = rng_from_seed(seed);
    let mut x = Mat::<T>::zeros(n, d);
    for i in 0..n {
        for j in 0..d {
            let v: f64 = StandardNormal.sample(&mut rng);
            x[(i, j)] = T::from_f64(v);
        }
    }
    x
}

/// `max |A − B| / max |A|` in `f64`.
fn max_rel_diff<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let (x, y) = (a[(i, j)].to_f64(), b[(i, j)].to_f64());
            diff = diff.max((x - y).abs());
            scale = scale.max(x.abs());
        }
    }
    if scale > 0.0 { diff / scale } else { diff }
}

fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

fn print_metrics(label: &str, m: &Metrics) {
    println!("  {label} (order {}):", m.order);
    println!("    trace (mean sq. grad norm)   {:.6e}", m.trace);
    println!("    logdet                       {:.6}", m.logdet);
    println!(
        "    normalized_logdet            {:.6}",
        m.normalized_logdet
    );
    println!("    cosine_mean                  {:.6}", m.cosine_mean);
    println!("    cosine_logdet                {:.6}", m.cosine_logdet);
    if let Some(s) = &m.spectrum {
        let (lo, hi) = (s.eigenvalues[0], s.eigenvalues[s.eigenvalues.len() - 1]);
        println!("    eigenvalues min / max        {lo:.6e} / {hi:.6e}");
        println!("    effective_rank               {:.4}", s.effective_rank);
        println!(
            "    condition_number             {:.6e}",
            s.condition_number
        );
    }
}

fn run<T: Float>(args: &Args, par: Par) -> mgs::Result<()> {
    let hidden: Vec<(usize, Activation)> =
        args.widths.iter().map(|&w| (w, Activation::Tanh)).collect();
    let arch = Architecture::new(args.d, &hidden, args.c)?;
    let mlp = Mlp::<T>::init(arch, Init::XavierNormal, &mut rng_from_seed(args.seed))?;
    let x = inputs::<T>(args.n, args.d, args.seed.wrapping_add(1));
    let p = mlp.n_params();
    println!(
        "MLP d={} widths={:?} tanh C={} P={} | N={} | {} | {}",
        args.d,
        args.widths,
        args.c,
        p,
        args.n,
        std::any::type_name::<T>(),
        if args.threads > 1 {
            format!(
                "Par::rayon({}) in a {}-thread pool",
                args.threads, args.threads
            )
        } else {
            "Par::Seq".to_string()
        }
    );
    let j_bytes = args.n * args.c * p * std::mem::size_of::<T>();
    println!(
        "explicit Jacobian: {} x {} ({:.1} MB)",
        args.n * args.c,
        p,
        j_bytes as f64 / 1e6
    );
    let config = MetricsConfig::default();
    // One untimed pass on a two-sample batch first, so that the timings below do not include
    // one-off costs (faer's first-call set-up, thread start-up).
    let x2 = x.subrows(0, args.n.min(2));
    for kind in [KernelKind::Full, KernelKind::Traced] {
        for route in [Route::Explicit, Route::Factorised] {
            let k = kernel(&mlp, x2, None, &KernelParams::new(kind, route), par)?;
            metrics(k.as_ref(), &config, par)?;
        }
    }
    for kind in [KernelKind::Full, KernelKind::Traced] {
        let m = kind.order(args.n, args.c);
        println!("\n{} kernel ({m} x {m})", kind.name());
        let (ke, te) = timed(|| {
            kernel(
                &mlp,
                x.as_ref(),
                None,
                &KernelParams::new(kind, Route::Explicit),
                par,
            )
        });
        let ke = ke?;
        let (kf, tf) = timed(|| {
            kernel(
                &mlp,
                x.as_ref(),
                None,
                &KernelParams::new(kind, Route::Factorised),
                par,
            )
        });
        let kf = kf?;
        println!("  explicit   {:>10.3} ms", te.as_secs_f64() * 1e3);
        println!(
            "  factorised {:>10.3} ms   (speed-up x{:.2})",
            tf.as_secs_f64() * 1e3,
            te.as_secs_f64() / tf.as_secs_f64()
        );
        println!(
            "  max |K_explicit - K_factorised| / max |K_explicit| = {:.3e}",
            max_rel_diff(ke.as_ref(), kf.as_ref())
        );
        let (me, tme) = timed(|| metrics(ke.as_ref(), &config, par));
        let mf = metrics(kf.as_ref(), &config, par)?;
        println!(
            "  metrics ({:.3} ms; spectrum included):",
            tme.as_secs_f64() * 1e3
        );
        print_metrics("explicit-route kernel", &me?);
        print_metrics("factorised-route kernel", &mf);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    let go = |par: Par| {
        if args.f32 {
            run::<f32>(&args, par)
        } else {
            run::<f64>(&args, par)
        }
    };
    let result = if args.threads > 1 {
        match rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build()
        {
            Ok(pool) => pool.install(|| go(Par::rayon(args.threads))),
            Err(e) => {
                eprintln!("error: cannot build a {}-thread pool: {e}", args.threads);
                return ExitCode::FAILURE;
            }
        }
    } else {
        go(Par::Seq)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
