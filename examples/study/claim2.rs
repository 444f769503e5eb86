//! Claim 2, "regularisers act by raising MGS": a dose-response test at 40 % symmetric noise.
//!
//! Points: every run of L2, dropout, label smoothing, input noise and mixup (five strengths
//! each) and 'none' on the two tuning seeds and one more. The summary is fixed in advance: the
//! **normalised log-det of the traced kernel on `heldout`** (lower = more similar gradients =
//! higher MGS). Two matchings:
//!
//! - **matched epoch**: every regulariser run at its last epoch, and training length as a
//!   regulariser of its own: 'none' after each of the `length_epochs`;
//! - **matched training loss**: every run (and 'none') at the first measured epoch whose
//!   training cross-entropy on the noisy labels is below the threshold (runs that never get
//!   there are counted as "not reached").
//!
//! At each matching: test accuracy against the summary, one quadratic fitted to all points
//! pooled (per dataset), and the group effect of the regulariser's identity on its residuals
//! (`η²`, permutation p). It **holds** at a matching if `R² ≥ 0.5` and `p ≥ 0.05`. Per dataset
//! the verdict is supported (holds at both matchings), mixed (one) or not supported (none);
//! over datasets: supported or not supported if every dataset says so, else mixed. Also the
//! sign of each regulariser's dose-response of the summary (Spearman ρ of strength and summary).

use mgs::study::stats::{fit_polynomial, group_effect};
use mgs::train::Summary;
use serde::Serialize;

use crate::data::Probe;
use crate::method::{DOSE_FAMILIES, Family, Method};
use crate::plan::Scale;
use crate::record::{EpochRow, RunRecord, nan_as_null};
use crate::setting::DatasetId;
use crate::stats::{Correlation, Verdict, seed_of, spearman};

/// The fixed summary.
pub const SUMMARY: Summary = Summary::NormalizedLogDet;
/// Its probe.
pub const PROBE: Probe = Probe::Heldout;

/// The two matchings.
pub const MATCHINGS: [&str; 2] = ["epoch", "train_loss"];

/// One point of a scatter.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Dataset.
    pub dataset: DatasetId,
    /// `epoch` or `train_loss`.
    pub matching: &'static str,
    /// The regulariser (`training_length` for 'none' after `strength` epochs at matched epoch,
    /// `none` at matched loss).
    pub group: String,
    /// Its strength (epochs for training length).
    pub strength: f64,
    /// Seed.
    pub seed: u64,
    /// Run id.
    pub run_id: usize,
    /// Epochs completed at the point.
    pub epochs: usize,
    /// The summary.
    #[serde(with = "nan_as_null")]
    pub mgs: f64,
    /// Test accuracy at the point.
    #[serde(with = "nan_as_null")]
    pub test_acc: f64,
}

/// The fit at one (dataset, matching).
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    /// Dataset.
    pub dataset: DatasetId,
    /// Matching.
    pub matching: &'static str,
    /// Points.
    pub n: usize,
    /// Runs that never reached the matched training loss.
    pub not_reached: usize,
    /// Quadratic `c0 + c1 x + c2 x²` (empty when it could not be fitted).
    pub coefficients: Vec<f64>,
    /// Its R².
    #[serde(with = "nan_as_null")]
    pub r_squared: f64,
    /// `η²` of the regulariser on the residuals.
    #[serde(with = "nan_as_null")]
    pub eta_squared: f64,
    /// What `η²` is under the null on average.
    #[serde(with = "nan_as_null")]
    pub eta_null_mean: f64,
    /// Permutation p-value of the group effect.
    #[serde(with = "nan_as_null")]
    pub p_value: f64,
    /// `R² ≥ 0.5` and `p ≥ 0.05`.
    pub holds: bool,
}

/// One regulariser's dose response of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Dose {
    /// Dataset.
    pub dataset: DatasetId,
    /// Matching.
    pub matching: &'static str,
    /// Regulariser.
    pub group: String,
    /// Spearman ρ of strength and summary.
    pub rho: Correlation,
    /// `raises MGS` (ρ < 0, interval below 0), `lowers MGS`, or `no clear trend`.
    pub direction: &'static str,
}

