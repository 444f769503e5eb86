//! Explicit vs factorised kernels (full, traced, their centred forms, cross): ≤ 1e-10 relative in
//! f64, ≤ 1e-4 in f32 (max entry error over max entry); the centred kernels' structure; the
//! per-layer decomposition.

mod common;

use approx::abs_diff_eq;
use common::{all_activations, flat, inputs, kernel_seq, max_abs, model};
use faer::Par;
use mgs::kernel::{KernelKind, KernelParams, KernelWorkspace, Route, kernel, layer_kernels};
use mgs::{Activation, Float};

fn check<T: Float>(tol: f64) {
    let mut cases = 0;
    for (a, act) in all_activations().into_iter().enumerate() {
        for (d, hidden) in [
            (3, vec![(8, act)]),
            (5, vec![(6, act), (7, Activation::Tanh)]),
        ] {
            for c in [1usize, 2, 3] {
                let mlp = model::<T>(d, &hidden, c, 40 + a as u64);
                let x = inputs::<T>(7, d, 50 + a as u64);
                let x2 = inputs::<T>(4, d, 60 + a as u64);
                // Centred kinds need C ≥ 2 (tests/penalty_forms.rs checks the error for C = 1).
                for kind in KernelKind::ALL
                    .into_iter()
                    .filter(|k| c > 1 || !k.is_centred())
                {
                    let e = kernel_seq(&mlp, x.as_ref(), kind, Route::Explicit);
                    let f = kernel_seq(&mlp, x.as_ref(), kind, Route::Factorised);
                    assert_eq!(e.nrows(), kind.order(7, c));
                    assert!(
                        abs_diff_eq!(
                            flat(f.as_ref())[..],
                            flat(e.as_ref())[..],
                            epsilon = tol * max_abs(&flat(e.as_ref()))
                        ),
                        "{act:?} C={c} {kind:?}"
                    );
                    let ec = kernel(
                        &mlp,
                        x.as_ref(),
                        Some(x2.as_ref()),
                        &KernelParams::new(kind, Route::Explicit),
                        Par::Seq,
                    )
                    .unwrap();
                    let fc = kernel(
                        &mlp,
                        x.as_ref(),
                        Some(x2.as_ref()),
                        &KernelParams::new(kind, Route::Factorised),
                        Par::Seq,
                    )
                    .unwrap();
                    assert_eq!(
                        (ec.nrows(), ec.ncols()),
                        (kind.order(7, c), kind.order(4, c))
                    );
                    assert!(
                        abs_diff_eq!(
                            flat(fc.as_ref())[..],
                            flat(ec.as_ref())[..],
                            epsilon = tol * max_abs(&flat(ec.as_ref()))
                        ),
                        "{act:?} C={c} {kind:?} cross"
                    );
                    cases += 1;
                }
            }
        }
    }
    // Per activation and architecture: C = 1 (2 kinds), C = 2 and C = 3 (4 kinds each).
    assert_eq!(cases, 10 * 2 * (2 + 4 + 4));
}

#[test]
fn explicit_and_factorised_agree_f64() {
    check::<f64>(1e-10);
}

#[test]
fn explicit_and_factorised_agree_f32() {
    check::<f32>(1e-4);
}

#[test]
fn traced_is_block_trace_of_full_and_cross_of_itself_is_the_kernel() {
    let mlp = model::<f64>(4, &[(9, Activation::Silu), (6, Activation::Tanh)], 3, 1);
    let x = inputs::<f64>(6, 4, 2);
    let full = kernel_seq(&mlp, x.as_ref(), KernelKind::Full, Route::Factorised);
    let traced = kernel_seq(&mlp, x.as_ref(), KernelKind::Traced, Route::Factorised);
    for i in 0..6 {
        for j in 0..6 {
            let s: f64 = (0..3).map(|c| full[(i * 3 + c, j * 3 + c)]).sum();
            assert!((traced[(i, j)] - s).abs() <= 1e-12 * s.abs().max(1.0));
            assert_eq!(full[(i, j)], full[(j, i)], "symmetric bits");
        }
    }
    let cross = kernel(
        &mlp,
        x.as_ref(),
        Some(x.as_ref()),
        &KernelParams::new(KernelKind::Full, Route::Factorised),
        Par::Seq,
    )
    .unwrap();
    assert!(abs_diff_eq!(
        flat(cross.as_ref())[..],
        flat(full.as_ref())[..],
        epsilon = 1e-12 * max_abs(&flat(full.as_ref()))
    ));
}

