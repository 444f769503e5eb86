//! Observers: code that watches a run without being part of its step or its loop.
//!
//! An [`Observer`] is called once when the run starts (or resumes), after the epochs its
//! [`ObserveMode`] selects, and once when the run ends. After an epoch it sees the model and the
//! epoch's [`EpochRecord`] (evaluations, penalties, whether the epoch is a new best by the
//! validation loss) and may add measurements to the record (scalar `metrics`, or typed MGS
//! records) and ask the loop to stop. Any number can be attached; they run in the order they were
//! added, so a later observer sees what an earlier one recorded in the same epoch (the
//! [label-free selector](super::MgsSelector) reads the [monitor](super::MgsMonitor)'s records).
//!
//! Closures `FnMut(&Mlp<T>, usize) -> Result<Vec<(String, f64)>>` are observers that record
//! scalar metrics ([`Trainer::with_observer_fn`](super::Trainer::with_observer_fn)); closures
//! `FnMut(&EpochRecord, &Mlp<T>) -> Control` are callbacks
//! ([`Trainer::with_callback`](super::Trainer::with_callback)); [`progress_printer`] prints one
//! line per epoch.
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Control, EpochRecord, ObserveMode, Observation, Observer, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
//!
//! /// Counts the epochs that improved the validation loss.
//! #[derive(Debug, Default)]
//! struct Improvements(usize);
//!
//! impl Observer<f64> for Improvements {
//!     fn on_epoch(&mut self, _: &Observation<'_, f64>, record: &mut EpochRecord) -> mgs::Result<Control> {
//!         self.0 += 1;
//!         record.metrics.push(("improvements".into(), self.0 as f64));
//!         Ok(Control::Continue)
//!     }
//! }
//!
//! let x = Mat::from_fn(24, 2, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
//! let y: Vec<usize> = (0..24).map(|i| usize::from(x[(i, 0)] > x[(i, 1)])).collect();
//! let arch = Architecture::new(2, &[(8, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let config = TrainConfig { epochs: 6, batch_size: 8, ..TrainConfig::default() };
//! let mut counter = Improvements::default();
//! let history = Trainer::new(mlp, config, DatasetView::classification(x.as_ref(), &y)?)?
//!     .with_validation(DatasetView::classification(x.as_ref(), &y)?)?
//!     .with_observer(&mut counter, ObserveMode::NewBest)?
//!     .run()?;
//! let improved = history.epochs.iter().filter(|e| e.new_best).count();
//! assert_eq!(counter.0, improved);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::Par;

use super::{EpochRecord, History};
use crate::{Error, Float, Mlp, Result};

/// What an observer asks the loop to do after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// End the run after this epoch.
    Stop,
}

/// After which epochs an observer's [`on_epoch`](Observer::on_epoch) runs (start and end hooks
/// always run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObserveMode {
    /// After every `k`-th epoch (`k ≥ 1`): epochs `k−1, 2k−1, …` (0-based). `Every(1)` is every
    /// epoch.
    Every(usize),
    /// After epochs whose validation loss (or training loss without a validation set) is a new
    /// best, i.e. whose parameters the loop selects.
    NewBest,
}

impl ObserveMode {
    /// Validates the mode (`Every(0)` is an error).
    pub fn check(&self) -> Result<()> {
        match self {
            ObserveMode::Every(0) => Err(Error::InvalidHyperparameter {
                name: "observe_mode.every",
                value: 0.0,
                reason: "must be >= 1",
            }),
            _ => Ok(()),
        }
    }

    /// Whether an observer in this mode runs after (0-based) `epoch`.
    #[must_use]
    pub fn fires(&self, epoch: usize, new_best: bool) -> bool {
        match *self {
            ObserveMode::Every(k) => k > 0 && (epoch + 1) % k == 0,
            ObserveMode::NewBest => new_best,
        }
    }
}

