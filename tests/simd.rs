//! Each dispatched SIMD kernel against its scalar twin: identical bits (same arithmetic, only the
//! instruction set differs), on lengths that exercise the vector body and the tail.

use mgs::simd::{self, scalar};

fn data(n: usize, seed: f64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 + seed) * 0.731).sin() * 3.0)
        .collect()
}

#[test]
fn dispatched_kernels_equal_scalar_twins() {
    for n in [0, 1, 7, 8, 9, 31, 64, 1000, 1027] {
        let (a, b, c) = (data(n, 1.0), data(n, 2.0), data(n, 3.0));
        assert_eq!(
            simd::dot(&a, &b).to_bits(),
            scalar::dot(&a, &b).to_bits(),
            "dot {n}"
        );
        let af: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        assert_eq!(
            simd::dot(&af, &bf).to_bits(),
            scalar::dot(&af, &bf).to_bits(),
            "dot f32 {n}"
        );
        let (mut x, mut y) = (c.clone(), c.clone());
        simd::add_assign(&mut x, &a);
        scalar::add_assign(&mut y, &a);
        assert_eq!(x, y);
        simd::axpy(&mut x, 0.3, &b);
        scalar::axpy(&mut y, 0.3, &b);
        assert_eq!(x, y);
        let (mut s1, mut s2) = (c.clone(), c.clone());
        simd::scale_into(&mut s1, -0.7, &b);
        scalar::scale_into(&mut s2, -0.7, &b);
        assert_eq!(s1, s2);
        assert!(s1.iter().zip(&b).all(|(s, q)| *s == -0.7 * q));
        simd::mul_assign(&mut x, &a);
        scalar::mul_assign(&mut y, &a);
        assert_eq!(x, y);
        simd::hadamard_add_assign(&mut x, &a, &b);
        scalar::hadamard_add_assign(&mut y, &a, &b);
        assert_eq!(x, y);
        simd::hadamard_shift_add_assign(&mut x, &a, &b, 1.0);
        scalar::hadamard_shift_add_assign(&mut y, &a, &b, 1.0);
        assert_eq!(x, y);
        let (mut t1, mut t2) = (c.clone(), c.clone());
        simd::tanh_into(&mut t1, &b);
        scalar::tanh_into(&mut t2, &b);
        assert_eq!(t1, t2, "tanh {n}");
        assert!(
            t1.iter()
                .zip(&b)
                .all(|(t, q)| (t - q.tanh()).abs() <= 4.0 * f64::EPSILON)
        );
        let (mut t1f, mut t2f) = (af.clone(), af.clone());
        simd::tanh_into(&mut t1f, &bf);
        scalar::tanh_into(&mut t2f, &bf);
        assert_eq!(t1f, t2f, "tanh f32 {n}");
        // And the values are right, not only equal: dot against a plain sum.
        let plain: f64 = a.iter().zip(&b).map(|(p, q)| p * q).sum();
        assert!((simd::dot(&a, &b) - plain).abs() <= 1e-12 * plain.abs().max(1.0));
    }
}
