//! The loop: epochs, learning-rate schedule, evaluation, selection, termination and checkpoint
//! cadence around the training step, with [observers](super::observer) called at the start,
//! after epochs and at the end.
//!
//! A [`Trainer`] owns the model and borrows the data. Each epoch it shuffles the training set with
//! its own seeded generator, cuts it into mini-batches and takes one optimiser step per batch
//! (mixup, input noise, dropout, loss, regularisers, update). At the end of the epoch it evaluates
//! (evaluation mode) on the training, validation and test sets and **selects**: whatever the
//! method, it keeps the parameters of the epoch with the lowest validation loss
//! ([`SelectOn`]: the run's loss or, for a yardstick shared by every loss, the cross-entropy; the
//! training loss when there is no validation set) and records the epoch with the highest validation
//! accuracy. Early stopping is that selection plus a stop after `patience` epochs without
//! improvement. Then the observers run (in the order added), the record is appended to the
//! [`History`], and the automatic checkpoint is saved if one is due.
//!
//! **Determinism.** Shuffling, dropout masks, input noise, mixup and regularisers draw from five
//! generators derived from `seed` ([`TrainRngs`]), always sequentially; all parallel work goes
//! through the explicit `par` in fixed sample blocks. The same seed gives the same history and
//! parameters bit for bit, whatever the number of rayon threads.
//!
//! **Errors and divergence.** A non-finite loss, penalty, gradient or updated parameter vector
//! stops the run with [`Error::Diverged`] `{ epoch, step, what }` (`what` is `"loss"`,
//! `"penalty"`, `"gradient"` or `"parameters"`). The model then holds the (finite) parameters
//! from before the failing step, [`Trainer::selected`] the selected parameters so far (at least
//! the initial ones), and [`Trainer::history`] the completed epochs. Any error raised during an
//! epoch leaves the trainer failed: later calls to [`Trainer::run`] return the same error
//! ([`Trainer::error`]).
//!
//! ```
//! use faer::Mat;
//! use mgs::DatasetView;
//! use mgs::train::{Optimizer, Sgd, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! // Two classes on either side of x₀ + x₁ = 0.
//! let x = Mat::from_fn(40, 2, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
//! let labels: Vec<usize> = (0..40).map(|i| usize::from(x[(i, 0)] + x[(i, 1)] > 0.0)).collect();
//! let arch = Architecture::new(2, &[(16, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let config = TrainConfig {
//!     epochs: 30,
//!     batch_size: 8,
//!     optimizer: Optimizer::Sgd(Sgd { lr: 0.3, momentum: 0.9, ..Sgd::default() }),
//!     ..TrainConfig::default()
//! };
//! let mut trainer = Trainer::new(mlp, config, DatasetView::classification(x.as_ref(), &labels)?)?
//!     .with_observer_fn(|mlp, _epoch| {
//!         let norm = mlp.params().iter().map(|p| p * p).sum::<f64>().sqrt();
//!         Ok(vec![("param_norm".to_string(), norm)])
//!     });
//! let history = trainer.run()?;
//! assert_eq!(history.epochs.len(), 30);
//! assert!(history.epochs[29].train.loss < history.epochs[0].train.loss);
//! assert_eq!(history.epochs[29].metrics[0].0, "param_norm");
//! // Last epoch and selected epoch side by side.
//! let summary = history.summary().unwrap();
//! assert_eq!(summary.last.epoch, Some(29));
//! assert!(summary.selected.train.unwrap().loss <= summary.last.train.unwrap().loss);
//! # Ok::<(), mgs::Error>(())
//! ```

use std::time::Instant;

use faer::{Mat, MatRef};
use rand::seq::SliceRandom;
use rand_distr::Normal;

use super::evaluate::evaluate_checked;
use super::observer::{CallbackFn, MetricsFn};
use super::step::{StepAt, StepParts, StepSettings, TrainStep};
use super::{
    Control, EpochRecord, Evaluation, History, Loss, Observation, ObserveMode, Observer,
    OptimizerState, Regularizer, RunState, SelectOn, Selected, TrainConfig, TrainRngs, evaluate,
};
use crate::data::DatasetView;
use crate::{Error, Float, Mlp, Result};

/// An observer with the mode that says when it runs.
type Attached<'a, T> = (ObserveMode, Box<dyn Observer<T> + 'a>);

