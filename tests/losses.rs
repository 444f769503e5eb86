//! Tests of the losses (`mgs::train::loss`): gradients against central differences for every
//! loss with hard and soft targets, values by hand, the limits of GCE, invalid hyperparameters
//! and targets, ELR's state, non-finite outputs, and the independent NumPy fixture
//! (`tests/reference/losses.py`).

mod common;

use approx::assert_relative_eq;
use common::{fd_gradient, flat, norm_rel_err};
use faer::{Mat, MatRef};
use mgs::data::{DatasetView, TargetsView};
use mgs::train::{
    Bootstrapping, Checkpoint, CrossEntropy, EarlyLearning, GeneralizedCrossEntropy, Loss,
    LossConfig, MeanSquaredError, Optimizer, Sgd, SymmetricCrossEntropy, TrainConfig, Trainer,
    accuracy,
};
use mgs::{Activation, Architecture, Error, Init, Mlp, rng_from_seed};
use rand_distr::{Distribution, Normal};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Central-difference step and tolerance on `‖g − g_fd‖ / ‖g_fd‖` (f64).
const FD_STEP: f64 = 1e-5;
const FD_TOL: f64 = 1e-8;

fn randn(n: usize, d: usize, seed: u64) -> Mat<f64> {
    let mut rng = rng_from_seed(seed);
    let dist = Normal::new(0.0, 1.0).unwrap();
    Mat::from_fn(n, d, |_, _| dist.sample(&mut rng))
}

/// 7 × 4 logits: six random rows (scale 1.5) and one confident row `[9, −4, 0, 1]` whose second
/// probability (about 2e-6) is below ELR's clip bound 1e-4.
fn logits() -> Mat<f64> {
    let r = randn(6, 4, 3);
    let last = [9.0, -4.0, 0.0, 1.0];
    Mat::from_fn(7, 4, |i, j| if i < 6 { 1.5 * r[(i, j)] } else { last[j] })
}

const LABELS: [usize; 7] = [0, 3, 1, 1, 2, 0, 3];

/// 7 × 4 soft targets: normalised exponentials of random numbers, one row with a zero entry and
/// one one-hot row.
fn soft() -> Mat<f64> {
    let r = randn(7, 4, 4);
    let mut s = Mat::from_fn(7, 4, |i, j| {
        if (i, j) == (2, 1) || (i == 5 && j != 2) {
            0.0
        } else {
            r[(i, j)].exp()
        }
    });
    for i in 0..7 {
        let sum: f64 = (0..4).map(|j| s[(i, j)]).sum();
        for j in 0..4 {
            s[(i, j)] /= sum;
        }
    }
    s
}

fn unflat(v: &[f64], c: usize) -> Mat<f64> {
    Mat::from_fn(v.len() / c, c, |i, j| v[i * c + j])
}

/// Central differences of `f` at `z` (`N × C`), flattened row-major.
fn central_diff(z: MatRef<'_, f64>, mut f: impl FnMut(MatRef<'_, f64>) -> f64) -> Vec<f64> {
    fd_gradient(&flat(z), FD_STEP, |v| f(unflat(v, z.ncols()).as_ref()))
}

fn softmax(z: MatRef<'_, f64>) -> Mat<f64> {
    Mat::from_fn(z.nrows(), z.ncols(), |i, j| {
        let m = (0..z.ncols()).map(|k| z[(i, k)]).fold(f64::MIN, f64::max);
        let s: f64 = (0..z.ncols()).map(|k| (z[(i, k)] - m).exp()).sum();
        (z[(i, j)] - m).exp() / s
    })
}

fn grad_of(
    loss: &mut dyn Loss<f64>,
    z: MatRef<'_, f64>,
    t: TargetsView<'_, f64>,
) -> (f64, Mat<f64>) {
    let mut g = Mat::zeros(z.nrows(), z.ncols());
    let v = loss.value_and_grad(z, t, None, Some(g.as_mut())).unwrap();
    (v, g)
}

