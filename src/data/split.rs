//! Seeded train/validation/test splits and per-class subsampling.
//!
//! [`stratified_split`] keeps class proportions: for each class `c` with `n_c` samples and each
//! part with fraction `f`, the part receives `⌊f·n_c⌋` or `⌈f·n_c⌉` samples of class `c`, so
//! its class counts differ from `f·n_c` by less than one sample. Which parts round up is chosen
//! class by class so that the part sizes also stay close to `f·n`. Within a class the samples
//! are shuffled before they are dealt out, and each part is shuffled at the end, so a part is
//! not ordered by class. Regression datasets get a plain random split ([`random_split`]).
//!
//! ```
//! use mgs::data::{iris, stratified_split, subsample_per_class};
//! use mgs::rng_from_seed;
//! let ds = iris()?;
//! let split = stratified_split(&ds, (0.6, 0.2, 0.2), &mut rng_from_seed(0))?;
//! assert_eq!(split.train.class_counts(), Some(vec![30, 30, 30]));
//! assert_eq!(split.validation.class_counts(), Some(vec![10, 10, 10]));
//! let small = subsample_per_class(&ds, 5, &mut rng_from_seed(0))?;
//! assert_eq!(small.class_counts(), Some(vec![5, 5, 5]));
//! # Ok::<(), mgs::Error>(())
//! ```

use rand::Rng;
use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::{Error, Result};

/// A dataset cut into three disjoint parts, with the original indices of each part.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The training part.
    pub train: Dataset,
    /// The validation part.
    pub validation: Dataset,
    /// The test part.
    pub test: Dataset,
    /// Indices into the original dataset of the training samples, in `train`'s order.
    pub train_indices: Vec<usize>,
    /// Indices of the validation samples, in `validation`'s order.
    pub validation_indices: Vec<usize>,
    /// Indices of the test samples, in `test`'s order.
    pub test_indices: Vec<usize>,
}

/// Checks `(train, validation, test)` fractions: each finite in `[0, 1]`, summing to 1 within
/// `1e-9`.
fn check_fractions(fractions: (f64, f64, f64)) -> Result<[f64; 3]> {
    let f = [fractions.0, fractions.1, fractions.2];
    let names = ["train fraction", "validation fraction", "test fraction"];
    for (value, name) in f.iter().zip(names) {
        if !(0.0..=1.0).contains(value) {
            return Err(Error::InvalidHyperparameter {
                name,
                value: *value,
                reason: "split fractions must lie in [0, 1]",
            });
        }
    }
    let sum = f.iter().sum::<f64>();
    if (sum - 1.0).abs() > 1e-9 {
        return Err(Error::InvalidHyperparameter {
            name: "fractions",
            value: sum,
            reason: "train, validation and test fractions must sum to 1",
        });
    }
    Ok(f)
}

/// `f·n`, snapped onto the nearest integer when within rounding error of it (so that
/// `0.6 · 50`, which is `29.999…` in floating point, counts as 30).
fn share(f: f64, n: usize) -> f64 {
    let e = f * n as f64;
    if (e - e.round()).abs() <= 1e-9 * (1.0 + e.abs()) {
        e.round()
    } else {
        e
    }
}

