//! The training loop: configuration, mini-batches, evaluation, monitoring, early stopping.
//!
//! A [`Trainer`] owns the model and borrows the data. Each epoch it shuffles the training set
//! with its own seeded generator, cuts it into mini-batches, and for every batch:
//!
//! 1. adds Gaussian input noise (if `input_noise_std > 0`);
//! 2. runs the forward pass, with dropout on the hidden activations if `dropout > 0`
//!    ([`DropoutPass`]);
//! 3. computes the data loss (with label smoothing if configured) and its gradient (VJP);
//! 4. calls every [`Regularizer`] (clean batch inputs), which add their gradients;
//! 5. checks loss, penalties and gradient for finiteness, takes the optimiser step with the
//!    epoch's scheduled learning rate, and checks the new parameters.
//!
//! At the end of the epoch it evaluates (no dropout, noise or smoothing) on the whole training
//! set, the validation set and the test set, calls the [`Monitor`] every `monitor_every` epochs,
//! tracks the best parameters, applies early stopping, appends an [`EpochRecord`] to the
//! [`History`], saves the automatic checkpoint if configured, and calls the user callbacks.
//!
//! **Determinism.** Shuffling, dropout masks, input noise and regularisers draw from four
//! generators derived from `seed` ([`TrainRngs`]), always sequentially; all parallel work goes
//! through the explicit `par` in fixed sample blocks. The same seed gives the same history and
//! parameters bit for bit, whatever the number of rayon threads.
//!
//! **Errors and divergence.** A non-finite loss, penalty, gradient or updated parameter vector
//! stops the run with [`Error::Diverged`] `{ epoch, step, what }` (`what` is `"loss"`,
//! `"penalty"`, `"gradient"` or `"parameters"`). The model then holds the (finite) parameters
//! from before the failing step, [`Trainer::best_params`] the best parameters seen so far (at
//! least the initial ones), and [`Trainer::history`] the completed epochs. Any error raised
//! during an epoch leaves the trainer failed: later calls to [`Trainer::run`] return the same
//! error ([`Trainer::error`]).
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Dataset, Optimizer, Sgd, TrainConfig, Trainer};
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
//! let mut trainer = Trainer::new(mlp, config, Dataset::classification(x.as_ref(), &labels)?)?
//!     .with_monitor_fn(|mlp, _epoch| {
//!         let norm = mlp.params().iter().map(|p| p * p).sum::<f64>().sqrt();
//!         Ok(vec![("param_norm".to_string(), norm)])
//!     });
//! let history = trainer.run()?;
//! assert_eq!(history.epochs.len(), 30);
//! assert!(history.epochs[29].train.loss < history.epochs[0].train.loss);
//! assert_eq!(history.epochs[29].metrics[0].0, "param_norm");
//! # Ok::<(), mgs::Error>(())
//! ```

use std::path::PathBuf;
use std::time::Instant;

use faer::{Mat, MatRef, Par};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use super::data::Batch;
use super::history::{EpochRecord, Evaluation, History};
use super::{
    Dataset, DropoutPass, Loss, LossConfig, Optimizer, OptimizerState, Regularizer, Schedule,
    StepContext, Targets, accuracy, check_dropout_rate, json,
};
use crate::derivatives::vjp_into;
use crate::{Error, Float, ForwardCache, MgsRng, Mlp, Result, rng_from_seed};

/// Early stopping on the validation loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    /// Stop after this many epochs (≥ 1) without an improvement.
    pub patience: usize,
    /// An improvement is a validation loss below the best one by more than `min_delta` (≥ 0);
    /// the best parameters are the ones at the last improvement.
    pub min_delta: f64,
    /// At the end of the run (stopped early or not) put the best parameters back into the model.
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
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCheckpoint {
    /// The checkpoint file (overwritten atomically each time).
    pub path: PathBuf,
    /// Period in epochs (≥ 1).
    pub every: usize,
}

