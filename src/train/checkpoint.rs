//! Checkpoints: everything needed to resume a run exactly, in one JSON file.
//!
//! A [`Checkpoint`] holds the parameters, the optimiser state, the four generators' states, the
//! epoch count, the best parameters, the early-stopping counter, the history, the loss's state
//! ([`Loss::state`](super::Loss::state), e.g. ELR's targets) and the regularisers' states, plus a `format` tag, a `version` and the precision (`"f32"`/`"f64"`).
//! Floats round-trip exactly (written through `f64`, shortest round-trip decimal, parsed
//! exactly; non-finite values as strings), so a run resumed from a checkpoint continues bit for
//! bit as if it had not stopped. Files are written to a temporary file in the same directory
//! and renamed into place. Loading a truncated file, a file that is not a checkpoint, another
//! version or another precision is an [`Error::Format`] saying which.
//!
//! Only a run's state is stored, not its configuration, data, monitor or callbacks: resume by
//! building a trainer the same way and calling [`Trainer::restore`].
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Checkpoint, Dataset, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(20, 2, |i, j| ((i * 5 + j) % 7) as f64 - 3.0);
//! let y: Vec<usize> = (0..20).map(|i| i % 2).collect();
//! let arch = Architecture::new(2, &[(8, Activation::Tanh)], 2)?;
//! let make = || {
//!     let mlp = Mlp::init(arch.clone(), Init::XavierNormal, &mut rng_from_seed(1))?;
//!     let config = TrainConfig { epochs: 4, batch_size: 5, ..TrainConfig::default() };
//!     Trainer::new(mlp, config, Dataset::classification(x.as_ref(), &y)?)
//! };
//! let mut straight = make()?;
//! straight.run()?;
//! let mut first = make()?;
//! first.run_for(2)?;
//! let json = first.checkpoint().to_json()?;
//! let mut resumed = make()?;
//! resumed.restore(&Checkpoint::from_json(&json)?)?;
//! resumed.run()?;
//! assert_eq!(resumed.model().params(), straight.model().params());
//! assert!(Checkpoint::<f64>::from_json(&json[..json.len() / 2]).is_err()); // truncated
//! # Ok::<(), mgs::Error>(())
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::write_atomic;
use super::trainer::{Best, TrainRngs, Trainer};
use super::{History, OptimizerState, json};
use crate::{Error, Float, Mlp, Result};

/// The `format` tag of a checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "mgs-train-checkpoint";

/// The checkpoint layout version this build writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// `"f32"` or `"f64"`.
fn precision<T: Float>() -> &'static str {
    if std::mem::size_of::<T>() == 4 {
        "f32"
    } else {
        "f64"
    }
}

fn format_err(reason: String) -> Error {
    Error::Format { reason }
}

/// A regulariser's saved state, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegularizerState {
    /// [`Regularizer::name`](super::Regularizer::name).
    pub name: String,
    /// [`Regularizer::state`](super::Regularizer::state).
    pub state: Option<serde_json::Value>,
}

/// The complete state of a run between two epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Checkpoint<T: Float> {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// [`CHECKPOINT_VERSION`] when written by this build.
    pub version: u32,
    /// `"f32"` or `"f64"`.
    pub precision: String,
    /// The model's widths `n_0, …, n_L`.
    pub widths: Vec<usize>,
    /// The hidden activations (their `Debug` form, parameters included).
    pub activations: Vec<String>,
    /// Epochs completed.
    pub epoch: usize,
    /// The flat parameters.
    #[serde(with = "json::vec")]
    pub params: Vec<T>,
    /// The optimiser's state.
    pub optimizer: OptimizerState<T>,
    /// The generators.
    pub rngs: TrainRngs,
    /// The best parameters so far.
    pub best: Option<Best<T>>,
    /// Epochs since the last improvement of the monitored loss.
    pub epochs_without_improvement: usize,
    /// The run ended early (early stopping or a callback).
    pub finished: bool,
    /// The history so far.
    pub history: History,
    /// The regularisers' states, in order.
    pub regularizers: Vec<RegularizerState>,
    /// The loss's state ([`Loss::state`](super::Loss::state); empty for stateless losses, and
    /// when absent from the file).
    #[serde(default)]
    pub loss_state: Vec<f64>,
}

fn activation_names<T: Float>(mlp: &Mlp<T>) -> Vec<String> {
    mlp.arch()
        .activations()
        .iter()
        .map(|a| format!("{a:?}"))
        .collect()
}

