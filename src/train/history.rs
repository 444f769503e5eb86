//! The record of a training run: one [`EpochRecord`] per epoch, the selected epochs, and CSV or
//! JSON forms of it.
//!
//! JSON (through serde) round-trips exactly, non-finite values included (written as the strings
//! `"NaN"`, `"inf"`, `"-inf"`). CSV has one row per epoch and the columns `epoch, lr,
//! train_loss, new_best`, then `<set>_loss, <set>_cross_entropy, <set>_accuracy` for the sets
//! `train_eval`, `val` and `test`, then one `penalty.<name>` column per regulariser, one column
//! per scalar metric, and for each (probe, kernel) pair of MGS records the columns
//! `mgs.<probe>.<kernel>.<summary>` (and `mgs.<probe>.<kernel>.layer<l>.trace_share` /
//! `.normalized_logdet` when layers were measured), all in order of first appearance, then
//! `wall_time_s`; absent values are empty cells, and numbers are written in Rust's shortest
//! round-trip form.
//!
//! ```
//! use mgs::train::{EpochRecord, Evaluation, History};
//! let mut h = History::default();
//! h.epochs.push(EpochRecord {
//!     epoch: 0,
//!     lr: 0.1,
//!     train_loss: 0.7,
//!     train: Evaluation { loss: 0.6, cross_entropy: Some(0.6), accuracy: Some(0.75) },
//!     val: None,
//!     test: None,
//!     new_best: true,
//!     penalties: vec![("l2".into(), 0.01)],
//!     metrics: vec![("param_norm".into(), f64::NAN)],
//!     mgs: Vec::new(),
//!     wall_time_s: 0.5,
//! });
//! h.selected_epoch = Some(0);
//! let csv = h.to_csv();
//! assert!(csv.starts_with("epoch,lr,train_loss,new_best,train_eval_loss,train_eval_cross_entropy"));
//! assert!(csv.lines().nth(1).unwrap().starts_with("0,0.1,0.7,1,0.6,0.6,0.75,,,,,,,0.01,NaN,0.5"));
//! let back = History::from_json(&h.to_json()?)?;
//! assert_eq!(back.without_timing().epochs.len(), 1);
//! assert!(back.epochs[0].metrics[0].1.is_nan());
//! let summary = h.summary().unwrap();
//! assert_eq!(summary.selected.epoch, Some(0));
//! # Ok::<(), mgs::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::write_atomic;
use super::{EpochRecord, Evaluation, Summary};
use crate::{Error, Result};

/// The record of a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// One record per completed epoch, in order.
    pub epochs: Vec<EpochRecord>,
    /// The loop's selected checkpoint: the epoch (0-based) whose parameters had the lowest
    /// selection loss (see [`SelectOn`](super::SelectOn)); `None` while the initial parameters
    /// are the best.
    pub selected_epoch: Option<usize>,
    /// The epoch with the highest validation accuracy (first one on ties), for class targets.
    pub best_accuracy_epoch: Option<usize>,
    /// Why the run ended before its configured number of epochs, if it did.
    pub stopped: Option<String>,
}

/// Evaluations of one epoch: training, validation and test sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochEvaluations {
    /// The epoch (0-based; `None` for the initial parameters).
    pub epoch: Option<usize>,
    /// On the training set.
    pub train: Option<Evaluation>,
    /// On the validation set.
    pub val: Option<Evaluation>,
    /// On the test set.
    pub test: Option<Evaluation>,
}

/// The last epoch and the selected epoch of a run, side by side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    /// The last completed epoch.
    pub last: EpochEvaluations,
    /// The loop's selected checkpoint (lowest selection loss).
    pub selected: EpochEvaluations,
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn num(out: &mut String, x: Option<f64>) {
    if let Some(x) = x {
        let _ = write!(out, "{x:?}");
    }
}

/// Names in order of first appearance.
fn names<'a>(lists: impl Iterator<Item = &'a [(String, f64)]>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for list in lists {
        for (n, _) in list {
            if !out.contains(&n.as_str()) {
                out.push(n);
            }
        }
    }
    out
}

