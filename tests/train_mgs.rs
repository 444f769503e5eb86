//! The MGS regulariser and monitor inside the trainer.

mod common;

use faer::{Mat, Par};
use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
use mgs::train::{
    Adam, History, MgsMonitor, MgsRegularizer, ObserveMode, Optimizer, TrainConfig, Trainer,
};
use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
use rand::RngExt;

/// Three noisy Gaussian blobs in 5 dimensions.
fn blobs(n: usize, seed: u64) -> (Mat<f64>, Vec<usize>) {
    let mut rng = rng_from_seed(seed);
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let x = Mat::from_fn(n, 5, |i, j| {
        let centre = if j == labels[i] { 1.5 } else { 0.0 };
        centre + rng.random::<f64>() * 2.0 - 1.0
    });
    (x, labels)
}

fn train(alpha: Option<f64>, par: Par) -> (Vec<f64>, History) {
    let (x, y) = blobs(90, 1);
    let arch = Architecture::new(5, &[(24, Activation::Tanh), (24, Activation::Tanh)], 3).unwrap();
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(2)).unwrap();
    let config = TrainConfig {
        epochs: 12,
        batch_size: 30,
        optimizer: Optimizer::Adam(Adam {
            lr: 1e-2,
            ..Adam::default()
        }),
        seed: 3,
        par,
        ..TrainConfig::default()
    };
    let monitor = MgsMonitor::new(&[KernelKind::Traced, KernelKind::Full], 1e-6)
        .unwrap()
        .with_probe("probe", x.subrows(0, 30))
        .unwrap()
        .with_par(par);
    let mut trainer = Trainer::new(
        mlp,
        config,
        DatasetView::classification(x.as_ref(), &y).unwrap(),
    )
    .unwrap()
    .with_observer(monitor, ObserveMode::Every(4))
    .unwrap();
    if let Some(weight) = alpha {
        let cfg = PenaltyConfig {
            metric: PenaltyMetric::NormalizedLogDet,
            kernel: KernelKind::Traced,
            weight,
            subset: Some(20),
            ..Default::default()
        };
        trainer = trainer
            .with_regularizer(MgsRegularizer::new(cfg).unwrap())
            .unwrap();
    }
    let history = trainer.run().unwrap();
    (trainer.model().params().to_vec(), history)
}

fn nlogdet(h: &History) -> f64 {
    let last = h.last().unwrap();
    last.mgs("probe", KernelKind::Traced)
        .unwrap()
        .summary
        .normalized_logdet
}

#[test]
fn mgs_penalty_changes_weights_and_lowers_monitored_logdet() {
    let (plain_params, plain) = train(None, Par::Seq);
    let (mgs_params, reg) = train(Some(1.0), Par::Seq);
    assert_ne!(plain_params, mgs_params);
    let (a, b) = (nlogdet(&plain), nlogdet(&reg));
    assert!(b < a - 0.1, "normalised log-det: plain {a}, MGS {b}");
    // Monitored every 4 epochs: epochs 3, 7, 11 carry metrics (7 per kernel).
    let with_metrics: Vec<usize> = reg
        .epochs
        .iter()
        .filter(|e| !e.mgs.is_empty())
        .map(|e| e.epoch)
        .collect();
    assert_eq!(with_metrics, vec![3, 7, 11]);
    assert_eq!(reg.epochs[3].mgs.len(), 2);
    assert!(
        reg.epochs[3]
            .mgs
            .iter()
            .all(|m| m.summary.effective_rank.is_some())
    );
    assert!(
        reg.epochs
            .iter()
            .all(|e| e.penalties.len() == 1 && e.penalties[0].0 == "mgs")
    );
}

#[test]
fn mgs_training_is_thread_count_independent() {
    let pool = |t| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
    };
    let one = pool(1).install(|| train(Some(0.5), Par::rayon(0)));
    let two = pool(2).install(|| train(Some(0.5), Par::rayon(0)));
    assert_eq!(one.0, two.0);
    assert_eq!(one.1.without_timing(), two.1.without_timing());
}

