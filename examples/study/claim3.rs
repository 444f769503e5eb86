//! Claim 3, "the MGS penalty excels under label noise and with few samples": per (dataset,
//! setting), every method with its chosen hyperparameter on the report seeds, at its selected
//! epoch (lowest noisy-validation cross-entropy) and at its last epoch.
//!
//! Collapsed runs are counted (with a Wilson interval) and left out of the means, but enter the
//! paired tests with their accuracy (a collapse is the method's failure, not missing data).
//! Paired over seeds: every method at its selected epoch against 'none' at its last epoch and
//! against early stopping ('none' at its selected epoch), t-intervals, exact sign-flip p,
//! Holm-adjusted over the cell's table; and the best MGS form (by tuning-phase noisy-validation
//! accuracy, never by test accuracy) against each label-noise baseline (Holm over those four).
//!
//! Pre-registered verdict: **supported** if the best MGS form beats early stopping (Holm
//! p < 0.05, positive mean) in at least half of the noisy and few-sample cells and loses
//! significantly in none; **not supported** if it beats it in none; **mixed** otherwise.

use std::cmp::Ordering;

use serde::Serialize;

use crate::method::{Method, NOISE_BASELINES};
use crate::plan::{Phase, Scale};
use crate::record::RunRecord;
use crate::setting::{DatasetId, Setting};
use crate::stats::{MeanSe, Paired, Rate, Verdict, holm_adjust, paired};
use crate::tuning::Choice;

/// One method in one cell.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    /// Dataset.
    pub dataset: DatasetId,
    /// Setting.
    pub setting: Setting,
    /// Family.
    pub family: String,
    /// The chosen hyperparameter.
    pub chosen: Method,
    /// Mean noisy-validation accuracy of the choice on the tuning seeds.
    pub tuning_val_acc: f64,
    /// The choice lies at an edge of its (extended) grid.
    pub at_edge: bool,
    /// Report runs that finished.
    pub runs: usize,
    /// Collapsed at the selected epoch.
    pub collapsed_selected: Rate,
    /// Collapsed at the last epoch.
    pub collapsed_last: Rate,
    /// Test accuracy at the selected epoch (runs not collapsed there).
    pub test_selected: MeanSe,
    /// Test accuracy at the last epoch (runs not collapsed there).
    pub test_last: MeanSe,
    /// Noisy-validation accuracy at the selected epoch (not collapsed).
    pub val_selected: MeanSe,
    /// Fraction of corrupted training labels fitted, last epoch.
    pub fit_noisy_last: MeanSe,
    /// The same at the selected epoch.
    pub fit_noisy_selected: MeanSe,
}

/// One paired test of a cell.
#[derive(Debug, Clone, Serialize)]
pub struct TestRow {
    /// Dataset.
    pub dataset: DatasetId,
    /// Setting.
    pub setting: Setting,
    /// The method (at its selected epoch).
    pub family: String,
    /// `none (last)`, `early stopping`, or a baseline's name (at its selected epoch).
    pub versus: String,
    /// `primary` (Holm over the cell's method tests) or `mgs_vs_baselines`.
    pub holm_family: &'static str,
    /// The test.
    pub test: Paired,
}

