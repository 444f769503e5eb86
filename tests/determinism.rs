//! Same inputs, same bits, whether rayon runs 1 or 2 threads. (`Par::Seq` is reproducible too,
//! but faer may choose other blockings for it than for `Par::rayon(_)`: compare like with like.)

mod common;

use common::{inputs, model};
use faer::Par;
use mgs::derivatives::{Signals, hvp, vjp};
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::metrics::{MetricsConfig, metrics};
use mgs::penalty::{Penalty, PenaltyConfig, PenaltyMetric};
use mgs::{Activation, Jacobian, rng_from_seed};

/// Everything the library computes for one batch, as raw bits.
fn fingerprint(par: Par) -> Vec<(String, Vec<u64>)> {
    // Large enough that every sample-block loop has several blocks.
    let mlp = model::<f64>(
        6,
        &[(40, Activation::Tanh), (24, Activation::GeluErf)],
        3,
        5,
    );
    let x = inputs::<f64>(150, 6, 6);
    let mut out = Vec::new();
    let mut n = 0;
    let mut push = |v: &[f64]| {
        n += 1;
        out.push((format!("item {n}"), v.iter().map(|x| x.to_bits()).collect()))
    };
    let cache = mlp.forward_cached(x.as_ref(), par).unwrap();
    push(&common::flat(cache.output()));
    let u = inputs::<f64>(150, 3, 7);
    push(&vjp(&mlp, &cache, u.as_ref(), par).unwrap().params);
    let v = common::vector(mlp.n_params(), 8);
    push(&hvp(&mlp, &cache, u.as_ref(), &v, par).unwrap());
    let s = Signals::compute(&mlp, &cache, par).unwrap();
    push(&common::flat(s.layer(0)));
    push(Jacobian::reverse(&mlp, x.as_ref(), par).unwrap().data());
    for kind in [KernelKind::Full, KernelKind::Traced] {
        for route in [Route::Explicit, Route::Factorised] {
            let k = kernel(&mlp, x.as_ref(), None, &KernelParams::new(kind, route), par).unwrap();
            push(&common::flat(k.as_ref()));
            let m = metrics(k.as_ref(), &MetricsConfig::default(), par).unwrap();
            push(&[m.trace, m.logdet, m.cosine_logdet, m.cosine_mean]);
            push(&m.spectrum.unwrap().eigenvalues);
            for metric in [PenaltyMetric::LogDet, PenaltyMetric::CosineLogDet] {
                let cfg = PenaltyConfig {
                    metric,
                    kernel: kind,
                    route,
                    subset: Some(100),
                    ..Default::default()
                };
                let mut pen = Penalty::new(cfg).unwrap();
                let mut g = vec![0.0; mlp.n_params()];
                let val = pen
                    .value_and_grad(&mlp, x.as_ref(), &mut rng_from_seed(3), &mut g, par)
                    .unwrap();
                push(&[val]);
                push(&g);
            }
        }
    }
    out
}

#[test]
fn one_and_two_threads_give_identical_bits() {
    let pool = |t| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
    };
    let one = pool(1).install(|| fingerprint(Par::rayon(1)));
    let two = pool(2).install(|| fingerprint(Par::rayon(2)));
    assert!(one.iter().map(|x| x.1.len()).sum::<usize>() > 100_000);
    for (a, b) in one.iter().zip(&two) {
        assert!(a == b, "1 vs 2 threads differ at {}", a.0);
    }
    // Repeating a run reproduces it (no hidden state, no time-dependent scheduling).
    assert!(fingerprint(Par::Seq) == fingerprint(Par::Seq));
}
