//! What one run leaves behind — everything the analysis reads — and its CSV forms.
//!
//! A [`RunRecord`] is serialisable both ways (serde), so that shards of a plan can write theirs
//! and a later step merge them (sorted by run id) before the analysis. Non-finite numbers are
//! written as JSON `null` and read back as NaN.

use std::fmt::Write as _;

use mgs::train::{KernelSummary, LayerSummary, Summary};
use serde::{Deserialize, Serialize};

use crate::data::Probe;
use crate::plan::RunSpec;

/// `f64` fields that may be NaN: `null` in JSON.
pub mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a finite value as a number, anything else as `null`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    /// Reads a number, or `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// All epochs ran.
    Ok,
    /// An error during training stopped it — a non-finite loss, penalty, gradient or
    /// parameter, or a kernel no longer positive definite: a collapse.
    Stopped {
        /// The library's message.
        message: String,
    },
    /// It could not run (its data or model could not be built): no results.
    Failed {
        /// The error.
        message: String,
    },
}

/// The model at one checkpoint (last epoch, selected epoch, MGS-selected epoch), evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The epoch (0-based) whose parameters these are; `None` for the initial parameters.
    pub epoch: Option<usize>,
    /// Accuracy on the training labels as trained on (noisy where corrupted).
    #[serde(with = "nan_as_null")]
    pub train_acc: f64,
    /// Cross-entropy on those labels.
    #[serde(with = "nan_as_null")]
    pub train_ce: f64,
    /// Accuracy on the (noisy) validation labels.
    #[serde(with = "nan_as_null")]
    pub val_acc: f64,
    /// Cross-entropy on the (noisy) validation labels.
    #[serde(with = "nan_as_null")]
    pub val_ce: f64,
    /// Accuracy on the clean test labels.
    #[serde(with = "nan_as_null")]
    pub test_acc: f64,
    /// Cross-entropy on the clean test labels.
    #[serde(with = "nan_as_null")]
    pub test_ce: f64,
    /// Fraction of corrupted training samples predicted as their noisy label (NaN without
    /// noise): memorisation.
    #[serde(with = "nan_as_null")]
    pub fit_noisy: f64,
    /// Largest share of test predictions falling in one class.
    #[serde(with = "nan_as_null")]
    pub majority_share: f64,
    /// Collapsed: stopped by an error, ≥ 90 % of test predictions in one class, or test
    /// accuracy at most `1/C + 0.05`.
    pub collapsed: bool,
}

/// One probe's MGS after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeMgs {
    /// The probe.
    pub probe: Probe,
    /// Summaries of the traced kernel.
    pub summary: KernelSummary,
    /// Per-layer decomposition ('none' runs only).
    pub layers: Vec<LayerSummary>,
}

/// One epoch of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// 0-based epoch.
    pub epoch: usize,
    /// Training-mode loss, mean over the epoch's batches.
    #[serde(with = "nan_as_null")]
    pub train_loss: f64,
    /// Training cross-entropy on the noisy labels (evaluation mode).
    #[serde(with = "nan_as_null")]
    pub train_ce: f64,
    /// Training accuracy on the noisy labels.
    #[serde(with = "nan_as_null")]
    pub train_acc: f64,
    /// Validation cross-entropy (noisy labels).
    #[serde(with = "nan_as_null")]
    pub val_ce: f64,
    /// Validation accuracy (noisy labels).
    #[serde(with = "nan_as_null")]
    pub val_acc: f64,
    /// Test cross-entropy.
    #[serde(with = "nan_as_null")]
    pub test_ce: f64,
    /// Test accuracy.
    #[serde(with = "nan_as_null")]
    pub test_acc: f64,
    /// Fraction of corrupted training samples predicted as their noisy label.
    #[serde(with = "nan_as_null")]
    pub fit_noisy: f64,
    /// Mean penalty of the run's regulariser, if it has one.
    #[serde(with = "nan_as_null")]
    pub penalty: f64,
    /// MGS on the probes, when measured after this epoch.
    pub mgs: Vec<ProbeMgs>,
}

impl EpochRow {
    /// The summaries on `probe`, if measured.
    pub fn mgs(&self, probe: Probe) -> Option<&KernelSummary> {
        self.mgs
            .iter()
            .find(|m| m.probe == probe)
            .map(|m| &m.summary)
    }
}

/// Everything one run recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// What ran.
    pub spec: RunSpec,
    /// How it ended.
    pub status: Status,
    /// Number of classes.
    pub n_classes: usize,
    /// Training samples.
    pub n_train: usize,
    /// Validation samples.
    pub n_val: usize,
    /// Test samples.
    pub n_test: usize,
    /// Corrupted training labels.
    pub n_corrupted: usize,
    /// The last completed epoch.
    pub last: Snapshot,
    /// The loop's selection: lowest noisy-validation cross-entropy.
    pub selected: Snapshot,
    /// The label-free MGS rule's selection (`None` when it selected nothing).
    pub mgs_rule: Option<Snapshot>,
    /// One row per completed epoch.
    pub epochs: Vec<EpochRow>,
    /// Wall-clock seconds (not deterministic: absent from `study.json`; only `timing.json`
    /// reports wall times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
}

