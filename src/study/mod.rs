//! Tools for the MGS study: comparing training methods over paired seeds.
//!
//! The study trains every method on the same seeds (the same data split, label noise and
//! initialisation per seed), so methods are compared on **paired** differences; [`stats`] holds
//! the statistics that such a comparison needs, from exact sign-flip tests to the test of whether
//! regularisers fall on one accuracy-versus-MGS curve.
//!
//! ```
//! use mgs::study::stats;
//! // Test accuracy (points) of two methods on the same eight seeds, as paired differences.
//! let a = [81.0, 79.5, 83.0, 80.0, 82.5, 78.0, 84.0, 80.5];
//! let b = [79.0, 79.0, 80.5, 79.5, 80.0, 78.5, 81.0, 79.0];
//! let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
//! let exact = stats::sign_flip_test(&d)?; // all 2⁸ sign patterns
//! assert!(exact.p_value < 0.05);
//! // Several comparisons at once: Holm's step-down adjustment.
//! let adjusted = stats::holm(&[exact.p_value, 0.20, 0.03])?;
//! assert!(adjusted.iter().all(|&p| (0.0..=1.0).contains(&p)));
//! # Ok::<(), mgs::Error>(())
//! ```

pub mod stats;
