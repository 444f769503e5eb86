//! The MGS penalty by both gradient routes, for every metric and kernel kind: values, gradient
//! norms and how closely the routes agree.
//!
//! ```text
//! cargo run --release --example penalty -- [--quick] [--n N] [--seed S]
//! ```
//!
//! Defaults: d = 8, hidden widths [32, 32] (tanh), C = 3, N = 24, f64, `Par::Seq`.
//! `--quick`: widths [16, 16], N = 12.

use std::process::ExitCode;
use std::time::Instant;

use faer::{Mat, Par};
use mgs::kernel::{KernelKind, Route};
use mgs::penalty::{Penalty, PenaltyConfig, PenaltyMetric};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
use rand_distr::{Distribution, StandardNormal};

const USAGE: &str = "usage: penalty [--quick] [--n N] [--seed S]";

fn parse_args() -> Result<(bool, Option<usize>, u64), String> {
    let (mut quick, mut n, mut seed) = (false, None, 0u64);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            v.parse()
                .map_err(|_| format!("{flag}: not a non-negative integer: {v}"))
        };
        match a.as_str() {
            "--quick" => quick = true,
            "--n" => n = Some(value("--n")? as usize),
            "--seed" => seed = value("--seed")?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok((quick, n, seed))
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// One route's result: value, gradient, wall time in ms.
fn evaluate(
    config: PenaltyConfig,
    mlp: &Mlp<f64>,
    x: &Mat<f64>,
    seed: u64,
) -> mgs::Result<(f64, Vec<f64>, f64)> {
    let mut penalty = Penalty::new(config)?;
    let mut grad = vec![0.0; mlp.n_params()];
    let t = Instant::now();
    let value = penalty.value_and_grad(
        mlp,
        x.as_ref(),
        &mut rng_from_seed(seed),
        &mut grad,
        Par::Seq,
    )?;
    Ok((value, grad, t.elapsed().as_secs_f64() * 1e3))
}

fn run(quick: bool, n: Option<usize>, seed: u64) -> mgs::Result<()> {
    let (d, c) = (8, 3);
    let (widths, n) = if quick {
        ([16, 16], n.unwrap_or(12))
    } else {
        ([32, 32], n.unwrap_or(24))
    };
    let hidden: Vec<(usize, Activation)> = widths.iter().map(|&w| (w, Activation::Tanh)).collect();
    let arch = Architecture::new(d, &hidden, c)?;
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(seed))?;
    let mut rng = rng_from_seed(seed.wrapping_add(1));
    let x = Mat::<f64>::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng));
    println!(
        "MLP d={d} widths={widths:?} tanh C={c} P={} | N={n} | f64 | Par::Seq | jitter {:e}, weight 1",
        mlp.n_params(),
        PenaltyConfig::default().jitter
    );
    println!(
        "rel. diff value = |v_E - v_F| / |v_E|,  rel. diff grad = ||g_E - g_F|| / ||g_E||  (E explicit, F factorised)\n"
    );
    println!(
        "{:<18} {:<7} {:>15} {:>15} {:>10} {:>12} {:>12} {:>10} {:>9} {:>9}",
        "metric",
        "kernel",
        "value (E)",
        "value (F)",
        "rel.diff",
        "||grad|| (E)",
        "||grad|| (F)",
        "rel.diff",
        "ms (E)",
        "ms (F)"
    );
    let mut worst: (f64, f64) = (0.0, 0.0);
    for metric in PenaltyMetric::ALL {
        for kind in [KernelKind::Full, KernelKind::Traced] {
            let base = PenaltyConfig {
                metric,
                kernel: kind,
                ..Default::default()
            };
            let (ve, ge, te) = evaluate(
                PenaltyConfig {
                    route: Route::Explicit,
                    ..base.clone()
                },
                &mlp,
                &x,
                seed,
            )?;
            let (vf, gf, tf) = evaluate(
                PenaltyConfig {
                    route: Route::Factorised,
                    ..base
                },
                &mlp,
                &x,
                seed,
            )?;
            let dv = (ve - vf).abs() / ve.abs().max(f64::MIN_POSITIVE);
            let diff: Vec<f64> = ge.iter().zip(&gf).map(|(a, b)| a - b).collect();
            let (ne, nf) = (norm(&ge), norm(&gf));
            let dg = norm(&diff) / ne.max(f64::MIN_POSITIVE);
            worst = (worst.0.max(dv), worst.1.max(dg));
            println!(
                "{:<18} {:<7} {:>15.8e} {:>15.8e} {:>10.2e} {:>12.5e} {:>12.5e} {:>10.2e} {:>9.3} {:>9.3}",
                metric.name(),
                kind.name(),
                ve,
                vf,
                dv,
                ne,
                nf,
                dg,
                te,
                tf
            );
        }
    }
    println!(
        "\nworst relative difference between routes: value {:.2e}, gradient {:.2e}",
        worst.0, worst.1
    );
    Ok(())
}

fn main() -> ExitCode {
    let (quick, n, seed) = match parse_args() {
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
    match run(quick, n, seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
