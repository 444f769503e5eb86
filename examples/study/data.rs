//! Data preparation: the bundled datasets, and the data of one run (split, label noise or a
//! few samples per class, standardisation, probe sets), all derived from the seeds.
//!
//! Per (dataset, seed): one stratified split into training, validation and test parts (the
//! same for every setting and method). Per (dataset, setting, seed): the label noise (the same
//! kind and rate on the training and validation labels; test labels stay clean) or the
//! per-class subsample of the training part, the initial weights and the training seed — so
//! every method of a cell starts from the same weights and sees the same batches, and methods
//! are compared on paired runs.

use faer::{Mat, MatRef};
use mgs::data::{
    CastDataset, Dataset, Standardizer, digits, letter, mnist_5k, mnist1d_train_test,
    optdigits_train_test, stratified_split, subsample_indices_per_class,
};
use mgs::rng_from_seed;
use serde::{Deserialize, Serialize};

use crate::setting::{DatasetId, Setting};

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

/// The seeds of one (dataset, setting, seed) cell.
#[derive(Debug, Clone, Copy)]
pub struct CellSeeds {
    /// The split (depends on dataset and seed only).
    pub split: u64,
    /// Label noise or subsample.
    pub setting: u64,
    /// Initial weights.
    pub init: u64,
    /// Shuffling, dropout, noise, mixup and penalty subsets.
    pub train: u64,
}

impl CellSeeds {
    /// The seeds for `seed` in `setting` on `dataset`.
    pub fn new(dataset: DatasetId, setting: Setting, seed: u64) -> Self {
        let base = mix(dataset.code(), seed);
        let cell = mix(base, setting.code());
        Self {
            split: mix(base, 1),
            setting: mix(cell, 2),
            init: mix(cell, 3),
            train: mix(cell, 4),
        }
    }
}

/// A loaded dataset: the pool that training and validation samples are drawn from, and the
/// dataset's own test split where it has one.
pub struct Pool {
    /// Which dataset.
    pub id: DatasetId,
    /// Samples for training and validation (all samples when there is no own test split).
    pub pool: Dataset,
    /// The dataset's own test split, if any.
    pub test: Option<Dataset>,
    /// Number of classes.
    pub n_classes: usize,
    /// Number of input features.
    pub n_features: usize,
}

/// Loads a bundled dataset.
pub fn load(id: DatasetId) -> Result<Pool, String> {
    let err = |e: mgs::Error| format!("loading {}: {e}", id.name());
    let (pool, test) = match id {
        DatasetId::Mnist1d => {
            let (train, test) = mnist1d_train_test().map_err(err)?;
            (train, Some(test))
        }
        DatasetId::Optdigits => {
            let (train, test) = optdigits_train_test().map_err(err)?;
            (train, Some(test))
        }
        DatasetId::Mnist5k => (mnist_5k().map_err(err)?, None),
        DatasetId::Letter => (letter().map_err(err)?, None),
        DatasetId::Digits => (digits().map_err(err)?, None),
    };
    let n_classes = pool
        .n_classes()
        .ok_or_else(|| format!("{} is not a classification dataset", id.name()))?;
    Ok(Pool {
        id,
        n_features: pool.n_features(),
        pool,
        test,
        n_classes,
    })
}

/// Sizes of a run's data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sizes {
    /// Training samples (before a per-class subsample).
    pub n_train: usize,
    /// Validation samples.
    pub n_val: usize,
    /// Test samples (at most; fewer when the dataset's own test split is smaller).
    pub n_test: usize,
    /// Samples per probe set (at most).
    pub probe: usize,
}

/// The MGS probe sets: inputs only, never labels (the selection of `clean_train` and
/// `noisy_train` uses the corruption mask, which only the study knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// Training samples whose labels were not corrupted.
    CleanTrain,
    /// Training samples whose labels were corrupted (absent without noise).
    NoisyTrain,
    /// Validation inputs.
    Heldout,
    /// Random training inputs, whatever their labels: the label-free selection rule's probe.
    RandomTrain,
}

impl Probe {
    /// Every probe, in CSV column order.
    pub const ALL: [Probe; 4] = [
        Probe::CleanTrain,
        Probe::NoisyTrain,
        Probe::Heldout,
        Probe::RandomTrain,
    ];

    /// The probe's name in the monitor and in CSV columns.
    pub fn name(self) -> &'static str {
        match self {
            Probe::CleanTrain => "clean_train",
            Probe::NoisyTrain => "noisy_train",
            Probe::Heldout => "heldout",
            Probe::RandomTrain => "train_probe",
        }
    }

    /// The probe named `name`.
    pub fn parse(name: &str) -> Option<Probe> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One run's data, as the `f32` model takes it (probe sets in `f64` for the monitor).
