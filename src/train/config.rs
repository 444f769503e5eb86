//! The configuration of a run: [`TrainConfig`] and the settings it is made of, validated once.
//!
//! ```
//! use mgs::train::{EarlyStopping, SelectOn, TrainConfig};
//! let config = TrainConfig {
//!     epochs: 50,
//!     batch_size: 32,
//!     select_on: SelectOn::CrossEntropy,
//!     early_stopping: Some(EarlyStopping { patience: 5, min_delta: 0.0, restore_best: true }),
//!     ..TrainConfig::default()
//! };
//! config.check()?;
//! let no_batch = TrainConfig { batch_size: 0, ..config.clone() };
//! assert!(matches!(
//!     no_batch.check(),
//!     Err(mgs::Error::InvalidHyperparameter { name: "batch_size", .. })
//! ));
//! // Round trip through serde, as checkpoints and study records store it.
//! let back: TrainConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
//! assert_eq!(back, config);
//! # Ok::<(), mgs::Error>(())
//! ```

use std::path::PathBuf;

use faer::Par;
use serde::{Deserialize, Serialize};

use super::{LossConfig, Mixup, Optimizer, Schedule, check_dropout_rate};
use crate::{Error, Result};

/// Which loss on the validation set selects the checkpoint (and drives early stopping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SelectOn {
    /// The run's own loss in evaluation mode ([`Evaluation::loss`](super::Evaluation::loss)).
    #[default]
    Loss,
    /// Softmax cross-entropy of the outputs, for class targets: one yardstick for every loss, so
    /// that runs trained with different losses are selected by the same rule.
    CrossEntropy,
}

/// Early stopping: the loop's selection (lowest validation loss) plus a stop after `patience`
/// epochs without an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// Stop after this many epochs (≥ 1) without an improvement.
    pub patience: usize,
    /// An improvement is a validation loss below the best one by more than `min_delta` (≥ 0).
    pub min_delta: f64,
    /// At the end of the run (stopped early or not) put the selected parameters back into the
    /// model.
    pub restore_best: bool,
}

impl EarlyStopping {
    /// Validates the settings.
    pub fn check(&self) -> Result<()> {
        if self.patience == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "early_stopping.patience",
                value: 0.0,
                reason: "must be >= 1",
            });
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "early_stopping.min_delta",
                value: self.min_delta,
                reason: "must be finite and >= 0",
            });
        }
        Ok(())
    }
}

/// Save a checkpoint automatically every `every` epochs and at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoCheckpoint {
    /// The checkpoint file (overwritten atomically each time); its folder must exist when the
    /// trainer is built.
    pub path: PathBuf,
    /// Period in epochs (≥ 1).
    pub every: usize,
}

