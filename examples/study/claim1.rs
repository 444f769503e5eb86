//! Claim 1, "MGS monitors training": MGS curves next to test accuracy, rank correlations of
//! every MGS summary with test accuracy and with the generalisation gap across all report runs,
//! and the label-free MGS selection rule against noisy-validation selection and the last epoch.
//!
//! Pre-registered verdict: **supported** if Spearman's |ρ| between the normalised log-det on
//! `heldout` (last epoch) and test accuracy, over all report runs, is at least 0.5 with a 95 %
//! bootstrap interval that excludes 0; **mixed** if the interval excludes 0 but |ρ| < 0.5;
//! **not supported** otherwise.

use mgs::train::Summary;
use serde::Serialize;

use crate::data::Probe;
use crate::method::Method;
use crate::plan::{Phase, Scale};
use crate::record::{RunRecord, SUMMARIES, Snapshot};
use crate::setting::{DatasetId, Setting};
use crate::stats::{Correlation, MeanSe, Paired, Verdict, holm_adjust, paired, spearman};

/// The settings whose 'none' curves claim 1 plots.
pub const CURVE_SETTINGS: [Setting; 4] = [
    Setting::Symmetric { percent: 0 },
    Setting::Symmetric { percent: 40 },
    Setting::Symmetric { percent: 80 },
    Setting::PairFlip { percent: 40 },
];

/// The summary the verdict rests on.
pub const PRIMARY_SUMMARY: Summary = Summary::NormalizedLogDet;

/// One point of a mean curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    /// Dataset.
    pub dataset: DatasetId,
    /// Setting.
    pub setting: Setting,
    /// Epochs completed.
    pub epochs: usize,
    /// `test_acc` or `mgs.<probe>.normalized_logdet`.
    pub series: String,
    /// Mean and standard error over the report seeds.
    pub value: MeanSe,
}

/// One correlation of the table.
#[derive(Debug, Clone, Serialize)]
pub struct CorrelationRow {
    /// `all` or a dataset's name.
    pub scope: String,
    /// The MGS summary.
    pub summary: String,
    /// The probe.
    pub probe: Probe,
    /// `test_acc` or `gen_gap` (training accuracy on the noisy labels − test accuracy).
    pub target: String,
    /// Spearman's ρ with its interval.
    pub rho: Correlation,
}

/// One comparison of selection rules: test accuracy of rule `a` minus rule `b`, paired over
/// runs.
#[derive(Debug, Clone, Serialize)]
pub struct SelectionRow {
    /// `all` or a dataset's name.
    pub dataset: String,
    /// `all` or the setting's key.
    pub setting: String,
    /// `mgs_rule − noisy_val`, `mgs_rule − last`, `noisy_val − last`.
    pub comparison: String,
    /// Mean test accuracy under the first rule.
    pub a: MeanSe,
    /// Mean test accuracy under the second rule.
    pub b: MeanSe,
    /// The paired test (Holm over the whole table).
    pub test: Option<Paired>,
}

/// Everything claim 1 reports.
#[derive(Debug, Clone, Serialize)]
pub struct Claim1 {
    /// 'none' mean curves.
    pub curves: Vec<CurvePoint>,
    /// Correlations.
    pub correlations: Vec<CorrelationRow>,
    /// Report runs whose MGS at the last epoch was missing (stopped early), left out.
    pub left_out: usize,
    /// Selection rules.
    pub selection: Vec<SelectionRow>,
    /// Report runs in which the label-free rule selected no epoch.
    pub rule_missing: usize,
    /// The verdict.
    pub verdict: Verdict,
}

/// The report runs that finished.
fn report_runs(records: &[RunRecord]) -> Vec<&RunRecord> {
    records
        .iter()
        .filter(|r| r.spec.phase == Phase::Report && r.finished())
        .collect()
}

