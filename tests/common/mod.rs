//! Shared helpers of the integration tests.
#![allow(dead_code)]

use faer::{Mat, MatRef, Par};
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::{Activation, Architecture, Float, Init, Mlp, rng_from_seed};
use rand::RngExt;

/// The `kind` kernel of `x` by `route`, sequentially: `kernel(mlp, x, None, …, Par::Seq)`,
/// unwrapped.
pub fn kernel_seq<T: Float>(
    mlp: &Mlp<T>,
    x: MatRef<'_, T>,
    kind: KernelKind,
    route: Route,
) -> Mat<T> {
    kernel(mlp, x, None, &KernelParams::new(kind, route), Par::Seq).unwrap()
}

/// Every activation, with non-trivial parameters.
pub fn all_activations() -> Vec<Activation> {
    vec![
        Activation::Identity,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.1 },
        Activation::Sigmoid,
        Activation::Softplus,
        Activation::Elu { alpha: 0.7 },
        Activation::Silu,
        Activation::GeluErf,
        Activation::GeluTanh,
    ]
}

/// An MLP with Xavier-normal weights and small random (non-zero) biases.
pub fn model<T: Float>(d: usize, hidden: &[(usize, Activation)], c: usize, seed: u64) -> Mlp<T> {
    let arch = Architecture::new(d, hidden, c).unwrap();
    let mut rng = rng_from_seed(seed);
    let mut mlp = Mlp::<T>::init(arch.clone(), Init::XavierNormal, &mut rng).unwrap();
    for l in 0..arch.n_layers() {
        for p in arch.bias_range(l) {
            mlp.params_mut()[p] = T::from_f64(0.2 * (rng.random::<f64>() - 0.5));
        }
    }
    mlp
}

/// Standard-normal-ish inputs from a seed.
pub fn inputs<T: Float>(n: usize, d: usize, seed: u64) -> Mat<T> {
    let mut rng = rng_from_seed(seed);
    Mat::from_fn(n, d, |_, _| T::from_f64(2.0 * rng.random::<f64>() - 1.0))
}

/// A vector of `len` values in `[-1, 1)`.
pub fn vector(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = rng_from_seed(seed);
    (0..len).map(|_| 2.0 * rng.random::<f64>() - 1.0).collect()
}

/// Largest absolute entry.
pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// `‖a − b‖₂ / ‖b‖₂`: the error of a whole vector relative to a reference, the measure for
/// gradients checked against finite differences (entrywise tolerances would be loosest where
/// entries are small, and approx's comparisons are entrywise). The norms are faer's.
pub fn norm_rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    let (a, b) = (faer::ColRef::from_slice(a), faer::ColRef::from_slice(b));
    (a - b).norm_l2() / b.norm_l2()
}

/// The Euclidean norm of `v` (faer's).
pub fn norm(v: &[f64]) -> f64 {
    faer::ColRef::from_slice(v).norm_l2()
}

/// Central finite-difference gradient of `f` at `theta` with step `h`.
pub fn fd_gradient(theta: &[f64], h: f64, mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut t = theta.to_vec();
    (0..theta.len())
        .map(|p| {
            t[p] = theta[p] + h;
            let up = f(&t);
            t[p] = theta[p] - h;
            let down = f(&t);
            t[p] = theta[p];
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// Entries of a matrix, row-major.
pub fn flat<T: Float>(m: faer::MatRef<'_, T>) -> Vec<f64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)].to_f64()))
        .collect()
}
