//! The MGS study: do regularisers raise model gradient similarity, and does the MGS penalty help
//! under label noise and with few samples? (Szolnoky et al., NeurIPS 2022, on small MLPs.)
//!
//! ```text
//! cargo run --release --example study -- [--quick] [--out DIR] [--dataset NAME] [--seeds K]
//!                                         [--threads T] [--part a|b|all]
//! ```
//!
//! * **Part A, "regularisers raise MGS"**: a 64→[128, 128] tanh→10 MLP on digits (standardised,
//!   stratified 60/20/20 split), trained with no regulariser and with each regulariser in turn
//!   (L2, AdamW, dropout, input noise, label smoothing, early stopping, MGS log-det, MGS
//!   normalised log-det), with the MGS metrics of the traced kernel on a fixed probe set of 200
//!   training samples measured every epoch.
//! * **Part B, "label noise and small samples"**: a d→[64, 64] tanh→C MLP on digits and
//!   breast_cancer with symmetric noise on the training and validation labels (test labels
//!   clean), and with few training samples per class; each method's hyperparameter is chosen
//!   from a small grid on the (noisy) validation split of the first seed and reused for the
//!   other seeds.
//!
//! Outputs under `--out` (default `results/`): `study.json` (every run), CSV tables,
//! `report.md`, SVG plots. Progress goes to stderr. Every run is deterministic from the seeds
//! (runs execute on `--threads` workers, each run sequential, so the thread count changes only
//! the wall time). `--quick` shrinks everything so that the whole study takes seconds.

mod config;
mod data;
mod plot;
mod report;
mod run;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mgs::data::Dataset;

use config::{Method, PART_B_DATASETS, Plan, Setting};
use run::{Job, Outcome, run_job, run_pool};

const USAGE: &str =
    "usage: study [--quick] [--out DIR] [--dataset NAME] [--seeds K] [--threads T] [--part a|b|all]
  --quick          tiny sizes (seconds; for CI)
  --out DIR        output folder (default results/)
  --dataset NAME   restrict part B to one dataset (digits, breast_cancer)
  --seeds K        seeds for both parts (default 5; quick: 1 for part A, 2 for part B)
  --threads T      worker threads, one run each (default: available cores)
  --part P         a, b or all (default all)";

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Args {
    pub quick: bool,
    pub out: PathBuf,
    pub dataset: Option<String>,
    pub seeds: Option<usize>,
    pub threads: usize,
    pub part_a: bool,
    pub part_b: bool,
    /// The arguments as given (for the report).
    pub command: String,
}

fn parse_args() -> Result<Args, String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut args = Args {
        quick: false,
        out: PathBuf::from("results"),
        dataset: None,
        seeds: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        part_a: true,
        part_b: true,
        command: if raw.is_empty() {
            "cargo run --release --example study".to_string()
        } else {
            format!("cargo run --release --example study -- {}", raw.join(" "))
        },
    };
    let mut it = raw.into_iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        let positive = |flag: &str, v: String| -> Result<usize, String> {
            match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{flag}: not a positive integer: {v}")),
            }
        };
        match a.as_str() {
            "--quick" => args.quick = true,
            "--out" => args.out = PathBuf::from(value("--out")?),
            "--dataset" => {
                let name = value("--dataset")?;
                if !PART_B_DATASETS.contains(&name.as_str()) {
                    return Err(format!(
                        "--dataset: unknown dataset {name:?} (expected one of {PART_B_DATASETS:?})"
                    ));
                }
                args.dataset = Some(name);
            }
            "--seeds" => args.seeds = Some(positive("--seeds", value("--seeds")?)?),
            "--threads" => args.threads = positive("--threads", value("--threads")?)?,
            "--part" => {
                let p = value("--part")?;
                (args.part_a, args.part_b) = match p.to_ascii_lowercase().as_str() {
                    "a" => (true, false),
                    "b" => (false, true),
                    "all" => (true, true),
                    _ => return Err(format!("--part: expected a, b or all, not {p:?}")),
                };
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(args)
}

/// `1m23s`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{seconds:.1}s")
    }
}