#[test]
fn weight_schedule_delays_ramps_and_caps_the_penalty() {
    use mgs::data::TargetsView;
    use mgs::train::{Regularizer, StepContext, WeightSchedule};
    let (x, y) = blobs(30, 5);
    let arch = Architecture::new(5, &[(16, Activation::Tanh)], 3).unwrap();
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(2)).unwrap();
    let cfg = PenaltyConfig {
        metric: PenaltyMetric::LogDet,
        weight: 0.5,
        ..Default::default()
    };
    // The uncapped gradient and value at full weight.
    let mut full = MgsRegularizer::<f64>::new(cfg.clone()).unwrap();
    let data_grad: Vec<f64> = (0..mlp.n_params())
        .map(|i| ((i % 7) as f64 - 3.0) * 1e-3)
        .collect();
    let zero = vec![0.0; mlp.n_params()];
    // The penalty's value and the gradient it adds to `base`.
    let eval_on = |reg: &mut MgsRegularizer<f64>, epoch: usize, base: &[f64]| {
        let mut rng = rng_from_seed(1);
        let mut ctx = StepContext::new(
            &mlp,
            x.as_ref(),
            TargetsView::Classes(&y),
            &mut rng,
            Par::Seq,
        );
        ctx.epoch = epoch;
        let mut g = base.to_vec();
        let v = reg.penalty(&mut ctx, &mut g).unwrap();
        let added: Vec<f64> = g.iter().zip(base).map(|(a, b)| a - b).collect();
        (v, added)
    };
    let eval = |reg: &mut MgsRegularizer<f64>, epoch: usize| eval_on(reg, epoch, &zero);
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let (v1, g1) = eval(&mut full, 0);
    assert!(v1 != 0.0 && norm(&g1) > 0.0);
    // Start at epoch 2, ramp over 4 epochs: w = 0, 0, 1/4, 2/4, 3/4, 1, 1.
    let schedule = WeightSchedule {
        start_epoch: 2,
        warmup_epochs: 4,
        cap: None,
        ..WeightSchedule::default()
    };
    let mut ramped = MgsRegularizer::<f64>::new(cfg.clone())
        .unwrap()
        .with_schedule(schedule)
        .unwrap();
    for (epoch, w) in [
        (0, 0.0),
        (1, 0.0),
        (2, 0.25),
        (3, 0.5),
        (4, 0.75),
        (5, 1.0),
        (9, 1.0),
    ] {
        let (v, g) = eval(&mut ramped, epoch);
        assert_eq!(v, w * v1, "epoch {epoch}");
        assert!(g.iter().zip(&g1).all(|(a, b)| *a == w * b), "epoch {epoch}");
    }
    // A cap κ bounds the added gradient's norm by κ times the data gradient's norm.
    for kappa in [1e-6, 1e6] {
        let capped = WeightSchedule {
            cap: Some(kappa),
            ..WeightSchedule::default()
        };
        let mut reg = MgsRegularizer::<f64>::new(cfg.clone())
            .unwrap()
            .with_schedule(capped)
            .unwrap();
        let (_, g) = eval_on(&mut reg, 0, &data_grad);
        let bound = kappa * norm(&data_grad);
        let n = norm(&g);
        assert_eq!(
            norm(&g1) > bound,
            kappa < 1.0,
            "both branches are exercised"
        );
        if norm(&g1) > bound {
            approx::assert_relative_eq!(n, bound, max_relative = 1e-9);
        } else {
            approx::assert_relative_eq!(n, norm(&g1), max_relative = 1e-9);
        }
    }
    let bad = WeightSchedule {
        cap: Some(0.0),
        ..WeightSchedule::default()
    };
    assert!(
        MgsRegularizer::<f64>::new(cfg)
            .unwrap()
            .with_schedule(bad)
            .is_err()
    );
}