/// Everything that configures a run. Validated once by [`check`](Self::check) (called by
/// [`Trainer::new`]).
#[derive(Debug, Clone, PartialEq)]
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
    /// The data loss (label smoothing: [`LossConfig::CrossEntropy`]).
    pub loss: LossConfig,
    /// Seed of the shuffling, dropout, noise and regulariser generators ([`TrainRngs`]).
    pub seed: u64,
    /// Dropout rate `p ∈ [0, 1)` on the hidden activations during training (0 = off).
    pub dropout: f64,
    /// Standard deviation (≥ 0) of Gaussian noise added to the training inputs (0 = off).
    pub input_noise_std: f64,
    /// Early stopping on the validation loss (needs a validation set).
    pub early_stopping: Option<EarlyStopping>,
    /// Call the monitor after every `monitor_every`-th epoch (0 = never).
    pub monitor_every: usize,
    /// Automatic checkpoints.
    pub checkpoint: Option<AutoCheckpoint>,
    /// Parallelism for the forward and backward passes and the evaluations.
    pub par: Par,
}

impl Default for TrainConfig {
    /// 10 epochs, batches of 32, Adam (`lr = 1e-3`), constant rate, softmax cross-entropy,
    /// seed 0, no dropout, noise, smoothing or early stopping, monitor every epoch, sequential.
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
            early_stopping: None,
            monitor_every: 1,
            checkpoint: None,
            par: Par::Seq,
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
        self.schedule.check(self.optimizer.lr())?;
        check_dropout_rate(self.dropout)?;
        if !(self.input_noise_std.is_finite() && self.input_noise_std >= 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "input_noise_std",
                value: self.input_noise_std,
                reason: "must be finite and >= 0",
            });
        }
        self.loss.check()?;
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
        }
        Ok(())
    }
}

/// The trainer's random generators, one stream per purpose, all derived from the seed, so that
/// turning dropout on does not change the batch order (and so on). Part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRngs {
    /// Shuffles the training set each epoch.
    pub shuffle: MgsRng,
    /// Draws dropout masks.
    pub dropout: MgsRng,
    /// Draws input noise.
    pub noise: MgsRng,
    /// Handed to regularisers ([`StepContext::rng`]).
    pub regularizer: MgsRng,
}

impl TrainRngs {
    /// The four streams for `seed`: seeds drawn in turn from `rng_from_seed(seed)`.
    pub fn from_seed(seed: u64) -> Self {
        let mut master = rng_from_seed(seed);
        let mut next = || rng_from_seed(master.next_u64());
        Self {
            shuffle: next(),
            dropout: next(),
            noise: next(),
            regularizer: next(),
        }
    }
}

/// The best parameters seen, by the monitored loss (validation loss if a validation set was
/// given, else the evaluated training loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Best<T: Float> {
    /// Epoch after which they were reached; `None` for the initial parameters.
    pub epoch: Option<usize>,
    /// Their monitored loss.
    #[serde(with = "json::f64")]
    pub loss: f64,
    /// The flat parameters.
    #[serde(with = "json::vec")]
    pub params: Vec<T>,
}

/// What a callback asks the trainer to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// End the run after this epoch.
    Stop,
}

/// A periodic measurement of the model (e.g. MGS metrics), recorded in the history.
///
/// Closures `FnMut(&Mlp<T>, usize) -> Result<Vec<(String, f64)>>` implement it (see also
/// [`Trainer::with_monitor_fn`], which infers the closure's argument types).
pub trait Monitor<T: Float> {
    /// Named metrics of `mlp` after (0-based) `epoch`.
    fn observe(&mut self, mlp: &Mlp<T>, epoch: usize) -> Result<Vec<(String, f64)>>;
}

impl<T: Float, F> Monitor<T> for F
where
    F: FnMut(&Mlp<T>, usize) -> Result<Vec<(String, f64)>>,
{
    fn observe(&mut self, mlp: &Mlp<T>, epoch: usize) -> Result<Vec<(String, f64)>> {
        self(mlp, epoch)
    }
}

type Callback<'a, T> = Box<dyn FnMut(&EpochRecord, &Mlp<T>) -> Control + 'a>;

/// The state of a run between epochs (all of it goes into a checkpoint).
#[derive(Debug, Clone)]
pub(super) struct RunState<T: Float> {
    /// Epochs completed.
    pub(super) epoch: usize,
    pub(super) optimizer: OptimizerState<T>,
    pub(super) rngs: TrainRngs,
    pub(super) best: Option<Best<T>>,
    pub(super) since_improvement: usize,
    /// Ended before `epochs` (early stopping or a callback).
    pub(super) finished: bool,
    pub(super) history: History,
}