/// Batches large enough for the factorised kernel's tiling (64 kernel rows per tile edge below
/// order 1024, 128 above): several tile rows with a partial last one, diagonal and off-diagonal
/// tiles, `C = 3` (tiles of 21 samples), `C = 2` and `C = 1`, every kind. Explicit vs factorised
/// ≤ 1e-10, and the factorised kernel bit-identical for 1 and 2 threads.
#[test]
fn tiled_kernels_agree_with_explicit_and_across_threads() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for (n, c, kinds) in [
        (150, 3, &KernelKind::ALL[..]),
        (400, 3, &[KernelKind::Full, KernelKind::CentredFull][..]), // order 1200: 128-row tiles
        (
            140,
            2,
            &[KernelKind::CentredFull, KernelKind::CentredTraced][..],
        ),
        (131, 1, &[KernelKind::Traced][..]),
    ] {
        let mlp = model::<f64>(5, &[(12, Activation::Tanh), (9, Activation::GeluErf)], c, 3);
        let x = inputs::<f64>(n, 5, 4);
        for &kind in kinds {
            let e = kernel_seq(&mlp, x.as_ref(), kind, Route::Explicit);
            let f = kernel_seq(&mlp, x.as_ref(), kind, Route::Factorised);
            assert!(
                abs_diff_eq!(
                    flat(f.as_ref())[..],
                    flat(e.as_ref())[..],
                    epsilon = 1e-10 * max_abs(&flat(e.as_ref()))
                ),
                "N={n} C={c} {kind:?}"
            );
            let f2 = pool
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
            assert_eq!(flat(f.as_ref()), flat(f2.as_ref()), "N={n} C={c} {kind:?}");
        }
    }
}

/// The reusable kernel workspace: equal to the one-shot kernel for any output orientation and for
/// batches of changing size, and a clear error for an output of the wrong shape.
#[test]
fn kernel_workspace_reuses_buffers_and_checks_the_output() {
    use faer::Mat;
    let mlp = model::<f64>(4, &[(11, Activation::Tanh), (7, Activation::Silu)], 3, 5);
    let mut ws = KernelWorkspace::default();
    for (n, kind) in [
        (30, KernelKind::Full),
        (9, KernelKind::Traced),
        (80, KernelKind::Full),
    ] {
        let x = inputs::<f64>(n, 4, n as u64);
        let want = kernel_seq(&mlp, x.as_ref(), kind, Route::Factorised);
        let m = kind.order(n, 3);
        let mut k = Mat::zeros(m, m);
        ws.kernel_into(
            &mlp,
            x.as_ref(),
            None,
            &KernelParams::new(kind, Route::Factorised),
            k.as_mut(),
            Par::Seq,
        )
        .unwrap();
        assert_eq!(k, want);
        let mut kt = Mat::zeros(m, m);
        ws.kernel_into(
            &mlp,
            x.as_ref(),
            None,
            &KernelParams::new(kind, Route::Factorised),
            kt.as_mut().transpose_mut(),
            Par::Seq,
        )
        .unwrap();
        assert_eq!(kt, want);
        let mut wrong = Mat::zeros(m, m + 1);
        let err = ws.kernel_into(
            &mlp,
            x.as_ref(),
            None,
            &KernelParams::new(kind, Route::Factorised),
            wrong.as_mut(),
            Par::Seq,
        );
        assert!(
            matches!(err, Err(mgs::Error::ShapeMismatch { expected, found, .. })
                if expected == (m, m) && found == (m, m + 1)),
            "{err:?}"
        );
    }
}