/// Splits `n` items into three counts `⌊f·n⌋` or `⌈f·n⌉` summing to `n`, rounding up the parts
/// with a positive remainder and the largest `deficit` (ties to the earlier part).
fn allocate(n: usize, f: &[f64; 3], deficit: &[f64; 3]) -> [usize; 3] {
    let exact = f.map(|fi| share(fi, n));
    let mut counts = exact.map(|e| (e.floor() as usize).min(n));
    let mut left = n.saturating_sub(counts.iter().sum());
    // Candidates for rounding up: parts whose exact share is not an integer.
    let mut order: Vec<usize> = (0..3).filter(|&s| exact[s] > counts[s] as f64).collect();
    order.sort_by(|&a, &b| {
        deficit[b]
            .partial_cmp(&deficit[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    for s in order {
        if left == 0 {
            break;
        }
        counts[s] += 1;
        left -= 1;
    }
    // Floating-point corner cases (fractions summing to 1 only within 1e-9) can leave a
    // remainder or an excess; settle it on the training part, then on the others.
    let total: usize = counts.iter().sum();
    if total < n {
        counts[0] += n - total;
    } else if total > n {
        let mut excess = total - n;
        for c in counts.iter_mut().rev() {
            let take = excess.min(*c);
            *c -= take;
            excess -= take;
        }
    }
    counts
}

/// Builds the three parts from index lists, shuffling each part.
fn assemble<R: Rng + ?Sized>(
    dataset: &Dataset,
    mut parts: [Vec<usize>; 3],
    rng: &mut R,
) -> Result<Split> {
    for part in parts.iter_mut() {
        part.shuffle(rng);
    }
    let [train_indices, validation_indices, test_indices] = parts;
    Ok(Split {
        train: dataset.subset(&train_indices)?,
        validation: dataset.subset(&validation_indices)?,
        test: dataset.subset(&test_indices)?,
        train_indices,
        validation_indices,
        test_indices,
    })
}

/// A plain (unstratified) random split into `(train, validation, test)` fractions.
///
/// Part sizes are `⌊f·n⌋` or `⌈f·n⌉` and sum to `n`. Works for any dataset.
/// Errors: [`Error::InvalidHyperparameter`] for fractions outside `[0, 1]` or not summing to 1.
pub fn random_split<R: Rng + ?Sized>(
    dataset: &Dataset,
    fractions: (f64, f64, f64),
    rng: &mut R,
) -> Result<Split> {
    let f = check_fractions(fractions)?;
    let n = dataset.n_samples();
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(rng);
    let counts = allocate(n, &f, &[0.0; 3]);
    let val_end = counts[0] + counts[1];
    let parts = [
        all[..counts[0]].to_vec(),
        all[counts[0]..val_end].to_vec(),
        all[val_end..].to_vec(),
    ];
    assemble(dataset, parts, rng)
}

/// A stratified random split into `(train, validation, test)` fractions (see the module docs);
/// a regression dataset gets [`random_split`].
///
/// Errors: [`Error::InvalidHyperparameter`] for fractions outside `[0, 1]` or not summing to 1.
pub fn stratified_split<R: Rng + ?Sized>(
    dataset: &Dataset,
    fractions: (f64, f64, f64),
    rng: &mut R,
) -> Result<Split> {
    let Some(n_classes) = dataset.n_classes() else {
        return random_split(dataset, fractions, rng);
    };
    let f = check_fractions(fractions)?;
    let labels = dataset.labels().unwrap_or(&[]);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let mut parts: [Vec<usize>; 3] = Default::default();
    let mut seen = 0usize;
    for mut members in by_class {
        members.shuffle(rng);
        let n_c = members.len();
        seen += n_c;
        // How far each part would fall behind its target size if it got only the floor.
        let deficit: [f64; 3] = std::array::from_fn(|s| {
            share(f[s], seen) - (parts[s].len() as f64 + share(f[s], n_c).floor())
        });
        let counts = allocate(n_c, &f, &deficit);
        let mut start = 0;
        for (part, count) in parts.iter_mut().zip(counts) {
            part.extend_from_slice(&members[start..start + count]);
            start += count;
        }
    }
    assemble(dataset, parts, rng)
}

/// The indices of `n_per_class` samples drawn uniformly without replacement from each class,
/// in shuffled order.
///
/// Errors: [`Error::EmptyBatch`] for a regression dataset; [`Error::InvalidHyperparameter`]
/// when some class has fewer than `n_per_class` samples.
pub fn subsample_indices_per_class<R: Rng + ?Sized>(
    dataset: &Dataset,
    n_per_class: usize,
    rng: &mut R,
) -> Result<Vec<usize>> {
    let (labels, n_classes) = dataset.require_classes()?;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    if by_class.iter().any(|members| members.len() < n_per_class) {
        return Err(Error::InvalidHyperparameter {
            name: "n_per_class",
            value: n_per_class as f64,
            reason: "some class has fewer samples than n_per_class",
        });
    }
    let mut chosen = Vec::with_capacity(n_per_class * n_classes);
    for mut members in by_class {
        members.shuffle(rng);
        chosen.extend_from_slice(&members[..n_per_class]);
    }
    chosen.shuffle(rng);
    Ok(chosen)
}

/// A class-balanced subsample: `n_per_class` samples of every class (see
/// [`subsample_indices_per_class`]).
pub fn subsample_per_class<R: Rng + ?Sized>(
    dataset: &Dataset,
    n_per_class: usize,
    rng: &mut R,
) -> Result<Dataset> {
    let indices = subsample_indices_per_class(dataset, n_per_class, rng)?;
    dataset.subset(&indices)
}
