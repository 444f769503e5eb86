//! Matches the committed JAX float64 fixture (`tests/reference/`, autodiff, not hand-derived):
//! outputs, Jacobian, kernels, metrics, VJP/JVP/HVP and penalty values and gradients.
//!
//! Tolerance: `max|a − b| ≤ 1e-10 · max(1, max|b|)` per array (1e-9 for penalty gradients),
//! checked with approx's `abs_diff_eq!` on the slices with that epsilon: an array-scaled bound
//! because tiny entries of the reference carry cancellation noise of ~1e-16 absolute.

mod common;

use approx::abs_diff_eq;
use common::{flat, max_abs};
use faer::{Mat, Par};
use mgs::derivatives::{hvp, jvp, vjp};
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::metrics::{MetricsConfig, metrics};
use mgs::penalty::{Penalty, PenaltyConfig, PenaltyMetric};
use mgs::{Activation, Architecture, Jacobian, Mlp, rng_from_seed};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/fixture.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x {
            Value::Array(row) => row.iter().map(|y| y.as_f64().unwrap()).collect(),
            _ => vec![x.as_f64().unwrap()],
        })
        .collect()
}

fn mat_of(v: &Value) -> Mat<f64> {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    let data = vec_of(v);
    Mat::from_fn(rows.len(), cols, |i, j| data[i * cols + j])
}

fn activation(h: &Value) -> Activation {
    let p = h["param"].as_f64();
    match h["activation"].as_str().unwrap() {
        "identity" => Activation::Identity,
        "tanh" => Activation::Tanh,
        "relu" => Activation::Relu,
        "leaky_relu" => Activation::LeakyRelu { slope: p.unwrap() },
        "sigmoid" => Activation::Sigmoid,
        "softplus" => Activation::Softplus,
        "elu" => Activation::Elu { alpha: p.unwrap() },
        "silu" => Activation::Silu,
        "gelu_erf" => Activation::GeluErf,
        "gelu_tanh" => Activation::GeluTanh,
        other => panic!("unknown activation {other}"),
    }
}

fn network(net: &Value) -> Mlp<f64> {
    let hidden: Vec<(usize, Activation)> = net["hidden"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["width"].as_u64().unwrap() as usize, activation(h)))
        .collect();
    let arch = Architecture::new(
        net["input_dim"].as_u64().unwrap() as usize,
        &hidden,
        net["output_dim"].as_u64().unwrap() as usize,
    )
    .unwrap();
    Mlp::from_params(arch, vec_of(&net["params"])).unwrap()
}

