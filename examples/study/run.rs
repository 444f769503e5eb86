//! One training run, and a small pool that runs many of them on `--threads` workers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use faer::{MatRef, Par};
use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
use mgs::train::{
    Adam, AdamW, CrossEntropy, Dataset, EarlyStopping, KernelSummary, L2Penalty, LossConfig,
    MgsMonitor, MgsRecord, MgsRegularizer, ObserveMode, Optimizer, TrainConfig, Trainer, evaluate,
};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
use serde::Serialize;

use crate::config::{Method, Plan, Setting};
use crate::data::{Prepared, mix};

/// What to run.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// `"A"` or `"B"`.
    pub part: &'static str,
    pub dataset: String,
    pub setting: Setting,
    pub method: Method,
    /// Seed index (0-based).
    pub seed: u64,
    /// Part B: a run of the hyperparameter search on the first seed.
    pub tuning: bool,
}

impl Job {
    pub fn label(&self) -> String {
        format!(
            "{} {} {} {} seed {}",
            self.part,
            self.dataset,
            self.setting.label(),
            self.method.label(),
            self.seed
        )
    }
}

/// MGS metrics and accuracy after one epoch (part A).
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    /// Epochs completed (0 = at initialisation).
    pub epoch: usize,
    pub train_loss: f64,
    pub val_accuracy: f64,
    /// `trace`, `logdet`, `normalized_logdet`, `cosine_mean`, `cosine_logdet`,
    /// `effective_rank`, `condition_number` of the traced kernel on the probe set.
    pub metrics: BTreeMap<String, f64>,
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    #[serde(flatten)]
    pub job: Job,
    /// `"ok"`, or the error that ended the run.
    pub status: String,
    pub n_train: usize,
    pub n_val: usize,
    pub n_test: usize,
    pub epochs_configured: usize,
    pub epochs_run: usize,
    /// Epoch (1-based count) of the lowest validation loss.
    pub best_epoch: Option<usize>,
    /// Accuracy on the training labels as trained on (noisy in noise settings).
    pub train_accuracy: f64,
    /// Accuracy on the original training labels.
    pub train_accuracy_clean: f64,
    pub val_accuracy: f64,
    pub val_loss: f64,
    pub test_accuracy: f64,
    pub test_loss: f64,
    /// Noise settings: fraction of corrupted training samples predicted as their noisy label.
    pub memorised: Option<f64>,
    /// Noise settings: fraction of corrupted training samples predicted as their true label.
    pub recovered: Option<f64>,
    pub wall_s: f64,
    /// Part A: MGS metrics of the final model on the probe set.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub final_metrics: BTreeMap<String, f64>,
    /// Part A: per-epoch curve.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
}

/// Argmax of each row.
fn predictions(out: MatRef<'_, f32>) -> Vec<usize> {
    (0..out.nrows())
        .map(|i| {
            let mut best = 0;
            for k in 1..out.ncols() {
                if out[(i, k)] > out[(i, best)] {
                    best = k;
                }
            }
            best
        })
        .collect()
}

fn fraction(hits: usize, total: usize) -> f64 {
    if total == 0 {
        f64::NAN
    } else {
        hits as f64 / total as f64
    }
}

/// The traced kernel's summaries of one MGS record, by name (the monitor measures in f64).
fn named(record: &MgsRecord) -> BTreeMap<String, f64> {
    KernelSummary::NAMES
        .iter()
        .zip(record.summary.values())
        .filter_map(|(n, v)| v.map(|v| (n.to_string(), v)))
        .collect()
}

/// The monitor's summaries of `mlp`.
fn measure(monitor: &mut MgsMonitor<f32>, mlp: &Mlp<f32>) -> mgs::Result<BTreeMap<String, f64>> {
    Ok(named(&monitor.measure(mlp, Par::Seq)?[0]))
}

/// Number of epochs of a run: part A's fixed count; part B at least `b_epochs` and at least
/// `b_min_steps` optimiser steps.
pub fn epochs_for(job: &Job, n_train: usize, plan: &Plan) -> usize {
    if job.part == "A" {
        return plan.a_epochs;
    }
    let steps_per_epoch = n_train.div_ceil(plan.batch_size).max(1);
    plan.b_epochs
        .max(plan.b_min_steps.div_ceil(steps_per_epoch))
}

