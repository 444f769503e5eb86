//! The MGS study, second edition: a test of the three claims of Szolnoky et al. (NeurIPS 2022)
//! on small tanh MLPs, in the memorisation regime, with label-noise baselines and paired
//! statistics (issue 11; the design is fixed in `docs/study.md`).
//!
//! ```text
//! cargo run --release --example study -- [--quick | --full] [--out DIR] [--claim 1|2|3|all]
//!     [--dataset NAME | --datasets A,B] [--seeds K] [--threads T] [--plan]
//!     [--shard K/N --phase STAGE | --merge DIR | --emit-slurm N]
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
//!
//! On a cluster (`docs/cluster.md`), each stage (tuning, refinement, report) runs as `N` shards
//! (`--shard K/N --phase STAGE`), each writing its records under `--out`'s `shards/`; a shard of a
//! later stage first reads and checks the earlier stages' shards, and `--merge DIR` checks them
//! all and writes the same outputs as one process, byte for byte but for `timing.json`.
//! `--emit-slurm N` writes the job-array scripts.

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
mod shard;
mod slurm;
mod stage;
mod stats;
mod tables;
mod tuning;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use cli::{Args, Mode, USAGE};
use data::Pool;
use executor::{clock, execute};
use plan::{Planner, RunSpec, Scale, phase_one, total_estimate};
use record::{RunRecord, through_json};
use report::{Analysis, Timing, write_all};
use setting::DatasetId;
use shard::{ShardFile, ShardId, ShardSet, partition, plan_digest, shard_path};
use slurm::SlurmJob;
use stage::Stage;

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
    let scale = &args.scale;
    let phase1 = Stage::Tuning.plan(scale, &[]);
    print_plan(scale, &phase1, args.threads);
    match &args.mode {
        Mode::Plan => Ok(()),
        Mode::Whole => whole(args),
        Mode::Shard(stage, id) => run_shard(args, *stage, *id),
        Mode::Merge(dir) => merge(args, dir),
        Mode::EmitSlurm(tasks) => emit_slurm(args, &phase1, *tasks),
    }
}

/// The data pools of `datasets`, checked against their expected shapes.
fn load_pools(datasets: &[DatasetId]) -> Result<BTreeMap<DatasetId, Pool>, String> {
    let mut pools = BTreeMap::new();
    for &id in datasets {
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
    Ok(pools)
}

/// Every stage in this process, then the outputs.
fn whole(args: &Args) -> Result<(), String> {
    let t0 = Instant::now();
    let scale = &args.scale;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let pools = load_pools(&scale.datasets)?;
    let (mut records, mut phases) = (Vec::new(), Vec::new());
    for stage in Stage::ALL {
        let specs = stage.plan(scale, &records);
        let t = Instant::now();
        let new = execute(stage.title(), &specs, &pools, scale, args.threads);
        phases.push((
            stage.title().to_string(),
            specs.len(),
            t.elapsed().as_secs_f64(),
            total_estimate(&specs),
        ));
        // The analysis reads records as a shard file gives them back, so that this run and a
        // merge of shards see the same values.
        records.extend(through_json(new)?);
    }
    let timing = Timing {
        threads: args.threads,
        total_s: t0.elapsed().as_secs_f64(),
        phases,
        by_method: report::by_method(&records),
        shards: Vec::new(),
    };
    finish(args, &args.out, &records, &timing, t0)
}

/// One shard of one stage: checks the earlier stages' shards, plans the stage, runs this shard's
/// part (unless its file is already complete) and writes its records.
fn run_shard(args: &Args, stage: Stage, id: ShardId) -> Result<(), String> {
    let t0 = Instant::now();
    let scale = &args.scale;
    let set = ShardSet::scan(&args.out, stage)?;
    let mut prior = Vec::new();
    for &before in stage.before() {
        let specs = before.plan(scale, &prior);
        prior.extend(set.stage(before, &specs, &args.command)?.0);
    }
    let specs = stage.plan(scale, &prior);
    let digest = plan_digest(&specs);
    let mine: Vec<RunSpec> = partition(&specs, id.count)[id.index]
        .iter()
        .map(|&i| specs[i].clone())
        .collect();
    let path = shard_path(&args.out, stage, id);
    let shown = path.display();
    if path.exists() {
        match shard::read(&path) {
            Ok(f) if f.command != args.command => {
                return Err(format!(
                    "{shown} belongs to another plan (written by `{}`, this is `{}`); use \
                     another --out",
                    f.command, args.command
                ));
            }
            Ok(f) if f.plan == digest && f.records.iter().map(|r| &r.spec).eq(&mine) => {
                eprintln!("{shown}: complete ({} runs); nothing to do", mine.len());
                return Ok(());
            }
            Ok(_) => eprintln!("{shown}: planned from other earlier records; rerunning"),
            Err(e) => eprintln!("{shown}: {e}; rerunning"),
        }
    }
    let mut needed: Vec<DatasetId> = mine.iter().map(|s| s.dataset).collect();
    needed.sort();
    needed.dedup();
    let pools = load_pools(&needed)?;
    let phase = format!("{} shard {}", stage.name(), id.label());
    let records = execute(&phase, &mine, &pools, scale, args.threads);
    let file = ShardFile {
        command: args.command.clone(),
        stage: stage.name().to_string(),
        index: id.index,
        count: id.count,
        plan: digest,
        threads: args.threads,
        wall_s: t0.elapsed().as_secs_f64(),
        records,
    };
    shard::write(&path, &file)?;
    eprintln!(
        "wrote {shown}: {} of the stage's {} runs in {}",
        mine.len(),
        specs.len(),
        clock(t0.elapsed().as_secs_f64())
    );
    Ok(())
}

/// Checks every stage's shards under `dir` and writes the outputs (into `dir`, or `--out`).
fn merge(args: &Args, dir: &std::path::Path) -> Result<(), String> {
    let t0 = Instant::now();
    let scale = &args.scale;
    let set = ShardSet::scan(dir, Stage::Report)?;
    let strangers = set.strangers();
    if !strangers.is_empty() {
        let names: Vec<String> = strangers.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "not shard files (expected <stage>-<K>-of-<N>.json): {}",
            names.join(", ")
        ));
    }
    let (mut records, mut phases, mut shards, mut threads) =
        (Vec::new(), Vec::new(), Vec::new(), 1);
    for stage in Stage::ALL {
        let specs = stage.plan(scale, &records);
        let (new, parts) = set.stage(stage, &specs, &args.command)?;
        let slowest = parts.iter().map(|p| p.wall_s).fold(0.0, f64::max);
        phases.push((
            stage.title().to_string(),
            specs.len(),
            slowest,
            total_estimate(&specs),
        ));
        for p in parts {
            threads = threads.max(p.threads);
            let name = stage.name().to_string();
            shards.push((name, p.id.label(), p.runs, p.threads, p.wall_s));
        }
        records.extend(new);
    }
    eprintln!(
        "merged {} runs from {} shard files",
        records.len(),
        shards.len()
    );
    let out = if args.out_given { &args.out } else { dir };
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let timing = Timing {
        threads,
        // The stages run one after the other, each as long as its slowest shard.
        total_s: phases.iter().map(|p| p.2).sum(),
        phases,
        by_method: report::by_method(&records),
        shards,
    };
    finish(args, out, &records, &timing, t0)
}