/// Trains an [`Mlp`] on borrowed data (see the module documentation).
pub struct Trainer<'a, T: Float> {
    pub(super) mlp: Mlp<T>,
    pub(super) config: TrainConfig,
    train: Dataset<'a, T>,
    val: Option<Dataset<'a, T>>,
    test: Option<Dataset<'a, T>>,
    pub(super) loss: Box<dyn Loss<T>>,
    pub(super) regularizers: Vec<Box<dyn Regularizer<T> + 'a>>,
    monitor: Option<Box<dyn Monitor<T> + 'a>>,
    callbacks: Vec<Callback<'a, T>>,
    pub(super) state: RunState<T>,
    pub(super) failed: Option<Error>,
}

impl<T: Float> std::fmt::Debug for Trainer<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("epoch", &self.state.epoch)
            .field("n_params", &self.mlp.n_params())
            .field("n_train", &self.train.len())
            .field("regularizers", &self.regularizer_names())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Rows per forward pass in [`evaluate`] (bounds its memory).
const EVAL_ROWS: usize = 4096;

/// Loss and accuracy of `mlp` on `data` in evaluation mode (no dropout, noise or label
/// smoothing, [`Loss::evaluate`]). Sets larger than 4096 rows are evaluated in blocks of 4096
/// rows (bounded memory) and the block losses averaged with their row counts; smaller sets give
/// exactly `loss.evaluate(mlp.forward(x), targets)`.
pub fn evaluate<T: Float>(
    mlp: &Mlp<T>,
    data: &Dataset<'_, T>,
    loss: &dyn Loss<T>,
    par: Par,
) -> Result<Evaluation> {
    data.check_model("inputs", mlp.arch(), loss)?;
    let n = data.len();
    let x = data.inputs();
    let (mut loss_sum, mut correct) = (0.0f64, 0.0f64);
    let mut last_loss = 0.0f64;
    let mut start = 0;
    while start < n {
        let rows = EVAL_ROWS.min(n - start);
        let out = mlp.forward(x.subrows(start, rows), par)?;
        let targets = data.targets().rows(start, rows);
        last_loss = loss.evaluate(out.as_ref(), targets)?;
        loss_sum += last_loss * rows as f64;
        if let Targets::Classes(labels) = targets {
            // accuracy() is k / rows; recover the integer count k.
            correct += (accuracy(out.as_ref(), labels)? * rows as f64).round();
        }
        start += rows;
    }
    Ok(Evaluation {
        loss: if n <= EVAL_ROWS {
            last_loss
        } else {
            loss_sum / n as f64
        },
        accuracy: match data.targets() {
            Targets::Classes(_) => Some(correct / n as f64),
            Targets::Soft(_) | Targets::Regression(_) => None,
        },
    })
}

/// A callback that prints one line per epoch to standard error (progress display is off
/// unless this is added with [`Trainer::with_callback`]).
pub fn progress_printer<T: Float>() -> impl FnMut(&EpochRecord, &Mlp<T>) -> Control {
    |r: &EpochRecord, _: &Mlp<T>| {
        let mut line = format!(
            "epoch {:>4}  lr {:.3e}  train {:.6}",
            r.epoch, r.lr, r.train_loss
        );
        for (name, ev) in [("val", r.val), ("test", r.test)] {
            if let Some(ev) = ev {
                line.push_str(&format!("  {name} {:.6}", ev.loss));
                if let Some(a) = ev.accuracy {
                    line.push_str(&format!(" ({:.2}%)", 100.0 * a));
                }
            }
        }
        for (name, v) in &r.metrics {
            line.push_str(&format!("  {name} {v:.4e}"));
        }
        line.push_str(&format!("  {:.2}s", r.wall_time_s));
        eprintln!("{line}");
        Control::Continue
    }
}

