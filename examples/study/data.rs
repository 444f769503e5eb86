//! The data of one run: split, standardised, with label noise or a per-class subsample, as
//! `f32` matrices. Everything is derived from the seed, the dataset and the setting, so every
//! method sees the same data (and the same initial weights) for a given seed: comparisons
//! between methods are paired.

use faer::Mat;
use mgs::data::{
    Dataset, LabelNoise, Standardizer, breast_cancer, digits, stratified_split,
    subsample_indices_per_class,
};
use mgs::rng_from_seed;

use crate::config::{Plan, Setting};

/// SplitMix64 finaliser: mixes two words into a well-spread seed.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable number for a dataset name (for seed derivations).
pub fn dataset_code(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Loads a bundled dataset by name.
pub fn load(name: &str) -> Result<Dataset, String> {
    match name {
        "digits" => digits(),
        "breast_cancer" => breast_cancer(),
        other => {
            return Err(format!(
                "unknown dataset {other:?} (expected digits or breast_cancer)"
            ));
        }
    }
    .map_err(|e| format!("loading {name}: {e}"))
}

/// One run's data.
pub struct Prepared {
    pub n_classes: usize,
    pub x_train: Mat<f32>,
    /// Training labels as trained on (noisy in noise settings).
    pub y_train: Vec<usize>,
    /// The original training labels.
    pub y_train_clean: Vec<usize>,
    /// Which training labels were corrupted.
    pub corrupted: Vec<bool>,
    pub x_val: Mat<f32>,
    /// Validation labels (noisy in noise settings, like the training labels).
    pub y_val: Vec<usize>,
    pub x_test: Mat<f32>,
    /// Test labels, always clean.
    pub y_test: Vec<usize>,
}

fn labels(ds: &Dataset) -> Vec<usize> {
    ds.labels().map(<[usize]>::to_vec).unwrap_or_default()
}

/// Splits `ds` for `seed` (the split depends on the seed only, not on the setting), then
/// applies the setting: symmetric noise on the training and validation labels, or a class-
/// balanced subsample of the training part (and of the validation part, capped by the
/// smallest validation class). The standardiser is fitted on the final training part.
pub fn prepare(
    ds: &Dataset,
    name: &str,
    setting: Setting,
    seed: u64,
    plan: &Plan,
) -> mgs::Result<Prepared> {
    let base = mix(seed, dataset_code(name));
    let split = stratified_split(ds, plan.split, &mut rng_from_seed(mix(base, 1)))?;
    let n_classes = ds.n_classes().unwrap_or(0);
    let (mut train, mut val, test) = (split.train, split.validation, split.test);
    let y_train_clean;
    let mut corrupted;
    match setting {
        Setting::Clean => {
            y_train_clean = labels(&train);
            corrupted = vec![false; train.n_samples()];
        }
        Setting::Noise(p) => {
            y_train_clean = labels(&train);
            let mut rng = rng_from_seed(mix(base, setting.code()));
            let (noisy, c) = train.with_label_noise(LabelNoise::Symmetric, p, &mut rng)?;
            train = noisy;
            corrupted = c;
            let (noisy_val, _) = val.with_label_noise(LabelNoise::Symmetric, p, &mut rng)?;
            val = noisy_val;
        }
        Setting::Samples(n) => {
            let mut rng = rng_from_seed(mix(base, setting.code()));
            let idx = subsample_indices_per_class(&train, n, &mut rng)?;
            train = train.subset(&idx)?;
            let smallest = val
                .class_counts()
                .and_then(|c| c.into_iter().min())
                .unwrap_or(0);
            let idx = subsample_indices_per_class(&val, n.min(smallest), &mut rng)?;
            val = val.subset(&idx)?;
            y_train_clean = labels(&train);
            corrupted = vec![false; train.n_samples()];
        }
    }
    corrupted.resize(train.n_samples(), false);
    let scaler = Standardizer::fit(&train)?;
    let (train, val, test) = (
        scaler.transform(&train)?,
        scaler.transform(&val)?,
        scaler.transform(&test)?,
    );
    Ok(Prepared {
        n_classes,
        x_train: train.features_as::<f32>(),
        y_train: labels(&train),
        y_train_clean,
        corrupted,
        x_val: val.features_as::<f32>(),
        y_val: labels(&val),
        x_test: test.features_as::<f32>(),
        y_test: labels(&test),
    })
}
