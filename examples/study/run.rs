//! One run of the plan: data, model, trainer with its observers, and the record it leaves.
//!
//! Every run is sequential (`Par::Seq`) and deterministic from its spec, so a run's record is
//! the same bits whichever worker, thread count or shard runs it.

use std::time::Instant;

use faer::{Mat, Par};
use mgs::kernel::KernelKind;
use mgs::train::{
    Adam, Control, CrossEntropy, EpochRecord, Extremum, MgsMonitor, MgsSelector, Observation,
    ObserveMode, Observer, Optimizer, SelectOn, Summary, TrainConfig, Trainer, accuracy, evaluate,
};
use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};

use crate::data::{CellSeeds, Pool, Probe, RunData, labels, prepare};
use crate::method::Regularizer;
use crate::plan::{RunSpec, Scale};
use crate::record::{EpochRow, ProbeMgs, RunRecord, Snapshot, Status};

/// The summary and probe the label-free rule reads.
const RULE_SUMMARY: Summary = Summary::NormalizedLogDet;

/// A collapsed run stopped with an error or predicts at least this share of the test set as one
/// class. (A low accuracy alone is not a collapse: MNIST-1D at 80 % noise is near chance for
/// every method without being a constant predictor; decided before the full run.)
pub const COLLAPSE_MAJORITY: f64 = 0.9;

/// The `f32` model's parameters in an `f64` model (the monitor factorises nearly singular
/// kernels, which needs `f64` kernels).
fn widen(mlp: &Mlp<f32>) -> mgs::Result<Mlp<f64>> {
    let params = mlp.params().iter().map(|&p| f64::from(p)).collect();
    Mlp::from_params(mlp.arch().clone(), params)
}

/// An [`MgsMonitor`] in `f64` watching an `f32` run.
struct F64Monitor(MgsMonitor<f64>);

impl Observer<f32> for F64Monitor {
    fn check_model(&self, mlp: &Mlp<f32>) -> mgs::Result<()> {
        self.0.check_model(&widen(mlp)?)
    }

    fn on_epoch(
        &mut self,
        obs: &Observation<'_, f32>,
        record: &mut EpochRecord,
    ) -> mgs::Result<Control> {
        let records = self.0.measure(&widen(obs.mlp)?, obs.par)?;
        record.mgs.extend(records);
        Ok(Control::Continue)
    }
}

/// Records the fraction of corrupted training samples the model predicts as their noisy label
/// (metric `fit_noisy`).
struct NoisyFit {
    inputs: Mat<f32>,
    labels: Vec<usize>,
}

impl Observer<f32> for NoisyFit {
    fn on_epoch(
        &mut self,
        obs: &Observation<'_, f32>,
        record: &mut EpochRecord,
    ) -> mgs::Result<Control> {
        let out = obs.mlp.forward(self.inputs.as_ref(), obs.par)?;
        let fit = accuracy(out.as_ref(), &self.labels)?;
        record.metrics.push(("fit_noisy".to_string(), fit));
        Ok(Control::Continue)
    }
}

/// Argmax of every row.
fn predictions(out: &Mat<f32>) -> Vec<usize> {
    (0..out.nrows())
        .map(|i| {
            (1..out.ncols()).fold(0, |best, k| {
                if out[(i, k)] > out[(i, best)] {
                    k
                } else {
                    best
                }
            })
        })
        .collect()
}

/// The corrupted training samples: inputs and noisy labels.
fn corrupted_rows(data: &RunData) -> (Mat<f32>, Vec<usize>) {
    let idx: Vec<usize> = (0..data.corrupted.len())
        .filter(|&i| data.corrupted[i])
        .collect();
    let (x, y) = (data.train.view().inputs(), labels(&data.train));
    (
        Mat::from_fn(idx.len(), x.ncols(), |i, j| x[(idx[i], j)]),
        idx.iter().map(|&i| y[i]).collect(),
    )
}