pub struct RunData {
    /// Number of classes `C`.
    pub n_classes: usize,
    /// The training set (standardised, in the models' `f32`), labels as trained on (noisy where
    /// corrupted).
    pub train: CastDataset<f32>,
    /// Which training labels were corrupted.
    pub corrupted: Vec<bool>,
    /// The validation set (labels corrupted like the training labels).
    pub val: CastDataset<f32>,
    /// The test set (clean labels).
    pub test: CastDataset<f32>,
    /// The probe sets present in this run, in [`Probe::ALL`] order.
    pub probes: Vec<(Probe, Mat<f64>)>,
}

/// The class labels of one of a run's sets (every study dataset is a classification one).
pub fn labels(set: &CastDataset<f32>) -> &[usize] {
    set.view().targets().classes().unwrap_or_default()
}

impl RunData {
    /// Number of corrupted training labels.
    pub fn n_corrupted(&self) -> usize {
        self.corrupted.iter().filter(|&&c| c).count()
    }
}

/// `n` samples of `ds` drawn stratified (all of them when it has no more).
fn take_stratified(ds: &Dataset, n: usize, seed: u64) -> mgs::Result<Dataset> {
    let total = ds.n_samples();
    if total <= n {
        return Ok(ds.clone());
    }
    let f = n as f64 / total as f64;
    Ok(stratified_split(ds, (f, 0.0, 1.0 - f), &mut rng_from_seed(seed))?.train)
}

/// Rows `idx` of `x` in `f64`.
fn rows(x: MatRef<'_, f32>, idx: &[usize]) -> Mat<f64> {
    Mat::from_fn(idx.len(), x.ncols(), |i, j| f64::from(x[(idx[i], j)]))
}

