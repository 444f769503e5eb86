//! The loop and its observers: selection, early stopping, observer modes, several monitors,
//! per-layer MGS, the label-free selector, mixup, determinism and checkpoints of the new state.

mod common;

use approx::assert_relative_eq;
use common::kernel_seq;
use faer::{Mat, Par};
use mgs::kernel::{KernelKind, Route};
use mgs::metrics::{self, MetricsConfig};
use mgs::train::{
    Adam, Checkpoint, Control, EarlyStopping, EpochRecord, Extremum, History, KernelSummary,
    LossConfig, MgsMonitor, MgsRecord, MgsSelector, Mixup, Observation, ObserveMode, Observer,
    Optimizer, SelectOn, Summary, TrainConfig, Trainer,
};
use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
use rand::RngExt;

/// Three overlapping Gaussian blobs in 4 dimensions, with some labels flipped (so that the
/// validation loss turns upwards and selection matters).
fn blobs(n: usize, seed: u64) -> (Mat<f64>, Vec<usize>) {
    let mut rng = rng_from_seed(seed);
    let mut labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let x = Mat::from_fn(n, 4, |i, j| {
        let centre = if j == labels[i] { 1.5 } else { 0.0 };
        centre + rng.random::<f64>() * 2.0 - 1.0
    });
    for l in labels.iter_mut() {
        if rng.random::<f64>() < 0.2 {
            *l = (*l + 1) % 3;
        }
    }
    (x, labels)
}

fn model(seed: u64) -> Mlp<f64> {
    let arch = Architecture::new(4, &[(32, Activation::Tanh), (16, Activation::Tanh)], 3).unwrap();
    Mlp::init(arch, Init::XavierNormal, &mut rng_from_seed(seed)).unwrap()
}

fn config(epochs: usize, par: Par) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 16,
        optimizer: Optimizer::Adam(Adam {
            lr: 5e-3,
            ..Adam::default()
        }),
        seed: 7,
        par,
        ..TrainConfig::default()
    }
}

struct Data {
    x: Mat<f64>,
    y: Vec<usize>,
    xv: Mat<f64>,
    yv: Vec<usize>,
}

fn data() -> Data {
    let (x, y) = blobs(96, 1);
    let (xv, yv) = blobs(48, 2);
    Data { x, y, xv, yv }
}

fn trainer<'a>(d: &'a Data, cfg: TrainConfig) -> Trainer<'a, f64> {
    Trainer::new(
        model(3),
        cfg,
        DatasetView::classification(d.x.as_ref(), &d.y).unwrap(),
    )
    .unwrap()
    .with_validation(DatasetView::classification(d.xv.as_ref(), &d.yv).unwrap())
    .unwrap()
}

#[test]
fn selection_keeps_the_epoch_with_the_lowest_validation_loss() {
    let d = data();
    for select_on in [SelectOn::Loss, SelectOn::CrossEntropy] {
        let cfg = TrainConfig {
            loss: LossConfig::GeneralizedCrossEntropy { q: 0.7 },
            select_on,
            ..config(40, Par::Seq)
        };
        let mut t = trainer(&d, cfg);
        let h = t.run().unwrap();
        let score = |e: &EpochRecord| {
            let v = e.val.unwrap();
            match select_on {
                SelectOn::Loss => v.loss,
                SelectOn::CrossEntropy => v.cross_entropy.unwrap(),
            }
        };
        // The first epoch with the minimum validation score (the initial model's score included).
        let (argmin, min) = h.epochs.iter().map(|e| (e.epoch, score(e))).fold(
            (usize::MAX, f64::INFINITY),
            |b, c| if c.1 < b.1 { c } else { b },
        );
        assert_eq!(h.selected_epoch, Some(argmin), "{select_on:?}");
        assert!(
            argmin < 39,
            "the validation loss should turn upwards ({select_on:?})"
        );
        let new_best: Vec<usize> = h
            .epochs
            .iter()
            .filter(|e| e.new_best)
            .map(|e| e.epoch)
            .collect();
        assert_eq!(*new_best.last().unwrap(), argmin);
        // The selected parameters reproduce the selected epoch's validation score exactly.
        let sel = t.selected().unwrap();
        assert_eq!(sel.epoch, Some(argmin));
        assert_eq!(sel.loss, min);
        let mut m = t.model().clone();
        m.set_params(&sel.params).unwrap();
        let val = DatasetView::classification(d.xv.as_ref(), &d.yv).unwrap();
        let ev = mgs::train::evaluate(&m, val, t.loss(), Par::Seq).unwrap();
        assert_eq!(ev, h.epochs[argmin].val.unwrap());
        // The best-accuracy epoch is the first with the highest validation accuracy.
        let best_acc = h
            .epochs
            .iter()
            .map(|e| e.val.unwrap().accuracy.unwrap())
            .fold(f64::NEG_INFINITY, f64::max);
        let first = h
            .epochs
            .iter()
            .position(|e| e.val.unwrap().accuracy.unwrap() == best_acc);
        assert_eq!(h.best_accuracy_epoch, first);
        // Last and selected epochs side by side.
        let s = h.summary().unwrap();
        assert_eq!(s.last.epoch, Some(39));
        assert_eq!(s.selected.epoch, Some(argmin));
        assert_eq!(s.selected.val, h.epochs[argmin].val);
    }
}

