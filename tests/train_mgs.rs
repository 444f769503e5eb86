//! The MGS regulariser and monitor inside the trainer.

mod common;

use faer::{Mat, Par};
use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
use mgs::train::{
    Adam, Dataset, History, MgsMonitor, MgsRegularizer, Optimizer, TrainConfig, Trainer,
};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
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
        monitor_every: 4,
        par,
        ..TrainConfig::default()
    };
    let monitor = MgsMonitor::new(
        x.subrows(0, 30),
        &[KernelKind::Traced, KernelKind::Full],
        1e-6,
    )
    .unwrap()
    .with_par(par);
    let mut trainer = Trainer::new(
        mlp,
        config,
        Dataset::classification(x.as_ref(), &y).unwrap(),
    )
    .unwrap()
    .with_monitor(monitor);
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

fn metric(h: &History, name: &str) -> f64 {
    h.last()
        .unwrap()
        .metrics
        .iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1
}

#[test]
fn mgs_penalty_changes_weights_and_lowers_monitored_logdet() {
    let (plain_params, plain) = train(None, Par::Seq);
    let (mgs_params, reg) = train(Some(1.0), Par::Seq);
    assert_ne!(plain_params, mgs_params);
    let (a, b) = (
        metric(&plain, "traced.normalized_logdet"),
        metric(&reg, "traced.normalized_logdet"),
    );
    assert!(b < a - 0.1, "normalised log-det: plain {a}, MGS {b}");
    // Monitored every 4 epochs: epochs 3, 7, 11 carry metrics (7 per kernel).
    let with_metrics: Vec<usize> = reg
        .epochs
        .iter()
        .filter(|e| !e.metrics.is_empty())
        .map(|e| e.epoch)
        .collect();
    assert_eq!(with_metrics, vec![3, 7, 11]);
    assert_eq!(reg.epochs[3].metrics.len(), 14);
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
