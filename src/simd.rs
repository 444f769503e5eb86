//! Elementwise and reduction kernels, vectorised on stable Rust with runtime CPU dispatch.
//!
//! Each kernel is a plain loop written so that LLVM can vectorise it without changing its
//! floating-point semantics (independent lanes, a fixed number of partial accumulators), and is run
//! inside [`pulp::Arch::dispatch`], which compiles it for the best instruction set the CPU has
//! (AVX2+FMA or AVX-512 on x86-64, NEON on aarch64) and picks it at run time. The same loop without
//! dispatch is the scalar twin (module [`scalar`]); tests check the two agree bit for bit.

use crate::Float;

/// Partial accumulators of the reductions (enough for 8 `f64` lanes or two `f32` vectors).
const LANES: usize = 8;

/// The scalar twins of the dispatched kernels: identical arithmetic, no SIMD dispatch.
pub mod scalar {
    use super::LANES;
    use crate::Float;

    /// `dst[k] = tanh(z[k])` by [`crate::float::tanh_f64`].
    #[inline(always)]
    pub fn tanh_into<T: Float>(dst: &mut [T], z: &[T]) {
        for (d, &s) in dst.iter_mut().zip(z) {
            *d = T::from_f64(crate::float::tanh_f64(s.to_f64()));
        }
    }

    /// `dst[k] += src[k]`.
    #[inline(always)]
    pub fn add_assign<T: Float>(dst: &mut [T], src: &[T]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }

    /// `dst[k] += alpha · x[k]`.
    #[inline(always)]
    pub fn axpy<T: Float>(dst: &mut [T], alpha: T, x: &[T]) {
        for (d, &s) in dst.iter_mut().zip(x) {
            *d += alpha * s;
        }
    }

    /// `dst[k] = alpha · x[k]` (write-only: no read of `dst`).
    #[inline(always)]
    pub fn scale_into<T: Float>(dst: &mut [T], alpha: T, x: &[T]) {
        for (d, &s) in dst.iter_mut().zip(x) {
            *d = alpha * s;
        }
    }

    /// `dst[k] *= a[k]`.
    #[inline(always)]
    pub fn mul_assign<T: Float>(dst: &mut [T], a: &[T]) {
        for (d, &s) in dst.iter_mut().zip(a) {
            *d *= s;
        }
    }

    /// `dst[k] += a[k] · b[k]`.
    #[inline(always)]
    pub fn hadamard_add_assign<T: Float>(dst: &mut [T], a: &[T], b: &[T]) {
        for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
            *d += x * y;
        }
    }

    /// `dst[k] += a[k] · (b[k] + shift)`.
    #[inline(always)]
    pub fn hadamard_shift_add_assign<T: Float>(dst: &mut [T], a: &[T], b: &[T], shift: T) {
        for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
            *d += x * (y + shift);
        }
    }

    /// `Σ_k a[k] · b[k]`, with `LANES` partial sums combined pairwise at the end.
    #[inline(always)]
    pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
        let n = a.len().min(b.len());
        let mut acc = [T::zero(); LANES];
        let body = n / LANES * LANES;
        for (ca, cb) in a[..body]
            .chunks_exact(LANES)
            .zip(b[..body].chunks_exact(LANES))
        {
            for k in 0..LANES {
                acc[k] += ca[k] * cb[k];
            }
        }
        for k in body..n {
            acc[k - body] += a[k] * b[k];
        }
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                acc[k] += acc[k + width];
            }
        }
        acc[0]
    }
}

macro_rules! dispatched {
    ($(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)?) => {
        $(#[$doc])*
        #[inline]
        pub fn $name<T: Float>($($arg: $ty),*) $(-> $ret)? {
            pulp::Arch::new().dispatch(
                #[inline(always)]
                || scalar::$name($($arg),*),
            )
        }
    };
}

dispatched!(
    /// `dst[k] = tanh(z[k])` (dispatched): the forward pass's one costly activation, vectorised.
    tanh_into(dst: &mut [T], z: &[T])
);
dispatched!(
    /// `dst[k] += src[k]` (dispatched).
    add_assign(dst: &mut [T], src: &[T])
);
dispatched!(
    /// `dst[k] += alpha · x[k]` (dispatched).
    axpy(dst: &mut [T], alpha: T, x: &[T])
);
dispatched!(
    /// `dst[k] = alpha · x[k]` (dispatched).
    scale_into(dst: &mut [T], alpha: T, x: &[T])
);
dispatched!(
    /// `dst[k] *= a[k]` (dispatched).
    mul_assign(dst: &mut [T], a: &[T])
);
dispatched!(
    /// `dst[k] += a[k] · b[k]` (dispatched).
    hadamard_add_assign(dst: &mut [T], a: &[T], b: &[T])
);
dispatched!(
    /// `dst[k] += a[k] · (b[k] + shift)` (dispatched).
    hadamard_shift_add_assign(dst: &mut [T], a: &[T], b: &[T], shift: T)
);
dispatched!(
    /// `Σ_k a[k] · b[k]` (dispatched).
    dot(a: &[T], b: &[T]) -> T
);

/// Each dispatched kernel against its scalar twin: identical bits (same arithmetic, only the
/// instruction set differs), on lengths that exercise the vector body and the tail.
#[cfg(test)]
mod tests {
    use crate::simd::{self, scalar};

    fn data(n: usize, seed: f64) -> Vec<f64> {
        (0..n)
            .map(|i| ((i as f64 + seed) * 0.731).sin() * 3.0)
            .collect()
    }

    #[test]
    fn dot_of_a_small_vector() {
        let (a, b) = ([1.0f64, 2.0, 3.0], [4.0f64, 5.0, 6.0]);
        assert_eq!(simd::dot(&a, &b), 32.0);
        assert_eq!(simd::dot(&a, &b), scalar::dot(&a, &b));
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
}
