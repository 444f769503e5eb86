//! JVP, VJP and HVP against central finite differences for every activation, and the two modes
//! against each other. Tolerances (f64): finite differences ≤ 1e-6 relative (step 1e-5);
//! mode-vs-mode ≤ 1e-12 relative.

mod common;

use approx::abs_diff_eq;
use common::{all_activations, fd_gradient, flat, inputs, max_abs, model, vector};
use faer::{Mat, Par};
use mgs::derivatives::{hvp, jvp, vjp};
use mgs::{Activation, Jacobian, Mlp};

/// `Σ_ic U_ic f_c(x_i)` at parameters `theta`.
fn weighted_output(mlp: &Mlp<f64>, theta: &[f64], x: &Mat<f64>, u: &Mat<f64>) -> f64 {
    let m = Mlp::from_params(mlp.arch().clone(), theta.to_vec()).unwrap();
    let f = m.forward(x.as_ref(), Par::Seq).unwrap();
    (0..f.nrows())
        .flat_map(|i| (0..f.ncols()).map(move |c| (i, c)))
        .map(|(i, c)| u[(i, c)] * f[(i, c)])
        .sum()
}

/// `θ + h v`.
fn shifted(theta: &[f64], v: &[f64], h: f64) -> Vec<f64> {
    theta.iter().zip(v).map(|(p, q)| p + h * q).collect()
}

fn shapes(act: Activation) -> Vec<(usize, Vec<(usize, Activation)>)> {
    vec![
        (3, vec![(5, act)]),
        (2, vec![(4, act), (6, act)]),
        (4, vec![(3, act), (5, act), (4, act)]),
    ]
}

