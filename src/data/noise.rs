//! Seeded, exact label noise: a fixed number of corrupted labels, not a per-sample coin flip.
//!
//! Both schemes corrupt exactly `m = round(p·n)` of the `n` labels (`f64::round`, halves away
//! from zero), the `m` samples being drawn uniformly without replacement from all `n` samples.
//! Every corrupted label differs from its original:
//!
//! * [`symmetric`]: each chosen label becomes one of the other `K − 1` classes, uniformly;
//! * [`pair_flip`]: each chosen label `k` becomes `(k + 1) mod K`.
//!
//! The same seed gives the same result on every platform.
//!
//! ```
//! use mgs::data::noise::{pair_flip, symmetric};
//! use mgs::rng_from_seed;
//! let labels: Vec<usize> = (0..100).map(|i| i % 4).collect();
//! let noisy = symmetric(&labels, 4, 0.25, &mut rng_from_seed(1))?;
//! assert_eq!(noisy.n_corrupted(), 25);
//! for i in 0..100 {
//!     assert_eq!(noisy.corrupted[i], noisy.labels[i] != labels[i]);
//! }
//! let flipped = pair_flip(&labels, 4, 0.1, &mut rng_from_seed(1))?;
//! for i in (0..100).filter(|&i| flipped.corrupted[i]) {
//!     assert_eq!(flipped.labels[i], (labels[i] + 1) % 4);
//! }
//! # Ok::<(), mgs::Error>(())
//! ```

use rand::{Rng, RngExt};

use crate::{Error, Result};

/// Labels after corruption, with the mask of samples whose label was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoisyLabels {
    /// The labels, corrupted where `corrupted` is true.
    pub labels: Vec<usize>,
    /// `corrupted[i]` is true exactly when `labels[i]` differs from the original.
    pub corrupted: Vec<bool>,
}

impl NoisyLabels {
    /// Number of corrupted labels.
    #[must_use]
    pub fn n_corrupted(&self) -> usize {
        self.corrupted.iter().filter(|&&c| c).count()
    }
}

/// Which label-noise scheme to apply (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LabelNoise {
    /// Flip to a uniformly chosen different class ([`symmetric`]).
    Symmetric,
    /// Flip class `k` to `(k + 1) mod K` ([`pair_flip`]).
    PairFlip,
}

impl LabelNoise {
    /// Applies this scheme: [`symmetric`] or [`pair_flip`].
    pub fn apply<R: Rng + ?Sized>(
        self,
        labels: &[usize],
        n_classes: usize,
        p: f64,
        rng: &mut R,
    ) -> Result<NoisyLabels> {
        match self {
            LabelNoise::Symmetric => symmetric(labels, n_classes, p, rng),
            LabelNoise::PairFlip => pair_flip(labels, n_classes, p, rng),
        }
    }
}

/// Checks `p`, `n_classes` and the labels; returns the samples to corrupt (`round(p·n)` of
/// them, uniformly without replacement, in increasing order).
fn choose_corrupted<R: Rng + ?Sized>(
    labels: &[usize],
    n_classes: usize,
    p: f64,
    rng: &mut R,
) -> Result<Vec<usize>> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidHyperparameter {
            name: "p",
            value: p,
            reason: "noise rate must lie in [0, 1]",
        });
    }
    if n_classes < 2 {
        return Err(Error::InvalidHyperparameter {
            name: "n_classes",
            value: n_classes as f64,
            reason: "label noise needs at least two classes",
        });
    }
    if let Some(index) = labels.iter().position(|&l| l >= n_classes) {
        return Err(Error::InvalidLabel {
            what: "labels",
            index,
            label: labels[index],
            n_classes,
        });
    }
    let n = labels.len();
    // 0 ≤ p·n ≤ n, so the rounded count is at most n.
    let m = ((p * n as f64).round() as usize).min(n);
    let mut chosen = rand::seq::index::sample(rng, n, m).into_vec();
    chosen.sort_unstable();
    Ok(chosen)
}

/// Symmetric noise: exactly `round(p·n)` labels, chosen uniformly without replacement, each
/// replaced by a uniformly chosen class different from its own.
///
/// Errors: [`Error::InvalidHyperparameter`] for `p` outside `[0, 1]` (or NaN) or fewer than two
/// classes; [`Error::InvalidLabel`] for a label `≥ n_classes`.
pub fn symmetric<R: Rng + ?Sized>(
    labels: &[usize],
    n_classes: usize,
    p: f64,
    rng: &mut R,
) -> Result<NoisyLabels> {
    corrupt(labels, n_classes, p, rng, |label, rng| {
        // Uniform over the K − 1 other classes: draw from 0..K−1 and skip over the original.
        let draw = rng.random_range(0..n_classes - 1);
        if draw >= label { draw + 1 } else { draw }
    })
}

/// Pair-flip noise: exactly `round(p·n)` labels, chosen uniformly without replacement among
/// all samples, each moved from its class `k` to `(k + 1) mod K`.
///
/// Errors as [`symmetric`].
pub fn pair_flip<R: Rng + ?Sized>(
    labels: &[usize],
    n_classes: usize,
    p: f64,
    rng: &mut R,
) -> Result<NoisyLabels> {
    corrupt(labels, n_classes, p, rng, |label, _| {
        (label + 1) % n_classes
    })
}

/// Replaces exactly `round(p·n)` uniformly chosen labels by `new_label(old, rng)`, keeping the mask.
fn corrupt<R: Rng + ?Sized>(
    labels: &[usize],
    n_classes: usize,
    p: f64,
    rng: &mut R,
    mut new_label: impl FnMut(usize, &mut R) -> usize,
) -> Result<NoisyLabels> {
    let chosen = choose_corrupted(labels, n_classes, p, rng)?;
    let mut out = labels.to_vec();
    let mut corrupted = vec![false; labels.len()];
    for i in chosen {
        out[i] = new_label(labels[i], rng);
        corrupted[i] = true;
    }
    Ok(NoisyLabels {
        labels: out,
        corrupted,
    })
}
