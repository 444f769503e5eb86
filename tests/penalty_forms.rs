//! The centred kernels and the hinge bound in the MGS penalty: both gradient routes against each
//! other (≤ 1e-9) and against central finite differences (≤ 1e-6), the hinge's exact zeros below
//! its target, thread-count independence, errors, and the NumPy reference fixture (≤ 1e-10).

mod common;

use approx::abs_diff_eq;
use common::{fd_gradient, flat, inputs, kernel_seq, max_abs, model};
use faer::{Mat, MatRef, Par};
use mgs::kernel::{KernelKind, KernelParams, KernelWorkspace, Route, kernel, layer_kernels};
use mgs::penalty::{Penalty, PenaltyBound, PenaltyConfig, PenaltyMetric};
use mgs::{Activation, Architecture, Error, Mlp, rng_from_seed};

const CENTRED: [KernelKind; 2] = [KernelKind::CentredFull, KernelKind::CentredTraced];

fn value_at(mlp: &Mlp<f64>, theta: &[f64], x: MatRef<'_, f64>, cfg: &PenaltyConfig) -> f64 {
    let m = Mlp::from_params(mlp.arch().clone(), theta.to_vec()).unwrap();
    Penalty::new(cfg.clone())
        .unwrap()
        .value(&m, x, &mut rng_from_seed(0), Par::Seq)
        .unwrap()
}

fn grad(mlp: &Mlp<f64>, x: MatRef<'_, f64>, cfg: &PenaltyConfig, par: Par) -> (f64, Vec<f64>) {
    let mut g = vec![0.0; mlp.n_params()];
    let v = Penalty::new(cfg.clone())
        .unwrap()
        .value_and_grad(mlp, x, &mut rng_from_seed(0), &mut g, par)
        .unwrap();
    (v, g)
}

fn architectures() -> Vec<(usize, Vec<(usize, Activation)>)> {
    vec![
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
    ]
}

/// Every metric × centred kind × {unbounded, hinge below the metric} × C ∈ {2, 3} × three
/// architectures: the factorised and explicit gradients agree (≤ 1e-9 relative, values ≤ 1e-10)
/// and both match central differences (step 1e-5, ≤ 1e-6 relative to the largest component and
/// on the norm). Above its target the hinge's value is `α (g − target)` and its gradient is the
/// unbounded one, bit for bit.
#[test]
fn centred_and_hinged_gradients_match_finite_differences_and_routes_agree() {
    let mut checked = 0;
    for (a, (d, hidden)) in architectures().iter().enumerate() {
        for c in [2usize, 3] {
            let mlp = model::<f64>(*d, hidden, c, 110 + a as u64);
            let x = inputs::<f64>(5, *d, 120 + a as u64);
            for metric in PenaltyMetric::ALL {
                for kernel in CENTRED {
                    let unbounded = PenaltyConfig {
                        metric,
                        kernel,
                        jitter: 1e-3,
                        weight: 0.7,
                        ..Default::default()
                    };
                    let (g_value, g_grad) = grad(&mlp, x.as_ref(), &unbounded, Par::Seq);
                    let target = g_value / 0.7 - 0.25;
                    let hinge = PenaltyConfig {
                        bound: PenaltyBound::Hinge { target },
                        ..unbounded.clone()
                    };
                    for cfg in [&unbounded, &hinge] {
                        let (v_fac, g_fac) = grad(&mlp, x.as_ref(), cfg, Par::Seq);
                        let exp = PenaltyConfig {
                            route: Route::Explicit,
                            ..cfg.clone()
                        };
                        let (v_exp, g_exp) = grad(&mlp, x.as_ref(), &exp, Par::Seq);
                        let fd =
                            fd_gradient(mlp.params(), 1e-5, |t| value_at(&mlp, t, x.as_ref(), cfg));
                        let ctx = format!("arch {a} C={c} {metric:?} {kernel:?} {:?}", cfg.bound);
                        assert!(
                            (v_fac - v_exp).abs() <= 1e-10 * v_fac.abs().max(1e-12),
                            "{ctx}: values {v_fac} {v_exp}"
                        );
                        assert!(
                            abs_diff_eq!(g_fac[..], g_exp[..], epsilon = 1e-9 * max_abs(&g_exp)),
                            "{ctx}: routes"
                        );
                        assert!(
                            abs_diff_eq!(g_fac[..], fd[..], epsilon = 1e-6 * max_abs(&fd)),
                            "{ctx}: fd"
                        );
                        assert!(
                            abs_diff_eq!(g_exp[..], fd[..], epsilon = 1e-6 * max_abs(&fd)),
                            "{ctx}: explicit fd"
                        );
                        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
                        assert!(
                            (norm(&g_fac) - norm(&fd)).abs() <= 1e-6 * norm(&fd),
                            "{ctx}: norm"
                        );
                        assert!(max_abs(&g_fac) > 0.0, "{ctx}: gradient vanished");
                        checked += 1;
                    }
                    let (h_value, h_grad) = grad(&mlp, x.as_ref(), &hinge, Par::Seq);
                    assert!(
                        (h_value - 0.7 * 0.25).abs() <= 1e-12,
                        "hinge value {h_value} for g = {g_value}"
                    );
                    assert_eq!(h_grad, g_grad, "above its target the hinge is the penalty");
                }
            }
        }
    }
    assert_eq!(checked, 3 * 2 * 4 * 2 * 2);
}