#[test]
fn early_stopping_is_selection_plus_patience() {
    let d = data();
    let mut straight = trainer(&d, config(40, Par::Seq));
    let full = straight.run().unwrap();
    let es = EarlyStopping {
        patience: 4,
        min_delta: 0.0,
        restore_best: true,
    };
    let mut t = trainer(
        &d,
        TrainConfig {
            early_stopping: Some(es),
            ..config(40, Par::Seq)
        },
    );
    let h = t.run().unwrap();
    // Same trajectory as the run without early stopping, cut `patience` epochs after the first
    // selected epoch that is not improved upon within the patience.
    let stop = h.epochs.len();
    assert!(stop < 40);
    let sel = h.selected_epoch.unwrap();
    assert_eq!(stop, sel + 1 + 4);
    for (a, b) in h.epochs.iter().zip(&full.epochs) {
        assert_eq!(a.val, b.val);
    }
    assert!(h.stopped.as_ref().unwrap().contains("early stopping"));
    assert_eq!(t.model().params(), t.selected_params().unwrap());
}

/// Records the epochs it was called after.
#[derive(Debug, Default)]
struct Calls {
    started: usize,
    epochs: Vec<usize>,
    ended: usize,
}

impl Observer<f64> for Calls {
    fn on_start(&mut self, _: &Observation<'_, f64>) -> mgs::Result<()> {
        self.started += 1;
        Ok(())
    }
    fn on_epoch(&mut self, _: &Observation<'_, f64>, r: &mut EpochRecord) -> mgs::Result<Control> {
        self.epochs.push(r.epoch);
        Ok(Control::Continue)
    }
    fn on_end(&mut self, _: &Observation<'_, f64>) -> mgs::Result<()> {
        self.ended += 1;
        Ok(())
    }
}

#[test]
fn observer_modes_and_several_monitors_all_record() {
    let d = data();
    let (mut every3, mut best) = (Calls::default(), Calls::default());
    let monitor = |name: &str, rows: usize| {
        MgsMonitor::new(&[KernelKind::Traced, KernelKind::Full], 1e-6)
            .unwrap()
            .with_probe(name, d.x.subrows(0, rows))
            .unwrap()
    };
    let mut t = trainer(&d, config(9, Par::Seq))
        .with_observer(monitor("first", 20), ObserveMode::Every(1))
        .unwrap()
        .with_observer(
            monitor("second", 12).with_layers(true),
            ObserveMode::Every(3),
        )
        .unwrap()
        .with_observer(&mut every3, ObserveMode::Every(3))
        .unwrap()
        .with_observer(&mut best, ObserveMode::NewBest)
        .unwrap()
        .with_observer_fn(|mlp, _| Ok(vec![("n_params".into(), mlp.n_params() as f64)]));
    assert!(
        t.run()
            .unwrap()
            .epochs
            .iter()
            .all(|e| e.metrics[0].0 == "n_params"),
        "the closure records every epoch"
    );
    let h = t.history().clone();
    drop(t);
    assert_eq!(every3.epochs, vec![2, 5, 8]);
    assert_eq!((every3.started, every3.ended), (1, 1));
    let new_best: Vec<usize> = h
        .epochs
        .iter()
        .filter(|e| e.new_best)
        .map(|e| e.epoch)
        .collect();
    assert_eq!(best.epochs, new_best);
    for e in &h.epochs {
        // The first monitor every epoch, the second every third: added, not replaced.
        assert!(e.mgs("first", KernelKind::Traced).is_some());
        assert!(e.mgs("first", KernelKind::Full).is_some());
        assert_eq!(
            e.mgs("second", KernelKind::Traced).is_some(),
            e.epoch % 3 == 2
        );
        assert_eq!(e.mgs.len(), if e.epoch % 3 == 2 { 4 } else { 2 });
    }
    // CSV has the typed MGS columns.
    let csv = h.to_csv();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("mgs.first.traced.normalized_logdet"));
    assert!(header.contains("mgs.second.full.layer2.trace_share"));
}