/// What an observer sees.
#[derive(Debug)]
pub struct Observation<'a, T: Float> {
    /// The model at the current parameters.
    pub mlp: &'a Mlp<T>,
    /// Epochs completed (the epoch just finished is `epochs_done − 1`).
    pub epochs_done: usize,
    /// The history of the completed epochs before this one.
    pub history: &'a History,
    /// Parallelism to use (pass it on; never change faer's global setting).
    pub par: Par,
}

/// Watches a run (see the module documentation).
///
/// An observer with internal state that must survive a checkpoint (e.g. a selection rule's
/// smoothed curve) overrides [`state`](Observer::state) and [`load_state`](Observer::load_state).
pub trait Observer<T: Float> {
    /// Checks, when the observer is attached, that it fits the model (e.g. a probe set's input
    /// width), so that a mismatch fails at once rather than after the first epoch.
    fn check_model(&self, mlp: &Mlp<T>) -> Result<()> {
        let _ = mlp;
        Ok(())
    }

    /// Called once before the first epoch of [`Trainer::run`](super::Trainer::run) or
    /// [`run_for`](super::Trainer::run_for) (also when resuming).
    fn on_start(&mut self, obs: &Observation<'_, T>) -> Result<()> {
        let _ = obs;
        Ok(())
    }

    /// Called after the epochs the observer's mode selects, before the record is appended to the
    /// history; may add to `record` and ask the loop to stop.
    fn on_epoch(&mut self, obs: &Observation<'_, T>, record: &mut EpochRecord) -> Result<Control>;

    /// Called once when the run has ended (all epochs, early stopping or a stop request).
    fn on_end(&mut self, obs: &Observation<'_, T>) -> Result<()> {
        let _ = obs;
        Ok(())
    }

    /// Internal state to store in a checkpoint (`None`, the default, for stateless observers).
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores the state written by [`state`](Observer::state).
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let _ = state;
        Ok(())
    }
}

/// A mutable reference to an observer is one too, so a caller can keep it and inspect it after
/// the run.
impl<T: Float, O: Observer<T> + ?Sized> Observer<T> for &mut O {
    fn check_model(&self, mlp: &Mlp<T>) -> Result<()> {
        (**self).check_model(mlp)
    }

    fn on_start(&mut self, obs: &Observation<'_, T>) -> Result<()> {
        (**self).on_start(obs)
    }

    fn on_epoch(&mut self, obs: &Observation<'_, T>, record: &mut EpochRecord) -> Result<Control> {
        (**self).on_epoch(obs, record)
    }

    fn on_end(&mut self, obs: &Observation<'_, T>) -> Result<()> {
        (**self).on_end(obs)
    }

    fn state(&self) -> Option<serde_json::Value> {
        (**self).state()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        (**self).load_state(state)
    }
}

/// A closure recording named scalar metrics of the model after an epoch.
pub(super) struct MetricsFn<F>(pub(super) F);

impl<T: Float, F> Observer<T> for MetricsFn<F>
where
    F: FnMut(&Mlp<T>, usize) -> Result<Vec<(String, f64)>>,
{
    fn on_epoch(&mut self, obs: &Observation<'_, T>, record: &mut EpochRecord) -> Result<Control> {
        let values = (self.0)(obs.mlp, record.epoch)?;
        record.metrics.extend(values);
        Ok(Control::Continue)
    }
}

/// A callback seeing each epoch's record (with everything earlier observers added).
pub(super) struct CallbackFn<F>(pub(super) F);

impl<T: Float, F> Observer<T> for CallbackFn<F>
where
    F: FnMut(&EpochRecord, &Mlp<T>) -> Control,
{
    fn on_epoch(&mut self, obs: &Observation<'_, T>, record: &mut EpochRecord) -> Result<Control> {
        Ok((self.0)(record, obs.mlp))
    }
}

/// A callback that prints one line per epoch to standard error (progress display is off unless
/// this is added with [`Trainer::with_callback`](super::Trainer::with_callback)).
pub fn progress_printer<T: Float>() -> impl FnMut(&EpochRecord, &Mlp<T>) -> Control {
    |r: &EpochRecord, _: &Mlp<T>| {
        eprintln!("{}", r.summary_line());
        Control::Continue
    }
}