/// A hinge whose target is above the metric, for every kind, metric and route: value and
/// gradient exactly 0 (and so are central differences, the value being identically 0 nearby);
/// with the target exactly at the metric, still 0 (the subgradient taken at the kink).
#[test]
fn hinge_below_its_target_is_exactly_flat() {
    let mlp = model::<f64>(3, &[(6, Activation::Tanh), (5, Activation::Silu)], 3, 7);
    let x = inputs::<f64>(6, 3, 8);
    for kernel in KernelKind::ALL {
        for metric in PenaltyMetric::ALL {
            for route in [Route::Factorised, Route::Explicit] {
                // The metric itself, exactly (weight 1), by the route under test.
                let base = PenaltyConfig {
                    metric,
                    kernel,
                    route,
                    jitter: 1e-3,
                    weight: 1.0,
                    ..Default::default()
                };
                let g = grad(&mlp, x.as_ref(), &base, Par::Seq).0;
                for target in [g + 0.05, g] {
                    let cfg = PenaltyConfig {
                        weight: 1.3,
                        bound: PenaltyBound::Hinge { target },
                        ..base.clone()
                    };
                    let mut gr = vec![1.0; mlp.n_params()];
                    let v = Penalty::new(cfg.clone())
                        .unwrap()
                        .value_and_grad(&mlp, x.as_ref(), &mut rng_from_seed(0), &mut gr, Par::Seq)
                        .unwrap();
                    let ctx = format!("{kernel:?} {metric:?} {route:?} target {target}");
                    assert_eq!(v, 0.0, "{ctx}");
                    assert!(gr.iter().all(|&v| v == 0.0), "{ctx}: gradient not zero");
                    if target > g {
                        let fd = fd_gradient(mlp.params(), 1e-5, |t| {
                            value_at(&mlp, t, x.as_ref(), &cfg)
                        });
                        assert!(fd.iter().all(|&v| v == 0.0), "{ctx}: fd not zero");
                    }
                }
            }
        }
    }
}