impl RunRecord {
    /// True when the run produced results (it ran to the end or was stopped).
    pub fn finished(&self) -> bool {
        !matches!(self.status, Status::Failed { .. })
    }

    /// `ok`, `stopped` or `failed`.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            Status::Ok => "ok",
            Status::Stopped { .. } => "stopped",
            Status::Failed { .. } => "failed",
        }
    }

    /// The row of epoch `epoch`.
    pub fn epoch(&self, epoch: usize) -> Option<&EpochRow> {
        self.epochs.get(epoch).filter(|e| e.epoch == epoch)
    }

    /// The last row with MGS measured on `probe`.
    pub fn last_mgs(&self, probe: Probe) -> Option<(&EpochRow, &KernelSummary)> {
        self.epochs
            .iter()
            .rev()
            .find_map(|e| e.mgs(probe).map(|m| (e, m)))
    }

    /// The record without its epoch rows and wall time (for `study.json`).
    pub fn summary_only(&self) -> RunRecord {
        RunRecord {
            epochs: Vec::new(),
            wall_s: None,
            ..self.clone()
        }
    }
}

/// `records` as a shard file gives them back: through their JSON form, where a non-finite number
/// becomes NaN. A single process analyses them in this form too, so that it and a merge of
/// shards see the same values.
pub fn through_json(records: Vec<RunRecord>) -> Result<Vec<RunRecord>, String> {
    let value = serde_json::to_value(records).map_err(|e| format!("cannot serialise: {e}"))?;
    serde_json::from_value(value).map_err(|e| format!("cannot read records back: {e}"))
}

/// The MGS summaries written to CSV, in column order.
pub const SUMMARIES: [Summary; 5] = [
    Summary::Trace,
    Summary::LogDet,
    Summary::NormalizedLogDet,
    Summary::CosineMean,
    Summary::CosineLogDet,
];

/// A number for CSV: shortest round-trip form of the value rounded to 7 significant digits;
/// empty when not finite.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let r: f64 = format!("{x:.6e}").parse().unwrap_or(x);
    format!("{r:?}")
}

/// Quotes a CSV field when needed.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn snapshot_columns(prefix: &str, out: &mut Vec<String>) {
    for c in [
        "epoch",
        "train_acc",
        "train_ce",
        "val_acc",
        "val_ce",
        "test_acc",
        "test_ce",
        "fit_noisy",
        "majority_share",
        "collapsed",
    ] {
        out.push(format!("{prefix}_{c}"));
    }
}

fn snapshot_cells(s: Option<&Snapshot>, out: &mut Vec<String>) {
    let Some(s) = s else {
        out.extend(std::iter::repeat_n(String::new(), 10));
        return;
    };
    out.push(s.epoch.map_or(String::new(), |e| e.to_string()));
    for v in [
        s.train_acc,
        s.train_ce,
        s.val_acc,
        s.val_ce,
        s.test_acc,
        s.test_ce,
        s.fit_noisy,
        s.majority_share,
    ] {
        out.push(num(v));
    }
    out.push(u8::from(s.collapsed).to_string());
}