#[test]
fn per_layer_terms_sum_to_the_kernel() {
    let d = data();
    let mlp = model(5);
    let probe = d.x.subrows(0, 15);
    for kind in [KernelKind::Traced, KernelKind::Full] {
        let mut monitor = MgsMonitor::new(&[kind], 1e-6)
            .unwrap()
            .with_probe("p", probe)
            .unwrap()
            .with_layers(true);
        let rec: Vec<MgsRecord> = monitor.measure(&mlp, Par::Seq).unwrap();
        let r = &rec[0];
        assert_eq!(r.layers.len(), 3);
        let shares: f64 = r.layers.iter().map(|l| l.trace_share).sum();
        assert_relative_eq!(shares, 1.0, epsilon = 1e-12);
        // The whole-kernel summaries are those of the public kernel and metrics.
        let k = kernel_seq(&mlp, probe, kind, Route::Explicit);
        let m = metrics::metrics(k.as_ref(), &MetricsConfig::default(), Par::Seq).unwrap();
        assert_relative_eq!(r.summary.trace, m.trace, max_relative = 1e-12);
        assert_relative_eq!(
            r.summary.normalized_logdet,
            m.normalized_logdet,
            max_relative = 1e-9
        );
        assert!(r.layers.iter().all(|l| l.normalized_logdet.is_finite()));
    }
}

#[test]
fn monitor_probe_of_the_wrong_width_fails_when_attached() {
    let d = data();
    let bad = Mat::<f64>::zeros(5, 3);
    let monitor = MgsMonitor::new(&[KernelKind::Traced], 1e-6)
        .unwrap()
        .with_probe("bad", bad.as_ref())
        .unwrap();
    let err = trainer(&d, config(2, Par::Seq))
        .with_observer(monitor, ObserveMode::Every(1))
        .unwrap_err();
    assert!(
        matches!(
            err,
            mgs::Error::ShapeMismatch {
                what: "probe set",
                ..
            }
        ),
        "{err:?}"
    );
}

/// Writes a given MGS curve into the records (a stand-in for the monitor).
struct Curve(Vec<f64>);

impl Observer<f64> for Curve {
    fn on_epoch(&mut self, _: &Observation<'_, f64>, r: &mut EpochRecord) -> mgs::Result<Control> {
        let v = self.0[r.epoch];
        r.mgs.push(MgsRecord {
            probe: "train".into(),
            kernel: KernelKind::Traced,
            summary: KernelSummary {
                trace: 1.0,
                logdet: v,
                normalized_logdet: v,
                cosine_mean: 0.0,
                cosine_logdet: v,
                effective_rank: None,
                condition_number: None,
            },
            layers: Vec::new(),
        });
        Ok(Control::Continue)
    }
}