/// 'none' mean curves of every dataset in [`CURVE_SETTINGS`].
fn curves(records: &[&RunRecord], scale: &Scale) -> Vec<CurvePoint> {
    let mut out = Vec::new();
    for &dataset in &scale.datasets {
        for setting in CURVE_SETTINGS {
            let runs: Vec<&RunRecord> = records
                .iter()
                .copied()
                .filter(|r| r.spec.dataset == dataset && r.spec.setting == setting)
                .filter(|r| r.spec.method == Method::None)
                .collect();
            let Some(epochs) = runs.iter().map(|r| r.epochs.len()).max() else {
                continue;
            };
            for e in 0..epochs {
                let rows: Vec<_> = runs.iter().filter_map(|r| r.epoch(e)).collect();
                let mut push = |series: String, value: MeanSe| {
                    if value.n > 0 {
                        out.push(CurvePoint {
                            dataset,
                            setting,
                            epochs: e + 1,
                            series,
                            value,
                        });
                    }
                };
                push(
                    "test_acc".to_string(),
                    MeanSe::of(rows.iter().map(|r| r.test_acc)),
                );
                for probe in Probe::ALL {
                    let v = rows
                        .iter()
                        .filter_map(|r| r.mgs(probe)?.get(PRIMARY_SUMMARY));
                    push(
                        format!("mgs.{}.{PRIMARY_SUMMARY}", probe.name()),
                        MeanSe::of(v),
                    );
                }
            }
        }
    }
    out
}

/// The MGS summary on `probe` at the last epoch (`None` if not measured then).
fn last_epoch_mgs(r: &RunRecord, probe: Probe, summary: Summary) -> Option<f64> {
    let (row, m) = r.last_mgs(probe)?;
    (Some(row.epoch) == r.last.epoch)
        .then(|| m.get(summary))
        .flatten()
}

fn correlations(runs: &[&RunRecord], scale: &Scale) -> (Vec<CorrelationRow>, usize) {
    // Runs trained with an MGS penalty are left out: they move the monitored quantity directly,
    // so their MGS says how strong the penalty was, not how well training went (fixed before the
    // full run).
    let runs: Vec<&RunRecord> = runs
        .iter()
        .copied()
        .filter(|r| !r.spec.method.family().is_mgs())
        .collect();
    let measured: Vec<&RunRecord> = runs
        .iter()
        .copied()
        .filter(|r| last_epoch_mgs(r, Probe::Heldout, PRIMARY_SUMMARY).is_some())
        .collect();
    let left_out = runs.len() - measured.len();
    let mut scopes: Vec<(String, Vec<&RunRecord>)> = vec![("all".to_string(), measured.clone())];
    for &d in &scale.datasets {
        let sub: Vec<&RunRecord> = measured
            .iter()
            .copied()
            .filter(|r| r.spec.dataset == d)
            .collect();
        scopes.push((d.name().to_string(), sub));
    }
    let mut out = Vec::new();
    for (scope, rs) in &scopes {
        for summary in SUMMARIES {
            for probe in [Probe::Heldout, Probe::CleanTrain] {
                let x: Vec<f64> = rs
                    .iter()
                    .map(|r| last_epoch_mgs(r, probe, summary).unwrap_or(f64::NAN))
                    .collect();
                let targets: [(&str, Vec<f64>); 2] = [
                    ("test_acc", rs.iter().map(|r| r.last.test_acc).collect()),
                    (
                        "gen_gap",
                        rs.iter()
                            .map(|r| r.last.train_acc - r.last.test_acc)
                            .collect(),
                    ),
                ];
                for (target, y) in targets {
                    let label = format!("claim1 {scope} {summary} {} {target}", probe.name());
                    out.push(CorrelationRow {
                        scope: scope.clone(),
                        summary: summary.to_string(),
                        probe,
                        target: target.to_string(),
                        rho: spearman(&x, &y, scale.resamples, &label),
                    });
                }
            }
        }
    }
    (out, left_out)
}

