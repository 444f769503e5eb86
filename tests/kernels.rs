//! Explicit vs factorised kernels (full, traced, cross): ≤ 1e-10 relative in f64, ≤ 1e-4 in f32
//! (max entry error over max entry).

mod common;

use common::{all_activations, flat, inputs, model, rel_err};
use faer::Par;
use mgs::kernel::{KernelKind, Route, mgs_cross_kernel, mgs_kernel};
use mgs::{Activation, Float};

fn check<T: Float>(tol: f64) {
    let mut cases = 0;
    for (a, act) in all_activations().into_iter().enumerate() {
        for (d, hidden) in [
            (3, vec![(8, act)]),
            (5, vec![(6, act), (7, Activation::Tanh)]),
        ] {
            for c in [1usize, 3] {
                let mlp = model::<T>(d, &hidden, c, 40 + a as u64);
                let x = inputs::<T>(7, d, 50 + a as u64);
                let x2 = inputs::<T>(4, d, 60 + a as u64);
                for kind in [KernelKind::Full, KernelKind::Traced] {
                    let e = mgs_kernel(&mlp, x.as_ref(), kind, Route::Explicit, Par::Seq).unwrap();
                    let f =
                        mgs_kernel(&mlp, x.as_ref(), kind, Route::Factorised, Par::Seq).unwrap();
                    assert_eq!(e.nrows(), kind.order(7, c));
                    let err = rel_err(&flat(f.as_ref()), &flat(e.as_ref()));
                    assert!(err <= tol, "{act:?} C={c} {kind:?}: {err:e}");
                    let ec = mgs_cross_kernel(
                        &mlp,
                        x.as_ref(),
                        x2.as_ref(),
                        kind,
                        Route::Explicit,
                        Par::Seq,
                    )
                    .unwrap();
                    let fc = mgs_cross_kernel(
                        &mlp,
                        x.as_ref(),
                        x2.as_ref(),
                        kind,
                        Route::Factorised,
                        Par::Seq,
                    )
                    .unwrap();
                    assert_eq!(
                        (ec.nrows(), ec.ncols()),
                        (kind.order(7, c), kind.order(4, c))
                    );
                    let err = rel_err(&flat(fc.as_ref()), &flat(ec.as_ref()));
                    assert!(err <= tol, "{act:?} C={c} {kind:?} cross: {err:e}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 10 * 2 * 2 * 2);
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
    let full = mgs_kernel(
        &mlp,
        x.as_ref(),
        KernelKind::Full,
        Route::Factorised,
        Par::Seq,
    )
    .unwrap();
    let traced = mgs_kernel(
        &mlp,
        x.as_ref(),
        KernelKind::Traced,
        Route::Factorised,
        Par::Seq,
    )
    .unwrap();
    for i in 0..6 {
        for j in 0..6 {
            let s: f64 = (0..3).map(|c| full[(i * 3 + c, j * 3 + c)]).sum();
            assert!((traced[(i, j)] - s).abs() <= 1e-12 * s.abs().max(1.0));
            assert_eq!(full[(i, j)], full[(j, i)], "symmetric bits");
        }
    }
    let cross = mgs_cross_kernel(
        &mlp,
        x.as_ref(),
        x.as_ref(),
        KernelKind::Full,
        Route::Factorised,
        Par::Seq,
    )
    .unwrap();
    assert!(rel_err(&flat(cross.as_ref()), &flat(full.as_ref())) <= 1e-12);
}

/// Batches large enough for the factorised kernel's tiling (64 kernel rows per tile edge below
/// order 1024, 128 above): several tile rows with a partial last one, diagonal and off-diagonal
/// tiles, `C = 3` (tiles of 21 samples) and `C = 1`. Explicit vs factorised ≤ 1e-10, and the
/// factorised kernel bit-identical for 1 and 2 threads.
#[test]
fn tiled_kernels_agree_with_explicit_and_across_threads() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for (n, c, kinds) in [
        (150, 3, &[KernelKind::Full, KernelKind::Traced][..]),
        (400, 3, &[KernelKind::Full][..]), // order 1200: 128-row tiles
        (131, 1, &[KernelKind::Traced][..]),
    ] {
        let mlp = model::<f64>(5, &[(12, Activation::Tanh), (9, Activation::GeluErf)], c, 3);
        let x = inputs::<f64>(n, 5, 4);
        for &kind in kinds {
            let e = mgs_kernel(&mlp, x.as_ref(), kind, Route::Explicit, Par::Seq).unwrap();
            let f = mgs_kernel(&mlp, x.as_ref(), kind, Route::Factorised, Par::Seq).unwrap();
            let err = rel_err(&flat(f.as_ref()), &flat(e.as_ref()));
            assert!(err <= 1e-10, "N={n} C={c} {kind:?}: {err:e}");
            let f2 = pool
                .install(|| mgs_kernel(&mlp, x.as_ref(), kind, Route::Factorised, Par::rayon(2)))
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
    use mgs::kernel::factorised::{KernelWorkspace, kernel};
    let mlp = model::<f64>(4, &[(11, Activation::Tanh), (7, Activation::Silu)], 3, 5);
    let mut ws = KernelWorkspace::default();
    for (n, kind) in [
        (30, KernelKind::Full),
        (9, KernelKind::Traced),
        (80, KernelKind::Full),
    ] {
        let x = inputs::<f64>(n, 4, n as u64);
        let want = kernel(&mlp, x.as_ref(), kind, Par::Seq).unwrap();
        let m = kind.order(n, 3);
        let mut k = Mat::zeros(m, m);
        ws.kernel_into(&mlp, x.as_ref(), kind, k.as_mut(), Par::Seq)
            .unwrap();
        assert_eq!(k, want);
        let mut kt = Mat::zeros(m, m);
        ws.kernel_into(
            &mlp,
            x.as_ref(),
            kind,
            kt.as_mut().transpose_mut(),
            Par::Seq,
        )
        .unwrap();
        assert_eq!(kt, want);
        let mut wrong = Mat::zeros(m, m + 1);
        let err = ws.kernel_into(&mlp, x.as_ref(), kind, wrong.as_mut(), Par::Seq);
        assert!(
            matches!(err, Err(mgs::Error::ShapeMismatch { expected, found, .. })
                if expected == (m, m) && found == (m, m + 1)),
            "{err:?}"
        );
    }
}
