//! Checkpoints: everything needed to resume a run exactly, in one integrity-checked file.
//!
//! A [`Checkpoint`] holds the model (widths, activations, parameters), the [`RunState`] (epoch
//! count, optimiser state, the five generators, the selected checkpoint, the early-stopping
//! counter, the history, the loss's state) and the states of the regularisers and observers.
//! Floats round-trip exactly (written through `f64`, shortest round-trip decimal, parsed exactly;
//! non-finite values as strings), so a run resumed from a checkpoint continues bit for bit as if
//! it had not stopped.
//!
//! **File layout.** One header line, then the payload:
//!
//! ```text
//! {"format":"mgs-train-checkpoint","version":3,"precision":"f64","payload_bytes":…,"crc32":…}
//! {…the payload: JSON of the checkpoint…}
//! ```
//!
//! The header's CRC-32 (IEEE, through the `crc32fast` crate) covers the payload's exact bytes, so
//! any corruption of up to 32 consecutive bits — every single-byte change — is detected, and other
//! corruptions with probability `1 − 2⁻³²`. Loading checks, in this order: the header (format,
//! version, precision), the payload's length and checksum, the JSON, and then the contents (shapes,
//! finiteness, generator and optimiser states, the history's consistency with the epoch count); each
//! failure is an [`Error::Format`] naming what failed. Files are written atomically and read with a
//! size bound ([`Checkpoint::load_limited`]).
//!
//! Only a run's state is stored, not its configuration, data or observers' settings: resume by
//! building a trainer the same way and calling [`Trainer::restore`].
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Checkpoint, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(20, 2, |i, j| ((i * 5 + j) % 7) as f64 - 3.0);
//! let y: Vec<usize> = (0..20).map(|i| i % 2).collect();
//! let arch = Architecture::new(2, &[(8, Activation::Tanh)], 2)?;
//! let make = || {
//!     let mlp = Mlp::init(arch.clone(), Init::XavierNormal, &mut rng_from_seed(1))?;
//!     let config = TrainConfig { epochs: 4, batch_size: 5, ..TrainConfig::default() };
//!     Trainer::new(mlp, config, DatasetView::classification(x.as_ref(), &y)?)
//! };
//! let mut straight = make()?;
//! straight.run()?;
//! let mut first = make()?;
//! first.run_for(2)?;
//! let text = first.checkpoint().to_text()?;
//! let mut resumed = make()?;
//! resumed.restore(&Checkpoint::from_text(&text)?)?;
//! resumed.run()?;
//! assert_eq!(resumed.model().params(), straight.model().params());
//! assert!(Checkpoint::<f64>::from_text(&text[..text.len() / 2]).is_err()); // truncated
//! let flipped = text.replacen("\"epoch\":2", "\"epoch\":3", 1);
//! assert!(Checkpoint::<f64>::from_text(&flipped).is_err()); // changed contents
//! # Ok::<(), mgs::Error>(())
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::write_atomic;
use super::{RunState, Trainer, json};
use crate::{Activation, Error, Float, Result};

/// The `format` tag of a checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "mgs-train-checkpoint";

/// The checkpoint layout version this build writes and reads.
///
/// Version 3 writes the hidden activations in their serde form (`"tanh"`,
/// `{"leaky_relu":{"slope":0.01}}`, as in the model file of [`crate::model_file`]) where
/// version 2 wrote their `Debug` strings; nothing else changed.
pub const CHECKPOINT_VERSION: u32 = 3;

/// The default bound on a checkpoint file's size in [`Checkpoint::load`]: 1 GiB.
pub const CHECKPOINT_MAX_BYTES: u64 = 1 << 30;

/// `"f32"` or `"f64"`.
pub(crate) fn precision<T: Float>() -> &'static str {
    if std::mem::size_of::<T>() == 4 {
        "f32"
    } else {
        "f64"
    }
}

fn format_err(reason: String) -> Error {
    Error::Format { reason }
}

/// A regulariser's or observer's saved state, by name or position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentState {
    /// The regulariser's name, or the observer's position (`"observer 0"`, …).
    pub name: String,
    /// Its `state()`.
    pub state: Option<serde_json::Value>,
}

/// The header line of a checkpoint file.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    precision: String,
    payload_bytes: u64,
    crc32: u32,
}

/// The complete state of a run between two epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Checkpoint<T: Float> {
    /// The model's widths `n_0, …, n_L`.
    pub widths: Vec<usize>,
    /// The hidden activations, parameters included.
    pub activations: Vec<Activation>,
    /// The flat parameters.
    #[serde(with = "json::vec")]
    pub params: Vec<T>,
    /// The run's state.
    pub state: RunState<T>,
    /// The regularisers' states, in order.
    pub regularizers: Vec<ComponentState>,
    /// The observers' states, in order.
    pub observers: Vec<ComponentState>,
}

impl<T: Float> Checkpoint<T> {
    /// The file's text: header line and payload (see the module documentation).
    pub fn to_text(&self) -> Result<String> {
        let payload = serde_json::to_string(self)
            .map_err(|e| format_err(format!("cannot serialise checkpoint: {e}")))?;
        let header = Header {
            format: CHECKPOINT_FORMAT.to_string(),
            version: CHECKPOINT_VERSION,
            precision: precision::<T>().to_string(),
            payload_bytes: payload.len() as u64,
            crc32: crc32fast::hash(payload.as_bytes()),
        };
        let header = serde_json::to_string(&header)
            .map_err(|e| format_err(format!("cannot serialise checkpoint header: {e}")))?;
        Ok(format!("{header}\n{payload}"))
    }

