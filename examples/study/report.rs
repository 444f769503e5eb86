//! Every output file: `study.json`, the CSV tables, `report.md`, the SVG plots and
//! `timing.json`. Everything but `timing.json` is computed from the records and the scale
//! only, so it regenerates bit for bit whatever the thread count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::claim1::Claim1;
use crate::claim2::Claim2;
use crate::claim3::Claim3;
use crate::figures::plots;
use crate::markdown::markdown;
use crate::plan::Scale;
use crate::record::{RunRecord, epochs_csv, runs_csv};
use crate::regime::RegimeRow;
use crate::stats::Verdict;
use crate::tables::{claim1_csvs, claim2_csvs, claim3_csvs, regime_csv, tuning_csv};
use crate::tuning::Choice;

/// What the analysis produced.
pub struct Analysis<'a> {
    /// The scale.
    pub scale: &'a Scale,
    /// The command that reproduces the outputs.
    pub command: &'a str,
    /// Every run, in plan order.
    pub records: &'a [RunRecord],
    /// Hyperparameter choices.
    pub choices: &'a [Choice],
    /// Memorisation.
    pub regime: &'a [RegimeRow],
    /// Claim 1, if run.
    pub claim1: Option<&'a Claim1>,
    /// Claim 2, if run.
    pub claim2: Option<&'a Claim2>,
    /// Claim 3, if run.
    pub claim3: Option<&'a Claim3>,
}

/// Wall times (not deterministic; `timing.json` only).
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Worker threads.
    pub threads: usize,
    /// Seconds of the whole study.
    pub total_s: f64,
    /// `(phase, runs, seconds, estimated seconds on one core)`.
    pub phases: Vec<(String, usize, f64, f64)>,
    /// Per (dataset, method family): runs, mean wall seconds of a run, mean estimate.
    pub by_method: Vec<(String, String, usize, f64, f64)>,
    /// After a merge: `(stage, K/N, runs, threads, wall seconds)` of every shard (then a phase's
    /// seconds are its slowest shard's, and the total their sum).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<(String, String, usize, usize, f64)>,
}

/// Mean wall time and estimate of the runs of every (dataset, family).
pub fn by_method(records: &[RunRecord]) -> Vec<(String, String, usize, f64, f64)> {
    let mut m: BTreeMap<(String, String), (usize, f64, f64)> = BTreeMap::new();
    for r in records {
        let key = (
            r.spec.dataset.name().to_string(),
            r.spec.method.family().name().to_string(),
        );
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += r.wall_s.unwrap_or(0.0);
        e.2 += r.spec.est_s;
    }
    m.into_iter()
        .map(|((d, f), (n, w, e))| (d, f, n, w / n as f64, e / n as f64))
        .collect()
}

#[derive(Serialize)]
struct StudyJson<'a> {
    scale: &'a Scale,
    command: &'a str,
    runs_per_phase: BTreeMap<&'static str, usize>,
    verdicts: BTreeMap<&'static str, &'a Verdict>,
    tuning: &'a [Choice],
    regime: &'a [RegimeRow],
    claim1: Option<&'a Claim1>,
    claim2: Option<&'a Claim2>,
    claim3: Option<&'a Claim3>,
    runs: Vec<RunRecord>,
}

fn verdicts<'a>(a: &Analysis<'a>) -> BTreeMap<&'static str, &'a Verdict> {
    let mut v = BTreeMap::new();
    if let Some(c) = a.claim1 {
        v.insert("claim1", &c.verdict);
    }
    if let Some(c) = a.claim2 {
        v.insert("claim2", &c.verdict);
    }
    if let Some(c) = a.claim3 {
        v.insert("claim3", &c.verdict);
    }
    v
}

/// Number of runs of every phase.
pub fn runs_per_phase(records: &[RunRecord]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry(r.spec.phase.name()).or_insert(0) += 1;
    }
    m
}

fn write(path: &Path, text: &str) -> Result<PathBuf, String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// Writes `text` gzip-compressed (level 6: the same bytes for the same text and flate2).
fn write_gz(path: &Path, text: &str) -> Result<PathBuf, String> {
    use std::io::Write;
    let err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(err)?;
    let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::new(6));
    enc.write_all(text.as_bytes()).map_err(err)?;
    enc.finish().map_err(err)?;
    Ok(path.to_path_buf())
}

/// Writes every output file into `dir`; returns the files written.
pub fn write_all(dir: &Path, a: &Analysis<'_>, timing: &Timing) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let study = StudyJson {
        scale: a.scale,
        command: a.command,
        runs_per_phase: runs_per_phase(a.records),
        verdicts: verdicts(a),
        tuning: a.choices,
        regime: a.regime,
        claim1: a.claim1,
        claim2: a.claim2,
        claim3: a.claim3,
        runs: a.records.iter().map(RunRecord::summary_only).collect(),
    };
    files.push(write(&dir.join("study.json"), &to_json(&study)?)?);
    files.push(write(&dir.join("runs.csv"), &runs_csv(a.records))?);
    // Per-epoch records are large (tens of MB for the default run): gzip-compressed, which
    // pandas reads as it is (`pd.read_csv("epochs.csv.gz")`).
    files.push(write_gz(
        &dir.join("epochs.csv.gz"),
        &epochs_csv(a.records),
    )?);
    files.push(write(&dir.join("tuning.csv"), &tuning_csv(a.choices))?);
    files.push(write(&dir.join("regime.csv"), &regime_csv(a.regime))?);
    let names1 = [
        "claim1_correlations.csv",
        "claim1_selection.csv",
        "claim1_curves.csv",
    ];
    for (name, text) in names1.iter().zip(claim1_csvs(a.claim1)) {
        files.push(write(&dir.join(name), &text)?);
    }
    let names2 = ["claim2_points.csv", "claim2_fit.csv", "claim2_dose.csv"];
    for (name, text) in names2.iter().zip(claim2_csvs(a.claim2)) {
        files.push(write(&dir.join(name), &text)?);
    }
    let names3 = ["claim3_summary.csv", "claim3_tests.csv"];
    for (name, text) in names3.iter().zip(claim3_csvs(a.claim3)) {
        files.push(write(&dir.join(name), &text)?);
    }
    files.extend(plots(dir, a)?);
    files.push(write(&dir.join("report.md"), &markdown(a, &files))?);
    files.push(write(&dir.join("timing.json"), &to_json(timing)?)?);
    Ok(files)
}

/// Pretty JSON through serde.
fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v).map_err(|e| format!("cannot serialise: {e}"))
}