/// Writes the Slurm scripts for `tasks` array tasks per stage.
fn emit_slurm(args: &Args, phase1: &[RunSpec], tasks: usize) -> Result<(), String> {
    let scale = &args.scale;
    let slowest = |specs: &[RunSpec]| -> f64 {
        partition(specs, tasks)
            .iter()
            .map(|p| p.iter().map(|&i| specs[i].est_s).sum::<f64>())
            .fold(0.0, f64::max)
    };
    let longest_run = phase1.iter().map(|s| s.est_s).fold(0.0, f64::max);
    let mut planner = Planner::new(scale, phase1.len());
    let report = tuning::report_plan(&tuning::provisional_cells(scale), scale, &mut planner);
    let refinement = tuning::refinement_bound(scale).1 / tasks as f64 + longest_run;
    let binary = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let out = std::path::absolute(&args.out)
        .map_err(|e| format!("cannot resolve {}: {e}", args.out.display()))?;
    let job = SlurmJob {
        binary: &binary,
        plan_args: &args.plan_args,
        out: &out,
        cpus: args.threads,
        tasks,
        minutes: [
            slurm::minutes(slowest(phase1), args.threads),
            slurm::minutes(refinement, args.threads),
            slurm::minutes(slowest(&report), args.threads),
            30,
        ],
    };
    let files = job.write()?;
    for f in &files {
        eprintln!("wrote {}", f.display());
    }
    eprintln!(
        "submit with: sh {} (then the merged outputs appear in {})",
        files[files.len() - 1].display(),
        out.display()
    );
    Ok(())
}

/// The analysis of `records` (every stage, in plan order) and every output file under `out`.
fn finish(
    args: &Args,
    out: &std::path::Path,
    records: &[RunRecord],
    timing: &Timing,
    t0: Instant,
) -> Result<(), String> {
    let scale = &args.scale;
    let choices = tuning::choose(records, scale);
    let regime = regime::analyse(records, scale);
    let c1 = scale.claims.one.then(|| claim1::analyse(records, scale));
    let c2 = scale.claims.two.then(|| claim2::analyse(records, scale));
    let c3 = scale
        .claims
        .three
        .then(|| claim3::analyse(records, &choices, scale));
    let analysis = Analysis {
        scale,
        command: &args.command,
        records,
        choices: &choices,
        regime: &regime,
        claim1: c1.as_ref(),
        claim2: c2.as_ref(),
        claim3: c3.as_ref(),
    };
    let files = write_all(out, &analysis, timing)?;
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
        out.display()
    );
    Ok(())
}
