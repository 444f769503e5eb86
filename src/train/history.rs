//! The record of a training run: one [`EpochRecord`] per epoch, written as CSV or JSON.
//!
//! JSON (through serde) round-trips exactly, non-finite values included (written as the strings
//! `"NaN"`, `"inf"`, `"-inf"`). CSV has one row per epoch and the columns `epoch, lr,
//! train_loss, train_eval_loss, train_eval_accuracy, val_loss, val_accuracy, test_loss,
//! test_accuracy`, then one `penalty.<name>` column per regulariser and one column per
//! monitored metric (in order of first appearance), then `wall_time_s`; absent values are empty
//! cells, and numbers are written in Rust's shortest round-trip form.
//!
//! ```
//! use mgs::train::{EpochRecord, Evaluation, History};
//! let mut h = History::default();
//! h.epochs.push(EpochRecord {
//!     epoch: 0,
//!     lr: 0.1,
//!     train_loss: 0.7,
//!     train: Evaluation { loss: 0.6, accuracy: Some(0.75) },
//!     val: None,
//!     test: None,
//!     penalties: vec![("l2".into(), 0.01)],
//!     metrics: vec![("mgs_trace".into(), f64::NAN)],
//!     wall_time_s: 0.5,
//! });
//! let csv = h.to_csv();
//! assert!(csv.starts_with("epoch,lr,train_loss,train_eval_loss,train_eval_accuracy,val_loss"));
//! assert!(csv.lines().nth(1).unwrap().starts_with("0,0.1,0.7,0.6,0.75,,,,,0.01,NaN,0.5"));
//! let back = History::from_json(&h.to_json()?)?;
//! assert_eq!(back.without_timing().epochs.len(), 1);
//! assert!(back.epochs[0].metrics[0].1.is_nan());
//! # Ok::<(), mgs::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::write_atomic;
use super::json;
use crate::{Error, Result};

/// Loss and (for class targets) accuracy of the model on a data set, in evaluation mode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss (no label smoothing, no dropout, no noise).
    #[serde(with = "json::f64")]
    pub loss: f64,
    /// Fraction classified correctly, for class targets.
    pub accuracy: Option<f64>,
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used in this epoch.
    pub lr: f64,
    /// Mean training-mode data loss over the epoch's batches (each taken before its step,
    /// weighted by batch size; with dropout, noise and label smoothing as configured).
    pub train_loss: f64,
    /// Evaluation on the whole training set at the end of the epoch.
    pub train: Evaluation,
    /// Evaluation on the validation set, if one was given.
    pub val: Option<Evaluation>,
    /// Evaluation on the test set, if one was given.
    pub test: Option<Evaluation>,
    /// Mean value of each regulariser's penalty over the epoch's steps, by name.
    #[serde(with = "json::named")]
    pub penalties: Vec<(String, f64)>,
    /// The monitor's metrics, on epochs where it ran (empty otherwise).
    #[serde(with = "json::named")]
    pub metrics: Vec<(String, f64)>,
    /// Wall-clock seconds spent on this epoch (training, evaluation, monitor).
    pub wall_time_s: f64,
}

/// The record of a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// One record per completed epoch, in order.
    pub epochs: Vec<EpochRecord>,
    /// Epoch (0-based) whose parameters had the lowest monitored loss (validation loss if a
    /// validation set was given, else the evaluated training loss); `None` while the initial
    /// parameters are the best.
    pub best_epoch: Option<usize>,
    /// Why the run ended before its configured number of epochs, if it did.
    pub stopped: Option<String>,
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

impl History {
    /// A copy with every wall time set to 0 (to compare runs that must agree bit for bit).
    pub fn without_timing(&self) -> History {
        let mut h = self.clone();
        for e in &mut h.epochs {
            e.wall_time_s = 0.0;
        }
        h
    }

    /// The last record, if any.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// The history as CSV text (see the module documentation).
    pub fn to_csv(&self) -> String {
        let penalties = names(self.epochs.iter().map(|e| e.penalties.as_slice()));
        let metrics = names(self.epochs.iter().map(|e| e.metrics.as_slice()));
        let mut out = String::from(
            "epoch,lr,train_loss,train_eval_loss,train_eval_accuracy,val_loss,val_accuracy,\
             test_loss,test_accuracy",
        );
        for p in &penalties {
            out.push(',');
            csv_field(&mut out, &format!("penalty.{p}"));
        }
        for m in &metrics {
            out.push(',');
            csv_field(&mut out, m);
        }
        out.push_str(",wall_time_s\n");
        for e in &self.epochs {
            let _ = write!(out, "{}", e.epoch);
            let evals = [Some(e.train), e.val, e.test];
            let mut cells = vec![Some(e.lr), Some(e.train_loss)];
            for ev in evals {
                cells.push(ev.map(|v| v.loss));
                cells.push(ev.and_then(|v| v.accuracy));
            }
            cells.extend(penalties.iter().map(|p| lookup(&e.penalties, p)));
            cells.extend(metrics.iter().map(|m| lookup(&e.metrics, m)));
            cells.push(Some(e.wall_time_s));
            for c in cells {
                out.push(',');
                num(&mut out, c);
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

    /// Reads a history written by [`write_json`](Self::write_json).
    pub fn read_json(path: impl AsRef<Path>) -> Result<History> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        History::from_json(&text).map_err(|e| match e {
            Error::Format { reason } => Error::Format {
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }
}