/// Everything that configures a run. Validated once by [`check`](Self::check) (called by
/// [`Trainer::new`](super::Trainer::new)).
///
/// Serde: an object with the field names below (enum variants by their Rust names, e.g.
/// `"optimizer": {"Adam": {"lr": 0.001, …}}`); missing fields take their [`Default`] values,
/// unknown ones are refused. **`par` is not serialised** ([`faer::Par`] has no serde form):
/// a deserialised configuration has `par: Par::Seq`; set the parallelism after reading it. Like
/// a value written in code, a deserialised configuration is validated by
/// [`Trainer::new`](super::Trainer::new) (or [`check`](Self::check)).
///
/// ```
/// use mgs::faer::Par;
/// use mgs::train::{Mixup, TrainConfig};
/// let config = TrainConfig { epochs: 3, mixup: Some(Mixup::new(0.2)?), par: Par::rayon(2), ..TrainConfig::default() };
/// let text = serde_json::to_string(&config).unwrap();
/// let back: TrainConfig = serde_json::from_str(&text).unwrap();
/// assert_eq!(back, TrainConfig { par: Par::Seq, ..config });
/// let short: TrainConfig = serde_json::from_str(r#"{"epochs": 50, "batch_size": 16}"#).unwrap();
/// assert_eq!((short.epochs, short.batch_size, short.seed), (50, 16, 0));
/// # Ok::<(), mgs::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Total number of epochs `E` of the run (also the horizon of the cosine schedule).
    pub epochs: usize,
    /// Mini-batch size (≥ 1; a size above `N` gives full-batch training).
    pub batch_size: usize,
    /// Drop the last, incomplete batch of each epoch.
    pub drop_last: bool,
    /// The optimiser (its `lr` is the base learning rate).
    pub optimizer: Optimizer,
    /// Per-epoch learning-rate schedule.
    pub schedule: Schedule,
    /// The data loss (a built-in; [`Trainer::with_loss`](super::Trainer::with_loss) takes any
    /// [`Loss`](super::Loss)).
    pub loss: LossConfig,
    /// Seed of the shuffling, dropout, noise, mixup and regulariser generators
    /// ([`TrainRngs`](super::TrainRngs)).
    pub seed: u64,
    /// Dropout rate `p ∈ [0, 1)` on the hidden activations during training (0 = off).
    pub dropout: f64,
    /// Standard deviation (≥ 0) of Gaussian noise added to the training inputs (0 = off).
    pub input_noise_std: f64,
    /// Mixup of the training batches (`None` = off).
    pub mixup: Option<Mixup>,
    /// Which validation loss selects the checkpoint.
    pub select_on: SelectOn,
    /// Early stopping on the selection loss (needs a validation set).
    pub early_stopping: Option<EarlyStopping>,
    /// Automatic checkpoints.
    pub checkpoint: Option<AutoCheckpoint>,
    /// Parallelism for the forward and backward passes and the evaluations (not serialised:
    /// `Par::Seq` when deserialised).
    #[serde(skip, default = "sequential")]
    pub par: Par,
    #[doc(hidden)]
    #[serde(skip)]
    pub non_exhaustive: crate::NonExhaustive,
}

/// The parallelism of a deserialised [`TrainConfig`].
fn sequential() -> Par {
    Par::Seq
}

impl Default for TrainConfig {
    /// 10 epochs, batches of 32, Adam (`lr = 1e-3`), constant rate, softmax cross-entropy,
    /// seed 0, no dropout, noise, mixup or early stopping, selection on the loss, sequential.
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            drop_last: false,
            optimizer: Optimizer::default(),
            schedule: Schedule::Constant,
            loss: LossConfig::default(),
            seed: 0,
            dropout: 0.0,
            input_noise_std: 0.0,
            mixup: None,
            select_on: SelectOn::Loss,
            early_stopping: None,
            checkpoint: None,
            par: Par::Seq,
            non_exhaustive: crate::NonExhaustive::default(),
        }
    }
}

impl TrainConfig {
    /// Validates every hyperparameter.
    pub fn check(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "batch_size",
                value: 0.0,
                reason: "must be >= 1",
            });
        }
        self.optimizer.check()?;
        self.schedule.check_run(self.optimizer.lr(), self.epochs)?;
        self.loss.check()?;
        check_dropout_rate(self.dropout)?;
        if !(self.input_noise_std.is_finite() && self.input_noise_std >= 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "input_noise_std",
                value: self.input_noise_std,
                reason: "must be finite and >= 0",
            });
        }
        if let Some(m) = &self.mixup {
            m.check()?;
        }
        if let Some(es) = &self.early_stopping {
            es.check()?;
        }
        if let Some(ac) = &self.checkpoint {
            if ac.every == 0 {
                return Err(Error::InvalidHyperparameter {
                    name: "checkpoint.every",
                    value: 0.0,
                    reason: "must be >= 1",
                });
            }
            let dir = match ac.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            if !dir.is_dir() {
                let missing = format!("the checkpoint folder {} does not exist", dir.display());
                let e = std::io::Error::new(std::io::ErrorKind::NotFound, missing);
                return Err(Error::io(&ac.path, "", e));
            }
        }
        Ok(())
    }
}
