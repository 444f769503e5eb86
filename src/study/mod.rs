//! Tools for the MGS study: comparing training methods over paired seeds.
//!
//! The study trains every method on the same seeds (the same data split, label noise and
//! initialisation per seed), so methods are compared on **paired** differences; [`stats`] holds
//! the statistics that such a comparison needs, from exact sign-flip tests to the test of whether
//! regularisers fall on one accuracy-versus-MGS curve.

pub mod stats;