/// Runs `jobs` on the pool with a progress line per finished run.
fn execute(
    tag: &str,
    phase: &str,
    jobs: &[Job],
    datasets: &BTreeMap<String, Dataset>,
    plan: &Plan,
    threads: usize,
    t0: Instant,
) -> Vec<Outcome> {
    let done = AtomicUsize::new(0);
    let total = jobs.len();
    eprintln!(
        "== {phase}: {total} runs on {threads} thread(s)  [{}]",
        clock(t0.elapsed().as_secs_f64())
    );
    let cost = |j: &Job| {
        let n = datasets
            .get(&j.dataset)
            .map_or(1000.0, |d| d.n_samples() as f64);
        let size = match j.setting {
            Setting::Samples(k) => {
                // Small sets: few samples but many epochs (at least b_min_steps steps).
                let n_train = (k * 10) as f64;
                n_train.max(plan.b_min_steps as f64 * plan.batch_size as f64 / 60.0)
            }
            _ => n,
        };
        size * j.method.cost() * if j.part == "A" { 1.5 } else { 1.0 }
    };
    run_pool(jobs, cost, threads, |_, job| {
        let outcome = match datasets.get(&job.dataset) {
            None => Outcome::failed(job, &"dataset not loaded"),
            Some(ds) => match data::prepare(ds, &job.dataset, job.setting, job.seed, plan) {
                Ok(d) => run_job(job, &d, plan),
                Err(e) => Outcome::failed(job, &e),
            },
        };
        let k = done.fetch_add(1, Ordering::Relaxed) + 1;
        let memorised = outcome
            .memorised
            .map_or(String::new(), |m| format!(" memorised {m:.3}"));
        let status = if outcome.ok() {
            String::new()
        } else {
            format!("  [{}]", outcome.status)
        };
        eprintln!(
            "[{tag} {k:>4}/{total} {:>7}] {}: {} epochs, val {:.3} test {:.3}{memorised} ({:.1}s){status}",
            clock(t0.elapsed().as_secs_f64()),
            job.label(),
            outcome.epochs_run,
            outcome.val_accuracy,
            outcome.test_accuracy,
            outcome.wall_s,
        );
        outcome
    })
}

/// The chosen hyperparameter of one part B cell.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Selection {
    pub dataset: String,
    pub setting: Setting,
    pub family: &'static str,
    pub chosen: Method,
    /// Validation accuracy (noisy labels in noise settings) of each grid value on seed 0.
    pub grid: Vec<(Method, f64)>,
}