fn lookup(list: &[(String, f64)], name: &str) -> Option<f64> {
    list.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

/// One CSV column of MGS records: probe, kernel, and a summary of the whole kernel or of one
/// layer.
struct MgsColumn {
    probe: String,
    kernel: crate::kernel::KernelKind,
    stat: Stat,
}

/// What an [`MgsColumn`] reads.
enum Stat {
    Kernel(Summary),
    LayerTraceShare(usize),
    LayerNormalizedLogDet(usize),
}

impl MgsColumn {
    fn name(&self) -> String {
        let (probe, kernel) = (&self.probe, self.kernel.name());
        match self.stat {
            Stat::Kernel(s) => format!("mgs.{probe}.{kernel}.{}", s.name()),
            Stat::LayerTraceShare(l) => format!("mgs.{probe}.{kernel}.layer{l}.trace_share"),
            Stat::LayerNormalizedLogDet(l) => {
                format!("mgs.{probe}.{kernel}.layer{l}.normalized_logdet")
            }
        }
    }

    fn value(&self, e: &EpochRecord) -> Option<f64> {
        let m = e.mgs(&self.probe, self.kernel)?;
        match self.stat {
            Stat::Kernel(s) => m.summary.get(s),
            Stat::LayerTraceShare(l) => m.layers.get(l).map(|s| s.trace_share),
            Stat::LayerNormalizedLogDet(l) => m.layers.get(l).map(|s| s.normalized_logdet),
        }
    }
}

/// The MGS columns of a history, in order of first appearance.
fn mgs_columns(h: &History) -> Vec<MgsColumn> {
    let mut seen: Vec<(&str, crate::kernel::KernelKind, usize)> = Vec::new();
    for e in &h.epochs {
        for m in &e.mgs {
            match seen
                .iter_mut()
                .find(|(p, k, _)| *p == m.probe && *k == m.kernel)
            {
                Some(entry) => entry.2 = entry.2.max(m.layers.len()),
                None => seen.push((&m.probe, m.kernel, m.layers.len())),
            }
        }
    }
    let mut cols = Vec::new();
    for (probe, kernel, layers) in seen {
        let whole = Summary::ALL.into_iter().map(Stat::Kernel);
        let per_layer =
            (0..layers).flat_map(|l| [Stat::LayerTraceShare(l), Stat::LayerNormalizedLogDet(l)]);
        for stat in whole.chain(per_layer) {
            cols.push(MgsColumn {
                probe: probe.to_string(),
                kernel,
                stat,
            });
        }
    }
    cols
}

impl History {
    /// A copy with every wall time set to 0 (to compare runs that must agree bit for bit).
    #[must_use]
    pub fn without_timing(&self) -> History {
        let mut h = self.clone();
        for e in &mut h.epochs {
            e.wall_time_s = 0.0;
        }
        h
    }

    /// The last record, if any.
    #[must_use]
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// The last epoch's and the selected epoch's evaluations side by side (`None` before the
    /// first epoch). Without a selected epoch (the initial parameters were never beaten) the
    /// selected side has `epoch: None` and no evaluations.
    #[must_use]
    pub fn summary(&self) -> Option<RunSummary> {
        let last = self.last()?;
        let evals = |e: &EpochRecord| EpochEvaluations {
            epoch: Some(e.epoch),
            train: Some(e.train),
            val: e.val,
            test: e.test,
        };
        let selected = match self.selected_epoch.and_then(|k| self.epochs.get(k)) {
            Some(e) => evals(e),
            None => EpochEvaluations {
                epoch: None,
                train: None,
                val: None,
                test: None,
            },
        };
        Some(RunSummary {
            last: evals(last),
            selected,
        })
    }

    /// The history as CSV text (see the module documentation).
    #[must_use]
    pub fn to_csv(&self) -> String {
        let columns = self.columns();
        let mut out = String::new();
        for (k, c) in columns.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            csv_field(&mut out, &c.name);
        }
        out.push('\n');
        for row in 0..self.epochs.len() {
            for (k, c) in columns.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                match c.values[row] {
                    // Exact: the integer columns (epoch, new_best) are far below 2⁵³.
                    Some(v) if c.integer => {
                        let _ = write!(out, "{}", v as u64);
                    }
                    v => num(&mut out, v),
                }
            }
            out.push('\n');
        }
        out
    }

    /// The history as JSON text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Format {
            reason: format!("cannot serialise history: {e}"),
        })
    }

    /// Parses JSON written by [`to_json`](Self::to_json).
    pub fn from_json(text: &str) -> Result<History> {
        serde_json::from_str(text).map_err(|e| Error::Format {
            reason: format!("not a training history: {e}"),
        })
    }

    /// Writes [`to_csv`](Self::to_csv) to `path` (through a temporary file and a rename).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_csv().as_bytes())
    }

    /// Writes [`to_json`](Self::to_json) to `path` (through a temporary file and a rename).
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json()?.as_bytes())
    }

    /// Reads a history written by [`write_json`](Self::write_json) (at most
    /// [`CHECKPOINT_MAX_BYTES`](super::CHECKPOINT_MAX_BYTES); a larger file is an error).
    pub fn read_json(path: impl AsRef<Path>) -> Result<History> {
        let path = path.as_ref();
        let text = super::io::read_to_string_limited(path, super::CHECKPOINT_MAX_BYTES)?;
        History::from_json(&text).map_err(|e| match e {
            Error::Format { reason } => Error::Format {
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }
}

/// One column of [`History::columns`]: its CSV name and one value per epoch (`None` where the
/// epoch has none).
pub(crate) struct Column {
    /// The column's name (the CSV header).
    pub(crate) name: String,
    /// One value per epoch.
    pub(crate) values: Vec<Option<f64>>,
    /// Whether the values are integers (the epoch and the `new_best` flag), written as such in
    /// CSV.
    pub(crate) integer: bool,
}

impl History {
    /// The columns of [`to_csv`](Self::to_csv), in its order (see the module documentation):
    /// one table for every tabular export (CSV here, NumPy in [`crate::export`]).
    pub(crate) fn columns(&self) -> Vec<Column> {
        let penalties = names(self.epochs.iter().map(|e| e.penalties.as_slice()));
        let metrics = names(self.epochs.iter().map(|e| e.metrics.as_slice()));
        let column =
            |name: String, integer: bool, value: &dyn Fn(&EpochRecord) -> Option<f64>| Column {
                name,
                values: self.epochs.iter().map(value).collect(),
                integer,
            };
        let mut columns = vec![
            column("epoch".into(), true, &|e| Some(e.epoch as f64)),
            column("lr".into(), false, &|e| Some(e.lr)),
            column("train_loss".into(), false, &|e| Some(e.train_loss)),
            column("new_best".into(), true, &|e| {
                Some(f64::from(u8::from(e.new_best)))
            }),
        ];
        type Set = fn(&EpochRecord) -> Option<Evaluation>;
        let sets: [(&str, Set); 3] = [
            ("train_eval", |e| Some(e.train)),
            ("val", |e| e.val),
            ("test", |e| e.test),
        ];
        for (set, eval) in sets {
            columns.push(column(format!("{set}_loss"), false, &|e| {
                eval(e).map(|v| v.loss)
            }));
            columns.push(column(format!("{set}_cross_entropy"), false, &|e| {
                eval(e).and_then(|v| v.cross_entropy)
            }));
            columns.push(column(format!("{set}_accuracy"), false, &|e| {
                eval(e).and_then(|v| v.accuracy)
            }));
        }
        for p in &penalties {
            columns.push(column(format!("penalty.{p}"), false, &|e| {
                lookup(&e.penalties, p)
            }));
        }
        for m in &metrics {
            columns.push(column(m.to_string(), false, &|e| lookup(&e.metrics, m)));
        }
        for c in mgs_columns(self) {
            columns.push(column(c.name(), false, &|e| c.value(e)));
        }
        columns.push(column("wall_time_s".into(), false, &|e| {
            Some(e.wall_time_s)
        }));
        columns
    }
}
