//! Datasets: bundled benchmarks, a CSV loader, splits, standardisation and label noise.
//!
//! * [`Dataset`]: `n × d` features (row-major `f64`) with class labels or regression targets
//!   ([`Targets`]), owned, with feature and class names;
//! * [`DatasetView`]: inputs and targets ([`TargetsView`]) borrowed in a model's float type,
//!   what the [`Trainer`](crate::train::Trainer) takes: [`Dataset::view`] (or `&dataset`)
//!   borrows an owned dataset for an `f64` model without a copy, [`Dataset::cast`] converts it
//!   once for an `f32` model ([`CastDataset`]);
//! * bundled datasets compiled into the crate (see below), each checked against the length and
//!   CRC-32 it was shipped with before it is parsed; the `.gz` files are read by [`gzip`];
//! * [`parse_csv`] / [`load_csv`] for your own data (the format is documented on
//!   [`parse_csv`]), with precise line/column errors, integer or text class labels, skipped
//!   columns, several regression targets and a missing-value policy, all in [`CsvOptions`];
//! * [`stratified_split`], [`random_split`], [`subsample_per_class`];
//! * [`Standardizer`], fitted on the training part only;
//! * exact, seeded label noise in [`noise`].
//!
//! # Bundled datasets
//!
//! Public datasets shipped inside the crate (see `data/README.md` in the repository for their
//! creators, the packages they were taken from and their licences: CC BY 4.0 for the UCI sets,
//! Apache-2.0 for MNIST-1D, CC BY-SA 3.0 for MNIST). They load offline, without touching the
//! file system; each call parses the data afresh (milliseconds for the small sets; MNIST-5k's
//! 3.9 million fields take a fraction of a second in a release build, a few seconds in a debug
//! one).
//!
//! | loader | samples × features | target |
//! | --- | --- | --- |
//! | [`digits`] | 1797 × 64 (8×8 images, values 0–16) | 10 classes |
//! | [`breast_cancer`] | 569 × 30 | 2 classes (malignant, benign) |
//! | [`wine`] | 178 × 13 | 3 classes |
//! | [`iris`] | 150 × 4 | 3 classes (setosa, versicolor, virginica) |
//! | [`diabetes`] | 442 × 10 (raw, unscaled) | real-valued disease progression |
//! | [`mnist1d`] ([`mnist1d_train_test`]: 8000 + 2000) | 10 000 × 40 (real values) | 10 classes, 1000 each |
//! | [`optdigits`] ([`optdigits_train_test`]: 3823 + 1797) | 5620 × 64 (8×8 images, values 0–16) | 10 classes |
//! | [`mnist_5k`] | 5000 × 784 (28×28 images, values 0–255) | 10 classes, 500 each |
//! | [`letter`] | 20 000 × 16 (integer features 0–15) | 26 classes `"A"`–`"Z"` |
//!
//! ```
//! use mgs::data::{Standardizer, noise::LabelNoise, stratified_split, wine};
//! use mgs::rng_from_seed;
//! let mut rng = rng_from_seed(42);
//! let split = stratified_split(&wine()?, (0.7, 0.15, 0.15), &mut rng)?;
//! let scaler = Standardizer::fit(&split.train)?;
//! let (train, test) = (scaler.transform(&split.train)?, scaler.transform(&split.test)?);
//! let (noisy_train, corrupted) = train.with_label_noise(LabelNoise::Symmetric, 0.2, &mut rng)?;
//! let expected = (0.2 * train.n_samples() as f64).round() as usize;
//! assert_eq!(corrupted.iter().filter(|&&c| c).count(), expected);
//! let test32 = test.cast::<f32>()?; // ready for an `Mlp<f32>`: `&test32` or `test32.view()`
//! assert_eq!((test32.view().len(), test32.view().inputs().ncols()), (test.n_samples(), 13));
//! # let _ = noisy_train;
//! # Ok::<(), mgs::Error>(())
//! ```

mod bundled;
mod csv;
mod dataset;
pub mod gzip;
pub mod noise;
mod split;
mod standardize;
mod view;

pub use bundled::{
    MNIST1D_N_TRAIN, OPTDIGITS_N_TRAIN, breast_cancer, diabetes, digits, iris, letter, mnist_5k,
    mnist1d, mnist1d_train_test, optdigits, optdigits_train_test, wine,
};
pub use csv::{
    ClassLabels, Column, CsvOptions, DEFAULT_MAX_BYTES, Missing, Task, load_csv, parse_csv,
};
pub use dataset::{Dataset, Targets};
pub use noise::{LabelNoise, NoisyLabels};
pub use split::{
    Split, random_split, stratified_split, subsample_indices_per_class, subsample_per_class,
};
pub use standardize::Standardizer;
pub(crate) use view::check_labels;
pub use view::{CastDataset, DatasetView, TargetsView};