/// Everything claim 2 reports.
#[derive(Debug, Clone, Serialize)]
pub struct Claim2 {
    /// Scatter points.
    pub points: Vec<Point>,
    /// Fits.
    pub fits: Vec<Fit>,
    /// Dose responses.
    pub doses: Vec<Dose>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The first measured row with a training cross-entropy below `threshold`.
fn crossing(r: &RunRecord, threshold: f64) -> Option<&EpochRow> {
    r.epochs
        .iter()
        .find(|e| e.mgs(PROBE).is_some() && e.train_ce < threshold)
}

fn point(
    r: &RunRecord,
    matching: &'static str,
    group: String,
    strength: f64,
    e: &EpochRow,
) -> Point {
    Point {
        dataset: r.spec.dataset,
        matching,
        group,
        strength,
        seed: r.spec.seed,
        run_id: r.spec.id,
        epochs: e.epoch + 1,
        mgs: e
            .mgs(PROBE)
            .and_then(|m| m.get(SUMMARY))
            .unwrap_or(f64::NAN),
        test_acc: e.test_acc,
    }
}

/// The points of one dataset and the number of runs that did not reach the matched loss.
fn points(records: &[RunRecord], scale: &Scale, dataset: DatasetId) -> (Vec<Point>, usize) {
    let mut seeds = scale.tuning_seeds.clone();
    seeds.push(scale.mechanism_seed);
    let mut runs: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.spec.dataset == dataset && r.spec.setting == scale.dose_setting)
        .filter(|r| seeds.contains(&r.spec.seed) && r.finished())
        .filter(|r| {
            let f = r.spec.method.family();
            f == Family::None
                || (DOSE_FAMILIES.contains(&f) && scale.dose_grid(f).contains(&r.spec.method))
        })
        .collect();
    runs.sort_by_key(|r| r.spec.id);
    // The plan runs each (method, seed) once; should two phases hold one, keep the first.
    let mut seen: Vec<(Method, u64)> = Vec::new();
    runs.retain(|r| {
        let key = (r.spec.method, r.spec.seed);
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    let (mut out, mut not_reached) = (Vec::new(), 0);
    for r in runs {
        let family = r.spec.method.family();
        if r.spec.method == Method::None {
            for &t in &scale.length_epochs {
                if let Some(e) = r.epoch(t - 1).filter(|e| e.mgs(PROBE).is_some()) {
                    out.push(point(r, "epoch", "training_length".into(), t as f64, e));
                }
            }
        } else if let Some(e) = r.epochs.last().filter(|e| e.mgs(PROBE).is_some()) {
            let s = r.spec.method.strength();
            out.push(point(r, "epoch", family.name().into(), s, e));
        }
        match crossing(r, scale.crossing_ce) {
            Some(e) => out.push(point(
                r,
                "train_loss",
                family.name().into(),
                r.spec.method.strength(),
                e,
            )),
            None => not_reached += 1,
        }
    }
    out.retain(|p| p.mgs.is_finite() && p.test_acc.is_finite());
    (out, not_reached)
}

fn fit(
    dataset: DatasetId,
    matching: &'static str,
    pts: &[&Point],
    not_reached: usize,
    scale: &Scale,
) -> Fit {
    let x: Vec<f64> = pts.iter().map(|p| p.mgs).collect();
    let y: Vec<f64> = pts.iter().map(|p| p.test_acc).collect();
    let mut out = Fit {
        dataset,
        matching,
        n: pts.len(),
        not_reached,
        coefficients: Vec::new(),
        r_squared: f64::NAN,
        eta_squared: f64::NAN,
        eta_null_mean: f64::NAN,
        p_value: f64::NAN,
        holds: false,
    };
    let Ok(f) = fit_polynomial(&x, &y, 2) else {
        return out;
    };
    out.coefficients = f.polynomial.coefficients().to_vec();
    out.r_squared = f.r_squared.unwrap_or(f64::NAN);
    let mut names: Vec<&str> = pts.iter().map(|p| p.group.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let groups: Vec<usize> = pts
        .iter()
        .map(|p| names.iter().position(|n| *n == p.group).unwrap_or(0))
        .collect();
    let label = format!("claim2 {} {matching}", dataset.name());
    if let Ok(g) = group_effect(&f.residuals, &groups, scale.permutations, seed_of(&label)) {
        out.eta_squared = g.eta_squared;
        out.eta_null_mean = g.null_mean;
        out.p_value = g.p_value;
    }
    out.holds = out.r_squared >= 0.5 && out.p_value >= 0.05;
    out
}

fn doses(dataset: DatasetId, matching: &'static str, pts: &[&Point], scale: &Scale) -> Vec<Dose> {
    let mut groups: Vec<String> = DOSE_FAMILIES.iter().map(|f| f.name().to_string()).collect();
    if matching == "epoch" {
        groups.push("training_length".to_string());
    }
    groups
        .into_iter()
        .map(|group| {
            let g: Vec<&&Point> = pts.iter().filter(|p| p.group == group).collect();
            let s: Vec<f64> = g.iter().map(|p| p.strength).collect();
            let m: Vec<f64> = g.iter().map(|p| p.mgs).collect();
            let label = format!("claim2 dose {} {matching} {group}", dataset.name());
            let rho = spearman(&s, &m, scale.resamples, &label);
            let direction = if rho.upper < 0.0 {
                "raises MGS"
            } else if rho.lower > 0.0 {
                "lowers MGS"
            } else {
                "no clear trend"
            };
            Dose {
                dataset,
                matching,
                group,
                rho,
                direction,
            }
        })
        .collect()
}

/// Claim 2 from the records.
pub fn analyse(records: &[RunRecord], scale: &Scale) -> Claim2 {
    let (mut all_points, mut fits, mut all_doses) = (Vec::new(), Vec::new(), Vec::new());
    let mut per_dataset = Vec::new();
    for &dataset in &scale.datasets {
        let (pts, not_reached) = points(records, scale, dataset);
        let mut holds = Vec::new();
        for matching in MATCHINGS {
            let m: Vec<&Point> = pts.iter().filter(|p| p.matching == matching).collect();
            let nr = if matching == "train_loss" {
                not_reached
            } else {
                0
            };
            let f = fit(dataset, matching, &m, nr, scale);
            holds.push(f.holds);
            fits.push(f);
            all_doses.extend(doses(dataset, matching, &m, scale));
        }
        per_dataset.push((dataset, holds.iter().filter(|&&h| h).count()));
        all_points.extend(pts);
    }
    let numbers: Vec<String> = fits
        .iter()
        .map(|f| {
            format!(
                "{} at matched {}: R² = {:.3}, η² = {:.3} (null mean {:.3}), p = {:.3}, n = {}",
                f.dataset.name(),
                f.matching,
                f.r_squared,
                f.eta_squared,
                f.eta_null_mean,
                f.p_value,
                f.n
            )
        })
        .collect();
    let reason = numbers.join("; ");
    let supported = per_dataset.iter().filter(|(_, k)| *k == 2).count();
    let none = per_dataset.iter().filter(|(_, k)| *k == 0).count();
    let verdict = if per_dataset.is_empty() {
        Verdict::not_supported("no dataset".to_string())
    } else if supported == per_dataset.len() {
        Verdict::supported(format!(
            "{reason}: R² ≥ 0.5 and p ≥ 0.05 at both matchings on every dataset"
        ))
    } else if none == per_dataset.len() {
        Verdict::not_supported(format!(
            "{reason}: at neither matching on any dataset do R² ≥ 0.5 and p ≥ 0.05 hold together"
        ))
    } else {
        Verdict::mixed(format!(
            "{reason}: the rule holds at some matchings or datasets but not at all"
        ))
    };
    Claim2 {
        points: all_points,
        fits,
        doses: all_doses,
        verdict,
    }
}