impl Outcome {
    /// An outcome with no results yet.
    fn empty(job: &Job) -> Self {
        Outcome {
            job: job.clone(),
            status: "ok".to_string(),
            n_train: 0,
            n_val: 0,
            n_test: 0,
            epochs_configured: 0,
            epochs_run: 0,
            best_epoch: None,
            train_accuracy: f64::NAN,
            train_accuracy_clean: f64::NAN,
            val_accuracy: f64::NAN,
            val_loss: f64::NAN,
            test_accuracy: f64::NAN,
            test_loss: f64::NAN,
            memorised: None,
            recovered: None,
            wall_s: 0.0,
            final_metrics: BTreeMap::new(),
            curve: Vec::new(),
        }
    }

    /// A run that could not start (its data could not be prepared).
    pub fn failed(job: &Job, error: &dyn std::fmt::Display) -> Self {
        let mut o = Self::empty(job);
        o.status = format!("error: {error}");
        o
    }

    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Trains one model and measures it. Errors inside the run (e.g. a diverged step) are caught
/// and recorded in `status`.
pub fn run_job(job: &Job, data: &Prepared, plan: &Plan) -> Outcome {
    let start = Instant::now();
    let epochs = epochs_for(job, data.y_train.len(), plan);
    let mut outcome = Outcome {
        n_train: data.y_train.len(),
        n_val: data.y_val.len(),
        n_test: data.y_test.len(),
        epochs_configured: epochs,
        ..Outcome::empty(job)
    };
    if let Err(e) = train_into(job, data, plan, epochs, &mut outcome) {
        outcome.status = format!("error: {e}");
    }
    outcome.wall_s = start.elapsed().as_secs_f64();
    outcome
}

fn train_into(
    job: &Job,
    data: &Prepared,
    plan: &Plan,
    epochs: usize,
    out: &mut Outcome,
) -> mgs::Result<()> {
    let d = data.x_train.ncols();
    let (widths, lr) = if job.part == "A" {
        (&plan.a_hidden, plan.a_lr)
    } else {
        (&plan.b_hidden, plan.b_lr)
    };
    let hidden: Vec<(usize, Activation)> = widths.iter().map(|&w| (w, Activation::Tanh)).collect();
    let arch = Architecture::new(d, &hidden, data.n_classes)?;
    // Same initial weights and batch order for every method of a (dataset, setting, seed).
    let base = mix(job.seed, crate::data::dataset_code(&job.dataset));
    let mlp = Mlp::<f32>::init(arch, Init::XavierNormal, &mut rng_from_seed(mix(base, 3)))?;
    let adam = Adam {
        lr,
        ..Adam::default()
    };
    let mut config = TrainConfig {
        epochs,
        batch_size: plan.batch_size,
        optimizer: Optimizer::Adam(adam),
        seed: mix(base, 4),
        par: Par::Seq,
        ..TrainConfig::default()
    };
    match job.method {
        Method::AdamW(wd) => {
            config.optimizer = Optimizer::AdamW(AdamW {
                adam,
                weight_decay: wd,
            })
        }
        Method::Dropout(p) => config.dropout = p,
        Method::InputNoise(s) => config.input_noise_std = s,
        Method::LabelSmoothing(e) => config.loss = LossConfig::CrossEntropy { label_smoothing: e },
        Method::EarlyStopping(patience) => {
            config.early_stopping = Some(EarlyStopping {
                patience,
                min_delta: 0.0,
                restore_best: true,
            })
        }
        _ => {}
    }
    let train = Dataset::classification(data.x_train.as_ref(), &data.y_train)?;
    let val = Dataset::classification(data.x_val.as_ref(), &data.y_val)?;
    let test = Dataset::classification(data.x_test.as_ref(), &data.y_test)?;
    let mut trainer = Trainer::new(mlp, config, train)?.with_validation(val)?;
    let mgs_penalty = |metric, weight| PenaltyConfig {
        metric,
        kernel: KernelKind::Traced,
        jitter: plan.mgs_jitter,
        weight,
        subset: Some(plan.mgs_subset),
        ..PenaltyConfig::default()
    };
    match job.method {
        Method::L2(lambda) => trainer = trainer.with_regularizer(L2Penalty::new(lambda)?)?,
        Method::MgsLogDet(w) => {
            trainer = trainer.with_regularizer(MgsRegularizer::<f32>::new(mgs_penalty(
                PenaltyMetric::LogDet,
                w,
            ))?)?
        }
        Method::MgsNormLogDet(w) => {
            trainer = trainer.with_regularizer(MgsRegularizer::<f32>::new(mgs_penalty(
                PenaltyMetric::NormalizedLogDet,
                w,
            ))?)?
        }
        _ => {}
    }

    // Part A: MGS metrics of the traced kernel on a fixed probe set of training samples.
    let probe_monitor = if job.part == "A" {
        let p = plan.a_probe.min(data.x_train.nrows());
        let make = || {
            MgsMonitor::<f32>::new(&[KernelKind::Traced], plan.monitor_jitter)?
                .with_probe("probe", data.x_train.subrows(0, p))
        };
        let initial = measure(&mut make()?, trainer.model())?;
        let val0 = trainer.evaluate(&val)?;
        let train0 = trainer.evaluate(&train)?;
        out.curve.push(CurvePoint {
            epoch: 0,
            train_loss: train0.loss,
            val_accuracy: val0.accuracy.unwrap_or(f64::NAN),
            metrics: initial,
        });
        trainer = trainer.with_observer(make()?, ObserveMode::Every(1))?;
        Some(make()?)
    } else {
        None
    };

    let history = trainer.run()?;
    out.epochs_run = history.epochs.len();
    out.best_epoch = history.selected_epoch.map(|e| e + 1);
    if probe_monitor.is_some() {
        for r in &history.epochs {
            out.curve.push(CurvePoint {
                epoch: r.epoch + 1,
                train_loss: r.train.loss,
                val_accuracy: r.val.and_then(|v| v.accuracy).unwrap_or(f64::NAN),
                metrics: r.mgs.first().map(named).unwrap_or_default(),
            });
        }
    }

    // The final model (early stopping: the restored best one).
    let mlp = trainer.model();
    let ce = CrossEntropy::new(0.0)?;
    let v = evaluate(mlp, &val, &ce, Par::Seq)?;
    let t = evaluate(mlp, &test, &ce, Par::Seq)?;
    out.val_accuracy = v.accuracy.unwrap_or(f64::NAN);
    out.val_loss = v.loss;
    out.test_accuracy = t.accuracy.unwrap_or(f64::NAN);
    out.test_loss = t.loss;
    let pred = predictions(mlp.forward(data.x_train.as_ref(), Par::Seq)?.as_ref());
    let n = pred.len();
    let hits = |labels: &[usize], mask: &dyn Fn(usize) -> bool| {
        (0..n).filter(|&i| mask(i) && pred[i] == labels[i]).count()
    };
    out.train_accuracy = fraction(hits(&data.y_train, &|_| true), n);
    out.train_accuracy_clean = fraction(hits(&data.y_train_clean, &|_| true), n);
    if matches!(job.setting, Setting::Noise(_)) {
        let n_corrupted = data.corrupted.iter().filter(|&&c| c).count();
        if n_corrupted > 0 {
            let is_corrupted = |i: usize| data.corrupted[i];
            out.memorised = Some(fraction(hits(&data.y_train, &is_corrupted), n_corrupted));
            out.recovered = Some(fraction(
                hits(&data.y_train_clean, &is_corrupted),
                n_corrupted,
            ));
        }
    }
    if let Some(mut monitor) = probe_monitor {
        out.final_metrics = measure(&mut monitor, mlp)?;
    }
    Ok(())
}

/// Runs `jobs` on `threads` workers (each run sequential inside), longest first, and returns
/// the results in the jobs' order. `f` gets the job's index. Results do not depend on the
/// number of threads: every run is deterministic on its own.
pub fn run_pool<J: Sync, R: Send>(
    jobs: &[J],
    cost: impl Fn(&J) -> f64,
    threads: usize,
    f: impl Fn(usize, &J) -> R + Sync,
) -> Vec<R> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| {
        cost(&jobs[b])
            .partial_cmp(&cost(&jobs[a]))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(jobs.len().max(1)) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let r = f(i, &jobs[i]);
                    *slots[i].lock().expect("result slot") = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().expect("result slot").expect("every job ran"))
        .collect()
}