#[test]
fn vjp_jvp_hvp_match_finite_differences_for_every_activation() {
    let mut cases = 0;
    for (a, act) in all_activations().into_iter().enumerate() {
        for (s, (d, hidden)) in shapes(act).into_iter().enumerate() {
            for c in [1usize, 3] {
                let seed = (a * 100 + s * 10 + c) as u64;
                let mlp = model::<f64>(d, &hidden, c, seed);
                let x = inputs::<f64>(4, d, seed + 1);
                let u = Mat::from_fn(4, c, |i, j| ((i * c + j) as f64 * 0.7).sin());
                let v = vector(mlp.n_params(), seed + 2);
                let cache = mlp.forward_cached(x.as_ref(), Par::Seq).unwrap();
                let ctx = format!("{act:?} shape {s} C={c}");

                // VJP (params) = ∇_θ Σ U f
                let fd = fd_gradient(mlp.params(), 1e-5, |t| weighted_output(&mlp, t, &x, &u));
                let back = vjp(&mlp, &cache, u.as_ref(), Par::Seq).unwrap();
                assert!(
                    abs_diff_eq!(back.params[..], fd[..], epsilon = 1e-6 * max_abs(&fd)),
                    "{ctx}: vjp"
                );

                // VJP (inputs)
                let xs = flat(x.as_ref());
                let fdx = fd_gradient(&xs, 1e-5, |xv| {
                    let xm = Mat::from_fn(4, d, |i, j| xv[i * d + j]);
                    weighted_output(&mlp, mlp.params(), &xm, &u)
                });
                assert!(
                    abs_diff_eq!(
                        flat(back.inputs.as_ref())[..],
                        fdx[..],
                        epsilon = 1e-6 * max_abs(&fdx)
                    ),
                    "{ctx}: vjp inputs"
                );

                // JVP = d/dh f(θ + h v)
                let h = 1e-5;
                let (plus, minus) = (shifted(mlp.params(), &v, h), shifted(mlp.params(), &v, -h));
                let fp = Mlp::from_params(mlp.arch().clone(), plus)
                    .unwrap()
                    .forward(x.as_ref(), Par::Seq)
                    .unwrap();
                let fm = Mlp::from_params(mlp.arch().clone(), minus)
                    .unwrap()
                    .forward(x.as_ref(), Par::Seq)
                    .unwrap();
                let fd_jvp: Vec<f64> = flat(fp.as_ref())
                    .iter()
                    .zip(flat(fm.as_ref()))
                    .map(|(a, b)| (a - b) / (2.0 * h))
                    .collect();
                let jv = jvp(&mlp, &cache, Some(&v), None, Par::Seq).unwrap();
                assert!(
                    abs_diff_eq!(
                        flat(jv.as_ref())[..],
                        fd_jvp[..],
                        epsilon = 1e-6 * max_abs(&fd_jvp)
                    ),
                    "{ctx}: jvp"
                );

                // HVP = d/dh VJP(θ + h v)
                let grad_at = |t: Vec<f64>| {
                    let m = Mlp::from_params(mlp.arch().clone(), t).unwrap();
                    let cc = m.forward_cached(x.as_ref(), Par::Seq).unwrap();
                    vjp(&m, &cc, u.as_ref(), Par::Seq).unwrap().params
                };
                let (plus, minus) = (shifted(mlp.params(), &v, h), shifted(mlp.params(), &v, -h));
                let (gp, gm) = (grad_at(plus), grad_at(minus));
                let fd_hvp: Vec<f64> = gp
                    .iter()
                    .zip(&gm)
                    .map(|(a, b)| (a - b) / (2.0 * h))
                    .collect();
                let hv = hvp(&mlp, &cache, u.as_ref(), &v, Par::Seq).unwrap();
                // The Hessian of an identity network is zero: compare on an absolute scale of 1.
                let scale = common::max_abs(&fd_hvp).max(1.0);
                let err = hv
                    .iter()
                    .zip(&fd_hvp)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(err <= 1e-6 * scale, "{ctx}: hvp {err}");
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 10 * 3 * 2);
}

#[test]
fn dot_product_test_and_forward_vs_reverse_jacobian() {
    for (a, act) in all_activations().into_iter().enumerate() {
        for c in [1usize, 3] {
            let mlp = model::<f64>(3, &[(6, act), (5, act)], c, 7 + a as u64);
            let x = inputs::<f64>(5, 3, 9 + a as u64);
            let cache = mlp.forward_cached(x.as_ref(), Par::Seq).unwrap();
            let u = Mat::from_fn(5, c, |i, j| ((i + 3 * j) as f64 * 0.3).cos());
            let v = vector(mlp.n_params(), 11 + a as u64);
            let jv = jvp(&mlp, &cache, Some(&v), None, Par::Seq).unwrap();
            let jtu = vjp(&mlp, &cache, u.as_ref(), Par::Seq).unwrap();
            let lhs: f64 = flat(u.as_ref())
                .iter()
                .zip(flat(jv.as_ref()))
                .map(|(a, b)| a * b)
                .sum();
            let rhs: f64 = jtu.params.iter().zip(&v).map(|(a, b)| a * b).sum();
            assert!(
                (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(rhs.abs()),
                "{act:?}: ⟨u,Jv⟩={lhs} ⟨Jᵀu,v⟩={rhs}"
            );
            let jr = Jacobian::reverse(&mlp, x.as_ref(), Par::Seq).unwrap();
            let jf = Jacobian::forward(&mlp, x.as_ref(), Par::Seq).unwrap();
            assert!(
                abs_diff_eq!(
                    jf.data()[..],
                    jr.data()[..],
                    epsilon = 1e-12 * max_abs(jr.data())
                ),
                "{act:?}: J modes"
            );
        }
    }
}

#[test]
fn input_tangents_match_input_gradient() {
    // ⟨U, (∂f/∂x) ẋ⟩ = ⟨(∂f/∂x)ᵀ U, ẋ⟩ with the input parts of JVP and VJP.
    let mlp = model::<f64>(4, &[(7, Activation::GeluErf)], 2, 3);
    let x = inputs::<f64>(6, 4, 4);
    let cache = mlp.forward_cached(x.as_ref(), Par::Seq).unwrap();
    let xt = inputs::<f64>(6, 4, 5);
    let u = inputs::<f64>(6, 2, 6);
    let jv = jvp(&mlp, &cache, None, Some(xt.as_ref()), Par::Seq).unwrap();
    let back = vjp(&mlp, &cache, u.as_ref(), Par::Seq).unwrap();
    let lhs: f64 = flat(u.as_ref())
        .iter()
        .zip(flat(jv.as_ref()))
        .map(|(a, b)| a * b)
        .sum();
    let rhs: f64 = flat(back.inputs.as_ref())
        .iter()
        .zip(flat(xt.as_ref()))
        .map(|(a, b)| a * b)
        .sum();
    assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs());
}