/// `J_c = (I_N ⊗ P) J` by hand from the explicit Jacobian.
fn centred_jacobian(j: &mgs::Jacobian<f64>) -> faer::Mat<f64> {
    let (c, p) = (j.n_outputs(), j.n_params());
    faer::Mat::from_fn(j.n_samples() * c, p, |r, q| {
        let i = r / c;
        let mean = (0..c).map(|k| j.row(i, k).unwrap()[q]).sum::<f64>() / c as f64;
        j.row(i, r % c).unwrap()[q] - mean
    })
}

/// The centred kernels against their definitions, computed another way: `CentredFull` equals
/// `J_c J_cᵀ` with `J_c` centred by hand and `(I ⊗ P) K (I ⊗ P)` from the full kernel; every
/// sample's block of rows sums to zero; `CentredTraced` is the block trace of `CentredFull` and
/// equals `K_tr − C · K_mean` (kernel of the mean output). All ≤ 1e-12 relative. The centred full
/// kernel has exactly `N` zero eigenvalues (≤ 1e-12 of the largest) when `N·(C − 1) ≤ P`, and the
/// rest clearly positive (≥ 1e-8 of the largest).
#[test]
fn centred_kernels_match_their_definitions_and_rank() {
    use mgs::Jacobian;
    for (c, hidden) in [
        (2, vec![(7, Activation::Tanh)]),
        (3, vec![(6, Activation::Silu), (5, Activation::Softplus)]),
    ] {
        let n = 6;
        let mlp = model::<f64>(3, &hidden, c, 70 + c as u64);
        let x = inputs::<f64>(n, 3, 80 + c as u64);
        let get = |kind| kernel_seq(&mlp, x.as_ref(), kind, Route::Factorised);
        let (full, traced) = (get(KernelKind::Full), get(KernelKind::Traced));
        let (cf, ct) = (get(KernelKind::CentredFull), get(KernelKind::CentredTraced));
        let j = Jacobian::reverse(&mlp, x.as_ref(), Par::Seq).unwrap();
        let jc = centred_jacobian(&j);
        let by_hand = &jc * jc.transpose();
        assert!(abs_diff_eq!(
            flat(cf.as_ref())[..],
            flat(by_hand.as_ref())[..],
            epsilon = 1e-12 * max_abs(&flat(by_hand.as_ref()))
        ));
        let cf_f = flat(cf.as_ref());
        let m = n * c;
        let proj = |a: usize, b: usize| (a == b) as u8 as f64 - 1.0 / c as f64;
        let projected = faer::Mat::from_fn(m, m, |r, s| {
            let (i, j) = (r / c, s / c);
            let mut v = 0.0;
            for a in 0..c {
                for b in 0..c {
                    v += proj(r % c, a) * full[(i * c + a, j * c + b)] * proj(b, s % c);
                }
            }
            v
        });
        assert!(abs_diff_eq!(
            cf_f[..],
            flat(projected.as_ref())[..],
            epsilon = 1e-12 * max_abs(&flat(projected.as_ref()))
        ));
        let scale = cf.norm_max();
        for i in 0..n {
            for s in 0..m {
                let block: f64 = (0..c).map(|q| cf[(i * c + q, s)]).sum();
                assert!(block.abs() <= 1e-12 * scale, "C={c}: block sum {block:e}");
            }
        }
        let block_trace = faer::Mat::from_fn(n, n, |i, j| {
            (0..c).map(|q| cf[(i * c + q, j * c + q)]).sum::<f64>()
        });
        assert!(abs_diff_eq!(
            flat(ct.as_ref())[..],
            flat(block_trace.as_ref())[..],
            epsilon = 1e-12 * max_abs(&flat(block_trace.as_ref()))
        ));
        let identity = faer::Mat::from_fn(n, n, |i, j| {
            let mut mean = 0.0;
            for a in 0..c {
                for b in 0..c {
                    mean += full[(i * c + a, j * c + b)];
                }
            }
            traced[(i, j)] - mean / c as f64
        });
        assert!(abs_diff_eq!(
            flat(ct.as_ref())[..],
            flat(identity.as_ref())[..],
            epsilon = 1e-12 * max_abs(&flat(identity.as_ref()))
        ));
        assert!(n * (c - 1) <= mlp.n_params());
        let eig = mgs::metrics::eigenvalues(cf.as_ref(), Par::Seq).unwrap();
        let top = eig[m - 1];
        assert!(
            eig[..n].iter().all(|v| v.abs() <= 1e-12 * top),
            "C={c}: {eig:?}"
        );
        assert!(eig[n] >= 1e-8 * top, "C={c}: rank below N(C-1): {eig:?}");
    }
}