/// The data of one run of `setting` with `seed` (see the module documentation).
pub fn prepare(pool: &Pool, setting: Setting, seed: u64, sizes: &Sizes) -> mgs::Result<RunData> {
    let seeds = CellSeeds::new(pool.id, setting, seed);
    let total = pool.pool.n_samples();
    let wanted = sizes.n_train + sizes.n_val;
    if wanted >= total {
        return Err(mgs::Error::InvalidHyperparameter {
            name: "n_train + n_val",
            value: wanted as f64,
            reason: "the dataset has too few samples for these sizes",
        });
    }
    let fractions = (
        sizes.n_train as f64 / total as f64,
        sizes.n_val as f64 / total as f64,
        1.0 - wanted as f64 / total as f64,
    );
    let split = stratified_split(&pool.pool, fractions, &mut rng_from_seed(seeds.split))?;
    let test_source = pool.test.as_ref().unwrap_or(&split.test);
    let test = take_stratified(test_source, sizes.n_test, mix(seeds.split, 5))?;
    let (mut train, mut val) = (split.train, split.validation);
    let mut rng = rng_from_seed(seeds.setting);
    let mut corrupted = vec![false; train.n_samples()];
    if let Some((kind, rate)) = setting.noise() {
        let (noisy, mask) = train.with_label_noise(kind, rate, &mut rng)?;
        (train, corrupted) = (noisy, mask);
        val = val.with_label_noise(kind, rate, &mut rng)?.0;
    }
    if let Some(k) = setting.per_class() {
        let idx = subsample_indices_per_class(&train, k, &mut rng)?;
        train = train.subset(&idx)?;
        corrupted = vec![false; train.n_samples()];
    }
    let scaler = Standardizer::fit(&train)?;
    let (train, val, test) = (
        scaler.transform(&train)?,
        scaler.transform(&val)?,
        scaler.transform(&test)?,
    );
    let (train, val, test) = (
        train.cast::<f32>()?,
        val.cast::<f32>()?,
        test.cast::<f32>()?,
    );
    let (x_train, x_val) = (train.view().inputs(), val.view().inputs());
    let first = |pred: &dyn Fn(usize) -> bool, n: usize| -> Vec<usize> {
        (0..n).filter(|&i| pred(i)).take(sizes.probe).collect()
    };
    let n = x_train.nrows();
    let mut probes = Vec::new();
    for probe in Probe::ALL {
        let (x, idx) = match probe {
            Probe::CleanTrain => (x_train, first(&|i| !corrupted[i], n)),
            Probe::NoisyTrain => (x_train, first(&|i| corrupted[i], n)),
            Probe::Heldout => (x_val, first(&|_| true, x_val.nrows())),
            Probe::RandomTrain => (x_train, first(&|_| true, n)),
        };
        if !idx.is_empty() {
            probes.push((probe, rows(x, &idx)));
        }
    }
    Ok(RunData {
        n_classes: pool.n_classes,
        train,
        corrupted,
        val,
        test,
        probes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes() -> Sizes {
        Sizes {
            n_train: 200,
            n_val: 100,
            n_test: 200,
            probe: 50,
        }
    }

    fn same(a: &CastDataset<f32>, b: &CastDataset<f32>) -> bool {
        let (a, b) = (a.view().inputs(), b.view().inputs());
        a.nrows() == b.nrows()
            && a.ncols() == b.ncols()
            && (0..a.nrows()).all(|i| (0..a.ncols()).all(|j| a[(i, j)] == b[(i, j)]))
    }

    #[test]
    fn runs_of_a_seed_share_the_split_and_differ_in_labels_only() {
        let pool = load(DatasetId::Digits).unwrap();
        let s = sizes();
        let clean = prepare(&pool, Setting::Symmetric { percent: 0 }, 7, &s).unwrap();
        let sym = prepare(&pool, Setting::Symmetric { percent: 40 }, 7, &s).unwrap();
        let again = prepare(&pool, Setting::Symmetric { percent: 40 }, 7, &s).unwrap();
        let pair = prepare(&pool, Setting::PairFlip { percent: 40 }, 7, &s).unwrap();
        let other = prepare(&pool, Setting::Symmetric { percent: 40 }, 8, &s).unwrap();
        assert!(same(&sym.train, &again.train) && labels(&sym.train) == labels(&again.train));
        assert!(same(&clean.train, &sym.train) && same(&clean.train, &pair.train));
        assert!(!same(&sym.train, &other.train));
        assert_eq!(
            (labels(&clean.test), clean.test.len()),
            (labels(&sym.test), 200)
        );
        let (y_clean, y_sym, y_pair) = (
            labels(&clean.train),
            labels(&sym.train),
            labels(&pair.train),
        );
        // Exactly round(0.4 · 200) corrupted training labels, and the mask says which.
        assert_eq!((clean.n_corrupted(), sym.n_corrupted()), (0, 80));
        for i in 0..200 {
            assert_eq!(sym.corrupted[i], y_sym[i] != y_clean[i]);
            if pair.corrupted[i] {
                assert_eq!(y_pair[i], (y_clean[i] + 1) % 10);
            } else {
                assert_eq!(y_pair[i], y_clean[i]);
            }
        }
        // The validation labels carry the same noise rate.
        let (v_sym, v_clean) = (labels(&sym.val), labels(&clean.val));
        let val_changed = (0..100).filter(|&i| v_sym[i] != v_clean[i]).count();
        assert_eq!(val_changed, 40);
    }

    #[test]
    fn probe_sets_split_the_training_samples_by_corruption() {
        let pool = load(DatasetId::Digits).unwrap();
        let d = prepare(&pool, Setting::Symmetric { percent: 40 }, 3, &sizes()).unwrap();
        let names: Vec<Probe> = d.probes.iter().map(|(p, _)| *p).collect();
        assert_eq!(names, Probe::ALL.to_vec());
        let clean_rows: Vec<usize> = (0..200).filter(|&i| !d.corrupted[i]).take(50).collect();
        let noisy_rows: Vec<usize> = (0..200).filter(|&i| d.corrupted[i]).take(50).collect();
        for (probe, rows) in [
            (Probe::CleanTrain, &clean_rows),
            (Probe::NoisyTrain, &noisy_rows),
        ] {
            let x = &d.probes.iter().find(|(p, _)| *p == probe).unwrap().1;
            assert_eq!(x.nrows(), 50);
            for (k, &i) in rows.iter().enumerate() {
                for j in 0..x.ncols() {
                    assert_eq!(x[(k, j)], f64::from(d.train.view().inputs()[(i, j)]));
                }
            }
        }
        let clean = prepare(&pool, Setting::Symmetric { percent: 0 }, 3, &sizes()).unwrap();
        assert!(clean.probes.iter().all(|(p, _)| *p != Probe::NoisyTrain));
    }

    #[test]
    fn few_samples_per_class() {
        let pool = load(DatasetId::Digits).unwrap();
        let d = prepare(&pool, Setting::PerClass { k: 5 }, 1, &sizes()).unwrap();
        let mut counts = [0usize; 10];
        for &y in labels(&d.train) {
            counts[y] += 1;
        }
        assert_eq!(counts, [5; 10]);
        assert_eq!((d.val.len(), d.n_corrupted()), (100, 0));
        assert_eq!(
            CellSeeds::new(DatasetId::Digits, Setting::PerClass { k: 5 }, 1).split,
            CellSeeds::new(DatasetId::Digits, Setting::Symmetric { percent: 40 }, 1).split
        );
    }
}
