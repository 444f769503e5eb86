//! The MGS penalty: gradients against finite differences, the two routes against each other,
//! subsets, precision and errors.

mod common;

use common::{fd_gradient, inputs, max_abs, model, rel_err};
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
        (4, vec![(6, Activation::GeluTanh), (5, Activation::LeakyRelu { slope: 0.1 })]),
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
                    let exp = PenaltyConfig { route: Route::Explicit, ..cfg.clone() };
                    let (v_exp, g_exp) = grad(&mlp, x.as_ref(), &exp);
                    let fd = fd_gradient(mlp.params(), 1e-5, |t| value_at(&mlp, t, x.as_ref(), &cfg));
                    let ctx = format!("arch {a} C={c} {metric:?} {kernel:?}");
                    assert!((v_fac - v_exp).abs() <= 1e-10 * v_fac.abs().max(1e-12), "{ctx}: values");
                    assert!(rel_err(&g_fac, &g_exp) <= 1e-9, "{ctx}: routes {}", rel_err(&g_fac, &g_exp));
                    assert!(rel_err(&g_fac, &fd) <= 1e-6, "{ctx}: fd {}", rel_err(&g_fac, &fd));
                    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
                    assert!((norm(&g_fac) - norm(&fd)).abs() <= 1e-6 * norm(&fd), "{ctx}: norm");
                    assert!(max_abs(&g_fac) > 0.0, "{ctx}: gradient vanished");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 2 * 4 * 2);
}