/// Multi-tile batches (several kernel tiles, three hidden layers) with the centred kinds: the
/// routes agree ≤ 1e-9 (values ≤ 1e-10), and each route's value and gradient are bit-identical
/// for 1 and 2 rayon threads; the factorised kernels, cross kernels and per-layer kernels too.
#[test]
fn centred_kinds_are_thread_count_independent() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let hidden = [
        (10, Activation::Tanh),
        (8, Activation::Softplus),
        (7, Activation::GeluErf),
    ];
    for (n, c, kind) in [
        (150, 3, KernelKind::CentredFull),
        (140, 2, KernelKind::CentredTraced),
        (140, 3, KernelKind::CentredTraced),
    ] {
        let mlp = model::<f64>(4, &hidden, c, 8);
        let x = inputs::<f64>(n, 4, 9);
        let x2 = inputs::<f64>(70, 4, 10);
        let ctx = format!("N={n} C={c} {kind:?}");
        let k1 = kernel_seq(&mlp, x.as_ref(), kind, Route::Factorised);
        let k2 = pool
            .install(|| {
                kernel(
                    &mlp,
                    x.as_ref(),
                    None,
                    &KernelParams::new(kind, Route::Factorised),
                    Par::rayon(2),
                )
            })
            .unwrap();
        assert_eq!(flat(k1.as_ref()), flat(k2.as_ref()), "{ctx}: kernel");
        let cross = |par| {
            kernel(
                &mlp,
                x.as_ref(),
                Some(x2.as_ref()),
                &KernelParams::new(kind, Route::Factorised),
                par,
            )
            .unwrap()
        };
        let c1 = cross(Par::Seq);
        let c2 = pool.install(|| cross(Par::rayon(2)));
        assert_eq!(flat(c1.as_ref()), flat(c2.as_ref()), "{ctx}: cross kernel");
        let l1 = layer_kernels(&mlp, x.as_ref(), kind, Par::Seq).unwrap();
        let l2 = pool
            .install(|| layer_kernels(&mlp, x.as_ref(), kind, Par::rayon(2)))
            .unwrap();
        assert_eq!(l1, l2, "{ctx}: layer kernels");
        for metric in [PenaltyMetric::LogDet, PenaltyMetric::CosineLogDet] {
            let cfg = |route| PenaltyConfig {
                metric,
                kernel: kind,
                route,
                bound: PenaltyBound::Hinge { target: -50.0 },
                ..Default::default()
            };
            let (ve, ge) = grad(&mlp, x.as_ref(), &cfg(Route::Explicit), Par::Seq);
            let (vf, gf) = grad(&mlp, x.as_ref(), &cfg(Route::Factorised), Par::Seq);
            assert!(ve > 0.0, "{ctx} {metric:?}: hinge active");
            assert!(
                (ve - vf).abs() <= 1e-10 * ve.abs().max(1.0),
                "{ctx} {metric:?}"
            );
            assert!(
                abs_diff_eq!(gf[..], ge[..], epsilon = 1e-9 * max_abs(&ge)),
                "{ctx} {metric:?}: routes"
            );
            for route in [Route::Factorised, Route::Explicit] {
                let one = if route == Route::Factorised {
                    (vf, &gf)
                } else {
                    (ve, &ge)
                };
                let (v2, g2) = pool.install(|| grad(&mlp, x.as_ref(), &cfg(route), Par::rayon(2)));
                assert_eq!((v2, &g2), one, "{ctx} {metric:?} {route:?}: threads");
            }
        }
    }
}

/// Bad configurations: a non-finite hinge target at construction; a centred kind with one
/// output at every entry point (both kernel routes, cross kernels, the workspace, the per-layer
/// kernels, both penalty routes).
#[test]
fn centred_and_hinge_errors() {
    for target in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = Penalty::<f64>::new(PenaltyConfig {
            bound: PenaltyBound::Hinge { target },
            ..Default::default()
        })
        .err();
        assert!(
            matches!(
                err,
                Some(Error::InvalidHyperparameter { name: "target", .. })
            ),
            "{err:?}"
        );
    }
    let mlp = model::<f64>(3, &[(5, Activation::Tanh)], 1, 1);
    let x = inputs::<f64>(4, 3, 2);
    let is_c1 = |e: Error| {
        matches!(
            e,
            Error::Incompatible {
                what: "kernel and model",
                ..
            }
        )
    };
    for kind in CENTRED {
        for route in [Route::Explicit, Route::Factorised] {
            let e = kernel(
                &mlp,
                x.as_ref(),
                None,
                &KernelParams::new(kind, route),
                Par::Seq,
            )
            .unwrap_err();
            assert!(is_c1(e), "{kind:?} {route:?}");
            let e = kernel(
                &mlp,
                x.as_ref(),
                Some(x.as_ref()),
                &KernelParams::new(kind, route),
                Par::Seq,
            );
            assert!(is_c1(e.unwrap_err()), "{kind:?} {route:?} cross");
            let mut pen = Penalty::new(PenaltyConfig {
                kernel: kind,
                route,
                ..Default::default()
            })
            .unwrap();
            let mut g = vec![0.0; mlp.n_params()];
            let e = pen.value_and_grad(&mlp, x.as_ref(), &mut rng_from_seed(0), &mut g, Par::Seq);
            assert!(is_c1(e.unwrap_err()), "{kind:?} {route:?} penalty");
        }
        let mut ws = KernelWorkspace::default();
        let mut k = Mat::zeros(4, 4);
        for route in [Route::Explicit, Route::Factorised] {
            let params = KernelParams::new(kind, route);
            let e = ws.kernel_into(&mlp, x.as_ref(), None, &params, k.as_mut(), Par::Seq);
            assert!(is_c1(e.unwrap_err()), "{kind:?} {route:?} workspace");
        }
        let e = layer_kernels(&mlp, x.as_ref(), kind, Par::Seq);
        assert!(is_c1(e.unwrap_err()), "{kind:?} layer kernels");
    }
}