/// Evaluates `mlp` (parameters of `epoch`) on every set.
fn snapshot(
    mlp: &Mlp<f32>,
    epoch: Option<usize>,
    data: &RunData,
    noisy: &(Mat<f32>, Vec<usize>),
    stopped: bool,
) -> mgs::Result<Snapshot> {
    let ce = CrossEntropy::new(0.0)?;
    let eval = |set: DatasetView<'_, f32>| -> mgs::Result<(f64, f64)> {
        let e = evaluate(mlp, set, &ce, Par::Seq)?;
        Ok((
            e.accuracy.unwrap_or(f64::NAN),
            e.cross_entropy.unwrap_or(f64::NAN),
        ))
    };
    let (train_acc, train_ce) = eval(data.train.view())?;
    let (val_acc, val_ce) = eval(data.val.view())?;
    let (test_acc, test_ce) = eval(data.test.view())?;
    let fit_noisy = if noisy.1.is_empty() {
        f64::NAN
    } else {
        eval(DatasetView::classification(noisy.0.as_ref(), &noisy.1)?)?.0
    };
    let mut counts = vec![0usize; data.n_classes];
    for p in predictions(&mlp.forward(data.test.view().inputs(), Par::Seq)?) {
        counts[p] += 1;
    }
    let majority_share =
        counts.iter().copied().max().unwrap_or(0) as f64 / data.test.len().max(1) as f64;
    Ok(Snapshot {
        epoch,
        train_acc,
        train_ce,
        val_acc,
        val_ce,
        test_acc,
        test_ce,
        fit_noisy,
        majority_share,
        collapsed: stopped || majority_share >= COLLAPSE_MAJORITY || test_acc.is_nan(),
    })
}

/// The study's row of one epoch record.
fn epoch_row(e: &EpochRecord) -> EpochRow {
    let ev = |v: Option<mgs::train::Evaluation>| {
        (
            v.and_then(|v| v.cross_entropy).unwrap_or(f64::NAN),
            v.and_then(|v| v.accuracy).unwrap_or(f64::NAN),
        )
    };
    let (train_ce, train_acc) = ev(Some(e.train));
    let (val_ce, val_acc) = ev(e.val);
    let (test_ce, test_acc) = ev(e.test);
    let metric = |name: &str| {
        e.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, v)| *v)
    };
    EpochRow {
        epoch: e.epoch,
        train_loss: e.train_loss,
        train_ce,
        train_acc,
        val_ce,
        val_acc,
        test_ce,
        test_acc,
        fit_noisy: metric("fit_noisy"),
        penalty: e.penalties.first().map_or(f64::NAN, |(_, v)| *v),
        mgs: e
            .mgs
            .iter()
            .filter(|m| m.kernel == KernelKind::Traced)
            .filter_map(|m| {
                Some(ProbeMgs {
                    probe: Probe::parse(&m.probe)?,
                    summary: m.summary,
                    layers: m.layers.clone(),
                })
            })
            .collect(),
    }
}

/// The record of a run that produced nothing (`Failed`).
pub fn failed(spec: &RunSpec, n_classes: usize, message: String) -> RunRecord {
    let empty = Snapshot {
        epoch: None,
        train_acc: f64::NAN,
        train_ce: f64::NAN,
        val_acc: f64::NAN,
        val_ce: f64::NAN,
        test_acc: f64::NAN,
        test_ce: f64::NAN,
        fit_noisy: f64::NAN,
        majority_share: f64::NAN,
        collapsed: true,
    };
    RunRecord {
        spec: spec.clone(),
        status: Status::Failed { message },
        n_classes,
        n_train: 0,
        n_val: 0,
        n_test: 0,
        n_corrupted: 0,
        last: empty.clone(),
        selected: empty,
        mgs_rule: None,
        epochs: Vec::new(),
        wall_s: None,
    }
}

/// Runs `spec` on `pool`. Errors before training are a `Failed` record; an error during
/// training (divergence, a kernel that is no longer positive definite) ends the run as
/// `Stopped`, with the snapshots of the parameters it had.
pub fn run(spec: &RunSpec, pool: &Pool, scale: &Scale) -> RunRecord {
    let start = Instant::now();
    let mut record = failed(spec, pool.n_classes, String::new());
    record.status = Status::Ok;
    if let Err(e) = train(spec, pool, scale, &mut record) {
        record.status = Status::Failed {
            message: e.to_string(),
        };
    }
    record.wall_s = Some(start.elapsed().as_secs_f64());
    record
}