impl<T: Float> Checkpoint<T> {
    /// Compact JSON text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| format_err(format!("cannot serialise checkpoint: {e}")))
    }

    /// Parses JSON written by [`to_json`](Self::to_json), checking the format tag, the version
    /// and the precision before the contents.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                format_err(format!(
                    "truncated checkpoint: the JSON ends early (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            } else {
                format_err(format!("not a JSON checkpoint: {e}"))
            }
        })?;
        let obj = value.as_object().ok_or_else(|| {
            format_err("not an mgs training checkpoint: the JSON is not an object".into())
        })?;
        if obj.get("format").and_then(|f| f.as_str()) != Some(CHECKPOINT_FORMAT) {
            return Err(format_err(format!(
                "not an mgs training checkpoint: no \"format\": \"{CHECKPOINT_FORMAT}\" field"
            )));
        }
        match obj.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(CHECKPOINT_VERSION) => {}
            Some(v) => {
                return Err(format_err(format!(
                    "checkpoint version {v} is not supported (this build reads version \
                     {CHECKPOINT_VERSION})"
                )));
            }
            None => return Err(format_err("checkpoint has no numeric \"version\"".into())),
        }
        let found = obj.get("precision").and_then(|p| p.as_str());
        if found != Some(precision::<T>()) {
            return Err(format_err(format!(
                "checkpoint precision is {}, the model is {}",
                found.unwrap_or("missing"),
                precision::<T>()
            )));
        }
        serde_json::from_value(value).map_err(|e| format_err(format!("malformed checkpoint: {e}")))
    }

    /// Writes the checkpoint to `path` (temporary file in the same directory, then rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json()?.as_bytes())
    }

    /// Reads a checkpoint written by [`save`](Self::save).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_json(&text).map_err(|e| match e {
            Error::Format { reason } => format_err(format!("{}: {reason}", path.display())),
            other => other,
        })
    }
}

impl<T: Float> Trainer<'_, T> {
    /// The run's current state as a checkpoint.
    pub fn checkpoint(&self) -> Checkpoint<T> {
        let s = &self.state;
        Checkpoint {
            format: CHECKPOINT_FORMAT.to_string(),
            version: CHECKPOINT_VERSION,
            precision: precision::<T>().to_string(),
            widths: self.mlp.arch().widths().to_vec(),
            activations: activation_names(&self.mlp),
            epoch: s.epoch,
            params: self.mlp.params().to_vec(),
            optimizer: s.optimizer.clone(),
            rngs: s.rngs.clone(),
            best: s.best.clone(),
            epochs_without_improvement: s.since_improvement,
            finished: s.finished,
            history: s.history.clone(),
            regularizers: self
                .regularizers
                .iter()
                .map(|r| RegularizerState {
                    name: r.name().to_string(),
                    state: r.state(),
                })
                .collect(),
            loss_state: self.loss.state(),
        }
    }

    /// Saves [`checkpoint`](Self::checkpoint) to `path`.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>) -> Result<()> {
        self.checkpoint().save(path)
    }

    /// Puts the run into the state of `ckpt`. The trainer must have been built like the one
    /// that wrote it (same architecture, optimiser kind and regularisers, in order); the
    /// configuration, data, monitor and callbacks are the trainer's own. Everything is checked
    /// before anything changes (except that a regulariser rejecting its state may leave the
    /// loss's state and earlier regularisers restored).
    pub fn restore(&mut self, ckpt: &Checkpoint<T>) -> Result<()> {
        if ckpt.format != CHECKPOINT_FORMAT || ckpt.version != CHECKPOINT_VERSION {
            return Err(format_err(format!(
                "not a version-{CHECKPOINT_VERSION} mgs training checkpoint"
            )));
        }
        if ckpt.widths != self.mlp.arch().widths()
            || ckpt.activations != activation_names(&self.mlp)
        {
            return Err(format_err(format!(
                "checkpoint is for widths {:?} with activations {:?}, the model has {:?} with {:?}",
                ckpt.widths,
                ckpt.activations,
                self.mlp.arch().widths(),
                activation_names(&self.mlp)
            )));
        }
        let p = self.mlp.n_params();
        if ckpt.params.len() != p {
            return Err(Error::ShapeMismatch {
                what: "checkpoint parameters",
                expected: (p, 1),
                found: (ckpt.params.len(), 1),
            });
        }
        crate::error::check_finite("checkpoint parameters", &ckpt.params)?;
        self.config.optimizer.check_state(&ckpt.optimizer, p)?;
        if let Some(best) = &ckpt.best {
            if best.params.len() != p {
                return Err(Error::ShapeMismatch {
                    what: "checkpoint best parameters",
                    expected: (p, 1),
                    found: (best.params.len(), 1),
                });
            }
            crate::error::check_finite("checkpoint best parameters", &best.params)?;
        }
        if ckpt.history.epochs.len() != ckpt.epoch {
            return Err(format_err(format!(
                "inconsistent checkpoint: epoch {} but {} history records",
                ckpt.epoch,
                ckpt.history.epochs.len()
            )));
        }
        let names: Vec<&str> = ckpt.regularizers.iter().map(|r| r.name.as_str()).collect();
        let ours = self.regularizer_names();
        if names != ours {
            return Err(format_err(format!(
                "checkpoint has regularisers {names:?}, the trainer has {ours:?}"
            )));
        }
        self.loss.set_state(&ckpt.loss_state)?;
        for (reg, saved) in self.regularizers.iter_mut().zip(&ckpt.regularizers) {
            if let Some(state) = &saved.state {
                reg.load_state(state)?;
            }
        }
        self.mlp.set_params(&ckpt.params)?;
        let s = &mut self.state;
        s.epoch = ckpt.epoch;
        s.optimizer = ckpt.optimizer.clone();
        s.rngs = ckpt.rngs.clone();
        s.best = ckpt.best.clone();
        s.since_improvement = ckpt.epochs_without_improvement;
        s.finished = ckpt.finished;
        s.history = ckpt.history.clone();
        self.failed = None;
        Ok(())
    }
}