impl<'a, T: Float> Trainer<'a, T> {
    /// A trainer for `mlp` on `train` (checked against the model and the loss); `config` is
    /// validated here.
    pub fn new(mlp: Mlp<T>, config: TrainConfig, train: Dataset<'a, T>) -> Result<Self> {
        config.check()?;
        let mut loss = config.loss.build::<T>()?;
        train.check_model("training inputs", mlp.arch(), loss.as_ref())?;
        loss.prepare(train.len(), mlp.arch().output_dim())?;
        let state = RunState {
            epoch: 0,
            optimizer: config.optimizer.init_state(mlp.n_params()),
            rngs: TrainRngs::from_seed(config.seed),
            best: None,
            since_improvement: 0,
            finished: false,
            history: History::default(),
        };
        Ok(Self {
            mlp,
            config,
            train,
            loss,
            val: None,
            test: None,
            regularizers: Vec::new(),
            monitor: None,
            callbacks: Vec::new(),
            state,
            failed: None,
        })
    }

    /// Adds a validation set (evaluated every epoch; drives the best parameters and early
    /// stopping).
    pub fn with_validation(mut self, val: Dataset<'a, T>) -> Result<Self> {
        val.check_model("validation inputs", self.mlp.arch(), self.loss.as_ref())?;
        self.val = Some(val);
        Ok(self)
    }

    /// Adds a test set (evaluated every epoch, never used for decisions).
    pub fn with_test(mut self, test: Dataset<'a, T>) -> Result<Self> {
        test.check_model("test inputs", self.mlp.arch(), self.loss.as_ref())?;
        self.test = Some(test);
        Ok(self)
    }

    /// Adds a regulariser; names must be unique and non-empty.
    pub fn with_regularizer(mut self, reg: impl Regularizer<T> + 'a) -> Result<Self> {
        let name = reg.name();
        if name.is_empty() || self.regularizers.iter().any(|r| r.name() == name) {
            return Err(Error::InvalidHyperparameter {
                name: "regularizer",
                value: self.regularizers.len() as f64,
                reason: "regulariser names must be non-empty and unique",
            });
        }
        self.regularizers.push(Box::new(reg));
        Ok(self)
    }

    /// Sets the monitor, called after every `config.monitor_every`-th epoch.
    pub fn with_monitor(mut self, monitor: impl Monitor<T> + 'a) -> Self {
        self.monitor = Some(Box::new(monitor));
        self
    }

    /// [`with_monitor`](Self::with_monitor) for a closure (argument types inferred).
    pub fn with_monitor_fn(
        self,
        f: impl FnMut(&Mlp<T>, usize) -> Result<Vec<(String, f64)>> + 'a,
    ) -> Self {
        self.with_monitor(f)
    }

    /// Adds a callback, called after every epoch with its record and the model; returning
    /// [`Control::Stop`] ends the run.
    pub fn with_callback(mut self, f: impl FnMut(&EpochRecord, &Mlp<T>) -> Control + 'a) -> Self {
        self.callbacks.push(Box::new(f));
        self
    }

    /// The model at the current parameters.
    pub fn model(&self) -> &Mlp<T> {
        &self.mlp
    }

    /// Consumes the trainer, returning the model.
    pub fn into_model(self) -> Mlp<T> {
        self.mlp
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The history so far.
    pub fn history(&self) -> &History {
        &self.state.history
    }

    /// Number of epochs completed.
    pub fn epoch(&self) -> usize {
        self.state.epoch
    }

    /// True once the run has ended (all epochs done, early stopping, or a callback).
    pub fn is_finished(&self) -> bool {
        self.state.finished || self.state.epoch >= self.config.epochs
    }

    /// The best parameters seen so far (`None` before the first run).
    pub fn best(&self) -> Option<&Best<T>> {
        self.state.best.as_ref()
    }

    /// The best flat parameters seen so far (always finite; `None` before the first run).
    pub fn best_params(&self) -> Option<&[T]> {
        self.state.best.as_ref().map(|b| b.params.as_slice())
    }

    /// The optimiser's state.
    pub fn optimizer_state(&self) -> &OptimizerState<T> {
        &self.state.optimizer
    }

    /// The generators' current state.
    pub fn rngs(&self) -> &TrainRngs {
        &self.state.rngs
    }

    /// The error that ended the run, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// Names of the regularisers, in the order they are applied.
    pub fn regularizer_names(&self) -> Vec<String> {
        self.regularizers
            .iter()
            .map(|r| r.name().to_string())
            .collect()
    }

    /// Evaluates the current model on `data` (evaluation mode).
    pub fn evaluate(&self, data: &Dataset<'_, T>) -> Result<Evaluation> {
        evaluate(&self.mlp, data, self.loss.as_ref(), self.config.par)
    }

    /// The current model's outputs on `x` (evaluation mode: no dropout).
    pub fn predict(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        self.mlp.forward(x, self.config.par)
    }

    /// Runs the remaining epochs (until `config.epochs`, early stopping or a callback's stop)
    /// and returns the whole history.
    pub fn run(&mut self) -> Result<History> {
        self.run_for(usize::MAX)
    }

    /// Runs at most `max_epochs` more epochs (then one may checkpoint, and resume later with
    /// the same result as an uninterrupted run).
    pub fn run_for(&mut self, max_epochs: usize) -> Result<History> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if let (Some(es), None) = (&self.config.early_stopping, &self.val) {
            return Err(Error::InvalidHyperparameter {
                name: "early_stopping.patience",
                value: es.patience as f64,
                reason: "early stopping needs a validation set",
            });
        }
        if self.state.best.is_none() {
            let loss = self.monitored_loss()?;
            self.state.best = Some(Best {
                epoch: None,
                loss,
                params: self.mlp.params().to_vec(),
            });
        }
        for _ in 0..max_epochs {
            if self.is_finished() {
                break;
            }
            if let Err(err) = self.run_epoch() {
                self.failed = Some(err.clone());
                return Err(err);
            }
        }
        Ok(self.state.history.clone())
    }

