//! Tests of `mgs::train`: loss gradients, optimiser steps, training runs, dropout, weight
//! decay, checkpoints and exact resumption, thread-count independence, divergence, and a
//! user-written regulariser.

use std::path::PathBuf;

mod common;

use approx::relative_eq;
use common::{fd_gradient, flat, norm, norm_rel_err};
use faer::{Mat, Par};
use mgs::data::{DatasetView, TargetsView};
use mgs::derivatives::vjp_into;
use mgs::train::{
    Adam, AdamW, Checkpoint, Control, CrossEntropy, DropoutPass, EarlyStopping, Loss, LossConfig,
    MeanSquaredError, Optimizer, Regularizer, Schedule, Sgd, StepContext, TrainConfig, Trainer,
    accuracy,
};
use mgs::{Activation, Architecture, Error, Init, Mlp, rng_from_seed};
use rand_distr::{Distribution, Normal};

// ---------------------------------------------------------------------------------------------
// Helpers

/// `N × d` standard-normal matrix from `seed`.
fn randn(n: usize, d: usize, seed: u64) -> Mat<f64> {
    let mut rng = rng_from_seed(seed);
    let dist = Normal::new(0.0, 1.0).unwrap();
    let mut m = Mat::zeros(n, d);
    for i in 0..n {
        for j in 0..d {
            m[(i, j)] = dist.sample(&mut rng);
        }
    }
    m
}

/// Two Gaussian blobs in 2-D (std 0.5) centred at (−1.5, −1.5) and (1.5, 1.5), alternating labels.
fn blobs(n: usize, seed: u64) -> (Mat<f64>, Vec<usize>) {
    let noise = randn(n, 2, seed);
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let x = Mat::from_fn(n, 2, |i, j| {
        let centre = if labels[i] == 1 { 1.5 } else { -1.5 };
        centre + 0.5 * noise[(i, j)]
    });
    (x, labels)
}

fn mlp(d: usize, hidden: usize, c: usize, seed: u64) -> Mlp<f64> {
    let arch = Architecture::new(d, &[(hidden, Activation::Tanh)], c).unwrap();
    Mlp::init(arch, Init::XavierNormal, &mut rng_from_seed(seed)).unwrap()
}

fn tmp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mgs-train-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Finite-difference tolerance: relative error of the whole gradient, `‖g − g_fd‖ / ‖g_fd‖`.
const FD_TOL: f64 = 1e-7;
const FD_STEP: f64 = 1e-5;

// ---------------------------------------------------------------------------------------------
// Losses (the losses themselves are tested in tests/losses.rs)