/// Best grid value on the first seed: highest validation accuracy, then lowest validation
/// loss, then the earlier grid value. Failed runs never win; if all failed, the first value.
fn select(plan: &Plan, outcomes: &[Outcome]) -> Vec<Selection> {
    let mut out = Vec::new();
    for ds in &plan.b_datasets {
        for setting in plan.b_settings() {
            for grid in &plan.b_grids {
                let runs: Vec<(Method, Option<&Outcome>)> = grid
                    .iter()
                    .map(|&m| {
                        let o = outcomes.iter().find(|o| {
                            o.job.part == "B"
                                && o.job.tuning
                                && &o.job.dataset == ds
                                && o.job.setting == setting
                                && o.job.method == m
                        });
                        (m, o)
                    })
                    .collect();
                let mut best: Option<(Method, f64, f64)> = None;
                for &(m, o) in &runs {
                    let Some(o) = o.filter(|o| o.ok() && o.val_accuracy.is_finite()) else {
                        continue;
                    };
                    let better = match best {
                        None => true,
                        Some((_, acc, loss)) => {
                            o.val_accuracy > acc || (o.val_accuracy == acc && o.val_loss < loss)
                        }
                    };
                    if better {
                        best = Some((m, o.val_accuracy, o.val_loss));
                    }
                }
                out.push(Selection {
                    dataset: ds.clone(),
                    setting,
                    family: grid[0].family(),
                    chosen: best.map_or(grid[0], |b| b.0),
                    grid: runs
                        .iter()
                        .map(|&(m, o)| (m, o.map_or(f64::NAN, |o| o.val_accuracy)))
                        .collect(),
                });
            }
        }
    }
    out
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match study(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn study(args: &Args) -> Result<(), String> {
    let t0 = Instant::now();
    let mut plan = Plan::new(args.quick);
    if let Some(k) = args.seeds {
        plan.a_seeds = k;
        plan.b_seeds = k;
    }
    if let Some(name) = &args.dataset {
        plan.b_datasets = vec![name.clone()];
    }
    if !args.part_a {
        plan.a_seeds = 0;
    }
    if !args.part_b {
        plan.b_datasets.clear();
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    eprintln!(
        "MGS study ({} mode) → {}; part A: {} seed(s); part B: {:?}, {} seed(s)",
        if plan.quick { "quick" } else { "full" },
        args.out.display(),
        plan.a_seeds,
        plan.b_datasets,
        plan.b_seeds
    );

    let mut datasets = BTreeMap::new();
    let mut names: Vec<String> = plan.b_datasets.clone();
    if plan.a_seeds > 0 {
        names.push("digits".to_string());
    }
    for name in names {
        if let std::collections::btree_map::Entry::Vacant(slot) = datasets.entry(name) {
            let ds = data::load(slot.key())?;
            slot.insert(ds);
        }
    }

    // Phase 1: part A, and every part B grid value on the first seed.
    let mut jobs = Vec::new();
    for seed in 0..plan.a_seeds as u64 {
        for &method in &plan.a_methods {
            jobs.push(Job {
                part: "A",
                dataset: "digits".to_string(),
                setting: Setting::Clean,
                method,
                seed,
                tuning: false,
            });
        }
    }
    for ds in &plan.b_datasets {
        for setting in plan.b_settings() {
            for &method in plan.b_grids.iter().flatten() {
                jobs.push(Job {
                    part: "B",
                    dataset: ds.clone(),
                    setting,
                    method,
                    seed: 0,
                    tuning: true,
                });
            }
        }
    }
    let t1 = Instant::now();
    let mut outcomes = execute(
        "phase 1",
        "phase 1: part A, and part B's grids on seed 0",
        &jobs,
        &datasets,
        &plan,
        args.threads,
        t0,
    );
    let phase1_s = t1.elapsed().as_secs_f64();

    // Phase 2: the chosen hyperparameters on the other seeds.
    let selections = select(&plan, &outcomes);
    let mut jobs = Vec::new();
    for s in &selections {
        for seed in 1..plan.b_seeds as u64 {
            jobs.push(Job {
                part: "B",
                dataset: s.dataset.clone(),
                setting: s.setting,
                method: s.chosen,
                seed,
                tuning: false,
            });
        }
    }
    let t2 = Instant::now();
    outcomes.extend(execute(
        "phase 2",
        "phase 2: part B, chosen hyperparameters on the other seeds",
        &jobs,
        &datasets,
        &plan,
        args.threads,
        t0,
    ));
    let phase2_s = t2.elapsed().as_secs_f64();

    let failed = outcomes.iter().filter(|o| !o.ok()).count();
    let timing = report::Timing {
        total_s: t0.elapsed().as_secs_f64(),
        phase1_s,
        phase2_s,
        runs: outcomes.len(),
        failed_runs: failed,
        threads: args.threads,
    };
    let files = report::write_all(args, &plan, &outcomes, &selections, &timing)?;
    eprintln!(
        "done in {} ({} runs, {failed} failed); wrote {} files under {}",
        clock(t0.elapsed().as_secs_f64()),
        outcomes.len(),
        files.len(),
        args.out.display()
    );
    Ok(())
}