    /// The loss that ranks parameters: validation loss, else the evaluated training loss.
    fn monitored_loss(&self) -> Result<f64> {
        let data = self.val.as_ref().unwrap_or(&self.train);
        Ok(self.evaluate(data)?.loss)
    }

    fn run_epoch(&mut self) -> Result<()> {
        let start = Instant::now();
        let cfg = &self.config;
        let par = cfg.par;
        let epoch = self.state.epoch;
        let lr = cfg.schedule.lr(cfg.optimizer.lr(), epoch, cfg.epochs);
        let n = self.train.len();
        let batch_size = cfg.batch_size.min(n);
        let n_batches = if cfg.drop_last {
            n / batch_size
        } else {
            n.div_ceil(batch_size)
        };
        let n_out = self.mlp.arch().output_dim();
        let noise = if cfg.input_noise_std > 0.0 {
            Some(Normal::new(0.0, cfg.input_noise_std).map_err(|_| {
                Error::InvalidHyperparameter {
                    name: "input_noise_std",
                    value: cfg.input_noise_std,
                    reason: "must be finite and >= 0",
                }
            })?)
        } else {
            None
        };

        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut self.state.rngs.shuffle);
        let mut batch = Batch::default();
        let mut cache = ForwardCache::default();
        let mut pass = DropoutPass::default();
        let mut grad = vec![T::zero(); self.mlp.n_params()];
        let mut prev = vec![T::zero(); self.mlp.n_params()];
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        let mut penalty_sums = vec![0.0f64; self.regularizers.len()];

        for step in 0..n_batches {
            let diverged = |what| Error::Diverged { epoch, step, what };
            let idx = &perm[step * batch_size..((step + 1) * batch_size).min(n)];
            self.train.gather(idx, &mut batch);
            let rows = idx.len();
            let noisy = noise.map(|dist| {
                let mut x = batch.inputs.clone();
                for i in 0..rows {
                    for j in 0..x.ncols() {
                        x[(i, j)] += T::from_f64(dist.sample(&mut self.state.rngs.noise));
                    }
                }
                x
            });
            let x_in = noisy.as_ref().unwrap_or(&batch.inputs).as_ref();
            let fwd = if cfg.dropout > 0.0 {
                let rng = &mut self.state.rngs.dropout;
                pass.compute(&self.mlp, x_in, cfg.dropout, rng, par)?;
                pass.cache()
            } else {
                cache.compute(&self.mlp, x_in, par)?;
                &cache
            };
            let mut grad_out = Mat::<T>::zeros(rows, n_out);
            let loss = self.loss.value_and_grad(
                fwd.output(),
                batch.targets(),
                Some(idx),
                Some(grad_out.as_mut()),
            )?;
            if !loss.is_finite() {
                return Err(diverged("loss"));
            }
            let finite_out =
                (0..rows).all(|i| (0..n_out).all(|c| grad_out[(i, c)].is_finite_value()));
            if !finite_out {
                return Err(diverged("gradient"));
            }
            vjp_into(&self.mlp, fwd, grad_out.as_ref(), &mut grad, None, par)?;

            for (sum, reg) in penalty_sums.iter_mut().zip(&mut self.regularizers) {
                let mut ctx = StepContext {
                    mlp: &self.mlp,
                    inputs: batch.inputs.as_ref(),
                    targets: batch.targets(),
                    rng: &mut self.state.rngs.regularizer,
                    par,
                    epoch,
                    step,
                    lr,
                };
                let value = reg.penalty(&mut ctx, &mut grad)?;
                if !value.is_finite_value() {
                    return Err(diverged("penalty"));
                }
                *sum += value.to_f64();
            }
            if !grad.iter().all(|g| g.is_finite_value()) {
                return Err(diverged("gradient"));
            }
            prev.copy_from_slice(self.mlp.params());
            cfg.optimizer
                .step(&mut self.state.optimizer, self.mlp.params_mut(), &grad, lr)?;
            if !self.mlp.params().iter().all(|p| p.is_finite_value()) {
                self.mlp.params_mut().copy_from_slice(&prev);
                return Err(diverged("parameters"));
            }
            loss_sum += loss * rows as f64;
            seen += rows;
        }