#[test]
fn label_free_selector_follows_its_definition() {
    let d = data();
    let curve = vec![5.0, 4.0, 3.0, 2.5, 2.7, 2.6, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0];
    // No smoothing: the minimum at epoch 3; patience 3 confirms it after epoch 6 and stops.
    let mut sel = MgsSelector::new("train", KernelKind::Traced, Summary::NormalizedLogDet, 0.0)
        .unwrap()
        .with_patience(3, true)
        .unwrap();
    let mut t = trainer(&d, config(12, Par::Seq))
        .with_observer(Curve(curve.clone()), ObserveMode::Every(1))
        .unwrap()
        .with_observer(&mut sel, ObserveMode::Every(1))
        .unwrap();
    let h = t.run().unwrap();
    let params_at_3 = {
        // Rerun 4 epochs without the selector: the parameters after epoch 3.
        let mut r = trainer(&d, config(12, Par::Seq));
        r.run_for(4).unwrap();
        r.model().params().to_vec()
    };
    drop(t);
    assert_eq!(h.epochs.len(), 7);
    assert!(h.stopped.as_ref().unwrap().contains("observer"));
    assert_eq!(sel.selected_epoch(), Some(3));
    assert_eq!(sel.selected_value(), Some(2.5));
    assert!(sel.confirmed());
    assert_eq!(sel.selected_params(), params_at_3.as_slice());
    // With smoothing β = 0.5: s = 5, 4.5, 3.75, 3.125, 2.9125, 2.75625, 3.128…: minimum at epoch 5;
    // a warm-up of 6 epochs moves it to the first measurement allowed; the maximum is the last.
    let run = |sel: MgsSelector| {
        let mut sel = sel;
        let mut t = trainer(&d, config(12, Par::Seq))
            .with_observer(Curve(curve.clone()), ObserveMode::Every(1))
            .unwrap()
            .with_observer(&mut sel, ObserveMode::Every(1))
            .unwrap();
        t.run().unwrap();
        drop(t);
        sel.selected_epoch()
    };
    let base =
        || MgsSelector::new("train", KernelKind::Traced, Summary::NormalizedLogDet, 0.5).unwrap();
    assert_eq!(run(base()), Some(5));
    assert_eq!(run(base().with_warmup(6)), Some(6));
    assert_eq!(run(base().with_extremum(Extremum::Maximum)), Some(11));
    assert!(MgsSelector::new("train", KernelKind::Traced, Summary::Trace, 1.0).is_err());
}

/// Each `Summary` names a field of `KernelSummary`: its name is the field's serde key (and so
/// the CSV column's last part), and `get` reads that field.
#[test]
fn summaries_name_the_kernel_summary_fields() {
    let k = KernelSummary {
        trace: 1.0,
        logdet: 2.0,
        normalized_logdet: 3.0,
        cosine_mean: 4.0,
        cosine_logdet: 5.0,
        effective_rank: Some(6.0),
        condition_number: None,
    };
    let fields = serde_json::to_value(k).unwrap();
    let fields = fields.as_object().unwrap();
    assert_eq!(fields.len(), Summary::ALL.len());
    for (i, s) in Summary::ALL.into_iter().enumerate() {
        let expected = (i < 6).then_some(i as f64 + 1.0);
        assert_eq!(k.get(s), expected, "{s}");
        assert_eq!(fields[s.name()].as_f64(), expected, "{s}");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, format!("\"{}\"", s.name()));
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
        assert_eq!(s.to_string(), s.name());
    }
}

fn mixup_history(seed: u64, par: Par) -> (History, Vec<f64>) {
    let d = data();
    let cfg = TrainConfig {
        mixup: Some(Mixup::new(0.4).unwrap()),
        dropout: 0.1,
        input_noise_std: 0.05,
        seed,
        ..config(4, par)
    };
    let mut t = trainer(&d, cfg);
    let h = t.run().unwrap().without_timing();
    (h, t.model().params().to_vec())
}

#[test]
fn mixup_is_reproducible_from_the_seed() {
    let (a, pa) = mixup_history(11, Par::Seq);
    let (b, pb) = mixup_history(11, Par::Seq);
    assert_eq!(a, b);
    assert_eq!(pa, pb);
    let (c, pc) = mixup_history(12, Par::Seq);
    assert_ne!(pa, pc);
    assert_ne!(a.epochs[0].train_loss, c.epochs[0].train_loss);
    assert!(Mixup::new(0.0).is_err() && Mixup::new(f64::NAN).is_err());
    // Mixed soft targets change the training loss relative to the unmixed run.
    let d = data();
    let mut plain = trainer(
        &d,
        TrainConfig {
            dropout: 0.1,
            input_noise_std: 0.05,
            seed: 11,
            ..config(4, Par::Seq)
        },
    );
    let hp = plain.run().unwrap();
    assert_ne!(hp.epochs[0].train_loss, a.epochs[0].train_loss);
}

