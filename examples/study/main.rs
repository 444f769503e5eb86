//! The MGS study, second edition: a test of the three claims of Szolnoky et al. (NeurIPS 2022)
//! on small tanh MLPs, in the memorisation regime, with label-noise baselines and paired
//! statistics (issue 11; the design is fixed in `docs/study.md`).
//!
//! ```text
//! cargo run --release --example study -- [--quick | --full] [--out DIR] [--claim 1|2|3|all]
//!     [--dataset NAME | --datasets A,B] [--seeds K] [--threads T] [--plan]
//! ```
//!
//! 1. **Claim 1, the monitor**: MGS on four probe sets every few epochs of every run; its rank
//!    correlation with test accuracy and the generalisation gap across all report runs; a
//!    label-free selection rule against noisy-validation selection and the last epoch.
//! 2. **Claim 2, the mechanism**: five strengths of five regularisers and training length at
//!    40 % symmetric noise; test accuracy against MGS at matched epoch and matched training
//!    loss; does one curve fit every regulariser?
//! 3. **Claim 3, the regulariser**: baselines (L2, dropout, label smoothing, input noise,
//!    mixup, GCE, SCE, bootstrapping, early stopping) and MGS penalty forms, tuned on the noisy
//!    validation split of two seeds, reported on ten, at the selected and the last epoch.
//!
//! The run: the plan's first phase (tuning, claim 2) is fixed in advance; the refinement phase
//! and the report phase are built from the records before them; the analysis and every output
//! read the records only. Runs are sequential inside and scheduled over `--threads` workers;
//! records are sorted by plan order, so outputs are the same bits for any thread count (wall
//! times go to `timing.json` only).

mod claim1;
mod claim2;
mod claim3;
mod cli;
mod data;
mod executor;
mod figures;
mod markdown;
mod method;
mod plan;
mod plot;
mod record;
mod regime;
mod report;
mod run;
mod setting;
mod stats;
mod tables;
mod tuning;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use cli::{Args, USAGE};
use executor::{clock, execute};
use plan::{Planner, RunSpec, Scale, phase_one, total_estimate};
use record::RunRecord;
use report::{Analysis, Timing, write_all};
use setting::DatasetId;

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args = match cli::parse(&raw) {
        Ok(a) => a,
        Err(msg) if msg.is_empty() => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("error: {msg}\n{USAGE}");
            return ExitCode::from(2);
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

/// Prints the plan's size and estimated time.
fn print_plan(scale: &Scale, phase1: &[RunSpec], threads: usize) {
    let mut planner = Planner::new(scale, phase1.len());
    let (refine_n, refine_s) = tuning::refinement_bound(scale);
    let report = tuning::report_plan(&tuning::provisional_cells(scale), scale, &mut planner);
    let report_s = total_estimate(&report);
    let p1 = total_estimate(phase1);
    let total = p1 + refine_s + report_s;
    let datasets: Vec<&str> = scale.datasets.iter().map(|d| d.name()).collect();
    eprintln!(
        "MGS study, {} scale; datasets {}; claims {}{}{}",
        scale.name,
        datasets.join(", "),
        if scale.claims.one { "1 " } else { "" },
        if scale.claims.two { "2 " } else { "" },
        if scale.claims.three { "3" } else { "" },
    );
    eprintln!(
        "plan: phase 1 {} runs ({} on one core); refinement at most {refine_n} ({}); report {} \
         ({}); estimated total {} on {threads} thread(s) (per-run costs from a pilot on this \
         2-core machine; a shared machine runs slower)",
        phase1.len(),
        clock(p1),
        clock(refine_s),
        report.len(),
        clock(report_s),
        clock(total / threads.max(1) as f64),
    );
    for extra in [DatasetId::Mnist5k, DatasetId::Letter] {
        if scale.datasets.contains(&extra) {
            continue;
        }
        let alone = Scale {
            datasets: vec![extra],
            ..scale.clone()
        };
        let mut planner = Planner::new(&alone, 0);
        let one = phase_one(&alone, &mut planner);
        let report = tuning::report_plan(&tuning::provisional_cells(&alone), &alone, &mut planner);
        let secs =
            total_estimate(&one) + tuning::refinement_bound(&alone).1 + total_estimate(&report);
        let runs = (one.len() + report.len()).max(1);
        eprintln!(
            "  {} is off: it would add {} on {threads} thread(s) ({:.1} s a run on one core; \
             --datasets {},{})",
            extra.name(),
            clock(secs / threads.max(1) as f64),
            secs / runs as f64,
            datasets.join(","),
            extra.name()
        );
    }
}

fn study(args: &Args) -> Result<(), String> {
    let t0 = Instant::now();
    let scale = &args.scale;
    let mut planner = Planner::new(scale, 0);
    let phase1 = phase_one(scale, &mut planner);
    print_plan(scale, &phase1, args.threads);
    if args.plan_only {
        return Ok(());
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut pools = BTreeMap::new();
    for &id in &scale.datasets {
        let pool = data::load(id)?;
        if (pool.n_features, pool.n_classes) != id.shape() {
            return Err(format!(
                "{}: {} features and {} classes, expected {:?}",
                id.name(),
                pool.n_features,
                pool.n_classes,
                id.shape()
            ));
        }
        pools.insert(id, pool);
    }
    let mut phases = Vec::new();
    let mut timed = |name: &str, specs: &[RunSpec]| -> Vec<RunRecord> {
        let t = Instant::now();
        let records = execute(name, specs, &pools, scale, args.threads);
        phases.push((
            name.to_string(),
            specs.len(),
            t.elapsed().as_secs_f64(),
            total_estimate(specs),
        ));
        records
    };
    let mut records = timed("phase 1 (tuning, claim 2)", &phase1);
    let first = tuning::choose(&records, scale);
    let refinement = tuning::refinement_plan(&first, &records, scale, &mut planner);
    records.extend(timed("refinement", &refinement));
    let choices = tuning::choose(&records, scale);
    let report = tuning::report_plan(&tuning::chosen_cells(&choices), scale, &mut planner);
    records.extend(timed("report", &report));
    records.sort_by_key(|r| r.spec.id);

    let regime = regime::analyse(&records, scale);
    let c1 = scale.claims.one.then(|| claim1::analyse(&records, scale));
    let c2 = scale.claims.two.then(|| claim2::analyse(&records, scale));
    let c3 = scale
        .claims
        .three
        .then(|| claim3::analyse(&records, &choices, scale));
    let analysis = Analysis {
        scale,
        command: &args.command,
        records: &records,
        choices: &choices,
        regime: &regime,
        claim1: c1.as_ref(),
        claim2: c2.as_ref(),
        claim3: c3.as_ref(),
    };
    let timing = Timing {
        threads: args.threads,
        total_s: t0.elapsed().as_secs_f64(),
        phases,
        by_method: report::by_method(&records),
    };
    let files = write_all(&args.out, &analysis, &timing)?;
    let verdicts = [
        ("1", c1.as_ref().map(|c| &c.verdict)),
        ("2", c2.as_ref().map(|c| &c.verdict)),
        ("3", c3.as_ref().map(|c| &c.verdict)),
    ];
    for (claim, v) in verdicts {
        if let Some(v) = v {
            eprintln!("claim {claim}: {} — {}", v.verdict, v.reason);
        }
    }
    eprintln!(
        "done in {} ({} runs); wrote {} files under {}",
        clock(t0.elapsed().as_secs_f64()),
        records.len(),
        files.len(),
        args.out.display()
    );
    Ok(())
}