        let penalties = self
            .regularizers
            .iter()
            .zip(&penalty_sums)
            .map(|(r, s)| (r.name().to_string(), s / n_batches.max(1) as f64))
            .collect();
        let train = evaluate(&self.mlp, &self.train, self.loss.as_ref(), par)?;
        let val = match &self.val {
            Some(d) => Some(evaluate(&self.mlp, d, self.loss.as_ref(), par)?),
            None => None,
        };
        let test = match &self.test {
            Some(d) => Some(evaluate(&self.mlp, d, self.loss.as_ref(), par)?),
            None => None,
        };
        let metrics = match &mut self.monitor {
            Some(m) if cfg.monitor_every > 0 && (epoch + 1) % cfg.monitor_every == 0 => {
                m.observe(&self.mlp, epoch)?
            }
            _ => Vec::new(),
        };

        // Best parameters and early stopping.
        let monitored = val.map_or(train.loss, |v| v.loss);
        let min_delta = cfg.early_stopping.map_or(0.0, |es| es.min_delta);
        let best_loss = match &self.state.best {
            Some(b) if !b.loss.is_nan() => b.loss,
            _ => f64::INFINITY,
        };
        if monitored < best_loss - min_delta {
            self.state.best = Some(Best {
                epoch: Some(epoch),
                loss: monitored,
                params: self.mlp.params().to_vec(),
            });
            self.state.since_improvement = 0;
            self.state.history.best_epoch = Some(epoch);
        } else {
            self.state.since_improvement += 1;
        }
        let mut stop = None;
        if let Some(es) = cfg.early_stopping {
            if self.state.since_improvement >= es.patience {
                stop = Some(format!(
                    "early stopping after epoch {epoch}: no validation-loss improvement larger \
                     than {min_delta:e} in {} epochs",
                    es.patience
                ));
            }
        }

        self.state.history.epochs.push(EpochRecord {
            epoch,
            lr,
            train_loss: if seen > 0 {
                loss_sum / seen as f64
            } else {
                f64::NAN
            },
            train,
            val,
            test,
            penalties,
            metrics,
            wall_time_s: start.elapsed().as_secs_f64(),
        });
        self.state.epoch += 1;
        let record = self.state.history.epochs.last().expect("just pushed");
        for cb in &mut self.callbacks {
            if cb(record, &self.mlp) == Control::Stop && stop.is_none() {
                stop = Some(format!("stopped by a callback after epoch {epoch}"));
            }
        }
        if let Some(reason) = stop {
            self.state.finished = true;
            self.state.history.stopped = Some(reason);
        }
        let ended = self.is_finished();
        if ended {
            if let (Some(es), Some(best)) = (&self.config.early_stopping, &self.state.best) {
                if es.restore_best {
                    self.mlp.set_params(&best.params)?;
                }
            }
        }
        if let Some(ac) = &self.config.checkpoint {
            if ended || self.state.epoch % ac.every == 0 {
                self.save_checkpoint(&ac.path)?;
            }
        }
        Ok(())
    }
}