/// The three selection comparisons on `runs`.
fn compare(
    runs: &[&RunRecord],
    dataset: String,
    setting: String,
    scale: &Scale,
) -> Vec<SelectionRow> {
    let acc = |f: &dyn Fn(&RunRecord) -> &Snapshot| -> Vec<f64> {
        runs.iter().map(|r| f(r).test_acc).collect()
    };
    let rule = acc(&|r| r.mgs_rule.as_ref().unwrap_or(&r.last));
    let val = acc(&|r| &r.selected);
    let last = acc(&|r| &r.last);
    [
        ("mgs_rule − noisy_val", &rule, &val),
        ("mgs_rule − last", &rule, &last),
        ("noisy_val − last", &val, &last),
    ]
    .into_iter()
    .map(|(name, a, b)| SelectionRow {
        dataset: dataset.clone(),
        setting: setting.clone(),
        comparison: name.to_string(),
        a: MeanSe::of(a.iter().copied()),
        b: MeanSe::of(b.iter().copied()),
        test: paired(
            a,
            b,
            scale.sign_flip_draws,
            &format!("claim1 selection {dataset} {setting} {name}"),
        ),
    })
    .collect()
}

fn selection(runs: &[&RunRecord], scale: &Scale) -> (Vec<SelectionRow>, usize) {
    let with_rule: Vec<&RunRecord> = runs
        .iter()
        .copied()
        .filter(|r| r.mgs_rule.is_some())
        .collect();
    let missing = runs.len() - with_rule.len();
    let mut rows = compare(&with_rule, "all".into(), "all".into(), scale);
    for &d in &scale.datasets {
        let mut settings: Vec<Setting> = with_rule
            .iter()
            .filter(|r| r.spec.dataset == d)
            .map(|r| r.spec.setting)
            .collect();
        settings.sort();
        settings.dedup();
        for s in settings {
            let cell: Vec<&RunRecord> = with_rule
                .iter()
                .copied()
                .filter(|r| r.spec.dataset == d && r.spec.setting == s)
                .collect();
            rows.extend(compare(&cell, d.name().to_string(), s.key(), scale));
        }
    }
    let mut tests: Vec<&mut Paired> = rows.iter_mut().filter_map(|r| r.test.as_mut()).collect();
    holm_adjust(&mut tests);
    (rows, missing)
}

/// The pre-registered verdict from the primary correlation.
fn verdict(rows: &[CorrelationRow]) -> Verdict {
    let primary = rows.iter().find(|r| {
        r.scope == "all"
            && r.summary == PRIMARY_SUMMARY.name()
            && r.probe == Probe::Heldout
            && r.target == "test_acc"
    });
    let Some(row) = primary else {
        return Verdict::not_supported("no report run has MGS at its last epoch".to_string());
    };
    let c = row.rho;
    let numbers = format!(
        "Spearman ρ = {:.3} [{:.3}, {:.3}] over {} report runs (normalised log-det on heldout vs test accuracy, last epoch)",
        c.rho, c.lower, c.upper, c.n
    );
    if c.excludes_zero() && c.rho.abs() >= 0.5 {
        Verdict::supported(format!("{numbers}: |ρ| ≥ 0.5 and the interval excludes 0"))
    } else if c.excludes_zero() {
        Verdict::mixed(format!("{numbers}: the interval excludes 0 but |ρ| < 0.5"))
    } else {
        Verdict::not_supported(format!(
            "{numbers}: the interval includes 0 (or ρ is undefined)"
        ))
    }
}

/// Claim 1 from the records.
pub fn analyse(records: &[RunRecord], scale: &Scale) -> Claim1 {
    let runs = report_runs(records);
    let (correlations, left_out) = correlations(&runs, scale);
    let (selection, rule_missing) = selection(&runs, scale);
    Claim1 {
        curves: curves(&runs, scale),
        verdict: verdict(&correlations),
        correlations,
        left_out,
        selection,
        rule_missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rho: f64, lower: f64, upper: f64) -> CorrelationRow {
        CorrelationRow {
            scope: "all".into(),
            summary: PRIMARY_SUMMARY.name().into(),
            probe: Probe::Heldout,
            target: "test_acc".into(),
            rho: Correlation {
                n: 100,
                rho,
                lower,
                upper,
            },
        }
    }

    #[test]
    fn the_pre_registered_rule() {
        assert_eq!(verdict(&[row(-0.6, -0.7, -0.5)]).verdict, "supported");
        assert_eq!(verdict(&[row(0.3, 0.1, 0.5)]).verdict, "mixed");
        assert_eq!(verdict(&[row(0.6, -0.1, 0.8)]).verdict, "not supported");
        assert_eq!(verdict(&[]).verdict, "not supported");
    }
}
