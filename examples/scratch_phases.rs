// SCRATCH (to be deleted): phase timings.
use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, Par};
use mgs::derivatives::Signals;
use mgs::kernel::{KernelKind, Route, explicit, factorised};
use mgs::penalty::{Penalty, PenaltyConfig, PenaltyMetric};
use mgs::{Activation, Architecture, Init, Jacobian, Mlp, rng_from_seed};
use rand_distr::{Distribution, StandardNormal};

fn med<R>(reps: usize, mut f: impl FnMut() -> R) -> f64 {
    f();
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn setup(n: usize, w: usize, c: usize) -> (Mlp<f64>, Mat<f64>) {
    let arch = Architecture::new(32, &[(w, Activation::Tanh), (w, Activation::Tanh)], c).unwrap();
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0)).unwrap();
    let mut rng = rng_from_seed(1);
    let x = Mat::from_fn(n, 32, |_, _| StandardNormal.sample(&mut rng));
    (mlp, x)
}

fn penalty_phases(n: usize, c: usize, kind: KernelKind, par: Par, reps: usize) {
    let w = 256;
    let (mlp, x) = setup(n, w, c);
    let m = kind.order(n, c);
    let fwd = med(reps, || mlp.forward_cached(x.as_ref(), par).unwrap());
    let cache = mlp.forward_cached(x.as_ref(), par).unwrap();
    let sig = med(reps, || Signals::compute(&mlp, &cache, par).unwrap());
    let kern = med(reps, || {
        factorised::kernel(&mlp, x.as_ref(), kind, par).unwrap()
    });
    let k = factorised::kernel(&mlp, x.as_ref(), kind, par).unwrap();
    let ld = med(reps, || {
        mgs::metrics::logdet(k.as_ref(), 1e-6, par).unwrap()
    });
    // gram reference: (m × n_l)(m × n_l)^T lower, the per-hidden-layer S_D
    let f = Mat::<f64>::from_fn(m, w * (n * c / m), |i, j| ((i * 7 + j * 3) % 11) as f64);
    let mut dst = Mat::<f64>::zeros(m, m);
    let gram = med(reps, || {
        triangular::matmul(
            dst.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            f.as_ref(),
            BlockStructure::Rectangular,
            f.transpose(),
            BlockStructure::Rectangular,
            1.0,
            par,
        )
    });
    let gram_full = med(reps, || {
        matmul(
            dst.as_mut(),
            Accum::Replace,
            f.as_ref(),
            f.transpose(),
            1.0,
            par,
        )
    });
    let cfg = PenaltyConfig {
        metric: PenaltyMetric::LogDet,
        kernel: kind,
        ..Default::default()
    };
    let mut p = Penalty::new(cfg).unwrap();
    let mut rng = rng_from_seed(3);
    let val = med(reps, || p.value(&mlp, x.as_ref(), &mut rng, par).unwrap());
    let mut g = vec![0.0; mlp.n_params()];
    let vg = med(reps, || {
        p.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut g, par)
            .unwrap()
    });
    let gflop = (m * m) as f64 * f.ncols() as f64 / 1e9; // lower triangle ~ m² k flops
    println!(
        "{:?} N={n} C={c} {} m={m}: fwd {fwd:.2} | signals {sig:.2} | factorised kernel (incl fwd+sig) {kern:.2} | logdet {ld:.2} | 1 hidden gram tri {gram:.2} ({:.1} GF/s), full {gram_full:.2} ({:.1} GF/s) | value {val:.2} | value_and_grad {vg:.2} | grad part {:.2} ms",
        par,
        kind.name(),
        gflop / gram * 1e3,
        2.0 * gflop / gram_full * 1e3,
        vg - val
    );
}

fn explicit_phases(n: usize, w: usize, c: usize, kind: KernelKind, par: Par, reps: usize) {
    let (mlp, x) = setup(n, w, c);
    let jt = med(reps, || Jacobian::reverse(&mlp, x.as_ref(), par).unwrap());
    let j = Jacobian::reverse(&mlp, x.as_ref(), par).unwrap();
    let kt = med(reps, || explicit::kernel(&j, kind, par));
    let tot = med(reps, || {
        mgs::kernel::mgs_kernel(&mlp, x.as_ref(), kind, Route::Explicit, par).unwrap()
    });
    println!(
        "explicit {:?} N={n} {w}x{w} C={c} {}: jacobian {jt:.2} ms | J Jt {kt:.2} ms | total {tot:.2} ms",
        par,
        kind.name()
    );
}

fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let what = std::env::args().nth(1).unwrap_or_default();
    pool.install(|| {
        if what == "explicit" || what.is_empty() {
            for par in [Par::Seq, Par::rayon(2)] {
                explicit_phases(64, 256, 1, KernelKind::Traced, par, 5);
                explicit_phases(64, 256, 1, KernelKind::Full, par, 5);
                explicit_phases(64, 64, 1, KernelKind::Traced, par, 5);
            }
        }
        if what == "penalty" || what.is_empty() {
            for par in [Par::Seq, Par::rayon(2)] {
                penalty_phases(256, 1, KernelKind::Traced, par, 7);
                penalty_phases(1024, 1, KernelKind::Traced, par, 5);
                penalty_phases(256, 10, KernelKind::Full, par, 3);
            }
            penalty_phases(1024, 10, KernelKind::Full, Par::rayon(2), 1);
        }
    });
}