/// `runs.csv`: one row per run — spec, status, the three snapshots, and the last measured MGS
/// on every probe.
pub fn runs_csv(records: &[RunRecord]) -> String {
    let mut header: Vec<String> = [
        "run_id",
        "phase",
        "dataset",
        "setting",
        "method",
        "hyper",
        "value",
        "seed",
        "status",
        "epochs_run",
        "n_train",
        "n_corrupted",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for p in ["last", "selected", "mgs_rule"] {
        snapshot_columns(p, &mut header);
    }
    for probe in Probe::ALL {
        for s in SUMMARIES {
            header.push(format!("last_mgs.{}.traced.{s}", probe.name()));
        }
    }
    let mut out = header.join(",");
    out.push('\n');
    for r in records {
        let s = &r.spec;
        let mut cells = vec![
            s.id.to_string(),
            s.phase.name().to_string(),
            s.dataset.name().to_string(),
            s.setting.key(),
            s.method.family().name().to_string(),
            field(&s.method.hyper_text()),
            s.method.value().map_or(String::new(), num),
            s.seed.to_string(),
            r.status_name().to_string(),
            r.epochs.len().to_string(),
            r.n_train.to_string(),
            r.n_corrupted.to_string(),
        ];
        snapshot_cells(Some(&r.last), &mut cells);
        snapshot_cells(Some(&r.selected), &mut cells);
        snapshot_cells(r.mgs_rule.as_ref(), &mut cells);
        for probe in Probe::ALL {
            let m = r.last_mgs(probe).map(|(_, m)| m);
            for s in SUMMARIES {
                cells.push(m.and_then(|m| m.get(s)).map_or(String::new(), num));
            }
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Number of layers with a decomposition in `records` (columns of `epochs.csv`).
fn max_layers(records: &[RunRecord]) -> usize {
    records
        .iter()
        .flat_map(|r| &r.epochs)
        .flat_map(|e| &e.mgs)
        .map(|m| m.layers.len())
        .max()
        .unwrap_or(0)
}

/// `epochs.csv`: one row per (run, epoch), wide: evaluations, memorisation, penalty, and
/// `mgs.<probe>.traced.<summary>` (plus `.layer<l>.trace_share` / `.normalized_logdet` for the
/// 'none' runs), empty where not measured. Join with `runs.csv` on `run_id`.
pub fn epochs_csv(records: &[RunRecord]) -> String {
    let layers = max_layers(records);
    let mut out = String::from(
        "run_id,epoch,train_loss,train_ce,train_acc,val_ce,val_acc,test_ce,test_acc,fit_noisy,penalty",
    );
    for probe in Probe::ALL {
        for s in SUMMARIES {
            let _ = write!(out, ",mgs.{}.traced.{s}", probe.name());
        }
        for l in 0..layers {
            let _ = write!(
                out,
                ",mgs.{0}.traced.layer{l}.trace_share,mgs.{0}.traced.layer{l}.normalized_logdet",
                probe.name()
            );
        }
    }
    out.push('\n');
    for r in records {
        for e in &r.epochs {
            let _ = write!(out, "{},{}", r.spec.id, e.epoch);
            for v in [
                e.train_loss,
                e.train_ce,
                e.train_acc,
                e.val_ce,
                e.val_acc,
                e.test_ce,
                e.test_acc,
                e.fit_noisy,
                e.penalty,
            ] {
                out.push(',');
                out.push_str(&num(v));
            }
            for probe in Probe::ALL {
                let m = e.mgs.iter().find(|m| m.probe == probe);
                for s in SUMMARIES {
                    out.push(',');
                    if let Some(v) = m.and_then(|m| m.summary.get(s)) {
                        out.push_str(&num(v));
                    }
                }
                for l in 0..layers {
                    let layer = m.and_then(|m| m.layers.get(l));
                    for v in [
                        layer.map(|x| x.trace_share),
                        layer.map(|x| x.normalized_logdet),
                    ] {
                        out.push(',');
                        if let Some(v) = v {
                            out.push_str(&num(v));
                        }
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "nan_as_null")]
        x: f64,
    }

    #[test]
    fn nan_round_trips_as_null() {
        let text = serde_json::to_string(&Holder { x: f64::NAN }).unwrap();
        assert_eq!(text, r#"{"x":null}"#);
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert!(back.x.is_nan());
        let back: Holder = serde_json::from_str(r#"{"x":0.25}"#).unwrap();
        assert_eq!(back.x, 0.25);
    }

    #[test]
    fn a_record_round_trips_through_json() {
        use crate::method::Method;
        use crate::plan::{Phase, RunSpec};
        use crate::setting::{DatasetId, Setting};
        let spec = RunSpec {
            id: 3,
            phase: Phase::Report,
            dataset: DatasetId::Optdigits,
            setting: Setting::PairFlip { percent: 40 },
            method: Method::BootstrapHard(0.8),
            seed: 2,
            epochs: 60,
            observe_every: 2,
            layers: false,
            est_s: 1.5,
        };
        let mut r = crate::run::failed(&spec, 10, String::new());
        r.status = Status::Stopped {
            message: "diverged".into(),
        };
        r.last.test_acc = 0.5;
        r.epochs.push(EpochRow {
            epoch: 0,
            train_loss: 2.0,
            train_ce: 2.1,
            train_acc: 0.2,
            val_ce: f64::NAN,
            val_acc: 0.1,
            test_ce: 2.2,
            test_acc: 0.15,
            fit_noisy: 0.05,
            penalty: f64::NAN,
            mgs: vec![ProbeMgs {
                probe: Probe::Heldout,
                summary: KernelSummary {
                    trace: 1.5,
                    logdet: -0.5,
                    normalized_logdet: -0.9,
                    cosine_mean: 0.1,
                    cosine_logdet: -0.2,
                    effective_rank: None,
                    condition_number: None,
                },
                layers: Vec::new(),
            }],
        });
        r.wall_s = Some(0.25);
        let text = serde_json::to_string(&r).unwrap();
        let back: RunRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        assert!(back.epochs[0].val_ce.is_nan() && back.selected.test_acc.is_nan());
        assert_eq!(back.last.test_acc, 0.5);
        assert_eq!(back.spec, spec);
        assert!(
            !serde_json::to_string(&back.summary_only())
                .unwrap()
                .contains("wall_s")
        );
    }

    #[test]
    fn csv_numbers_keep_seven_digits() {
        assert_eq!(num(f64::NAN), "");
        assert_eq!(num(0.123456789), "0.1234568");
        assert_eq!(num(2.0 / 3.0 * 1e-7), "6.666667e-8");
        assert_eq!(num(1.0), "1.0");
        assert_eq!(field("a,b"), "\"a,b\"");
    }
}