/// Trains an [`Mlp`] on borrowed data (see the module documentation).
pub struct Trainer<'a, T: Float> {
    pub(super) mlp: Mlp<T>,
    pub(super) config: TrainConfig,
    pub(super) loss: Box<dyn Loss<T> + 'a>,
    train: DatasetView<'a, T>,
    val: Option<DatasetView<'a, T>>,
    test: Option<DatasetView<'a, T>>,
    pub(super) regularizers: Vec<Box<dyn Regularizer<T> + 'a>>,
    pub(super) observers: Vec<Attached<'a, T>>,
    step: TrainStep<T>,
    pub(super) state: RunState<T>,
    pub(super) failed: Option<Error>,
}

impl<T: Float> std::fmt::Debug for Trainer<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("loss", &self.loss.name())
            .field("epoch", &self.state.epoch)
            .field("n_params", &self.mlp.n_params())
            .field("n_train", &self.train.len())
            .field("regularizers", &self.regularizer_names())
            .field("observers", &self.observers.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Float> Trainer<'a, T> {
    /// A trainer for `mlp` on `train` (checked against the model and the loss); `config` is
    /// validated here.
    ///
    /// `train`, like the validation and test sets, is a [`DatasetView`] or anything that
    /// converts into one: `&dataset` for an owned [`Dataset`](crate::data::Dataset) and an
    /// `f64` model (borrowed, nothing copied), `&cast` for a
    /// [`CastDataset`](crate::data::CastDataset) (e.g. `dataset.cast::<f32>()?`), or a view
    /// of the caller's own matrices ([`DatasetView::classification`]).
    pub fn new(
        mlp: Mlp<T>,
        config: TrainConfig,
        train: impl Into<DatasetView<'a, T>>,
    ) -> Result<Self> {
        let train = train.into();
        config.check()?;
        let loss = config.loss.build::<T>()?;
        let noise = if config.input_noise_std > 0.0 {
            Some(Normal::new(0.0, config.input_noise_std).map_err(|_| {
                Error::InvalidHyperparameter {
                    name: "input_noise_std",
                    value: config.input_noise_std,
                    reason: "must be finite and >= 0",
                }
            })?)
        } else {
            None
        };
        let settings = StepSettings {
            dropout: config.dropout,
            noise,
            mixup: config.mixup,
            par: config.par,
        };
        let state = RunState::fresh(config.optimizer.init_state(mlp.n_params()), config.seed);
        let mut trainer = Self {
            step: TrainStep::new(mlp.n_params(), settings),
            mlp,
            config,
            loss: Box::new(super::CrossEntropy::new(0.0)?),
            train,
            val: None,
            test: None,
            regularizers: Vec::new(),
            observers: Vec::new(),
            state,
            failed: None,
        };
        trainer.set_loss(loss)?;
        Ok(trainer)
    }

    /// Replaces the configured loss by `loss` (any [`Loss`], e.g. a user's own).
    pub fn with_loss(mut self, loss: impl Loss<T> + 'a) -> Result<Self> {
        self.set_loss(Box::new(loss))?;
        Ok(self)
    }

    fn set_loss(&mut self, mut loss: Box<dyn Loss<T> + 'a>) -> Result<()> {
        if self.state.epoch > 0 {
            return Err(Error::InvalidState {
                what: "trainer",
                reason: format!(
                    "the loss cannot change once training has started (epoch {})",
                    self.state.epoch
                ),
            });
        }
        self.train
            .check_model("training inputs", self.mlp.arch(), loss.as_ref())?;
        for (what, set) in [
            ("validation inputs", &self.val),
            ("test inputs", &self.test),
        ] {
            if let Some(d) = set {
                d.check_model(what, self.mlp.arch(), loss.as_ref())?;
            }
        }
        loss.prepare(self.train.len(), self.mlp.arch().output_dim())?;
        if self.config.select_on == SelectOn::CrossEntropy
            && self.train.targets().classes().is_none()
        {
            return Err(Error::Incompatible {
                what: "selection and targets",
                reason: "selection on the cross-entropy needs class labels",
            });
        }
        self.state.loss_state = loss.state();
        self.loss = loss;
        Ok(())
    }

    /// Adds a validation set (evaluated every epoch; drives the selection and early stopping).
    pub fn with_validation(mut self, val: impl Into<DatasetView<'a, T>>) -> Result<Self> {
        let val = val.into();
        val.check_model("validation inputs", self.mlp.arch(), self.loss.as_ref())?;
        self.val = Some(val);
        Ok(self)
    }

    /// Adds a test set (evaluated every epoch, never used for decisions).
    pub fn with_test(mut self, test: impl Into<DatasetView<'a, T>>) -> Result<Self> {
        let test = test.into();
        test.check_model("test inputs", self.mlp.arch(), self.loss.as_ref())?;
        self.test = Some(test);
        Ok(self)
    }

    /// Adds a regulariser; names must be unique and non-empty.
    pub fn with_regularizer(mut self, reg: impl Regularizer<T> + 'a) -> Result<Self> {
        let name = reg.name();
        if name.is_empty() {
            return Err(Error::InvalidHyperparameter {
                name: "regularizer name",
                value: 0.0,
                reason: "must not be empty (the value is its length)",
            });
        }
        if self.regularizers.iter().any(|r| r.name() == name) {
            return Err(Error::Incompatible {
                what: "regularizer",
                reason: "another regulariser of the trainer has the same name",
            });
        }
        self.regularizers.push(Box::new(reg));
        Ok(self)
    }

    /// Adds an observer, run after the epochs `mode` selects (after those added before it).
    pub fn with_observer(
        mut self,
        observer: impl Observer<T> + 'a,
        mode: ObserveMode,
    ) -> Result<Self> {
        mode.check()?;
        observer.check_model(&self.mlp)?;
        self.observers.push((mode, Box::new(observer)));
        Ok(self)
    }

    /// Adds a closure that records named scalar metrics of the model after every epoch.
    #[must_use]
    pub fn with_observer_fn(
        mut self,
        f: impl FnMut(&Mlp<T>, usize) -> Result<Vec<(String, f64)>> + 'a,
    ) -> Self {
        self.observers
            .push((ObserveMode::Every(1), Box::new(MetricsFn(f))));
        self
    }

    /// Adds a callback, called after every epoch with its record and the model; returning
    /// [`Control::Stop`] ends the run.
    #[must_use]
    pub fn with_callback(mut self, f: impl FnMut(&EpochRecord, &Mlp<T>) -> Control + 'a) -> Self {
        self.observers
            .push((ObserveMode::Every(1), Box::new(CallbackFn(f))));
        self
    }

    /// The model at the current parameters.
    #[must_use]
    pub fn model(&self) -> &Mlp<T> {
        &self.mlp
    }

    /// Consumes the trainer, returning the model.
    #[must_use]
    pub fn into_model(self) -> Mlp<T> {
        self.mlp
    }

    /// The training set (as given, borrowed: for an owned dataset, a view of its buffers).
    #[must_use]
    pub fn train_set(&self) -> DatasetView<'a, T> {
        self.train
    }

    /// The validation set, if one was added.
    #[must_use]
    pub fn validation_set(&self) -> Option<DatasetView<'a, T>> {
        self.val
    }

    /// The test set, if one was added.
    #[must_use]
    pub fn test_set(&self) -> Option<DatasetView<'a, T>> {
        self.test
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The loss.
    #[must_use]
    pub fn loss(&self) -> &dyn Loss<T> {
        self.loss.as_ref()
    }

    /// The history so far.
    #[must_use]
    pub fn history(&self) -> &History {
        &self.state.history
    }

    /// The run's state (what a checkpoint stores besides the parameters).
    #[must_use]
    pub fn state(&self) -> &RunState<T> {
        &self.state
    }

    /// Number of epochs completed.
    #[must_use]
    pub fn epoch(&self) -> usize {
        self.state.epoch
    }

    /// True once the run has ended (all epochs done, early stopping, or a stop request).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.state.finished || self.state.epoch >= self.config.epochs
    }

    /// The selected checkpoint so far (`None` before the first run).
    #[must_use]
    pub fn selected(&self) -> Option<&Selected<T>> {
        self.state.selected.as_ref()
    }

    /// The selected flat parameters so far (always finite; `None` before the first run).
    #[must_use]
    pub fn selected_params(&self) -> Option<&[T]> {
        self.state.selected.as_ref().map(|b| b.params.as_slice())
    }

    /// The optimiser's state.
    #[must_use]
    pub fn optimizer_state(&self) -> &OptimizerState<T> {
        &self.state.optimizer
    }

    /// The generators' current state.
    #[must_use]
    pub fn rngs(&self) -> &TrainRngs {
        &self.state.rngs
    }

    /// The error that ended the run, if one did.
    #[must_use]
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// Names of the regularisers, in the order they are applied.
    #[must_use]
    pub fn regularizer_names(&self) -> Vec<String> {
        self.regularizers
            .iter()
            .map(|r| r.name().to_string())
            .collect()
    }

    /// Evaluates the current model on `data` (evaluation mode; checked against the model and
    /// the loss).
    pub fn evaluate<'b>(&self, data: impl Into<DatasetView<'b, T>>) -> Result<Evaluation> {
        evaluate(&self.mlp, data, self.loss.as_ref(), self.config.par)
    }

    /// Evaluates the current model on one of the trainer's own sets (checked when added).
    fn evaluate_set(&self, data: &DatasetView<'_, T>) -> Result<Evaluation> {
        evaluate_checked(&self.mlp, data, self.loss.as_ref(), self.config.par)
    }

    /// The current model's outputs on `x` (evaluation mode: no dropout).
    pub fn predict(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        self.mlp.forward(x, self.config.par)
    }

    /// Runs the remaining epochs (until `config.epochs`, early stopping or a stop request) and
    /// returns the whole history.
    pub fn run(&mut self) -> Result<History> {
        self.run_for(usize::MAX)
    }

    /// Runs at most `max_epochs` more epochs (then one may checkpoint, and resume later with the
    /// same result as an uninterrupted run).
    pub fn run_for(&mut self, max_epochs: usize) -> Result<History> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.run_epochs(max_epochs);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result.map(|()| self.state.history.clone())
    }

    fn run_epochs(&mut self, max_epochs: usize) -> Result<()> {
        if let (Some(_), None) = (&self.config.early_stopping, &self.val) {
            return Err(Error::Incompatible {
                what: "early stopping",
                reason: "early stopping needs a validation set",
            });
        }
        if self.state.selected.is_none() {
            let initial = self.evaluate_set(self.val.as_ref().unwrap_or(&self.train))?;
            self.state.selected = Some(Selected {
                epoch: None,
                loss: self.selection_loss(&initial),
                params: self.mlp.params().to_vec(),
            });
        }
        if self.is_finished() {
            return Ok(());
        }
        self.notify(|o, obs| o.on_start(obs))?;
        for _ in 0..max_epochs {
            if self.is_finished() {
                break;
            }
            self.run_epoch()?;
        }
        if self.is_finished() {
            if let (Some(es), Some(sel)) = (&self.config.early_stopping, &self.state.selected) {
                if es.restore_best {
                    self.mlp.set_params(&sel.params)?;
                }
            }
            self.notify(|o, obs| o.on_end(obs))?;
        }
        Ok(())
    }

    /// Calls `f` on every observer (start and end hooks).
    fn notify(
        &mut self,
        mut f: impl FnMut(&mut dyn Observer<T>, &Observation<'_, T>) -> Result<()>,
    ) -> Result<()> {
        let obs = Observation {
            mlp: &self.mlp,
            epochs_done: self.state.epoch,
            history: &self.state.history,
            par: self.config.par,
        };
        for (_, o) in &mut self.observers {
            f(o.as_mut(), &obs)?;
        }
        Ok(())
    }

    fn run_epoch(&mut self) -> Result<()> {
        let start = Instant::now();
        let epoch = self.state.epoch;
        let cfg = &self.config;
        let lr = cfg.schedule.lr(cfg.optimizer.lr(), epoch, cfg.epochs);
        let (train_loss, penalties) = self.train_epoch(epoch, lr)?;
        let (train, val, test) = self.evaluate_sets()?;
        let mut record = EpochRecord {
            epoch,
            lr,
            train_loss,
            train,
            val,
            test,
            new_best: false,
            penalties,
            metrics: Vec::new(),
            mgs: Vec::new(),
            wall_time_s: 0.0,
        };
        let mut stop = self.select(&mut record);
        if self.observe(&mut record)? && stop.is_none() {
            stop = Some(format!("stopped by an observer after epoch {epoch}"));
        }
        record.wall_time_s = start.elapsed().as_secs_f64();
        self.state.history.epochs.push(record);
        self.state.epoch += 1;
        self.state.loss_state = self.loss.state();
        if let Some(reason) = stop {
            self.state.finished = true;
            self.state.history.stopped = Some(reason);
        }
        if let Some(ac) = &self.config.checkpoint {
            if self.is_finished() || self.state.epoch % ac.every == 0 {
                self.save_checkpoint(&ac.path)?;
            }
        }
        Ok(())
    }

    /// One pass over the shuffled training set; returns the mean training-mode loss and each
    /// regulariser's mean penalty.
    fn train_epoch(&mut self, epoch: usize, lr: f64) -> Result<(f64, Vec<(String, f64)>)> {
        let n = self.train.len();
        let batch_size = self.config.batch_size.min(n);
        let n_batches = if self.config.drop_last {
            n / batch_size
        } else {
            n.div_ceil(batch_size)
        };
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut self.state.rngs.shuffle);
        let mut penalty_sums = vec![0.0f64; self.regularizers.len()];
        let mut parts = StepParts {
            loss: self.loss.as_mut(),
            regularizers: &mut self.regularizers,
            optimizer: &self.config.optimizer,
            optimizer_state: &mut self.state.optimizer,
            rngs: &mut self.state.rngs,
        };
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for step in 0..n_batches {
            let idx = &perm[step * batch_size..((step + 1) * batch_size).min(n)];
            let at = StepAt { epoch, step, lr };
            let loss = self.step.next_step(
                &mut self.mlp,
                &mut parts,
                &self.train,
                idx,
                at,
                &mut penalty_sums,
            )?;
            loss_sum += loss * idx.len() as f64;
            seen += idx.len();
        }
        let penalties = self
            .regularizers
            .iter()
            .zip(&penalty_sums)
            .map(|(r, s)| (r.name().to_string(), s / n_batches.max(1) as f64))
            .collect();
        let mean = if seen > 0 {
            loss_sum / seen as f64
        } else {
            f64::NAN
        };
        Ok((mean, penalties))
    }

    /// Evaluations on the training, validation and test sets.
    fn evaluate_sets(&self) -> Result<(Evaluation, Option<Evaluation>, Option<Evaluation>)> {
        let eval = |d: &DatasetView<'_, T>| self.evaluate_set(d);
        let train = eval(&self.train)?;
        let val = self.val.as_ref().map(eval).transpose()?;
        let test = self.test.as_ref().map(eval).transpose()?;
        Ok((train, val, test))
    }

    /// The loss that ranks parameters, by [`SelectOn`], from the evaluation of the validation set
    /// (the training set's without one).
    fn selection_loss(&self, e: &Evaluation) -> f64 {
        match self.config.select_on {
            SelectOn::Loss => e.loss,
            SelectOn::CrossEntropy => e.cross_entropy.unwrap_or(f64::NAN),
        }
    }

    /// Updates the selection with this epoch; returns the early-stopping reason if it fires.
    fn select(&mut self, record: &mut EpochRecord) -> Option<String> {
        let epoch = record.epoch;
        let loss = self.selection_loss(record.val.as_ref().unwrap_or(&record.train));
        let min_delta = self.config.early_stopping.map_or(0.0, |es| es.min_delta);
        let best = match &self.state.selected {
            Some(b) if !b.loss.is_nan() => b.loss,
            _ => f64::INFINITY,
        };
        if loss < best - min_delta {
            // Reuses the selection's buffer (set before the first epoch).
            match &mut self.state.selected {
                Some(sel) => {
                    sel.epoch = Some(epoch);
                    sel.loss = loss;
                    sel.params.copy_from_slice(self.mlp.params());
                }
                None => {
                    self.state.selected = Some(Selected {
                        epoch: Some(epoch),
                        loss,
                        params: self.mlp.params().to_vec(),
                    })
                }
            }
            self.state.since_improvement = 0;
            self.state.history.selected_epoch = Some(epoch);
            record.new_best = true;
        } else {
            self.state.since_improvement += 1;
        }
        if let Some(acc) = record.val.and_then(|v| v.accuracy) {
            if self.state.best_accuracy.is_none_or(|b| acc > b) {
                self.state.best_accuracy = Some(acc);
                self.state.history.best_accuracy_epoch = Some(epoch);
            }
        }
        let es = self.config.early_stopping?;
        (self.state.since_improvement >= es.patience).then(|| {
            format!(
                "early stopping after epoch {epoch}: no improvement of the selection loss larger \
                 than {min_delta:e} in {} epochs",
                es.patience
            )
        })
    }

    /// Runs the observers due after this epoch; true if one asked to stop.
    fn observe(&mut self, record: &mut EpochRecord) -> Result<bool> {
        let obs = Observation {
            mlp: &self.mlp,
            epochs_done: self.state.epoch + 1,
            history: &self.state.history,
            par: self.config.par,
        };
        let mut stop = false;
        for (mode, o) in &mut self.observers {
            if mode.fires(record.epoch, record.new_best) {
                stop |= o.on_epoch(&obs, record)? == Control::Stop;
            }
        }
        Ok(stop)
    }
}
