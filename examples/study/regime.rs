//! The regime: does the unregularised network memorise the noisy training labels within the
//! epochs it trains? For 'none' in every noisy setting: the fraction of corrupted training
//! labels it fits (predicts as their noisy label) at the last epoch, and the first epoch at
//! which the fraction reached 90 % ("not reached" otherwise).

use serde::Serialize;

use crate::method::Method;
use crate::plan::{Phase, Scale};
use crate::record::RunRecord;
use crate::setting::{DatasetId, Setting};
use crate::stats::MeanSe;

/// The memorisation threshold.
pub const FITTED: f64 = 0.9;

/// One noisy setting of one dataset.
#[derive(Debug, Clone, Serialize)]
pub struct RegimeRow {
    /// Dataset.
    pub dataset: DatasetId,
    /// Setting.
    pub setting: Setting,
    /// Epochs trained.
    pub epochs: usize,
    /// 'none' report runs.
    pub runs: usize,
    /// Fraction of corrupted labels fitted at the last epoch.
    pub fit_last: MeanSe,
    /// The smallest of those fractions.
    pub fit_last_min: f64,
    /// First epoch (1-based count) at which each run reached 90 %, for the runs that did.
    pub epochs_to_fit: Vec<usize>,
    /// Runs that reached 90 %.
    pub reached: usize,
    /// Test accuracy at the last epoch.
    pub test_last: MeanSe,
    /// Test accuracy at the selected epoch (early stopping).
    pub test_selected: MeanSe,
}

impl RegimeRow {
    /// True when every run fitted at least 90 % of the corrupted labels by its last epoch.
    pub fn memorised(&self) -> bool {
        self.runs > 0 && self.fit_last_min >= FITTED
    }

    /// The median (upper, for an even count) of the epochs to 90 % of the runs that got there.
    pub fn median_epochs_to_fit(&self) -> Option<usize> {
        self.epochs_to_fit
            .get(self.epochs_to_fit.len() / 2)
            .copied()
    }
}

/// The regime table.
pub fn analyse(records: &[RunRecord], scale: &Scale) -> Vec<RegimeRow> {
    let mut out = Vec::new();
    for &dataset in &scale.datasets {
        let mut settings = scale.settings.clone();
        settings.extend(&scale.none_settings);
        for setting in settings.into_iter().filter(|s| s.noise().is_some()) {
            let runs: Vec<&RunRecord> = records
                .iter()
                .filter(|r| r.spec.phase == Phase::Report && r.finished())
                .filter(|r| r.spec.dataset == dataset && r.spec.setting == setting)
                .filter(|r| r.spec.method == Method::None)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let mut epochs_to_fit: Vec<usize> = runs
                .iter()
                .filter_map(|r| r.epochs.iter().position(|e| e.fit_noisy >= FITTED))
                .map(|e| e + 1)
                .collect();
            epochs_to_fit.sort_unstable();
            out.push(RegimeRow {
                dataset,
                setting,
                epochs: runs[0].spec.epochs,
                runs: runs.len(),
                fit_last: MeanSe::of(runs.iter().map(|r| r.last.fit_noisy)),
                fit_last_min: runs
                    .iter()
                    .map(|r| r.last.fit_noisy)
                    .fold(f64::INFINITY, f64::min),
                reached: epochs_to_fit.len(),
                epochs_to_fit,
                test_last: MeanSe::of(runs.iter().map(|r| r.last.test_acc)),
                test_selected: MeanSe::of(runs.iter().map(|r| r.selected.test_acc)),
            });
        }
    }
    out
}