fn train(spec: &RunSpec, pool: &Pool, scale: &Scale, out: &mut RunRecord) -> mgs::Result<()> {
    let data = prepare(pool, spec.setting, spec.seed, &scale.sizes)?;
    out.n_train = data.train.len();
    out.n_val = data.val.len();
    out.n_test = data.test.len();
    out.n_corrupted = data.n_corrupted();
    let seeds = CellSeeds::new(spec.dataset, spec.setting, spec.seed);
    let hidden: Vec<(usize, Activation)> = scale
        .hidden
        .iter()
        .map(|&w| (w, Activation::Tanh))
        .collect();
    let arch = Architecture::new(pool.n_features, &hidden, pool.n_classes)?;
    let mlp = Mlp::<f32>::init(
        arch.clone(),
        Init::XavierNormal,
        &mut rng_from_seed(seeds.init),
    )?;
    let mut config = TrainConfig {
        epochs: spec.epochs,
        batch_size: scale.batch,
        optimizer: Optimizer::Adam(Adam {
            lr: scale.lr,
            ..Adam::default()
        }),
        seed: seeds.train,
        select_on: SelectOn::CrossEntropy,
        par: Par::Seq,
        ..TrainConfig::default()
    };
    let regularizer = spec.method.configure(&mut config, &scale.mgs)?;
    let mut monitor = MgsMonitor::<f64>::new(&[KernelKind::Traced], scale.monitor_jitter)?
        .with_spectrum(false)
        .with_layers(spec.layers);
    for (probe, x) in &data.probes {
        monitor = monitor.with_probe(probe.name(), x.as_ref())?;
    }
    let has_rule_probe = data.probes.iter().any(|(p, _)| *p == Probe::RandomTrain);
    let mut selector = MgsSelector::new(
        Probe::RandomTrain.name(),
        KernelKind::Traced,
        RULE_SUMMARY,
        scale.selector.smoothing,
    )?
    .with_extremum(Extremum::Minimum)
    .with_warmup(scale.selector.warmup)
    .with_patience(scale.selector.patience, false)?;
    let noisy = corrupted_rows(&data);
    let every = ObserveMode::Every(spec.observe_every);

    let mut trainer = Trainer::new(mlp, config, &data.train)?
        .with_validation(&data.val)?
        .with_test(&data.test)?;
    trainer = match regularizer {
        Some(Regularizer::L2(r)) => trainer.with_regularizer(r)?,
        Some(Regularizer::Mgs(r)) => trainer.with_regularizer(*r)?,
        None => trainer,
    };
    if !noisy.1.is_empty() {
        trainer = trainer.with_observer(
            NoisyFit {
                inputs: noisy.0.clone(),
                labels: noisy.1.clone(),
            },
            ObserveMode::Every(1),
        )?;
    }
    trainer = trainer.with_observer(F64Monitor(monitor), every)?;
    if has_rule_probe {
        trainer = trainer.with_observer(&mut selector, every)?;
    }
    let result = trainer.run();
    let stopped = result.is_err();
    if let Err(e) = result {
        out.status = Status::Stopped {
            message: e.to_string(),
        };
    }
    let history = trainer.history();
    out.epochs = history.epochs.iter().map(epoch_row).collect();
    out.last = snapshot(
        trainer.model(),
        history.last().map(|e| e.epoch),
        &data,
        &noisy,
        stopped,
    )?;
    if let Some(sel) = trainer.selected() {
        let m = Mlp::from_params(arch.clone(), sel.params.clone())?;
        out.selected = snapshot(&m, sel.epoch, &data, &noisy, stopped)?;
    }
    drop(trainer);
    if let Some(epoch) = selector.selected_epoch() {
        // The rule keeps the parameters in f64; those of an f32 model convert back exactly.
        let params = selector
            .selected_params()
            .iter()
            .map(|&p| p as f32)
            .collect();
        let m = Mlp::from_params(arch, params)?;
        out.mgs_rule = Some(snapshot(&m, Some(epoch), &data, &noisy, stopped)?);
    }
    Ok(())
}
