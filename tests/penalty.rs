//! The MGS penalty: gradients against finite differences, the two routes against each other,
//! subsets, precision and errors.

mod common;

use approx::abs_diff_eq;
use common::{fd_gradient, inputs, max_abs, model};
use faer::Par;
use mgs::penalty::{KernelKind, Penalty, PenaltyConfig, PenaltyMetric, Route};
use mgs::{Activation, Error, Mlp, rng_from_seed};

fn value_at(mlp: &Mlp<f64>, theta: &[f64], x: faer::MatRef<'_, f64>, cfg: &PenaltyConfig) -> f64 {
    let m = Mlp::from_params(mlp.arch().clone(), theta.to_vec()).unwrap();
    Penalty::new(cfg.clone())
        .unwrap()
        .value(&m, x, &mut rng_from_seed(0), Par::Seq)
        .unwrap()
}

fn grad(mlp: &Mlp<f64>, x: faer::MatRef<'_, f64>, cfg: &PenaltyConfig) -> (f64, Vec<f64>) {
    let mut g = vec![0.0; mlp.n_params()];
    let v = Penalty::new(cfg.clone())
        .unwrap()
        .value_and_grad(mlp, x, &mut rng_from_seed(0), &mut g, Par::Seq)
        .unwrap();
    (v, g)
}