/// Everything claim 3 reports.
#[derive(Debug, Clone, Serialize)]
pub struct Claim3 {
    /// Per method and cell.
    pub summary: Vec<SummaryRow>,
    /// Paired tests.
    pub tests: Vec<TestRow>,
    /// The best MGS form per cell (by tuning validation accuracy).
    pub best_mgs: Vec<(DatasetId, Setting, String)>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Selected-epoch and last-epoch test accuracy per report seed.
fn by_seed(runs: &[&RunRecord], seeds: &[u64]) -> (Vec<f64>, Vec<f64>) {
    seeds
        .iter()
        .map(|s| {
            runs.iter()
                .find(|r| r.spec.seed == *s)
                .map_or((f64::NAN, f64::NAN), |r| {
                    (r.selected.test_acc, r.last.test_acc)
                })
        })
        .unzip()
}

fn summary_row(choice: &Choice, runs: &[&RunRecord]) -> SummaryRow {
    let n = runs.len();
    let sel = |f: &dyn Fn(&RunRecord) -> f64| {
        MeanSe::of(runs.iter().filter(|r| !r.selected.collapsed).map(|r| f(r)))
    };
    let last = |f: &dyn Fn(&RunRecord) -> f64| {
        MeanSe::of(runs.iter().filter(|r| !r.last.collapsed).map(|r| f(r)))
    };
    SummaryRow {
        dataset: choice.dataset,
        setting: choice.setting,
        family: choice.family.clone(),
        chosen: choice.chosen,
        tuning_val_acc: choice.chosen_point().map_or(f64::NAN, |p| p.val_accuracy),
        at_edge: choice.final_at_edge,
        runs: n,
        collapsed_selected: Rate::of(runs.iter().filter(|r| r.selected.collapsed).count(), n),
        collapsed_last: Rate::of(runs.iter().filter(|r| r.last.collapsed).count(), n),
        test_selected: sel(&|r| r.selected.test_acc),
        test_last: last(&|r| r.last.test_acc),
        val_selected: sel(&|r| r.selected.val_acc),
        fit_noisy_last: MeanSe::of(runs.iter().map(|r| r.last.fit_noisy)),
        fit_noisy_selected: MeanSe::of(runs.iter().map(|r| r.selected.fit_noisy)),
    }
}

/// Claim 3 from the records and the tuning choices.
pub fn analyse(records: &[RunRecord], choices: &[Choice], scale: &Scale) -> Claim3 {
    let (mut summary, mut tests, mut best_mgs) = (Vec::new(), Vec::new(), Vec::new());
    let mut outcomes: Vec<(String, i32)> = Vec::new();
    for &dataset in &scale.datasets {
        for &setting in &scale.settings {
            let cell: Vec<&Choice> = choices
                .iter()
                .filter(|c| c.dataset == dataset && c.setting == setting)
                .collect();
            let runs_of = |m: Method| -> Vec<&RunRecord> {
                records
                    .iter()
                    .filter(|r| r.spec.phase == Phase::Report && r.finished())
                    .filter(|r| {
                        r.spec.dataset == dataset && r.spec.setting == setting && r.spec.method == m
                    })
                    .collect()
            };
            let (none_sel, none_last) = by_seed(&runs_of(Method::None), &scale.report_seeds);
            let label =
                |f: &str, v: &str| format!("claim3 {} {} {f} {v}", dataset.name(), setting.key());
            let mut primary: Vec<TestRow> = Vec::new();
            let mut accuracy_of: Vec<(String, Vec<f64>)> = Vec::new();
            for c in &cell {
                let runs = runs_of(c.chosen);
                summary.push(summary_row(c, &runs));
                let (sel, _) = by_seed(&runs, &scale.report_seeds);
                let mut versus = vec![("none (last)", &none_last)];
                if c.chosen != Method::None {
                    versus.push(("early stopping", &none_sel));
                }
                for (name, other) in versus {
                    let draws = scale.sign_flip_draws;
                    if let Some(test) = paired(&sel, other, draws, &label(&c.family, name)) {
                        primary.push(TestRow {
                            dataset,
                            setting,
                            family: c.family.clone(),
                            versus: name.to_string(),
                            holm_family: "primary",
                            test,
                        });
                    }
                }
                accuracy_of.push((c.family.clone(), sel));
            }
            let mut refs: Vec<&mut Paired> = primary.iter_mut().map(|t| &mut t.test).collect();
            holm_adjust(&mut refs);
            // The best MGS form by tuning-phase validation accuracy (first on ties).
            let best =
                cell.iter()
                    .filter(|c| c.chosen.family().is_mgs())
                    .fold(None::<&Choice>, |b, c| {
                        let v = |c: &Choice| c.chosen_point().map_or(f64::NAN, |p| p.val_accuracy);
                        match b {
                            Some(b) if v(c).partial_cmp(&v(b)) != Some(Ordering::Greater) => {
                                Some(b)
                            }
                            _ => Some(*c),
                        }
                    });
            if let Some(best) = best {
                best_mgs.push((dataset, setting, best.family.clone()));
                let best_acc = accuracy_of
                    .iter()
                    .find(|(f, _)| *f == best.family)
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default();
                let mut against: Vec<TestRow> = Vec::new();
                for baseline in NOISE_BASELINES {
                    let name = baseline.name();
                    let Some((_, acc)) = accuracy_of.iter().find(|(f, _)| f == name) else {
                        continue;
                    };
                    let draws = scale.sign_flip_draws;
                    if let Some(test) = paired(&best_acc, acc, draws, &label(&best.family, name)) {
                        against.push(TestRow {
                            dataset,
                            setting,
                            family: best.family.clone(),
                            versus: name.to_string(),
                            holm_family: "mgs_vs_baselines",
                            test,
                        });
                    }
                }
                let mut refs: Vec<&mut Paired> = against.iter_mut().map(|t| &mut t.test).collect();
                holm_adjust(&mut refs);
                if setting.is_hard() {
                    let vs_es = primary
                        .iter()
                        .find(|t| t.family == best.family && t.versus == "early stopping");
                    let text = format!("{} {}", dataset.name(), setting.label());
                    outcomes.push((text, vs_es.map_or(0, |t| t.test.verdict())));
                }
                primary.extend(against);
            }
            tests.extend(primary);
        }
    }
    let verdict = verdict(&outcomes, &tests, &best_mgs);
    Claim3 {
        summary,
        tests,
        best_mgs,
        verdict,
    }
}

/// The pre-registered verdict from the best form's test against early stopping per hard cell.
fn verdict(
    outcomes: &[(String, i32)],
    tests: &[TestRow],
    best: &[(DatasetId, Setting, String)],
) -> Verdict {
    let cells = outcomes.len();
    let wins = outcomes.iter().filter(|(_, v)| *v > 0).count();
    let losses = outcomes.iter().filter(|(_, v)| *v < 0).count();
    let detail: Vec<String> = best
        .iter()
        .filter(|(_, s, _)| s.is_hard())
        .filter_map(|(d, s, f)| {
            let t = tests.iter().find(|t| {
                t.dataset == *d && t.setting == *s && t.family == *f && t.versus == "early stopping"
            })?;
            Some(format!(
                "{} {}: {f} − early stopping = {:+.2} pts [{:+.2}, {:+.2}], Holm p = {:.3}",
                d.name(),
                s.label(),
                100.0 * t.test.mean,
                100.0 * t.test.lower,
                100.0 * t.test.upper,
                t.test.p_holm
            ))
        })
        .collect();
    let reason = format!(
        "the best MGS form beats early stopping in {wins} and loses in {losses} of {cells} noisy or few-sample cells ({})",
        detail.join("; ")
    );
    if cells == 0 {
        Verdict::not_supported("no noisy or few-sample cell was run".to_string())
    } else if 2 * wins >= cells && losses == 0 {
        Verdict::supported(reason)
    } else if wins == 0 {
        Verdict::not_supported(reason)
    } else {
        Verdict::mixed(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(v: &[i32]) -> Vec<(String, i32)> {
        v.iter().map(|&x| (String::new(), x)).collect()
    }

    #[test]
    fn the_pre_registered_rule() {
        let v = |o: &[i32]| verdict(&outcomes(o), &[], &[]).verdict;
        assert_eq!(v(&[1, 1, 0, 0]), "supported");
        assert_eq!(v(&[1, 0, 0, 0]), "mixed");
        assert_eq!(v(&[1, 1, 1, -1]), "mixed");
        assert_eq!(v(&[0, 0, -1]), "not supported");
        assert_eq!(v(&[]), "not supported");
    }
}
