//! The state of a run between two epochs, as a value: what a checkpoint persists.
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{TrainConfig, TrainRngs, Trainer};
//! use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(12, 2, |i, j| ((i * 3 + j) % 5) as f64 - 2.0);
//! let y: Vec<usize> = (0..12).map(|i| i % 2).collect();
//! let arch = Architecture::new(2, &[(4, Activation::Tanh)], 2)?;
//! let mlp = Mlp::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let config = TrainConfig { epochs: 5, batch_size: 4, seed: 9, ..TrainConfig::default() };
//! let mut t = Trainer::new(mlp, config, DatasetView::classification(x.as_ref(), &y)?)?;
//! assert_eq!(t.state().rngs, TrainRngs::from_seed(9)); // nothing drawn yet
//! t.run_for(2)?;
//! let state = t.state();
//! assert_eq!((state.epoch, state.history.epochs.len()), (2, 2));
//! assert_ne!(state.rngs, TrainRngs::from_seed(9)); // the shuffles drew from their stream
//! # Ok::<(), mgs::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::{History, OptimizerState, json};
use crate::{Error, Float, MgsRng, Result, rng_from_seed};

/// The trainer's random generators, one stream per purpose, all derived from the seed, so that
/// turning dropout on does not change the batch order (and so on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRngs {
    /// Shuffles the training set each epoch.
    pub shuffle: MgsRng,
    /// Draws dropout masks.
    pub dropout: MgsRng,
    /// Draws input noise.
    pub noise: MgsRng,
    /// Handed to regularisers ([`StepContext::rng`](super::StepContext::rng)).
    pub regularizer: MgsRng,
    /// Draws mixup weights and partners.
    pub mixup: MgsRng,
}

impl TrainRngs {
    /// The five streams for `seed`: seeds drawn in turn from `rng_from_seed(seed)` (the first
    /// four are the streams of earlier versions, unchanged).
    #[must_use]
    pub fn from_seed(seed: u64) -> Self {
        let mut master = rng_from_seed(seed);
        let mut next = || rng_from_seed(rand::Rng::next_u64(&mut master));
        Self {
            shuffle: next(),
            dropout: next(),
            noise: next(),
            regularizer: next(),
            mixup: next(),
        }
    }

    /// Rejects degenerate generator states: an all-zero xoshiro state only ever yields zeros
    /// (the same "shuffle" forever, a hang in rejection samplers).
    pub fn validate(&self) -> Result<()> {
        for (what, rng) in [
            ("shuffle", &self.shuffle),
            ("dropout", &self.dropout),
            ("noise", &self.noise),
            ("regularizer", &self.regularizer),
            ("mixup", &self.mixup),
        ] {
            let mut probe = rng.clone();
            // A valid state yields four zero words in a row with probability 2⁻²⁵⁶.
            if (0..4).all(|_| rand::Rng::next_u64(&mut probe) == 0) {
                return Err(Error::Format {
                    reason: format!("the {what} generator's state is all zeros"),
                });
            }
        }
        Ok(())
    }
}

/// The loop's selected checkpoint: the parameters of the epoch with the lowest selection loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Selected<T: Float> {
    /// Epoch after which they were reached; `None` for the initial parameters.
    pub epoch: Option<usize>,
    /// Their selection loss.
    #[serde(with = "json::f64")]
    pub loss: f64,
    /// The flat parameters.
    #[serde(with = "json::vec")]
    pub params: Vec<T>,
}

/// Everything that changes during a run, between epochs: with the model's parameters, what a
/// checkpoint stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RunState<T: Float> {
    /// Epochs completed.
    pub epoch: usize,
    /// The optimiser's state.
    pub optimizer: OptimizerState<T>,
    /// The generators.
    pub rngs: TrainRngs,
    /// The selected checkpoint (`None` before the first run).
    pub selected: Option<Selected<T>>,
    /// Highest validation accuracy so far (class targets).
    pub best_accuracy: Option<f64>,
    /// Epochs since the selection last improved.
    pub since_improvement: usize,
    /// The run ended before its configured epochs (early stopping or a stop request).
    pub finished: bool,
    /// The history so far.
    pub history: History,
    /// The loss's state ([`Loss::state`](super::Loss::state)); empty for stateless losses.
    #[serde(with = "json::vec")]
    pub loss_state: Vec<f64>,
}

impl<T: Float> RunState<T> {
    /// The state before the first epoch.
    pub(crate) fn fresh(optimizer: OptimizerState<T>, seed: u64) -> Self {
        Self {
            epoch: 0,
            optimizer,
            rngs: TrainRngs::from_seed(seed),
            selected: None,
            best_accuracy: None,
            since_improvement: 0,
            finished: false,
            history: History::default(),
            loss_state: Vec::new(),
        }
    }

    /// Checks the state's internal consistency for a model with `n_params` parameters (the
    /// optimiser state is checked by the optimiser).
    pub fn validate(&self, n_params: usize) -> Result<()> {
        self.rngs.validate()?;
        if let Some(sel) = &self.selected {
            if sel.params.len() != n_params {
                return Err(Error::ShapeMismatch {
                    what: "selected parameters",
                    expected: (n_params, 1),
                    found: (sel.params.len(), 1),
                });
            }
            crate::error::check_finite("selected parameters", &sel.params)?;
            if sel.epoch.is_some_and(|e| e >= self.epoch) {
                return Err(Error::Format {
                    reason: format!(
                        "inconsistent run state: selected epoch {:?} of {} completed",
                        sel.epoch, self.epoch
                    ),
                });
            }
        }
        if self.history.epochs.len() != self.epoch
            || self
                .history
                .epochs
                .iter()
                .enumerate()
                .any(|(i, e)| e.epoch != i)
        {
            return Err(Error::Format {
                reason: format!(
                    "inconsistent run state: epoch {} but {} history records",
                    self.epoch,
                    self.history.epochs.len()
                ),
            });
        }
        if self.history.selected_epoch != self.selected.as_ref().and_then(|s| s.epoch) {
            return Err(Error::Format {
                reason: "inconsistent run state: the history's selected epoch differs from the \
                         selected checkpoint's"
                    .into(),
            });
        }
        Ok(())
    }
}