/// Gradient of the training loss through the network (loss gradient, then VJP) against central
/// differences in the parameters; without and with dropout (masks held fixed by reseeding).
#[test]
fn network_loss_gradient_matches_central_differences() {
    let net = mlp(3, 7, 3, 5);
    let x = randn(9, 3, 6);
    let labels: Vec<usize> = (0..9).map(|i| i % 3).collect();
    let theta = net.params().to_vec();
    for rate in [0.0, 0.4] {
        let loss_at = |p: &[f64], grad: Option<&mut Vec<f64>>| -> f64 {
            let m = Mlp::from_params(net.arch().clone(), p.to_vec()).unwrap();
            let pass =
                DropoutPass::new(&m, x.as_ref(), rate, &mut rng_from_seed(11), Par::Seq).unwrap();
            let mut g_out = Mat::zeros(9, 3);
            let l = CrossEntropy::new(0.05)
                .unwrap()
                .value_and_grad(
                    pass.output(),
                    TargetsView::Classes(&labels),
                    None,
                    Some(g_out.as_mut()),
                )
                .unwrap();
            if let Some(g) = grad {
                vjp_into(&m, pass.cache(), g_out.as_ref(), g, None, Par::Seq).unwrap();
            }
            l
        };
        let mut g = vec![0.0; theta.len()];
        loss_at(&theta, Some(&mut g));
        let fd = fd_gradient(&theta, FD_STEP, |p| loss_at(p, None));
        let err = norm_rel_err(&g, &fd);
        eprintln!("network, dropout {rate}: relative error {err:e}");
        assert!(err <= FD_TOL, "dropout {rate}: relative error {err:e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Optimisers and schedules

/// Two steps of `opt` from θ₀ = (1, −2, 0.5) with g₁ = (0.5, −1, 2), g₂ = (0.1, 0.2, −0.3) and
/// η = 0.1 must give `want[0]` and then `want[1]`, each entry within `1e-14 · max(1, |want|)`:
/// approx's `relative_eq!` passes when `|Δ| ≤ epsilon` or `|Δ| ≤ max_relative · max(|got|, |want|)`,
/// and with `epsilon = 1e-14`, `max_relative = 9.9e-15 < 1e-14 / (1 + 1e-14)` either case implies
/// `|Δ| ≤ 1e-14 · max(1, |want|)`.
fn two_steps_are(opt: Optimizer, want: [[f64; 3]; 2], what: &str) {
    opt.check().unwrap();
    let mut state = opt.init_state::<f64>(3);
    let mut theta = [1.0, -2.0, 0.5];
    for (step, (g, want)) in [[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]]
        .iter()
        .zip(want)
        .enumerate()
    {
        opt.step(&mut state, &mut theta, g, 0.1).unwrap();
        assert!(
            relative_eq!(theta[..], want[..], epsilon = 1e-14, max_relative = 9.9e-15),
            "{what} step {}: {theta:?} against {want:?}",
            step + 1
        );
    }
    assert_eq!(state.step, 2);
}

/// Every optimiser's first two steps against values worked out by hand (Adam's with the textbook
/// formula m̂ / (√v̂ + ε)); the tolerance is [`two_steps_are`]'s.
#[test]
fn optimiser_steps_by_hand() {
    let sgd = |momentum, nesterov, weight_decay| {
        Optimizer::Sgd(Sgd {
            lr: 0.1,
            momentum,
            nesterov,
            weight_decay,
            ..Sgd::default()
        })
    };
    // θ₁ = θ₀ − ηg₁, θ₂ = θ₁ − ηg₂.
    two_steps_are(
        sgd(0.0, false, 0.0),
        [[0.95, -1.9, 0.3], [0.94, -1.92, 0.33]],
        "sgd",
    );
    // b₁ = g₁, b₂ = 0.9 g₁ + g₂ = (0.55, −0.7, 1.5).
    two_steps_are(
        sgd(0.9, false, 0.0),
        [[0.95, -1.9, 0.3], [0.895, -1.83, 0.15]],
        "momentum",
    );
    // Nesterov: d₁ = g₁ + 0.9 b₁ = 1.9 g₁; d₂ = g₂ + 0.9 b₂ = (0.595, −0.43, 1.05).
    two_steps_are(
        sgd(0.9, true, 0.0),
        [[0.905, -1.81, 0.12], [0.8455, -1.767, 0.015]],
        "nesterov",
    );
    // Decoupled decay λ = 0.5: θ ← 0.95 θ − η g.
    two_steps_are(
        sgd(0.0, false, 0.5),
        [[0.9, -1.8, 0.275], [0.845, -1.73, 0.29125]],
        "sgd decay",
    );
    // Adam: the first step is η g/(|g| + ε).
    let adam = Adam {
        lr: 0.1,
        ..Adam::default()
    };
    two_steps_are(
        Optimizer::Adam(adam),
        [
            [0.900000002, -1.900000001, 0.4000000005],
            [0.8196959063846518, -1.8488973939904947, 0.3447801952059978],
        ],
        "adam",
    );
    // AdamW λ = 0.1: θ ← 0.99 θ first.
    let adamw = AdamW {
        adam,
        weight_decay: 0.1,
        ..AdamW::default()
    };
    two_steps_are(
        Optimizer::AdamW(adamw),
        [
            [0.890000002, -1.880000001, 0.3950000005],
            [0.8007959063646517, -1.8100973939804947, 0.33583019520099777],
        ],
        "adamw",
    );
}

#[test]
fn schedules_and_bad_hyperparameters() {
    assert_eq!(Schedule::Constant.lr(0.1, 7, 10), 0.1);
    let step = Schedule::Step {
        gamma: 0.5,
        every: 3,
    };
    let lrs: Vec<f64> = (0..7).map(|e| step.lr(0.8, e, 10)).collect();
    assert_eq!(lrs, [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2]);
    let cos = Schedule::Cosine { min_lr: 0.01 };
    assert_eq!(cos.lr(1.0, 0, 4), 1.0);
    assert!((cos.lr(1.0, 2, 4) - 0.505).abs() < 1e-15);
    assert!(cos.lr(1.0, 3, 4) > 0.01 && cos.lr(1.0, 4, 4) == 0.01);

    let bad = [
        Optimizer::Sgd(Sgd {
            lr: -1.0,
            ..Sgd::default()
        }),
        Optimizer::Sgd(Sgd {
            nesterov: true,
            ..Sgd::default()
        }),
        Optimizer::Adam(Adam {
            beta2: 1.0,
            ..Adam::default()
        }),
        Optimizer::AdamW(AdamW {
            weight_decay: f64::NAN,
            ..AdamW::default()
        }),
    ];
    for opt in bad {
        assert!(
            matches!(opt.check(), Err(Error::InvalidHyperparameter { .. })),
            "{opt:?}"
        );
    }
    // A state of the wrong kind or length is rejected.
    let sgd = Optimizer::Sgd(Sgd {
        momentum: 0.5,
        ..Sgd::default()
    });
    let mut adam_state = Optimizer::Adam(Adam::default()).init_state::<f64>(2);
    assert!(
        sgd.step(&mut adam_state, &mut [0.0; 2], &[1.0; 2], 0.1)
            .is_err()
    );
    let mut state = sgd.init_state::<f64>(3);
    assert!(matches!(
        sgd.step(&mut state, &mut [0.0; 2], &[1.0; 2], 0.1),
        Err(Error::ShapeMismatch { .. })
    ));

    let (x, y) = blobs(8, 0);
    let data = DatasetView::classification(x.as_ref(), &y).unwrap();
    let configs = [
        TrainConfig {
            batch_size: 0,
            ..TrainConfig::default()
        },
        TrainConfig {
            dropout: 1.0,
            ..TrainConfig::default()
        },
        TrainConfig {
            input_noise_std: -0.1,
            ..TrainConfig::default()
        },
        TrainConfig {
            loss: LossConfig::CrossEntropy {
                label_smoothing: 2.0,
            },
            ..TrainConfig::default()
        },
        TrainConfig {
            schedule: Schedule::Cosine { min_lr: 1.0 },
            ..TrainConfig::default()
        },
    ];
    for config in configs {
        assert!(
            matches!(
                Trainer::new(mlp(2, 4, 2, 0), config.clone(), data),
                Err(Error::InvalidHyperparameter { .. })
            ),
            "{config:?}"
        );
    }
    // Early stopping without a validation set fails at run time, without touching the model.
    let mut t = Trainer::new(
        mlp(2, 4, 2, 0),
        TrainConfig {
            early_stopping: Some(EarlyStopping {
                patience: 2,
                min_delta: 0.0,
                restore_best: true,
            }),
            ..TrainConfig::default()
        },
        data,
    )
    .unwrap();
    assert!(matches!(
        t.run(),
        Err(Error::Incompatible {
            what: "early stopping",
            ..
        })
    ));
    // Labels beyond the model's outputs, wrong input width.
    assert!(Trainer::new(mlp(2, 4, 1, 0), TrainConfig::default(), data).is_err());
    assert!(matches!(
        Trainer::new(mlp(3, 4, 2, 0), TrainConfig::default(), data),
        Err(Error::ShapeMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Training runs

fn blob_config() -> TrainConfig {
    TrainConfig {
        epochs: 20,
        batch_size: 16,
        optimizer: Optimizer::Adam(Adam {
            lr: 0.05,
            ..Adam::default()
        }),
        seed: 3,
        ..TrainConfig::default()
    }
}

#[test]
fn separable_blobs_reach_full_training_accuracy() {
    let (x, y) = blobs(64, 1);
    let (xt, yt) = blobs(32, 2);
    let train = DatasetView::classification(x.as_ref(), &y).unwrap();
    let test = DatasetView::classification(xt.as_ref(), &yt).unwrap();
    let mut trainer = Trainer::new(mlp(2, 16, 2, 0), blob_config(), train)
        .unwrap()
        .with_test(test)
        .unwrap();
    let history = trainer.run().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.train.accuracy, Some(1.0));
    assert_eq!(last.test.unwrap().accuracy, Some(1.0));
    assert!(last.train.loss < 0.05, "train loss {}", last.train.loss);
    assert!(history.epochs.iter().all(|e| e.val.is_none()));
    // The recorded evaluation is the plain forward pass.
    let out = trainer.model().forward(x.as_ref(), Par::Seq).unwrap();
    assert_eq!(accuracy(out.as_ref(), &y).unwrap(), 1.0);
    // CSV and JSON.
    let dir = tmp_dir("history");
    history.write_csv(dir.join("h.csv")).unwrap();
    history.write_json(dir.join("h.json")).unwrap();
    let csv = std::fs::read_to_string(dir.join("h.csv")).unwrap();
    assert_eq!(csv.lines().count(), 21);
    assert!(csv.starts_with("epoch,lr,train_loss,"));
    assert_eq!(
        mgs::train::History::read_json(dir.join("h.json")).unwrap(),
        history
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn regression_with_mse() {
    // y = sin(x₀) − x₁/2 with SGD + Nesterov and a step schedule.
    let x = randn(48, 2, 9);
    let y = Mat::from_fn(48, 1, |i, _| x[(i, 0)].sin() - 0.5 * x[(i, 1)]);
    let config = TrainConfig {
        epochs: 40,
        batch_size: 12,
        loss: LossConfig::MeanSquaredError,
        optimizer: Optimizer::Sgd(Sgd {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.0,
            ..Sgd::default()
        }),
        schedule: Schedule::Step {
            gamma: 0.5,
            every: 15,
        },
        ..TrainConfig::default()
    };
    let data = DatasetView::regression(x.as_ref(), y.as_ref()).unwrap();
    let init = mlp(2, 16, 1, 4);
    let initial = mgs::train::evaluate(&init, data, &MeanSquaredError, Par::Seq).unwrap();
    let mut trainer = Trainer::new(init, config, data)
        .unwrap()
        .with_callback(mgs::train::progress_printer())
        .with_regularizer(
            Box::new(mgs::train::L2Penalty::new(0.0).unwrap()) as Box<dyn Regularizer<f64>>
        )
        .unwrap();
    let h = trainer.run().unwrap();
    let last = h.epochs[39].train.loss;
    assert!(
        last < 0.05 * initial.loss,
        "{last} vs initial {}",
        initial.loss
    );
    assert_eq!(h.epochs[39].train.accuracy, None);
    assert_eq!(h.epochs[15].lr, 0.025);
}

fn final_norm(optimizer: Optimizer, l2: Option<f64>) -> f64 {
    let (x, y) = blobs(32, 5);
    let data = DatasetView::classification(x.as_ref(), &y).unwrap();
    let config = TrainConfig {
        epochs: 15,
        batch_size: 8,
        optimizer,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(mlp(2, 16, 2, 6), config, data).unwrap();
    if let Some(lambda) = l2 {
        t = t
            .with_regularizer(mgs::train::L2Penalty::new(lambda).unwrap())
            .unwrap();
    }
    let h = t.run().unwrap();
    if l2.is_some() {
        assert!(
            h.epochs
                .iter()
                .all(|e| e.penalties[0].0 == "l2" && e.penalties[0].1 > 0.0)
        );
    }
    norm(t.model().params())
}

#[test]
fn weight_decay_shrinks_the_parameters() {
    let adam = Adam {
        lr: 0.02,
        ..Adam::default()
    };
    let plain = final_norm(Optimizer::Adam(adam), None);
    let adamw = final_norm(
        Optimizer::AdamW(AdamW {
            adam,
            weight_decay: 1.0,
            ..AdamW::default()
        }),
        None,
    );
    let l2 = final_norm(Optimizer::Adam(adam), Some(0.1));
    assert!(adamw < 0.9 * plain, "AdamW {adamw} vs Adam {plain}");
    assert!(l2 < 0.9 * plain, "L2 {l2} vs none {plain}");
    let sgd = |weight_decay| {
        Optimizer::Sgd(Sgd {
            lr: 0.1,
            momentum: 0.9,
            nesterov: false,
            weight_decay,
            ..Sgd::default()
        })
    };
    let (plain, decayed) = (final_norm(sgd(0.0), None), final_norm(sgd(1.0), None));
    assert!(decayed < 0.9 * plain, "SGD decay {decayed} vs none {plain}");
}

// ---------------------------------------------------------------------------------------------
// Dropout

#[test]
fn dropout_is_seeded_and_absent_at_evaluation() {
    let net = mlp(3, 64, 2, 8);
    let x = randn(40, 3, 9);
    let pass = |seed| DropoutPass::new(&net, x.as_ref(), 0.3, &mut rng_from_seed(seed), Par::Seq);
    let (a, b, c) = (pass(1).unwrap(), pass(1).unwrap(), pass(2).unwrap());
    assert_eq!(a.output(), b.output());
    assert_eq!(a.mask(0), b.mask(0));
    assert_ne!(a.output(), c.output());
    assert!(a.mask(1).is_none());
    // Inverted scaling and a kept fraction close to 1 − p.
    let m = a.mask(0).unwrap();
    let kept = flat(m).iter().filter(|&&s| s != 0.0).count() as f64 / (40.0 * 64.0);
    assert!(flat(m).iter().all(|&s| s == 0.0 || s == 1.0 / 0.7));
    assert!((kept - 0.7).abs() < 0.05, "kept {kept}");
    let plain = net.forward(x.as_ref(), Par::Seq).unwrap();
    assert_ne!(a.output(), plain.as_ref());
    // Rate 0: the plain forward pass, bit for bit.
    let none = DropoutPass::new(&net, x.as_ref(), 0.0, &mut rng_from_seed(1), Par::Seq).unwrap();
    assert_eq!(none.output(), plain.as_ref());
    assert!(DropoutPass::new(&net, x.as_ref(), 1.0, &mut rng_from_seed(1), Par::Seq).is_err());

    // Training with dropout: the recorded evaluations are the plain forward pass, and the run is
    // reproducible under the same seed.
    let (xs, ys) = blobs(48, 3);
    let (xv, yv) = blobs(16, 4);
    let run = |seed| {
        let config = TrainConfig {
            dropout: 0.5,
            epochs: 4,
            seed,
            ..blob_config()
        };
        let mut t = Trainer::new(
            mlp(2, 32, 2, 1),
            config,
            DatasetView::classification(xs.as_ref(), &ys).unwrap(),
        )
        .unwrap()
        .with_validation(DatasetView::classification(xv.as_ref(), &yv).unwrap())
        .unwrap();
        let h = t.run().unwrap();
        (t, h)
    };
    let (t1, h1) = run(10);
    let (t2, h2) = run(10);
    let (t3, _) = run(11);
    assert_eq!(h1.without_timing(), h2.without_timing());
    assert_eq!(t1.model().params(), t2.model().params());
    assert_ne!(t1.model().params(), t3.model().params());
    let out = t1.model().forward(xv.as_ref(), Par::Seq).unwrap();
    let val = h1.last().unwrap().val.unwrap();
    let plain_loss = CrossEntropy::new(0.0)
        .unwrap()
        .evaluate(out.as_ref(), TargetsView::Classes(&yv))
        .unwrap();
    assert_eq!(val.loss, plain_loss);
    assert_eq!(val.accuracy, Some(accuracy(out.as_ref(), &yv).unwrap()));
    assert_eq!(t1.predict(xv.as_ref()).unwrap(), out);
    assert_eq!(
        t1.evaluate(DatasetView::classification(xv.as_ref(), &yv).unwrap())
            .unwrap(),
        val
    );
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and exact resumption

/// A configuration that exercises every stateful part: Adam moments, a cosine schedule over the
/// run, shuffling, dropout masks, input noise, label smoothing, an L2 penalty, early stopping
/// bookkeeping, and a monitor.
fn resume_trainer<'a>(
    train: DatasetView<'a, f64>,
    val: DatasetView<'a, f64>,
    checkpoint: Option<mgs::train::AutoCheckpoint>,
) -> Trainer<'a, f64> {
    let config = TrainConfig {
        epochs: 6,
        batch_size: 10,
        optimizer: Optimizer::AdamW(AdamW {
            adam: Adam {
                lr: 0.03,
                ..Adam::default()
            },
            weight_decay: 0.01,
            ..AdamW::default()
        }),
        schedule: Schedule::Cosine { min_lr: 1e-3 },
        seed: 77,
        dropout: 0.2,
        input_noise_std: 0.05,
        loss: LossConfig::CrossEntropy {
            label_smoothing: 0.1,
        },
        early_stopping: Some(EarlyStopping {
            patience: 100,
            min_delta: 0.0,
            restore_best: false,
        }),
        checkpoint,
        ..TrainConfig::default()
    };
    Trainer::new(mlp(2, 12, 2, 21), config, train)
        .unwrap()
        .with_validation(val)
        .unwrap()
        .with_regularizer(mgs::train::L2Penalty::new(1e-3).unwrap())
        .unwrap()
        .with_observer(
            MetricsEvery2(|m: &Mlp<f64>, epoch| norm(m.params()) + epoch as f64),
            mgs::train::ObserveMode::Every(2),
        )
        .unwrap()
}

/// Records `("norm", f(model, epoch))` (observer for the resume tests).
struct MetricsEvery2<F>(F);

impl<F: FnMut(&Mlp<f64>, usize) -> f64> mgs::train::Observer<f64> for MetricsEvery2<F> {
    fn on_epoch(
        &mut self,
        obs: &mgs::train::Observation<'_, f64>,
        record: &mut mgs::train::EpochRecord,
    ) -> mgs::Result<Control> {
        record
            .metrics
            .push(("norm".into(), (self.0)(obs.mlp, record.epoch)));
        Ok(Control::Continue)
    }
}

#[test]
fn checkpoint_round_trip_is_bit_exact() {
    let (x, y) = blobs(37, 12);
    let (xv, yv) = blobs(11, 13);
    let train = DatasetView::classification(x.as_ref(), &y).unwrap();
    let val = DatasetView::classification(xv.as_ref(), &yv).unwrap();
    let mut t = resume_trainer(train, val, None);
    t.run_for(2).unwrap();
    let ckpt = t.checkpoint();
    assert_eq!(ckpt.state.epoch, 2);
    let dir = tmp_dir("ckpt");
    let path = dir.join("run.json");
    t.save_checkpoint(&path).unwrap();
    let back = Checkpoint::<f64>::load(&path).unwrap();
    assert_eq!(back, ckpt);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back.params), bits(t.model().params()));
    assert_eq!(
        bits(&back.state.optimizer.second_moment),
        bits(&t.optimizer_state().second_moment)
    );
    assert_eq!(&back.state.rngs, t.rngs());
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    // f32 models round-trip exactly too (values stored through f64).
    let arch = Architecture::new(3, &[(5, Activation::Relu)], 2).unwrap();
    let m32 = Mlp::<f32>::init(arch, Init::HeNormal, &mut rng_from_seed(4)).unwrap();
    let x32 = Mat::from_fn(6, 3, |i, j| ((i * 3 + j) as f32).sin());
    let y32 = [0usize, 1, 1, 0, 1, 0];
    let mut t32 = Trainer::new(
        m32,
        TrainConfig {
            epochs: 2,
            batch_size: 4,
            ..TrainConfig::default()
        },
        DatasetView::classification(x32.as_ref(), &y32).unwrap(),
    )
    .unwrap();
    t32.run().unwrap();
    let json = t32.checkpoint().to_text().unwrap();
    let back32 = Checkpoint::<f32>::from_text(&json).unwrap();
    assert_eq!(back32, t32.checkpoint());
    assert!(
        back32
            .params
            .iter()
            .zip(t32.model().params())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    // …and an f32 checkpoint is not an f64 one.
    assert!(matches!(
        Checkpoint::<f64>::from_text(&json),
        Err(Error::Format { .. })
    ));

    // Truncated, foreign, other-version and missing files.
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, &text[..text.len() * 2 / 3]).unwrap();
    match Checkpoint::<f64>::load(&bad) {
        Err(Error::Format { reason }) => assert!(reason.contains("truncated"), "{reason}"),
        other => panic!("truncated file gave {other:?}"),
    }
    std::fs::write(&bad, r#"{"epochs": [1, 2, 3]}"#).unwrap();
    match Checkpoint::<f64>::load(&bad) {
        Err(Error::Format { reason }) => assert!(reason.contains("not an mgs"), "{reason}"),
        other => panic!("foreign file gave {other:?}"),
    }
    std::fs::write(&bad, "epoch,lr\n0,0.1\n").unwrap();
    assert!(matches!(
        Checkpoint::<f64>::load(&bad),
        Err(Error::Format { .. })
    ));
    let version = format!("\"version\":{}", mgs::train::CHECKPOINT_VERSION);
    std::fs::write(&bad, text.replacen(&version, "\"version\":99", 1)).unwrap();
    match Checkpoint::<f64>::load(&bad) {
        Err(Error::Format { reason }) => assert!(reason.contains("version 99"), "{reason}"),
        other => panic!("other version gave {other:?}"),
    }
    assert!(matches!(
        Checkpoint::<f64>::load(dir.join("missing.json")),
        Err(Error::Io { .. })
    ));
    // A checkpoint for another architecture is refused, and the trainer is left untouched.
    let mut other = Trainer::new(mlp(2, 13, 2, 0), TrainConfig::default(), train).unwrap();
    let before = other.model().params().to_vec();
    assert!(matches!(other.restore(&ckpt), Err(Error::Format { .. })));
    assert_eq!(other.model().params(), before.as_slice());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let (x, y) = blobs(37, 12);
    let (xv, yv) = blobs(11, 13);
    let train = DatasetView::classification(x.as_ref(), &y).unwrap();
    let val = DatasetView::classification(xv.as_ref(), &yv).unwrap();

    let mut straight = resume_trainer(train, val, None);
    let full = straight.run().unwrap();
    assert_eq!(full.epochs.len(), 6);

    // 3 epochs with automatic checkpoints every 3 epochs, then a fresh trainer resumes.
    let dir = tmp_dir("resume");
    let path = dir.join("auto.json");
    let auto = mgs::train::AutoCheckpoint {
        path: path.clone(),
        every: 3,
    };
    let mut first = resume_trainer(train, val, Some(auto));
    first.run_for(3).unwrap();
    drop(first);
    let ckpt = Checkpoint::<f64>::load(&path).unwrap();
    assert_eq!(ckpt.state.epoch, 3);
    let mut second = resume_trainer(train, val, None);
    second.restore(&ckpt).unwrap();
    let resumed = second.run().unwrap();

    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(second.model().params()),
        bits(straight.model().params())
    );
    assert_eq!(resumed.without_timing(), full.without_timing());
    assert_eq!(second.optimizer_state(), straight.optimizer_state());
    assert_eq!(second.rngs(), straight.rngs());
    assert_eq!(second.selected(), straight.selected());
    assert!(resumed.epochs[2].metrics.is_empty() && resumed.epochs[3].metrics[0].0 == "norm");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn early_stopping_restores_the_best_parameters() {
    let (x, y) = blobs(24, 30);
    let (xv, yv) = blobs(8, 31);
    let config = TrainConfig {
        epochs: 50,
        early_stopping: Some(EarlyStopping {
            patience: 1,
            min_delta: 1e9, // nothing counts as an improvement
            restore_best: true,
        }),
        ..blob_config()
    };
    let init = mlp(2, 8, 2, 2);
    let mut t = Trainer::new(
        init.clone(),
        config,
        DatasetView::classification(x.as_ref(), &y).unwrap(),
    )
    .unwrap()
    .with_validation(DatasetView::classification(xv.as_ref(), &yv).unwrap())
    .unwrap();
    let h = t.run().unwrap();
    assert_eq!(h.epochs.len(), 1);
    assert!(h.stopped.as_deref().unwrap().contains("early stopping"));
    assert_eq!(h.selected_epoch, None);
    assert_eq!(t.model().params(), init.params());
    assert!(t.is_finished());
    assert_eq!(t.run().unwrap().epochs.len(), 1);

    // A callback can stop the run too.
    let mut t = Trainer::new(
        init,
        blob_config(),
        DatasetView::classification(x.as_ref(), &y).unwrap(),
    )
    .unwrap()
    .with_callback(|r, _| {
        if r.epoch == 2 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    assert_eq!(t.run().unwrap().epochs.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Threads

#[test]
fn one_and_two_threads_give_identical_histories() {
    let (x, y) = blobs(300, 40);
    let (xv, yv) = blobs(100, 41);
    let run = |threads: usize, seq: bool| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let config = TrainConfig {
                epochs: 3,
                batch_size: 150,
                dropout: 0.1,
                input_noise_std: 0.1,
                par: if seq { Par::Seq } else { Par::rayon(0) },
                ..blob_config()
            };
            let arch =
                Architecture::new(2, &[(64, Activation::Tanh), (48, Activation::GeluTanh)], 2)
                    .unwrap();
            let net = Mlp::init(arch, Init::XavierNormal, &mut rng_from_seed(3)).unwrap();
            let mut t = Trainer::new(
                net,
                config,
                DatasetView::classification(x.as_ref(), &y).unwrap(),
            )
            .unwrap()
            .with_validation(DatasetView::classification(xv.as_ref(), &yv).unwrap())
            .unwrap()
            .with_regularizer(mgs::train::L2Penalty::new(1e-3).unwrap())
            .unwrap();
            let h = t.run().unwrap();
            (h.without_timing(), t.model().params().to_vec())
        })
    };
    let (h1, p1) = run(1, false);
    let (h2, p2) = run(2, false);
    assert_eq!(h1, h2);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&p1), bits(&p2));
    // And the same as with `Par::Seq`.
    let (h0, p0) = run(2, true);
    assert_eq!(h0, h1);
    assert_eq!(bits(&p0), bits(&p1));
}

// ---------------------------------------------------------------------------------------------
// Divergence

#[test]
fn huge_learning_rate_diverges_with_finite_best_parameters() {
    let x = randn(32, 2, 50);
    let y = Mat::from_fn(32, 1, |i, _| x[(i, 0)] * 3.0);
    let config = TrainConfig {
        epochs: 500,
        batch_size: 32,
        loss: LossConfig::MeanSquaredError,
        optimizer: Optimizer::Sgd(Sgd {
            lr: 1e4,
            ..Sgd::default()
        }),
        ..TrainConfig::default()
    };
    let init = mlp(2, 8, 1, 51);
    let mut t = Trainer::new(
        init.clone(),
        config,
        DatasetView::regression(x.as_ref(), y.as_ref()).unwrap(),
    )
    .unwrap();
    let err = t.run().unwrap_err();
    let Error::Diverged { epoch, step, what } = err.clone() else {
        panic!("expected Diverged, got {err:?}");
    };
    assert_eq!(step, 0); // full batch: one step per epoch
    assert!(["loss", "gradient", "parameters"].contains(&what), "{what}");
    assert_eq!(t.history().epochs.len(), epoch);
    let best = t.selected().unwrap();
    assert!(best.params.iter().all(|p| p.is_finite()));
    assert!(best.loss.is_finite());
    assert!(t.model().params().iter().all(|p| p.is_finite()));
    // The initial parameters are the best ones (the loss only grows).
    assert_eq!(best.epoch, None);
    assert_eq!(best.params, init.params());
    // The trainer stays failed.
    assert_eq!(t.error(), Some(&err));
    assert_eq!(t.run().unwrap_err(), err);
}

// ---------------------------------------------------------------------------------------------
// A user-written regulariser

/// `R(θ) = α/2 ‖θ − θ₀‖²`, plus bookkeeping that shows what the trainer hands over: it counts
/// its calls (state saved in checkpoints), draws from the context's generator, and checks the
/// batch it is given.
struct Anchor {
    alpha: f64,
    anchor: Vec<f64>,
    calls: u64,
    draws: Vec<u64>,
}

impl Regularizer<f64> for Anchor {
    fn name(&self) -> &str {
        "anchor"
    }

    fn penalty(&mut self, ctx: &mut StepContext<'_, f64>, grad: &mut [f64]) -> mgs::Result<f64> {
        assert_eq!(ctx.inputs.nrows(), ctx.targets.len());
        assert_eq!(ctx.inputs.ncols(), ctx.mlp.arch().input_dim());
        assert!(ctx.lr > 0.0);
        use rand::RngExt;
        self.draws.push(ctx.rng.random_range(0..1000u64));
        self.calls += 1;
        let mut value = 0.0;
        for ((g, p), a) in grad.iter_mut().zip(ctx.mlp.params()).zip(&self.anchor) {
            *g += self.alpha * (p - a);
            value += 0.5 * self.alpha * (p - a) * (p - a);
        }
        Ok(value)
    }

    fn state(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "calls": self.calls }))
    }

    fn load_state(&mut self, state: &serde_json::Value) -> mgs::Result<()> {
        self.calls = state["calls"].as_u64().ok_or(Error::Format {
            reason: "anchor state has no call count".into(),
        })?;
        Ok(())
    }
}

#[test]
fn user_regularizer_plugs_in() {
    let (x, y) = blobs(30, 60);
    let data = DatasetView::classification(x.as_ref(), &y).unwrap();
    let net = mlp(2, 8, 2, 61);
    let anchor: Vec<f64> = vec![0.25; net.n_params()];
    let make = |alpha: f64| Anchor {
        alpha,
        anchor: anchor.clone(),
        calls: 0,
        draws: Vec::new(),
    };
    let config = TrainConfig {
        epochs: 30,
        batch_size: 8, // 4 steps per epoch
        optimizer: Optimizer::Sgd(Sgd {
            lr: 0.1,
            ..Sgd::default()
        }),
        ..TrainConfig::default()
    };

    // A strong anchor pulls every parameter towards θ₀ (ηα = 0.8); its value is recorded per
    // epoch.
    let mut plain = Trainer::new(net.clone(), config.clone(), data).unwrap();
    plain.run().unwrap();
    let plain_dist = norm_rel_err(plain.model().params(), &anchor);
    let mut reg = make(8.0);
    let mut t = Trainer::new(net.clone(), config.clone(), data)
        .unwrap()
        .with_regularizer(&mut reg)
        .unwrap();
    let h = t.run().unwrap();
    let dist = norm_rel_err(t.model().params(), &anchor);
    assert!(
        dist < 0.15 && plain_dist > 1.0,
        "distance to the anchor {dist} vs {plain_dist}"
    );
    let first = &h.epochs[0].penalties;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, "anchor");
    assert!(first[0].1 > h.epochs[29].penalties[0].1);
    // Its state travels in checkpoints.
    let ckpt = t.checkpoint();
    assert_eq!(ckpt.regularizers[0].name, "anchor");
    assert_eq!(ckpt.regularizers[0].state.as_ref().unwrap()["calls"], 120);
    drop(t);
    assert_eq!(reg.calls, 120);
    let mut fresh = make(8.0);
    let mut t2 = Trainer::new(net.clone(), config.clone(), data)
        .unwrap()
        .with_regularizer(&mut fresh)
        .unwrap();
    t2.restore(&ckpt).unwrap();
    drop(t2);
    assert_eq!(fresh.calls, 120);
    // Names must be unique; a checkpoint with other regularisers is refused.
    assert!(
        Trainer::new(net.clone(), config.clone(), data)
            .unwrap()
            .with_regularizer(make(1.0))
            .unwrap()
            .with_regularizer(make(1.0))
            .is_err()
    );
    assert!(matches!(plain.restore(&ckpt), Err(Error::Format { .. })));

    // Its generator is seeded by the config: same seed, same draws.
    let draws = |seed| {
        let mut r = make(0.0);
        let cfg = TrainConfig {
            epochs: 2,
            seed,
            ..config.clone()
        };
        Trainer::new(net.clone(), cfg, data)
            .unwrap()
            .with_regularizer(&mut r)
            .unwrap()
            .run()
            .unwrap();
        r.draws
    };
    assert_eq!(draws(5), draws(5));
    assert_ne!(draws(5), draws(6));
}