/// `K = Σ_l K_l` for every kind (≤ 1e-12 relative); each `K_l` equals `J_l J_lᵀ` from the
/// explicit (centred, for the centred kinds) Jacobian's columns of layer `l` (≤ 1e-10, traced
/// kinds by block trace); the workspace reuses its matrices (same pointers for the same order),
/// follows changing batch sizes, and is bit-identical for 1 and 2 threads on a multi-tile batch.
#[test]
fn layer_kernels_sum_to_the_kernel_and_match_the_jacobian_blocks() {
    use faer::Mat;
    use mgs::Jacobian;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let hidden = [
        (6, Activation::Tanh),
        (5, Activation::GeluErf),
        (4, Activation::Silu),
    ];
    let mlp = model::<f64>(3, &hidden, 3, 90);
    let arch = mlp.arch().clone();
    let mut ws = KernelWorkspace::default();
    let mut out: Vec<Mat<f64>> = Vec::new();
    for n in [7usize, 4, 7, 90] {
        let x = inputs::<f64>(n, 3, 91 + n as u64);
        let j = Jacobian::reverse(&mlp, x.as_ref(), Par::Seq).unwrap();
        let jc = centred_jacobian(&j);
        for kind in KernelKind::ALL {
            let k = kernel_seq(&mlp, x.as_ref(), kind, Route::Factorised);
            let before: Vec<*const f64> = out.iter().map(|m| m.as_ptr()).collect();
            let same_order = out.first().is_some_and(|m| m.nrows() == k.nrows());
            ws.layer_kernels_into(&mlp, x.as_ref(), kind, Par::Seq, &mut out)
                .unwrap();
            assert_eq!(out.len(), arch.n_layers());
            if same_order {
                let after: Vec<*const f64> = out.iter().map(|m| m.as_ptr()).collect();
                assert_eq!(before, after, "N={n} {kind:?}: matrices reused");
            }
            let mut sum = Mat::<f64>::zeros(k.nrows(), k.ncols());
            for kl in &out {
                sum += kl;
            }
            assert!(
                abs_diff_eq!(
                    flat(sum.as_ref())[..],
                    flat(k.as_ref())[..],
                    epsilon = 1e-12 * max_abs(&flat(k.as_ref()))
                ),
                "N={n} {kind:?}: sum"
            );
            if n > 10 {
                let par = pool.install(|| layer_kernels(&mlp, x.as_ref(), kind, Par::rayon(2)));
                for (a, b) in par.unwrap().iter().zip(&out) {
                    assert_eq!(flat(a.as_ref()), flat(b.as_ref()), "{kind:?}: threads");
                }
                continue;
            }
            let jm = if kind.is_centred() {
                jc.as_ref()
            } else {
                j.as_mat()
            };
            let c = arch.output_dim();
            for (l, kl) in out.iter().enumerate() {
                let cols: Vec<usize> = arch.weight_range(l).chain(arch.bias_range(l)).collect();
                let jl = Mat::from_fn(jm.nrows(), cols.len(), |r, q| jm[(r, cols[q])]);
                let full = &jl * jl.transpose();
                let want = if kind.is_traced() {
                    Mat::from_fn(n, n, |i, j| {
                        (0..c).map(|q| full[(i * c + q, j * c + q)]).sum()
                    })
                } else {
                    full
                };
                assert!(
                    abs_diff_eq!(
                        flat(kl.as_ref())[..],
                        flat(want.as_ref())[..],
                        epsilon = 1e-10 * max_abs(&flat(want.as_ref()))
                    ),
                    "N={n} {kind:?} layer {l}"
                );
            }
        }
    }
}