#[test]
fn one_and_two_threads_agree_with_every_new_part() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let run = |par: Par| {
        let d = data();
        let mut sel =
            MgsSelector::new("p", KernelKind::Traced, Summary::NormalizedLogDet, 0.5).unwrap();
        let cfg = TrainConfig {
            loss: LossConfig::SymmetricCrossEntropy {
                alpha: 0.1,
                beta: 1.0,
                log_clip: -4.0,
            },
            mixup: Some(Mixup::new(1.0).unwrap()),
            ..config(3, par)
        };
        let monitor = MgsMonitor::new(&[KernelKind::Traced], 1e-6)
            .unwrap()
            .with_probe("p", d.x.subrows(0, 24))
            .unwrap()
            .with_layers(true);
        let mut t = trainer(&d, cfg)
            .with_observer(monitor, ObserveMode::Every(1))
            .unwrap()
            .with_observer(&mut sel, ObserveMode::Every(1))
            .unwrap();
        let h = t.run().unwrap().without_timing();
        let p = t.model().params().to_vec();
        drop(t);
        (h, p, sel.selected_epoch())
    };
    let one = run(Par::Seq);
    let two = pool.install(|| run(Par::rayon(2)));
    assert_eq!(one, two);
}

#[test]
fn checkpoints_resume_losses_observers_and_selection_bit_for_bit() {
    let d = data();
    let sel = MgsSelector::new("p", KernelKind::Traced, Summary::NormalizedLogDet, 0.3).unwrap();
    let make = || {
        let monitor = MgsMonitor::new(&[KernelKind::Traced], 1e-6)
            .unwrap()
            .with_probe("p", d.x.subrows(0, 16))
            .unwrap();
        let cfg = TrainConfig {
            loss: LossConfig::EarlyLearning {
                lambda: 3.0,
                momentum: 0.7,
            },
            ..config(8, Par::Seq)
        };
        trainer(&d, cfg)
            .with_observer(monitor, ObserveMode::Every(2))
            .unwrap()
            .with_observer(sel.clone(), ObserveMode::Every(1))
            .unwrap()
    };
    let mut straight = make();
    let full = straight.run().unwrap().without_timing();
    let mut first = make();
    first.run_for(3).unwrap();
    let text = first.checkpoint().to_text().unwrap();
    let mut resumed = make();
    resumed
        .restore(&Checkpoint::from_text(&text).unwrap())
        .unwrap();
    let again = resumed.run().unwrap().without_timing();
    assert_eq!(again, full);
    assert_eq!(resumed.model().params(), straight.model().params());
    assert_eq!(
        resumed.checkpoint().observers,
        straight.checkpoint().observers
    );
    assert!(
        !first.checkpoint().state.loss_state.is_empty(),
        "ELR keeps per-sample targets"
    );

    // Every single-byte change of the payload or the header is detected.
    let bytes = text.as_bytes();
    let mut rng = rng_from_seed(99);
    for _ in 0..200 {
        let i = rng.random_range(0..bytes.len());
        let mut b = bytes.to_vec();
        b[i] ^= 1 << rng.random_range(0..7u32);
        if let Ok(s) = String::from_utf8(b) {
            assert!(
                Checkpoint::<f64>::from_text(&s).is_err(),
                "byte {i} changed undetected"
            );
        }
    }
}

#[test]
fn degenerate_generator_state_is_rejected() {
    let d = data();
    let mut t = trainer(&d, config(2, Par::Seq));
    t.run_for(1).unwrap();
    let mut ckpt = t.checkpoint();
    let zero: mgs::MgsRng = serde_json::from_value(serde_json::json!({ "s": [0u64, 0, 0, 0] }))
        .expect("xoshiro's serde layout");
    ckpt.state.rngs.noise = zero;
    let err = Checkpoint::<f64>::from_text(&ckpt.to_text().unwrap()).unwrap_err();
    assert!(err.to_string().contains("noise generator"), "{err}");
    assert!(t.restore(&ckpt).is_err());
}