/// The stateless losses of the fixture and the FD test, as configurations.
fn stateless_configs() -> Vec<LossConfig> {
    vec![
        LossConfig::CrossEntropy {
            label_smoothing: 0.0,
        },
        LossConfig::CrossEntropy {
            label_smoothing: 0.15,
        },
        LossConfig::MeanSquaredError,
        LossConfig::GeneralizedCrossEntropy { q: 0.7 },
        LossConfig::GeneralizedCrossEntropy { q: 1.0 },
        LossConfig::SymmetricCrossEntropy {
            alpha: 0.1,
            beta: 1.0,
            log_clip: -4.0,
        },
        LossConfig::Bootstrapping {
            beta: 0.95,
            hard: false,
        },
        LossConfig::Bootstrapping {
            beta: 0.8,
            hard: true,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Gradients against central differences

/// Every stateless loss, class and soft targets (and regression for MSE): the gradient against
/// central differences of the training-mode value (step 1e-5, `‖g − g_fd‖/‖g_fd‖ ≤ 1e-8`).
/// Soft bootstrapping treats its self-target as a constant, so it is differentiated with the
/// target frozen at the base point (cross-entropy against that fixed soft target); hard
/// bootstrapping's argmax target is locally constant, so its value is differentiated as is.
#[test]
fn gradients_match_central_differences() {
    let z = logits();
    let s = soft();
    let y = randn(7, 4, 5);
    for config in stateless_configs() {
        let mut kinds = vec![
            ("classes", TargetsView::Classes(&LABELS)),
            ("soft", TargetsView::Soft(s.as_ref())),
        ];
        if !config.is_classification() {
            kinds.push(("regression", TargetsView::Regression(y.as_ref())));
        }
        for (kind, t) in kinds {
            let mut loss = config.build::<f64>().unwrap();
            let (_, g) = grad_of(loss.as_mut(), z.as_ref(), t);
            let fd = if let LossConfig::Bootstrapping { beta, hard: false } = config {
                let p = softmax(z.as_ref());
                let q = match t {
                    TargetsView::Classes(l) => {
                        Mat::from_fn(7, 4, |i, j| f64::from(u8::from(l[i] == j)))
                    }
                    _ => s.clone(),
                };
                let b = Mat::from_fn(7, 4, |i, j| beta * q[(i, j)] + (1.0 - beta) * p[(i, j)]);
                let ce = CrossEntropy::new(0.0).unwrap();
                // The frozen-target function has the bootstrapped value at the base point.
                assert_relative_eq!(
                    ce.evaluate(z.as_ref(), TargetsView::Soft(b.as_ref()))
                        .unwrap(),
                    loss.evaluate(z.as_ref(), t).unwrap(),
                    max_relative = 1e-14
                );
                central_diff(z.as_ref(), |zz| {
                    ce.evaluate(zz, TargetsView::Soft(b.as_ref())).unwrap()
                })
            } else {
                central_diff(z.as_ref(), |zz| {
                    loss.value_and_grad(zz, t, None, None).unwrap()
                })
            };
            let err = norm_rel_err(&flat(g.as_ref()), &fd);
            eprintln!(
                "{} ({config:?}), {kind}: relative error {err:.2e}",
                loss.name()
            );
            assert!(
                err <= FD_TOL,
                "{config:?} {kind}: relative error {err:e} > {FD_TOL:e}"
            );
        }
    }
}

/// ELR's gradient against central differences of its value with the running targets frozen at
/// their updated values (the update is detached): `CE + (λ/N) Σ_i ln(1 − ⟨t_i, clamp(p_i)⟩)`,
/// step 1e-5, `‖g − g_fd‖/‖g_fd‖ ≤ 1e-8`; the last row has a clipped probability.
#[test]
fn elr_gradient_matches_central_differences() {
    let z = logits();
    let s = soft();
    let samples = [4usize, 0, 9, 2, 7, 1, 5];
    let (lambda, beta) = (3.0, 0.7);
    for (kind, t) in [
        ("classes", TargetsView::Classes(&LABELS)),
        ("soft", TargetsView::Soft(s.as_ref())),
    ] {
        let mut elr = EarlyLearning::new(lambda, beta).unwrap();
        Loss::<f64>::prepare(&mut elr, 10, 4).unwrap();
        // A first step from zero targets, so that the tested step starts from non-zero ones.
        let z_prev = randn(7, 4, 8);
        elr.value_and_grad(z_prev.as_ref(), t, Some(&samples), None)
            .unwrap();
        let mut g = Mat::zeros(7, 4);
        let v = elr
            .value_and_grad(z.as_ref(), t, Some(&samples), Some(g.as_mut()))
            .unwrap();
        let frozen: Vec<Vec<f64>> = samples
            .iter()
            .map(|&i| elr.target(i).unwrap().to_vec())
            .collect();
        let ce = CrossEntropy::new(0.0).unwrap();
        let f = |zz: MatRef<'_, f64>| {
            let p = softmax(zz);
            let reg: f64 = (0..7)
                .map(|i| {
                    let inner: f64 = (0..4)
                        .map(|c| frozen[i][c] * p[(i, c)].clamp(1e-4, 1.0 - 1e-4))
                        .sum();
                    (1.0 - inner).ln()
                })
                .sum::<f64>()
                / 7.0;
            ce.evaluate(zz, t).unwrap() + lambda * reg
        };
        assert_relative_eq!(v, f(z.as_ref()), max_relative = 1e-14);
        let fd = central_diff(z.as_ref(), f);
        let err = norm_rel_err(&flat(g.as_ref()), &fd);
        eprintln!("elr, {kind}: relative error {err:.2e}");
        assert!(
            err <= FD_TOL,
            "elr {kind}: relative error {err:e} > {FD_TOL:e}"
        );
        // The clipped entry contributes no ELR gradient: there the gradient is the CE one.
        let p = softmax(z.as_ref());
        let q61 = match t {
            TargetsView::Classes(l) => f64::from(u8::from(l[6] == 1)),
            _ => s[(6, 1)],
        };
        let ce_mass: f64 = match t {
            TargetsView::Classes(_) => 1.0,
            _ => (0..4).map(|c| s[(6, c)]).sum(),
        };
        let inner: f64 = (0..4)
            .map(|c| frozen[6][c] * p[(6, c)].clamp(1e-4, 1.0 - 1e-4))
            .sum();
        let d = |c: usize| {
            if c == 1 {
                0.0
            } else {
                -frozen[6][c] / (1.0 - inner)
            }
        };
        let dp: f64 = (0..4).map(|c| d(c) * p[(6, c)]).sum();
        let expected = (p[(6, 1)] * ce_mass - q61 + lambda * p[(6, 1)] * (0.0 - dp)) / 7.0;
        assert!(p[(6, 1)] < 1e-4);
        assert_relative_eq!(g[(6, 1)], expected, max_relative = 1e-12);
    }
}

// ---------------------------------------------------------------------------------------------
// Values by hand

/// One row `z = (ln 1, ln 2, ln 3)`, so `p = (1/6, 1/3, 1/2)`.
fn thirds() -> Mat<f64> {
    Mat::from_fn(1, 3, |_, j| ((j + 1) as f64).ln())
}

#[test]
fn values_by_hand() {
    let z = thirds();
    let p: [f64; 3] = [1.0 / 6.0, 1.0 / 3.0, 0.5];
    let entropy: f64 = -p.iter().map(|x| x * x.ln()).sum::<f64>();
    const CLASSES: [usize; 3] = [0, 1, 2];
    let lab = |y: usize| TargetsView::Classes(&CLASSES[y..y + 1]);
    let value = |config: LossConfig, t: TargetsView<'_, f64>| {
        config
            .build::<f64>()
            .unwrap()
            .value_and_grad(z.as_ref(), t, None, None)
            .unwrap()
    };
    // Cross-entropy: −ln p_2 = ln 2; smoothing ε: Σ_c t_c (−ln p_c), t = (1 − ε)e_2 + ε/3.
    let ce = value(LossConfig::default(), lab(2));
    assert_relative_eq!(ce, 2f64.ln(), max_relative = 1e-15);
    let eps = 0.3;
    let smoothed = (1.0 - eps) * 2f64.ln() + eps / 3.0 * (6f64.ln() + 3f64.ln() + 2f64.ln());
    let ls = value(
        LossConfig::CrossEntropy {
            label_smoothing: eps,
        },
        lab(2),
    );
    assert_relative_eq!(ls, smoothed, max_relative = 1e-15);
    // GCE q = 1/2: (1 − √p_2)/(1/2) = 2 − √2.
    let gce = value(LossConfig::GeneralizedCrossEntropy { q: 0.5 }, lab(2));
    assert_relative_eq!(gce, 2.0 - 2f64.sqrt(), max_relative = 1e-15);
    // SCE: α ln 2 + β·(−A)(1 − p_2) = 0.1 ln 2 + 4·½.
    let sce = value(
        LossConfig::SymmetricCrossEntropy {
            alpha: 0.1,
            beta: 1.0,
            log_clip: -4.0,
        },
        lab(2),
    );
    assert_relative_eq!(sce, 0.1 * 2f64.ln() + 2.0, max_relative = 1e-15);
    // Soft bootstrapping: β ln 2 + (1 − β) H(p). Hard, label 0, argmax 2: β ln 6 + (1 − β) ln 2.
    let boot = value(
        LossConfig::Bootstrapping {
            beta: 0.9,
            hard: false,
        },
        lab(2),
    );
    assert_relative_eq!(boot, 0.9 * 2f64.ln() + 0.1 * entropy, max_relative = 1e-15);
    let hard = value(
        LossConfig::Bootstrapping {
            beta: 0.8,
            hard: true,
        },
        lab(0),
    );
    assert_relative_eq!(
        hard,
        0.8 * 6f64.ln() + 0.2 * 2f64.ln(),
        max_relative = 1e-15
    );
    // ELR from zero targets: t = (1 − β)p (no clipping), ⟨t, p⟩ = (1 − β)·14/36.
    let mut elr = EarlyLearning::new(2.0, 0.6).unwrap();
    Loss::<f64>::prepare(&mut elr, 3, 3).unwrap();
    let v = elr
        .value_and_grad(z.as_ref(), lab(2), Some(&[1]), None)
        .unwrap();
    assert_relative_eq!(
        v,
        2f64.ln() + 2.0 * (1.0f64 - 0.4 * 14.0 / 36.0).ln(),
        max_relative = 1e-14
    );
    assert_eq!(elr.target(0).unwrap(), &[0.0; 3]);
    for (c, &pc) in p.iter().enumerate() {
        assert_relative_eq!(elr.target(1).unwrap()[c], 0.4 * pc, max_relative = 1e-15);
    }
    assert_relative_eq!(
        elr.evaluate(z.as_ref(), lab(2)).unwrap(),
        2f64.ln(),
        max_relative = 1e-15
    );
    // MSE: ½‖f − y‖² averaged; classes are one-hot, soft rows the distribution.
    let f = Mat::from_fn(2, 2, |i, j| (i + j) as f64);
    let y = Mat::zeros(2, 2);
    let mut mse = MeanSquaredError::new().unwrap();
    let v = mse
        .value_and_grad(f.as_ref(), TargetsView::Regression(y.as_ref()), None, None)
        .unwrap();
    assert_eq!(v, 0.5 * (1.0 + 1.0 + 4.0) / 2.0);
    let v = mse
        .value_and_grad(f.as_ref(), TargetsView::Classes(&[1, 0]), None, None)
        .unwrap();
    assert_eq!(v, 0.5 * ((0.0 + 0.0) + (0.0 + 4.0)) / 2.0);
    let half = Mat::from_fn(2, 2, |_, _| 0.5);
    let v = mse
        .value_and_grad(f.as_ref(), TargetsView::Soft(half.as_ref()), None, None)
        .unwrap();
    assert_eq!(v, 0.5 * ((0.25 + 0.25) + (0.25 + 2.25)) / 2.0);
}

#[test]
fn stable_for_huge_logits_and_accuracy() {
    let z: Mat<f64> = Mat::from_fn(2, 2, |i, j| if i == j { 1e300 } else { -1e300 });
    let ce = CrossEntropy::new(0.0).unwrap();
    assert_eq!(
        ce.evaluate(z.as_ref(), TargetsView::Classes(&[0, 1]))
            .unwrap(),
        0.0
    );
    let l = ce
        .evaluate(z.as_ref(), TargetsView::Classes(&[1, 0]))
        .unwrap();
    assert!(l.is_finite() && l > 1e299);
    // Every classification loss stays finite on them.
    for config in stateless_configs()
        .into_iter()
        .filter(LossConfig::is_classification)
    {
        let mut loss = config.build::<f64>().unwrap();
        let (v, g) = grad_of(loss.as_mut(), z.as_ref(), TargetsView::Classes(&[1, 0]));
        assert!(
            v.is_finite() && flat(g.as_ref()).iter().all(|x| x.is_finite()),
            "{config:?}"
        );
    }
    // Accuracy: first maximum wins.
    let z = Mat::from_fn(3, 2, |i, j| if i == 2 { 1.0 } else { (i + j) as f64 % 2.0 });
    assert_eq!(accuracy(z.as_ref(), &[1, 0, 0]).unwrap(), 1.0);
    assert!(matches!(
        accuracy(z.as_ref(), &[1, 0, 5]),
        Err(Error::InvalidLabel {
            index: 2,
            label: 5,
            n_classes: 2,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Limits of GCE

#[test]
fn gce_limits() {
    let z = logits();
    let p = softmax(z.as_ref());
    let t = TargetsView::Classes(&LABELS);
    // q = 1: 1 − p_y = ½ ‖p − onehot(y)‖₁ (mean absolute error on the probabilities).
    let v1 = GeneralizedCrossEntropy::new(1.0)
        .unwrap()
        .evaluate(z.as_ref(), t)
        .unwrap();
    let one_minus: f64 = (0..7).map(|i| 1.0 - p[(i, LABELS[i])]).sum::<f64>() / 7.0;
    let mae: f64 = (0..7)
        .map(|i| {
            0.5 * (0..4)
                .map(|c| (p[(i, c)] - f64::from(u8::from(c == LABELS[i]))).abs())
                .sum::<f64>()
        })
        .sum::<f64>()
        / 7.0;
    assert_relative_eq!(v1, one_minus, max_relative = 1e-14);
    assert_relative_eq!(v1, mae, max_relative = 1e-14);
    // q → 0: (1 − p^q)/q = −ln p − q ln²p/2 + O(q²), so the value tends to the cross-entropy
    // with first-order coefficient −mean(ln² p_y)/2, and the gradient to the CE gradient.
    let mut ce = CrossEntropy::new(0.0).unwrap();
    let (ce_v, ce_g) = grad_of(&mut ce, z.as_ref(), t);
    let coeff: f64 = -(0..7).map(|i| p[(i, LABELS[i])].ln().powi(2)).sum::<f64>() / 14.0;
    let mut prev = f64::INFINITY;
    for q in [1e-2, 1e-4, 1e-6] {
        let mut gce = GeneralizedCrossEntropy::new(q).unwrap();
        let (v, g) = grad_of(&mut gce, z.as_ref(), t);
        let gap = (v - ce_v).abs();
        assert!(gap < prev, "q = {q}: gap {gap:e} does not shrink");
        prev = gap;
        // The O(q²) remainder is about q²·mean|ln p|³/6 ≈ 3q² here.
        assert_relative_eq!((v - ce_v) / q, coeff, max_relative = 5.0 * q);
        let gerr = norm_rel_err(&flat(g.as_ref()), &flat(ce_g.as_ref()));
        assert!(gerr <= 10.0 * q, "q = {q}: gradient relative gap {gerr:e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Invalid hyperparameters and targets

#[test]
fn invalid_hyperparameters_are_rejected() {
    let bad = [
        (
            LossConfig::CrossEntropy {
                label_smoothing: -0.1,
            },
            "label_smoothing",
        ),
        (
            LossConfig::CrossEntropy {
                label_smoothing: 1.5,
            },
            "label_smoothing",
        ),
        (
            LossConfig::CrossEntropy {
                label_smoothing: f64::NAN,
            },
            "label_smoothing",
        ),
        (LossConfig::GeneralizedCrossEntropy { q: 0.0 }, "gce.q"),
        (LossConfig::GeneralizedCrossEntropy { q: 1.01 }, "gce.q"),
        (LossConfig::GeneralizedCrossEntropy { q: f64::NAN }, "gce.q"),
        (
            LossConfig::SymmetricCrossEntropy {
                alpha: -1.0,
                beta: 1.0,
                log_clip: -4.0,
            },
            "sce.alpha",
        ),
        (
            LossConfig::SymmetricCrossEntropy {
                alpha: 0.1,
                beta: f64::INFINITY,
                log_clip: -4.0,
            },
            "sce.beta",
        ),
        (
            LossConfig::SymmetricCrossEntropy {
                alpha: 0.0,
                beta: 0.0,
                log_clip: -4.0,
            },
            "sce.beta",
        ),
        (
            LossConfig::SymmetricCrossEntropy {
                alpha: 0.1,
                beta: 1.0,
                log_clip: 0.0,
            },
            "sce.log_clip",
        ),
        (
            LossConfig::SymmetricCrossEntropy {
                alpha: 0.1,
                beta: 1.0,
                log_clip: f64::NEG_INFINITY,
            },
            "sce.log_clip",
        ),
        (
            LossConfig::Bootstrapping {
                beta: 1.2,
                hard: false,
            },
            "bootstrap.beta",
        ),
        (
            LossConfig::Bootstrapping {
                beta: -0.2,
                hard: true,
            },
            "bootstrap.beta",
        ),
        (
            LossConfig::EarlyLearning {
                lambda: -1.0,
                momentum: 0.7,
            },
            "elr.lambda",
        ),
        (
            LossConfig::EarlyLearning {
                lambda: 3.0,
                momentum: 1.0,
            },
            "elr.momentum",
        ),
        (
            LossConfig::EarlyLearning {
                lambda: 3.0,
                momentum: -0.1,
            },
            "elr.momentum",
        ),
    ];
    for (config, expected) in bad {
        for err in [
            config.check().unwrap_err(),
            config.build::<f32>().unwrap_err(),
        ] {
            assert!(
                matches!(err, Error::InvalidHyperparameter { name, .. } if name == expected),
                "{config:?}: {err:?}"
            );
        }
    }
    // The trainer rejects them too, before anything runs.
    let x = randn(4, 2, 1);
    let data = DatasetView::classification(x.as_ref(), &[0, 1, 0, 1]).unwrap();
    let mlp = Mlp::<f64>::init(
        Architecture::new(2, &[(3, Activation::Tanh)], 2).unwrap(),
        Init::XavierNormal,
        &mut rng_from_seed(0),
    )
    .unwrap();
    let config = TrainConfig {
        loss: bad[3].0,
        ..TrainConfig::default()
    };
    assert!(matches!(
        Trainer::new(mlp, config, data),
        Err(Error::InvalidHyperparameter { name: "gce.q", .. })
    ));
    // Valid edge values are accepted.
    for ok in [
        LossConfig::CrossEntropy {
            label_smoothing: 1.0,
        },
        LossConfig::GeneralizedCrossEntropy { q: 1.0 },
        LossConfig::SymmetricCrossEntropy {
            alpha: 0.0,
            beta: 1.0,
            log_clip: -1e-3,
        },
        LossConfig::Bootstrapping {
            beta: 0.0,
            hard: true,
        },
        LossConfig::EarlyLearning {
            lambda: 0.0,
            momentum: 0.0,
        },
    ] {
        ok.check().unwrap();
    }
}

#[test]
fn malformed_targets_and_outputs_are_errors() {
    let z = logits();
    let y = randn(7, 4, 9);
    for config in stateless_configs()
        .into_iter()
        .chain([LossConfig::EarlyLearning {
            lambda: 1.0,
            momentum: 0.5,
        }])
    {
        let mut loss = config.build::<f64>().unwrap();
        let ev = |t: TargetsView<'_, f64>| loss.evaluate(z.as_ref(), t);
        if config.is_classification() {
            assert!(
                matches!(
                    ev(TargetsView::Regression(y.as_ref())),
                    Err(Error::Incompatible {
                        what: "loss and targets",
                        ..
                    })
                ),
                "{config:?}"
            );
        } else {
            ev(TargetsView::Regression(y.as_ref())).unwrap();
        }
        let mut s = soft();
        s[(1, 2)] = -0.1;
        s[(1, 3)] += 0.1;
        assert!(matches!(
            ev(TargetsView::Soft(s.as_ref())),
            Err(Error::InvalidValue {
                what: "soft target",
                ..
            })
        ));
        let mut s = soft();
        s[(3, 0)] += 1e-4;
        assert!(matches!(
            ev(TargetsView::Soft(s.as_ref())),
            Err(Error::InvalidValue {
                what: "soft target",
                ..
            })
        ));
        let mut s = soft();
        s[(3, 0)] += 1e-7; // within 1e-6·C
        ev(TargetsView::Soft(s.as_ref())).unwrap();
        s[(3, 0)] = f64::NAN;
        assert!(matches!(
            ev(TargetsView::Soft(s.as_ref())),
            Err(Error::NonFinite {
                what: "soft targets",
                index: 12
            })
        ));
        let s = soft();
        assert!(matches!(
            ev(TargetsView::Soft(s.subrows(0, 6))),
            Err(Error::ShapeMismatch {
                what: "targets",
                ..
            })
        ));
        assert!(matches!(
            ev(TargetsView::Classes(&LABELS[..6])),
            Err(Error::ShapeMismatch { what: "labels", .. })
        ));
        assert!(matches!(
            ev(TargetsView::Classes(&[0, 1, 2, 3, 4, 0, 0])),
            Err(Error::InvalidLabel {
                what: "labels",
                index: 4,
                label: 4,
                n_classes: 4,
            })
        ));
        let empty = Mat::<f64>::zeros(0, 4);
        assert!(matches!(
            loss.evaluate(empty.as_ref(), TargetsView::Classes(&[])),
            Err(Error::EmptyBatch { .. })
        ));
        // A gradient buffer of the wrong shape.
        let mut g = Mat::zeros(7, 3);
        let samples: Vec<usize> = (0..7).collect();
        loss.prepare(7, 4).unwrap();
        assert!(matches!(
            loss.value_and_grad(
                z.as_ref(),
                TargetsView::Classes(&LABELS),
                Some(&samples),
                Some(g.as_mut())
            ),
            Err(Error::ShapeMismatch {
                what: "loss gradient",
                ..
            })
        ));
    }
}

/// Non-finite outputs give a non-finite value and gradient row (the trainer's divergence
/// check), not an error; the other rows' gradients are unaffected.
#[test]
fn non_finite_outputs_give_non_finite_values() {
    let s = soft();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut z = logits();
        z[(2, 1)] = bad;
        for config in stateless_configs() {
            let mut loss = config.build::<f64>().unwrap();
            for t in [TargetsView::Classes(&LABELS), TargetsView::Soft(s.as_ref())] {
                let (v, g) = grad_of(loss.as_mut(), z.as_ref(), t);
                assert!(!v.is_finite(), "{config:?}, {bad}: value {v}");
                assert!((0..4).all(|c| g[(2, c)].is_nan()));
                assert!((0..4).all(|c| g[(0, c)].is_finite()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ELR's state

#[test]
fn elr_state_round_trip_and_errors() {
    let z = logits();
    let samples = [4usize, 0, 9, 2, 7, 1, 5];
    let t = TargetsView::Classes(&LABELS);
    let mut elr = EarlyLearning::new(3.0, 0.7).unwrap();
    // Not prepared.
    assert!(matches!(
        elr.value_and_grad(z.as_ref(), t, Some(&samples), None),
        Err(Error::InvalidState {
            what: "ELR state",
            ..
        })
    ));
    Loss::<f64>::prepare(&mut elr, 10, 4).unwrap();
    assert_eq!(Loss::<f64>::state(&elr), vec![0.0; 40]);
    elr.value_and_grad(z.as_ref(), t, Some(&samples), None)
        .unwrap();
    let state = Loss::<f64>::state(&elr);
    assert_eq!(state.len(), 40);
    assert_eq!(&state[12..16], &[0.0; 4]); // sample 3 not in the batch
    for i in 0..10 {
        let sum: f64 = state[4 * i..4 * i + 4].iter().sum();
        assert!(sum <= 1.0, "row {i} sums to {sum}");
    }
    // A fresh ELR given the state continues bit for bit.
    let mut other = EarlyLearning::new(3.0, 0.7).unwrap();
    Loss::<f64>::prepare(&mut other, 10, 4).unwrap();
    Loss::<f64>::set_state(&mut other, &state).unwrap();
    assert_eq!(Loss::<f64>::state(&other), state);
    let z2 = randn(7, 4, 12);
    let (mut g1, mut g2) = (Mat::zeros(7, 4), Mat::zeros(7, 4));
    let v1 = elr
        .value_and_grad(z2.as_ref(), t, Some(&samples), Some(g1.as_mut()))
        .unwrap();
    let v2 = other
        .value_and_grad(z2.as_ref(), t, Some(&samples), Some(g2.as_mut()))
        .unwrap();
    assert_eq!(v1, v2);
    assert_eq!(g1, g2);
    assert_eq!(Loss::<f64>::state(&elr), Loss::<f64>::state(&other));
    // Invalid states are rejected and leave the state as it was.
    let before = Loss::<f64>::state(&other);
    let mut bad = before.clone();
    bad[5] = f64::NAN;
    let cases: Vec<(Vec<f64>, &str)> = vec![
        (before[..39].to_vec(), "length"),
        (bad, "NaN"),
        (
            {
                let mut b = before.clone();
                b[0] = -1e-3;
                b
            },
            "negative",
        ),
        (
            {
                let mut b = before.clone();
                b[0..4].copy_from_slice(&[0.5, 0.5, 0.1, 0.0]);
                b
            },
            "row sum",
        ),
    ];
    for (state, what) in cases {
        let err = Loss::<f64>::set_state(&mut other, &state).unwrap_err();
        eprintln!("{what}: {err}");
        assert!(matches!(
            err,
            Error::ShapeMismatch { .. } | Error::NonFinite { .. } | Error::InvalidValue { .. }
        ));
        assert_eq!(Loss::<f64>::state(&other), before, "{what}");
    }
    // Batch errors leave the state unchanged too.
    let errs = [
        elr.value_and_grad(z.as_ref(), t, None, None).unwrap_err(),
        elr.value_and_grad(z.as_ref(), t, Some(&samples[..6]), None)
            .unwrap_err(),
        elr.value_and_grad(z.as_ref(), t, Some(&[4, 0, 10, 2, 7, 1, 5]), None)
            .unwrap_err(),
        elr.value_and_grad(z.as_ref(), t, Some(&[4, 0, 9, 2, 7, 4, 5]), None)
            .unwrap_err(),
        elr.value_and_grad(
            z.subcols(0, 3),
            TargetsView::Classes(&[0; 7]),
            Some(&samples),
            None,
        )
        .unwrap_err(),
    ];
    assert!(matches!(
        errs[0],
        Error::Incompatible {
            what: "ELR and batch",
            ..
        }
    ));
    assert!(matches!(
        errs[1],
        Error::ShapeMismatch {
            what: "samples",
            ..
        }
    ));
    assert!(matches!(
        errs[2],
        Error::IndexOutOfRange {
            what: "sample index",
            index: 10,
            ..
        }
    ));
    assert!(
        matches!(errs[3], Error::InvalidValue { what: "sample index", value, .. } if value == 4.0)
    );
    assert!(matches!(errs[4], Error::ShapeMismatch { .. }));
    assert_eq!(Loss::<f64>::state(&elr), before);
    // A non-finite output: NaN value, state unchanged.
    let mut zn = z.clone();
    zn[(0, 0)] = f64::NAN;
    assert!(
        elr.value_and_grad(zn.as_ref(), t, Some(&samples), None)
            .unwrap()
            .is_nan()
    );
    assert_eq!(Loss::<f64>::state(&elr), before);
    // Stateless losses accept only the empty state.
    let mut ce = CrossEntropy::new(0.0).unwrap();
    Loss::<f64>::set_state(&mut ce, &[]).unwrap();
    assert!(matches!(
        Loss::<f64>::set_state(&mut ce, &[0.5]),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// An ELR run resumed from a checkpoint equals the uninterrupted run bit for bit (the running
/// targets travel in the checkpoint); a checkpoint without them is rejected.
#[test]
fn elr_training_resumes_exactly() {
    let x = randn(30, 2, 21);
    let y: Vec<usize> = (0..30)
        .map(|i| {
            if i % 5 == 0 {
                2
            } else {
                usize::from(x[(i, 0)] > 0.3 * x[(i, 1)])
            }
        })
        .collect();
    let arch = Architecture::new(2, &[(8, Activation::Tanh)], 3).unwrap();
    let make = || {
        let mlp =
            Mlp::<f64>::init(arch.clone(), Init::XavierNormal, &mut rng_from_seed(2)).unwrap();
        let config = TrainConfig {
            epochs: 4,
            batch_size: 7,
            loss: LossConfig::EarlyLearning {
                lambda: 3.0,
                momentum: 0.7,
            },
            optimizer: Optimizer::Sgd(Sgd {
                lr: 0.1,
                ..Sgd::default()
            }),
            seed: 5,
            ..TrainConfig::default()
        };
        Trainer::new(
            mlp,
            config,
            DatasetView::classification(x.as_ref(), &y).unwrap(),
        )
        .unwrap()
    };
    let mut straight = make();
    let h = straight.run().unwrap();
    assert!(h.epochs.iter().all(|e| e.train_loss.is_finite()));
    let mut first = make();
    first.run_for(2).unwrap();
    let ckpt = Checkpoint::<f64>::from_text(&first.checkpoint().to_text().unwrap()).unwrap();
    assert_eq!(ckpt.state.loss_state.len(), 30 * 3);
    assert!(ckpt.state.loss_state.iter().any(|&v| v > 0.0));
    let mut resumed = make();
    resumed.restore(&ckpt).unwrap();
    resumed.run().unwrap();
    assert_eq!(resumed.model().params(), straight.model().params());
    let mut no_state = ckpt.clone();
    no_state.state.loss_state.clear();
    assert!(matches!(
        make().restore(&no_state),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// Soft one-hot targets through a data set train exactly like the class labels (the soft rows
/// are gathered into the batches), for cross-entropy and GCE.
#[test]
fn soft_one_hot_targets_train_like_labels() {
    let x = randn(24, 3, 31);
    let y: Vec<usize> = (0..24).map(|i| (i * 7) % 3).collect();
    let onehot = Mat::from_fn(24, 3, |i, c| f64::from(u8::from(y[i] == c)));
    let arch = Architecture::new(3, &[(6, Activation::Tanh)], 3).unwrap();
    for loss in [
        LossConfig::CrossEntropy {
            label_smoothing: 0.1,
        },
        LossConfig::GeneralizedCrossEntropy { q: 0.7 },
    ] {
        let run = |data: DatasetView<'_, f64>| {
            let mlp =
                Mlp::<f64>::init(arch.clone(), Init::XavierNormal, &mut rng_from_seed(3)).unwrap();
            let config = TrainConfig {
                epochs: 3,
                batch_size: 5,
                loss,
                ..TrainConfig::default()
            };
            let mut t = Trainer::new(mlp, config, data).unwrap();
            let h = t.run().unwrap();
            (t.into_model().params().to_vec(), h.epochs[2].train.loss)
        };
        let (p_labels, l_labels) = run(DatasetView::classification(x.as_ref(), &y).unwrap());
        let (p_soft, l_soft) =
            run(DatasetView::new(x.as_ref(), TargetsView::Soft(onehot.as_ref())).unwrap());
        assert_eq!(p_labels, p_soft, "{loss:?}");
        assert_eq!(l_labels, l_soft);
    }
    // TargetsView::rows views the same samples.
    let t = TargetsView::Soft(onehot.as_ref());
    assert!(
        matches!(t.rows(20, 4), TargetsView::Soft(m) if m.nrows() == 4 && m[(0, y[20])] == 1.0)
    );
    assert_eq!(
        TargetsView::<f64>::Classes(&y).rows(3, 2).classes(),
        Some(&y[3..5])
    );
}

// ---------------------------------------------------------------------------------------------
// Configurations, f32

#[test]
fn configs_names_and_serde() {
    let mut all = stateless_configs();
    all.push(LossConfig::EarlyLearning {
        lambda: 3.0,
        momentum: 0.7,
    });
    let names: Vec<&str> = all.iter().map(LossConfig::name).collect();
    assert_eq!(
        names,
        [
            "cross_entropy",
            "cross_entropy",
            "mse",
            "gce",
            "gce",
            "sce",
            "bootstrap_soft",
            "bootstrap_hard",
            "elr"
        ]
    );
    for config in all {
        assert_eq!(config.build::<f64>().unwrap().name(), config.name());
        assert_eq!(config.build::<f32>().unwrap().name(), config.name());
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<LossConfig>(&json).unwrap(), config);
    }
    assert_eq!(
        LossConfig::default(),
        LossConfig::CrossEntropy {
            label_smoothing: 0.0
        }
    );
    assert_eq!(TrainConfig::default().loss, LossConfig::default());
    assert!(
        LossConfig::EarlyLearning {
            lambda: 1.0,
            momentum: 0.5
        }
        .is_classification()
    );
    assert!(!LossConfig::MeanSquaredError.is_classification());
    // The structs are the same losses as the configurations.
    let z = logits();
    let t = TargetsView::Classes(&LABELS);
    let pairs: [(Box<dyn Loss<f64>>, LossConfig); 3] = [
        (
            Box::new(SymmetricCrossEntropy::new(0.1, 1.0, -4.0).unwrap()),
            LossConfig::SymmetricCrossEntropy {
                alpha: 0.1,
                beta: 1.0,
                log_clip: -4.0,
            },
        ),
        (
            Box::new(Bootstrapping::new(0.8, true).unwrap()),
            LossConfig::Bootstrapping {
                beta: 0.8,
                hard: true,
            },
        ),
        (
            Box::new(GeneralizedCrossEntropy::new(0.7).unwrap()),
            LossConfig::GeneralizedCrossEntropy { q: 0.7 },
        ),
    ];
    for (a, b) in pairs {
        assert_eq!(
            a.evaluate(z.as_ref(), t).unwrap(),
            b.build::<f64>().unwrap().evaluate(z.as_ref(), t).unwrap()
        );
    }
}

/// f32 outputs give the f64 values and gradients to f32 rounding (everything is computed in
/// f64 from the rounded outputs: value rel. error ≤ 1e-6, gradient entries ≤ 1e-6 absolute).
#[test]
fn f32_matches_f64() {
    let z64 = logits();
    let z32 = Mat::from_fn(7, 4, |i, j| z64[(i, j)] as f32);
    let z64r = Mat::from_fn(7, 4, |i, j| f64::from(z32[(i, j)]));
    let s = soft();
    let s32 = Mat::from_fn(7, 4, |i, j| s[(i, j)] as f32);
    let s64r = Mat::from_fn(7, 4, |i, j| f64::from(s32[(i, j)]));
    for config in stateless_configs() {
        let (mut l32, mut l64) = (
            config.build::<f32>().unwrap(),
            config.build::<f64>().unwrap(),
        );
        let cases: [(TargetsView<'_, f32>, TargetsView<'_, f64>); 2] = [
            (TargetsView::Classes(&LABELS), TargetsView::Classes(&LABELS)),
            (
                TargetsView::Soft(s32.as_ref()),
                TargetsView::Soft(s64r.as_ref()),
            ),
        ];
        for (t32, t64) in cases {
            let mut g32 = Mat::<f32>::zeros(7, 4);
            let v32 = l32
                .value_and_grad(z32.as_ref(), t32, None, Some(g32.as_mut()))
                .unwrap();
            let (v64, g64) = grad_of(l64.as_mut(), z64r.as_ref(), t64);
            // Same f64 arithmetic on the same (rounded) inputs: only the gradient is rounded.
            assert_eq!(v32, v64, "{config:?}");
            for i in 0..7 {
                for c in 0..4 {
                    assert_relative_eq!(
                        f64::from(g32[(i, c)]),
                        g64[(i, c)],
                        epsilon = 1e-9,
                        max_relative = 1e-7
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The NumPy fixture

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/losses_fixture.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mat(v: &Value) -> Mat<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Mat::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

fn vec_f64(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Values, gradients and evaluation values of every loss (and ELR's updated state) against the
/// NumPy float64 fixture: `|a − b| ≤ 1e-12` or relative error ≤ 1e-12, entry by entry.
#[test]
fn matches_numpy_fixture() {
    let fx = fixture();
    let z = mat(&fx["logits"]);
    let labels: Vec<usize> = serde_json::from_value(fx["labels"].clone()).unwrap();
    let soft = mat(&fx["soft"]);
    let regression = mat(&fx["regression"]);
    let targets = |kind: &str| match kind {
        "classes" => TargetsView::Classes(&labels),
        "soft" => TargetsView::Soft(soft.as_ref()),
        "regression" => TargetsView::Regression(regression.as_ref()),
        other => panic!("unknown target kind {other}"),
    };
    let elr = &fx["elr"];
    let n_train = elr["n_train"].as_u64().unwrap() as usize;
    let samples: Vec<usize> = serde_json::from_value(elr["samples"].clone()).unwrap();
    let state_before = vec_f64(&elr["state_before"]);
    let (mut checked, mut worst) = (0, 0.0f64);
    for (case, stateful) in fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c, false))
        .chain(elr["cases"].as_array().unwrap().iter().map(|c| (c, true)))
    {
        let config: LossConfig = serde_json::from_value(case["loss"].clone()).unwrap();
        let kind = case["targets"].as_str().unwrap();
        let mut loss = config.build::<f64>().unwrap();
        if stateful {
            loss.prepare(n_train, z.ncols()).unwrap();
            loss.set_state(&state_before).unwrap();
        }
        let mut g = Mat::zeros(z.nrows(), z.ncols());
        let rows = stateful.then_some(&samples[..]);
        let v = loss
            .value_and_grad(z.as_ref(), targets(kind), rows, Some(g.as_mut()))
            .unwrap();
        let what = format!("{config:?} {kind}");
        let mut pairs = vec![
            (v, case["value"].as_f64().unwrap()),
            (
                loss.evaluate(z.as_ref(), targets(kind)).unwrap(),
                case["eval"].as_f64().unwrap(),
            ),
        ];
        pairs.extend(
            flat(g.as_ref())
                .into_iter()
                .zip(flat(mat(&case["grad"]).as_ref())),
        );
        if stateful {
            pairs.extend(loss.state().into_iter().zip(vec_f64(&case["state_after"])));
        }
        for (a, b) in pairs {
            assert_relative_eq!(a, b, epsilon = 1e-12, max_relative = 1e-12);
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
        eprintln!("{what}: ok");
        checked += 1;
    }
    eprintln!("largest deviation |a - b| / max(|b|, 1): {worst:.2e}");
    assert_eq!(checked, 19);
}