#[test]
fn matches_jax_float64_fixture() {
    let fx = fixture();
    let eps = fx["eps"].as_f64().unwrap();
    let nets = fx["networks"].as_array().unwrap();
    assert!(nets.len() >= 3);
    for net in nets {
        let name = net["name"].as_str().unwrap();
        let mlp = network(net);
        let x = mat_of(&net["x"]);
        let x2 = mat_of(&net["x2"]);
        let par = Par::Seq;
        let f = mlp.forward(x.as_ref(), par).unwrap();
        let expected = vec_of(&net["f"]);
        assert!(
            abs_diff_eq!(
                flat(f.as_ref())[..],
                expected[..],
                epsilon = 1e-10 * max_abs(&expected).max(1.0)
            ),
            "{name} f"
        );
        let j = Jacobian::reverse(&mlp, x.as_ref(), par).unwrap();
        let expected = vec_of(&net["jacobian"]);
        assert!(
            abs_diff_eq!(
                flat(j.as_mat())[..],
                expected[..],
                epsilon = 1e-10 * max_abs(&expected).max(1.0)
            ),
            "{name} J"
        );
        for (kind, key, cross_key, mkey) in [
            (
                KernelKind::Full,
                "kernel_full",
                "cross_full",
                "metrics_full",
            ),
            (
                KernelKind::Traced,
                "kernel_traced",
                "cross_traced",
                "metrics_traced",
            ),
        ] {
            for route in [Route::Explicit, Route::Factorised] {
                let k =
                    kernel(&mlp, x.as_ref(), None, &KernelParams::new(kind, route), par).unwrap();
                let expected = vec_of(&net[key]);
                assert!(
                    abs_diff_eq!(
                        flat(k.as_ref())[..],
                        expected[..],
                        epsilon = 1e-10 * max_abs(&expected).max(1.0)
                    ),
                    "{name} {key} {route:?}"
                );
                let kc = kernel(
                    &mlp,
                    x.as_ref(),
                    Some(x2.as_ref()),
                    &KernelParams::new(kind, route),
                    par,
                )
                .unwrap();
                let expected = vec_of(&net[cross_key]);
                assert!(
                    abs_diff_eq!(
                        flat(kc.as_ref())[..],
                        expected[..],
                        epsilon = 1e-10 * max_abs(&expected).max(1.0)
                    ),
                    "{name} {cross_key} {route:?}"
                );
            }
            let k = kernel(
                &mlp,
                x.as_ref(),
                None,
                &KernelParams::new(kind, Route::Factorised),
                par,
            )
            .unwrap();
            let cfg = MetricsConfig {
                jitter: eps,
                spectrum: true,
                ..MetricsConfig::default()
            };
            let m = metrics(k.as_ref(), &cfg, par).unwrap();
            let want = &net[mkey];
            let spectrum = m.spectrum.as_ref().unwrap();
            for (label, got, key) in [
                ("trace", m.trace, "trace"),
                ("logdet", m.logdet, "logdet"),
                (
                    "normalized_logdet",
                    m.normalized_logdet,
                    "normalised_logdet",
                ),
                ("cosine_logdet", m.cosine_logdet, "cosine_logdet"),
                ("cosine_mean", m.cosine_mean, "cosine_mean"),
                ("effective_rank", spectrum.effective_rank, "effective_rank"),
            ] {
                let expected = want[key].as_f64().unwrap();
                assert!(
                    abs_diff_eq!(got, expected, epsilon = 1e-10 * expected.abs().max(1.0)),
                    "{name} {mkey} {label}"
                );
            }
            // The condition number amplifies rounding of the smallest eigenvalue.
            let expected = want["condition_number"].as_f64().unwrap();
            assert!(
                abs_diff_eq!(
                    spectrum.condition_number,
                    expected,
                    epsilon = 1e-8 * expected.abs().max(1.0)
                ),
                "{name} {mkey} condition"
            );
            let expected = vec_of(&want["eigenvalues"]);
            assert!(
                abs_diff_eq!(
                    spectrum.eigenvalues[..],
                    expected[..],
                    epsilon = 1e-10 * max_abs(&expected).max(1.0)
                ),
                "{name} {mkey} eigenvalues"
            );
        }
        let cache = mlp.forward_cached(x.as_ref(), par).unwrap();
        let u = mat_of(&net["cotangent"]);
        let v = vec_of(&net["tangent"]);
        let back = vjp(&mlp, &cache, u.as_ref(), par).unwrap();
        let expected = vec_of(&net["vjp_params"]);
        assert!(
            abs_diff_eq!(
                back.params[..],
                expected[..],
                epsilon = 1e-10 * max_abs(&expected).max(1.0)
            ),
            "{name} vjp params"
        );
        let expected = vec_of(&net["vjp_inputs"]);
        assert!(
            abs_diff_eq!(
                flat(back.inputs.as_ref())[..],
                expected[..],
                epsilon = 1e-10 * max_abs(&expected).max(1.0)
            ),
            "{name} vjp inputs"
        );
        let fwd = jvp(&mlp, &cache, Some(&v), None, par).unwrap();
        let expected = vec_of(&net["jvp"]);
        assert!(
            abs_diff_eq!(
                flat(fwd.as_ref())[..],
                expected[..],
                epsilon = 1e-10 * max_abs(&expected).max(1.0)
            ),
            "{name} jvp"
        );
        let hv = hvp(&mlp, &cache, u.as_ref(), &v, par).unwrap();
        let expected = vec_of(&net["hvp"]);
        assert!(
            abs_diff_eq!(
                hv[..],
                expected[..],
                epsilon = 1e-10 * max_abs(&expected).max(1.0)
            ),
            "{name} hvp"
        );
        for p in net["penalty"].as_array().unwrap() {
            let metric = match p["metric"].as_str().unwrap() {
                "trace" => PenaltyMetric::Trace,
                "logdet" => PenaltyMetric::LogDet,
                "normalised_logdet" => PenaltyMetric::NormalizedLogDet,
                "cosine_logdet" => PenaltyMetric::CosineLogDet,
                other => panic!("unknown metric {other}"),
            };
            let kernel = match p["kernel"].as_str().unwrap() {
                "full" => KernelKind::Full,
                _ => KernelKind::Traced,
            };
            for route in [Route::Explicit, Route::Factorised] {
                let cfg = PenaltyConfig {
                    metric,
                    kernel,
                    jitter: eps,
                    weight: 1.0,
                    subset: None,
                    route,
                    bound: Default::default(),
                    ..PenaltyConfig::default()
                };
                let mut pen = Penalty::new(cfg).unwrap();
                let mut g = vec![0.0; mlp.n_params()];
                let value = pen
                    .value_and_grad(&mlp, x.as_ref(), &mut rng_from_seed(0), &mut g, par)
                    .unwrap();
                let ctx = format!("{name} penalty {metric:?} {kernel:?} {route:?}");
                let expected = p["value"].as_f64().unwrap();
                assert!(
                    abs_diff_eq!(value, expected, epsilon = 1e-9 * expected.abs().max(1.0)),
                    "{ctx}"
                );
                let expected = vec_of(&p["grad"]);
                assert!(
                    abs_diff_eq!(
                        g[..],
                        expected[..],
                        epsilon = 1e-9 * max_abs(&expected).max(1.0)
                    ),
                    "{ctx}"
                );
            }
        }
    }
}