/// Architectures × metrics × kernels × C: both routes against central differences (rel. error
/// ≤ 1e-6 on the largest components and on the norm) and against each other (≤ 1e-9).
#[test]
fn gradient_matches_finite_differences_and_routes_agree() {
    let archs: Vec<(usize, Vec<(usize, Activation)>)> = vec![
        (3, vec![(6, Activation::Tanh)]),
        (2, vec![(5, Activation::GeluErf), (4, Activation::Softplus)]),
        (
            3,
            vec![
                (4, Activation::Silu),
                (5, Activation::Elu { alpha: 0.7 }),
                (3, Activation::Sigmoid),
            ],
        ),
        (
            4,
            vec![
                (6, Activation::GeluTanh),
                (5, Activation::LeakyRelu { slope: 0.1 }),
            ],
        ),
    ];
    let mut checked = 0;
    for (a, (d, hidden)) in archs.iter().enumerate() {
        for c in [1usize, 3] {
            let mlp = model::<f64>(*d, hidden, c, 10 + a as u64);
            let x = inputs::<f64>(5, *d, 20 + a as u64);
            for metric in PenaltyMetric::ALL {
                for kernel in [KernelKind::Full, KernelKind::Traced] {
                    let cfg = PenaltyConfig {
                        metric,
                        kernel,
                        jitter: 1e-3,
                        weight: 0.7,
                        ..Default::default()
                    };
                    let (v_fac, g_fac) = grad(&mlp, x.as_ref(), &cfg);
                    let exp = PenaltyConfig {
                        route: Route::Explicit,
                        ..cfg.clone()
                    };
                    let (v_exp, g_exp) = grad(&mlp, x.as_ref(), &exp);
                    let fd =
                        fd_gradient(mlp.params(), 1e-5, |t| value_at(&mlp, t, x.as_ref(), &cfg));
                    let ctx = format!("arch {a} C={c} {metric:?} {kernel:?}");
                    assert!(
                        (v_fac - v_exp).abs() <= 1e-10 * v_fac.abs().max(1e-12),
                        "{ctx}: values"
                    );
                    assert!(
                        abs_diff_eq!(g_fac[..], g_exp[..], epsilon = 1e-9 * max_abs(&g_exp)),
                        "{ctx}: routes"
                    );
                    assert!(
                        abs_diff_eq!(g_fac[..], fd[..], epsilon = 1e-6 * max_abs(&fd)),
                        "{ctx}: fd"
                    );
                    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
                    assert!(
                        (norm(&g_fac) - norm(&fd)).abs() <= 1e-6 * norm(&fd),
                        "{ctx}: norm"
                    );
                    assert!(max_abs(&g_fac) > 0.0, "{ctx}: gradient vanished");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 2 * 4 * 2);
}

#[test]
fn subset_sampling_is_seeded_and_whole_batch_when_large() {
    let mlp = model::<f64>(3, &[(8, Activation::Tanh)], 2, 1);
    let x = inputs::<f64>(20, 3, 2);
    let run = |subset, seed| {
        let cfg = PenaltyConfig {
            subset,
            ..Default::default()
        };
        Penalty::new(cfg)
            .unwrap()
            .value(&mlp, x.as_ref(), &mut rng_from_seed(seed), Par::Seq)
            .unwrap()
    };
    assert_eq!(run(Some(7), 5), run(Some(7), 5), "same seed, same subset");
    assert_ne!(
        run(Some(7), 5),
        run(Some(7), 6),
        "another seed, another subset"
    );
    assert_eq!(run(Some(20), 5), run(None, 0), "s = N is the whole batch");
    assert_eq!(run(Some(500), 9), run(None, 0), "s > N is the whole batch");
    assert_ne!(run(Some(7), 5), run(None, 0));
}

#[test]
fn f32_agrees_with_f64() {
    // f32 kernels with the f64 factorisation: values within 1e-4 relative, gradients within 1e-3
    // of the largest component (f32 rounding of J-sized sums, amplified by K_ε⁻¹).
    let m64 = model::<f64>(4, &[(16, Activation::Tanh), (16, Activation::Silu)], 3, 3);
    let m32 = Mlp::<f32>::from_params(
        m64.arch().clone(),
        m64.params().iter().map(|&v| v as f32).collect(),
    )
    .unwrap();
    let x64 = inputs::<f64>(10, 4, 4);
    let x32 = faer::Mat::from_fn(10, 4, |i, j| x64[(i, j)] as f32);
    for metric in PenaltyMetric::ALL {
        for kernel in KernelKind::ALL {
            let cfg = PenaltyConfig {
                metric,
                kernel,
                jitter: 1e-3,
                ..Default::default()
            };
            let (v64, g64) = grad(&m64, x64.as_ref(), &cfg);
            let mut g32 = vec![0f32; m32.n_params()];
            let v32 = Penalty::new(cfg.clone())
                .unwrap()
                .value_and_grad(
                    &m32,
                    x32.as_ref(),
                    &mut rng_from_seed(0),
                    &mut g32,
                    Par::Seq,
                )
                .unwrap();
            assert!(
                (v32 as f64 - v64).abs() <= 1e-4 * v64.abs().max(1.0),
                "{metric:?} {kernel:?} value"
            );
            let g32: Vec<f64> = g32.iter().map(|&v| v as f64).collect();
            assert!(
                abs_diff_eq!(g32[..], g64[..], epsilon = 1e-3 * max_abs(&g64)),
                "{metric:?} {kernel:?} grad"
            );
        }
    }
}

#[test]
fn penalty_errors() {
    let mlp = model::<f64>(3, &[(4, Activation::Relu)], 1, 1);
    let x = inputs::<f64>(5, 3, 2);
    let bad = |cfg: PenaltyConfig| Penalty::<f64>::new(cfg).err();
    assert!(matches!(
        bad(PenaltyConfig {
            jitter: 0.0,
            ..Default::default()
        }),
        Some(Error::InvalidHyperparameter { name: "jitter", .. })
    ));
    assert!(matches!(
        bad(PenaltyConfig {
            jitter: -1.0,
            ..Default::default()
        }),
        Some(Error::InvalidHyperparameter { name: "jitter", .. })
    ));
    assert!(matches!(
        bad(PenaltyConfig {
            weight: -0.1,
            ..Default::default()
        }),
        Some(Error::InvalidHyperparameter { name: "weight", .. })
    ));
    assert!(matches!(
        bad(PenaltyConfig {
            subset: Some(0),
            ..Default::default()
        }),
        Some(Error::InvalidHyperparameter { name: "subset", .. })
    ));
    let mut pen = Penalty::new(PenaltyConfig::default()).unwrap();
    let mut rng = rng_from_seed(0);
    let empty = faer::Mat::<f64>::zeros(0, 3);
    assert!(matches!(
        pen.value(&mlp, empty.as_ref(), &mut rng, Par::Seq),
        Err(Error::EmptyBatch { .. })
    ));
    let mut xn = x.clone();
    xn[(2, 1)] = f64::NAN;
    assert!(matches!(
        pen.value(&mlp, xn.as_ref(), &mut rng, Par::Seq),
        Err(Error::NonFinite {
            what: "inputs",
            index: 7
        })
    ));
    let wrong = inputs::<f64>(5, 2, 3);
    assert!(matches!(
        pen.value(&mlp, wrong.as_ref(), &mut rng, Par::Seq),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut short = vec![0.0; 3];
    assert!(matches!(
        pen.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut short, Par::Seq),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut broken = mlp.clone();
    broken.params_mut()[0] = f64::INFINITY;
    assert!(matches!(
        pen.value(&broken, x.as_ref(), &mut rng, Par::Seq),
        Err(Error::NonFinite {
            what: "parameters",
            index: 0
        })
    ));
    // The output bias contributes [c = c'] to every kernel, so a penalty kernel of a finite
    // model is positive definite with the jitter; the indefinite case is reached through the
    // metrics (tests/metrics.rs, tests/errors.rs).
}

/// A batch spanning several kernel tiles and three hidden layers (so the backward pass reuses the
/// kernel step's `S_D` for one layer and recomputes it for another): both routes agree ≤ 1e-9,
/// and the factorised gradient is bit-identical for 1 and 2 threads (values ≤ 1e-10: see below).
#[test]
fn multi_tile_batches_agree_across_routes_and_threads() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let hidden = [
        (10, Activation::Tanh),
        (8, Activation::Softplus),
        (7, Activation::GeluErf),
    ];
    for (n, c, kind) in [(150, 3, KernelKind::Full), (140, 2, KernelKind::Traced)] {
        let mlp = model::<f64>(4, &hidden, c, 8);
        let x = inputs::<f64>(n, 4, 9);
        for metric in [PenaltyMetric::LogDet, PenaltyMetric::CosineLogDet] {
            let cfg = |route| PenaltyConfig {
                metric,
                kernel: kind,
                route,
                ..Default::default()
            };
            let (ve, ge) = grad(&mlp, x.as_ref(), &cfg(Route::Explicit));
            let (vf, gf) = grad(&mlp, x.as_ref(), &cfg(Route::Factorised));
            // m > P here: the jitter holds K up, and the log-det feels the last bits (≈ 3e-12).
            assert!((ve - vf).abs() <= 1e-10 * ve.abs().max(1.0));
            assert!(
                abs_diff_eq!(gf[..], ge[..], epsilon = 1e-9 * max_abs(&ge)),
                "N={n} C={c} {kind:?} {metric:?}"
            );
            let mut g2 = vec![0.0; mlp.n_params()];
            let v2 = pool
                .install(|| {
                    Penalty::new(cfg(Route::Factorised))
                        .unwrap()
                        .value_and_grad(
                            &mlp,
                            x.as_ref(),
                            &mut rng_from_seed(0),
                            &mut g2,
                            Par::rayon(2),
                        )
                })
                .unwrap();
            assert_eq!((v2, &g2), (vf, &gf), "N={n} C={c} {kind:?} {metric:?}");
        }
    }
}
