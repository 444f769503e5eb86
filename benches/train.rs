//! One training epoch on a digits-sized problem: plain, with each robust loss, with mixup, with
//! the MGS penalty (subsets of 32 and 128 samples) and with the MGS monitor on a 200-sample
//! probe set. `docs/benchmarks.md` quotes each as a ratio to the plain epoch of the same run.
//!
//! Digits (1797 × 64, 10 classes) standardised, 60 % for training (1078 samples, 17 steps of
//! batch 64), MLP 64 → [128, 128] tanh → 10, Adam, f64; the epoch includes the loop's
//! evaluation on the training set. MGS: log-det of the traced kernel (factorised route,
//! α = 0.01) on a seeded subset of each batch. Monitor: every MGS summary of the traced kernel
//! (spectrum included) on 200 training samples after the epoch. `t1` = `Par::Seq`, `t2` =
//! `Par::rayon(2)` in a 2-thread pool (plain and MGS-32 only).
//!
//! ```text
//! cargo bench --bench train
//! ```

mod common;

use std::time::Duration;

use criterion::Criterion;
use faer::Par;
use mgs::data::{self, Dataset, Standardizer, stratified_split};
use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
use mgs::train::{
    Adam, LossConfig, MgsMonitor, MgsRegularizer, Mixup, ObserveMode, Optimizer, TrainConfig,
    Trainer,
};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};

/// What one benchmarked epoch adds to the plain one.
#[derive(Clone, Copy)]
enum Variant {
    Plain,
    Loss(LossConfig),
    Mixup,
    Mgs(usize),
    Monitor,
}

fn epoch(train: &Dataset, variant: Variant, par: Par) -> f64 {
    let arch = Architecture::new(64, &[(128, Activation::Tanh), (128, Activation::Tanh)], 10)
        .expect("valid architecture");
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1)).expect("init");
    let mut config = TrainConfig {
        epochs: 1,
        batch_size: 64,
        optimizer: Optimizer::Adam(Adam {
            lr: 1e-3,
            ..Adam::default()
        }),
        par,
        ..TrainConfig::default()
    };
    match variant {
        Variant::Loss(loss) => config.loss = loss,
        Variant::Mixup => config.mixup = Some(Mixup::new(1.0).expect("mixup")),
        _ => {}
    }
    let mut trainer = Trainer::new(mlp, config, train).expect("trainer");
    match variant {
        Variant::Mgs(subset) => {
            let cfg = PenaltyConfig {
                metric: PenaltyMetric::LogDet,
                kernel: KernelKind::Traced,
                weight: 0.01,
                subset: Some(subset),
                ..Default::default()
            };
            trainer = trainer
                .with_regularizer(MgsRegularizer::new(cfg).expect("penalty"))
                .expect("regularizer");
        }
        Variant::Monitor => {
            let monitor = MgsMonitor::new(&[KernelKind::Traced], 1e-6)
                .and_then(|m| m.with_probe("train", train.features().subrows(0, 200)))
                .expect("monitor");
            trainer = trainer
                .with_observer(monitor, ObserveMode::Every(1))
                .expect("observer");
        }
        _ => {}
    }
    let history = trainer.run().expect("training");
    history.last().expect("one epoch").train_loss
}

fn bench(c: &mut Criterion) {
    let digits = data::digits().expect("bundled digits");
    let split = stratified_split(&digits, (0.6, 0.2, 0.2), &mut rng_from_seed(0)).expect("split");
    let train = Standardizer::fit(&split.train)
        .and_then(|s| s.transform(&split.train))
        .expect("standardise");
    let variants = [
        ("plain", Variant::Plain),
        (
            "gce",
            Variant::Loss(LossConfig::GeneralizedCrossEntropy { q: 0.7 }),
        ),
        (
            "sce",
            Variant::Loss(LossConfig::SymmetricCrossEntropy {
                alpha: 0.1,
                beta: 1.0,
                log_clip: -4.0,
            }),
        ),
        (
            "bootstrap_soft",
            Variant::Loss(LossConfig::Bootstrapping {
                beta: 0.95,
                hard: false,
            }),
        ),
        (
            "bootstrap_hard",
            Variant::Loss(LossConfig::Bootstrapping {
                beta: 0.8,
                hard: true,
            }),
        ),
        (
            "elr",
            Variant::Loss(LossConfig::EarlyLearning {
                lambda: 3.0,
                momentum: 0.7,
            }),
        ),
        ("mixup", Variant::Mixup),
        ("mgs32", Variant::Mgs(32)),
        ("mgs128", Variant::Mgs(128)),
        ("monitor200", Variant::Monitor),
    ];
    let quick = common::quick();
    let mut group = c.benchmark_group("train_epoch");
    group
        .sample_size(if quick { 10 } else { 20 })
        .measurement_time(Duration::from_secs(if quick { 1 } else { 6 }));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    for (name, variant) in variants {
        group.bench_function(format!("{name}/t1"), |b| {
            b.iter(|| epoch(&train, variant, Par::Seq))
        });
        if matches!(variant, Variant::Plain | Variant::Mgs(32)) {
            group.bench_function(format!("{name}/t2"), |b| {
                b.iter(|| common::in_pool(&pool, 2, |par| epoch(&train, variant, par)))
            });
        }
    }
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