    /// Parses text written by [`to_text`](Self::to_text), checking the header, the payload's
    /// length and checksum, and then the contents.
    pub fn from_text(text: &str) -> Result<Self> {
        let (head, payload) = text
            .split_once('\n')
            .ok_or_else(|| format_err("not an mgs training checkpoint: no header line".into()))?;
        let header: Header = serde_json::from_str(head).map_err(|e| {
            format_err(format!(
                "not an mgs training checkpoint: bad header line ({e})"
            ))
        })?;
        if header.format != CHECKPOINT_FORMAT {
            return Err(format_err(format!(
                "not an mgs training checkpoint: format is {:?}, not {CHECKPOINT_FORMAT:?}",
                header.format
            )));
        }
        if header.version != CHECKPOINT_VERSION {
            return Err(format_err(format!(
                "checkpoint version {} is not supported (this build reads version \
                 {CHECKPOINT_VERSION})",
                header.version
            )));
        }
        if header.precision != precision::<T>() {
            return Err(format_err(format!(
                "checkpoint precision is {}, the model is {}",
                header.precision,
                precision::<T>()
            )));
        }
        if payload.len() as u64 != header.payload_bytes {
            return Err(format_err(format!(
                "truncated or extended checkpoint: the payload has {} bytes, the header says {}",
                payload.len(),
                header.payload_bytes
            )));
        }
        let crc = crc32fast::hash(payload.as_bytes());
        if crc != header.crc32 {
            return Err(format_err(format!(
                "corrupted checkpoint: payload checksum {crc:08x}, the header says {:08x}",
                header.crc32
            )));
        }
        let ckpt: Self = serde_json::from_str(payload)
            .map_err(|e| format_err(format!("malformed checkpoint: {e}")))?;
        ckpt.validate()?;
        Ok(ckpt)
    }

    /// Checks the contents' consistency (shapes, finiteness, generators, history).
    pub fn validate(&self) -> Result<()> {
        let n_params = self.params.len();
        crate::error::check_finite("checkpoint parameters", &self.params)?;
        self.state.validate(n_params)
    }

    /// Writes the checkpoint to `path` atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_text()?.as_bytes())
    }

    /// Reads a checkpoint written by [`save`](Self::save) (at most [`CHECKPOINT_MAX_BYTES`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_limited(path, CHECKPOINT_MAX_BYTES)
    }

    /// Reads a checkpoint of at most `max_bytes` bytes (a larger file is an error, read no
    /// further).
    pub fn load_limited(path: impl AsRef<Path>, max_bytes: u64) -> Result<Self> {
        let path = path.as_ref();
        let text = super::io::read_to_string_limited(path, max_bytes)?;
        Self::from_text(&text).map_err(|e| match e {
            Error::Format { reason } => format_err(format!("{}: {reason}", path.display())),
            other => other,
        })
    }
}

impl<T: Float> Trainer<'_, T> {
    /// The run's current state as a checkpoint.
    #[must_use]
    pub fn checkpoint(&self) -> Checkpoint<T> {
        Checkpoint {
            widths: self.mlp.arch().widths().to_vec(),
            activations: self.mlp.arch().activations().to_vec(),
            params: self.mlp.params().to_vec(),
            state: self.state.clone(),
            regularizers: self
                .regularizers
                .iter()
                .map(|r| ComponentState {
                    name: r.name().to_string(),
                    state: r.state(),
                })
                .collect(),
            observers: self
                .observers
                .iter()
                .enumerate()
                .map(|(i, (_, o))| ComponentState {
                    name: format!("observer {i}"),
                    state: o.state(),
                })
                .collect(),
        }
    }

    /// Saves [`checkpoint`](Self::checkpoint) to `path`.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>) -> Result<()> {
        self.checkpoint().save(path)
    }

    /// Puts the run into the state of `ckpt`. The trainer must have been built like the one
    /// that wrote it (same architecture, optimiser kind, loss, regularisers and observers, in
    /// order); the configuration, data and observers' settings are the trainer's own. Everything
    /// the trainer can check is checked before anything changes (a regulariser or observer
    /// rejecting its state may leave earlier ones restored).
    pub fn restore(&mut self, ckpt: &Checkpoint<T>) -> Result<()> {
        ckpt.validate()?;
        let arch = self.mlp.arch();
        if ckpt.widths != arch.widths() || ckpt.activations != arch.activations() {
            return Err(format_err(format!(
                "checkpoint is for widths {:?} with activations {:?}, the model has {:?} with {:?}",
                ckpt.widths,
                ckpt.activations,
                arch.widths(),
                arch.activations()
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
        self.config
            .optimizer
            .check_state(&ckpt.state.optimizer, p)?;
        let names: Vec<&str> = ckpt.regularizers.iter().map(|r| r.name.as_str()).collect();
        let ours = self.regularizer_names();
        if names != ours {
            return Err(format_err(format!(
                "checkpoint has regularisers {names:?}, the trainer has {ours:?}"
            )));
        }
        if ckpt.observers.len() != self.observers.len() {
            return Err(format_err(format!(
                "checkpoint has {} observers, the trainer has {}",
                ckpt.observers.len(),
                self.observers.len()
            )));
        }
        self.loss.set_state(&ckpt.state.loss_state)?;
        for (reg, saved) in self.regularizers.iter_mut().zip(&ckpt.regularizers) {
            if let Some(state) = &saved.state {
                reg.load_state(state)?;
            }
        }
        for ((_, obs), saved) in self.observers.iter_mut().zip(&ckpt.observers) {
            if let Some(state) = &saved.state {
                obs.load_state(state)?;
            }
        }
        self.mlp.set_params(&ckpt.params)?;
        self.state = ckpt.state.clone();
        self.failed = None;
        Ok(())
    }
}
