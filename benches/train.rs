//! One training epoch on a digits-sized problem, with and without the MGS penalty.
//!
//! Digits (1797 × 64, 10 classes) standardised, 60 % for training (1078 samples, 17 steps of
//! batch 64), MLP 64 → [128, 128] tanh → 10, Adam; the epoch includes the trainer's per-epoch
//! evaluation on the training set. With MGS: log-det penalty of the traced kernel of every
//! mini-batch (factorised route, α = 0.01). f64, `t1` = `Par::Seq`, `t2` = `Par::rayon(2)` in a
//! 2-thread pool.
//!
//! ```text
//! cargo bench --bench train
//! ```

use std::time::Duration;

use criterion::Criterion;
use faer::{Mat, Par};
use mgs::data::{self, Standardizer, stratified_split};
use mgs::penalty::{KernelKind, PenaltyConfig, PenaltyMetric};
use mgs::train::{self, Adam, MgsRegularizer, Optimizer, TrainConfig, Trainer};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};

fn epoch(x: &Mat<f64>, y: &[usize], with_mgs: bool, par: Par) -> f64 {
    let arch = Architecture::new(64, &[(128, Activation::Tanh), (128, Activation::Tanh)], 10)
        .expect("valid architecture");
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1)).expect("init");
    let config = TrainConfig {
        epochs: 1,
        batch_size: 64,
        optimizer: Optimizer::Adam(Adam {
            lr: 1e-3,
            ..Adam::default()
        }),
        par,
        ..TrainConfig::default()
    };
    let ds = train::Dataset::classification(x.as_ref(), y).expect("dataset");
    let mut trainer = Trainer::new(mlp, config, ds).expect("trainer");
    if with_mgs {
        let cfg = PenaltyConfig {
            metric: PenaltyMetric::LogDet,
            kernel: KernelKind::Traced,
            weight: 0.01,
            ..Default::default()
        };
        trainer = trainer
            .with_regularizer(MgsRegularizer::new(cfg).expect("penalty"))
            .expect("regularizer");
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
    let x = train.features_as::<f64>();
    let y = train.labels().expect("classes").to_vec();
    let mut group = c.benchmark_group("train_epoch");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let par = if threads == 1 {
            Par::Seq
        } else {
            Par::rayon(threads)
        };
        for with_mgs in [false, true] {
            let name = format!("{}/t{threads}", if with_mgs { "mgs" } else { "plain" });
            group.bench_function(&name, |b| {
                b.iter(|| pool.install(|| epoch(&x, &y, with_mgs, par)))
            });
        }
    }
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