// ---- The NumPy reference (tests/reference/penalty_forms.py) ----

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/penalty_forms_fixture.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(row) => row.iter().map(|y| y.as_f64().unwrap()).collect(),
            None => vec![x.as_f64().unwrap()],
        })
        .collect()
}

fn kind_named(name: &str) -> KernelKind {
    KernelKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .unwrap()
}

fn metric_named(name: &str) -> PenaltyMetric {
    PenaltyMetric::ALL
        .into_iter()
        .find(|m| m.name() == name)
        .unwrap()
}

/// The crate against a hand-written NumPy float64 reference (explicit Jacobian of a tanh MLP by
/// hand, `slogdet` for the log-dets): centred full and traced kernels by both routes
/// (≤ 1e-10 relative to the largest entry), penalty values of every metric, plain and hinged,
/// by both routes (≤ 1e-10 · max(1, |v|)), and the gradient against the script's central
/// differences of its own value (≤ 1e-6 relative).
#[test]
fn matches_the_numpy_reference() {
    let fx = fixture();
    let nets = fx["networks"].as_array().unwrap();
    assert!(nets.len() >= 2);
    let mut penalties = 0;
    for net in nets {
        let name = net["name"].as_str().unwrap();
        let widths: Vec<usize> = numbers(&net["widths"])
            .iter()
            .map(|&w| w as usize)
            .collect();
        let hidden: Vec<(usize, Activation)> = widths[1..widths.len() - 1]
            .iter()
            .map(|&w| (w, Activation::Tanh))
            .collect();
        let arch = Architecture::new(widths[0], &hidden, widths[widths.len() - 1]).unwrap();
        let mlp = Mlp::from_params(arch, numbers(&net["params"])).unwrap();
        let xv = numbers(&net["x"]);
        let (n, d) = (net["x"].as_array().unwrap().len(), widths[0]);
        let x = Mat::from_fn(n, d, |i, j| xv[i * d + j]);
        for (kname, want) in net["kernels"].as_object().unwrap() {
            let kind = kind_named(kname);
            let want = numbers(want);
            for route in [Route::Explicit, Route::Factorised] {
                let k = kernel_seq(&mlp, x.as_ref(), kind, route);
                assert!(
                    abs_diff_eq!(
                        flat(k.as_ref())[..],
                        want[..],
                        epsilon = 1e-10 * max_abs(&want)
                    ),
                    "{name} {kname} {route:?}"
                );
            }
        }
        for p in net["penalties"].as_array().unwrap() {
            let bound = match p["target"].as_f64() {
                Some(target) => PenaltyBound::Hinge { target },
                None => PenaltyBound::Unbounded,
            };
            let cfg = PenaltyConfig {
                metric: metric_named(p["metric"].as_str().unwrap()),
                kernel: kind_named(p["kernel"].as_str().unwrap()),
                jitter: fx["jitter"].as_f64().unwrap(),
                weight: p["weight"].as_f64().unwrap(),
                bound,
                ..Default::default()
            };
            let want = p["value"].as_f64().unwrap();
            let fd = numbers(&p["grad_fd"]);
            for route in [Route::Explicit, Route::Factorised] {
                let (v, g) = grad(
                    &mlp,
                    x.as_ref(),
                    &PenaltyConfig {
                        route,
                        ..cfg.clone()
                    },
                    Par::Seq,
                );
                let ctx = format!("{name} {p} {route:?}");
                assert!(
                    (v - want).abs() <= 1e-10 * want.abs().max(1.0),
                    "{ctx}: {v}"
                );
                if want == 0.0 {
                    assert_eq!(v, 0.0, "{ctx}");
                    assert!(g.iter().chain(&fd).all(|&v| v == 0.0), "{ctx}: gradient");
                } else {
                    assert!(
                        abs_diff_eq!(g[..], fd[..], epsilon = 1e-6 * max_abs(&fd)),
                        "{ctx}: gradient vs NumPy differences"
                    );
                }
            }
            penalties += 1;
        }
    }
    assert!(penalties >= 2 * 2 * 6, "{penalties} penalties");
}
