//! The five small public datasets shipped inside the crate (see `data/README.md` for their
//! provenance and licence, CC BY 4.0).
//!
//! They are compiled into the library with `include_bytes!`, so they load offline and without
//! touching the file system; the `.gz` files are decompressed by [`crate::data::gzip`].
//! Each call parses the data afresh (a few milliseconds).
//!
//! | loader | samples × features | target |
//! | --- | --- | --- |
//! | [`digits`] | 1797 × 64 (8×8 images, values 0–16) | 10 classes |
//! | [`breast_cancer`] | 569 × 30 | 2 classes (malignant, benign) |
//! | [`wine`] | 178 × 13 | 3 classes |
//! | [`iris`] | 150 × 4 | 3 classes (setosa, versicolor, virginica) |
//! | [`diabetes`] | 442 × 10 (raw, unscaled) | real-valued disease progression |
//!
//! ```
//! let digits = mgs::data::digits()?;
//! assert_eq!((digits.n_samples(), digits.n_features(), digits.n_classes()), (1797, 64, Some(10)));
//! let diabetes = mgs::data::diabetes()?;
//! assert_eq!(diabetes.regression_targets().map(|t| t[0]), Some(151.0));
//! # Ok::<(), mgs::Error>(())
//! ```

use crate::data::csv::{LabelColumn, RawLabels, Separator, Task, numbered_lines, read_table};
use crate::data::gzip::gunzip;
use crate::data::{Dataset, Targets};
use crate::{Error, Result};

const DIGITS_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");
const BREAST_CANCER_CSV: &str = include_str!("../../data/breast_cancer.csv");
const WINE_CSV: &str = include_str!("../../data/wine_data.csv");
const IRIS_CSV: &str = include_str!("../../data/iris.csv");
const DIABETES_DATA_GZ: &[u8] = include_bytes!("../../data/diabetes_data_raw.csv.gz");
const DIABETES_TARGET_GZ: &[u8] = include_bytes!("../../data/diabetes_target.csv.gz");

fn format_err(reason: String) -> Error {
    Error::Format { reason }
}

/// Decompresses a bundled file and checks that it is UTF-8.
fn gunzip_text(name: &str, bytes: &[u8]) -> Result<String> {
    let raw = gunzip(bytes)?;
    String::from_utf8(raw).map_err(|_| format_err(format!("bundled {name} is not UTF-8")))
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

/// Integer labels in `0..n_classes` as `usize`.
fn dense_labels(name: &str, raw: RawLabels, n_classes: usize) -> Result<Vec<usize>> {
    let RawLabels::Classes(raw) = raw else {
        return Err(format_err(format!("bundled {name} has no class labels")));
    };
    raw.into_iter()
        .map(|l| {
            usize::try_from(l)
                .ok()
                .filter(|&l| l < n_classes)
                .ok_or_else(|| format_err(format!("bundled {name} has class label {l}")))
        })
        .collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Handwritten digits: 1797 samples of 8×8 grey-level images (values 0–16, feature
/// `pixel_r_c` is row `r`, column `c`), 10 classes `"0"`–`"9"`.
///
/// UCI "Optical Recognition of Handwritten Digits" (test part), E. Alpaydin and C. Kaynak.
pub fn digits() -> Result<Dataset> {
    let text = gunzip_text("digits", DIGITS_GZ)?;
    let table = read_table(
        numbered_lines(&text),
        Separator::Byte(b','),
        false,
        Some(&LabelColumn::Last),
        Task::Classification,
    )?;
    let labels = dense_labels("digits", table.labels, 10)?;
    let names = (0..64)
        .map(|p| format!("pixel_{}_{}", p / 8, p % 8))
        .collect();
    let ds = Dataset::new(
        table.features,
        table.n_features,
        Targets::Classes {
            labels,
            n_classes: 10,
        },
    )?;
    check_shape("digits", &ds, 1797, 64, Some(10))?;
    ds.with_feature_names(names)?
        .with_class_names((0..10).map(|k| k.to_string()).collect())
}

/// Parses the `n_samples,n_features,class names…` header format used by the bundled
/// breast-cancer, wine and iris files, checking the declared shape.
fn headed_classification(name: &str, text: &str, feature_names: Vec<String>) -> Result<Dataset> {
    let mut lines = numbered_lines(text);
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
    let class_names = strings(&fields[2..]);
    let k = class_names.len();
    let table = read_table(
        lines,
        Separator::Byte(b','),
        false,
        Some(&LabelColumn::Last),
        Task::Classification,
    )?;
    let labels = dense_labels(name, table.labels, k)?;
    let ds = Dataset::new(
        table.features,
        table.n_features,
        Targets::Classes {
            labels,
            n_classes: k,
        },
    )?;
    check_shape(name, &ds, n, d, Some(k))?;
    ds.with_feature_names(feature_names)?
        .with_class_names(class_names)
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
    let ds = headed_classification("breast_cancer", BREAST_CANCER_CSV, names)?;
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
    let ds = headed_classification("wine", WINE_CSV, names)?;
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
    let ds = headed_classification("iris", IRIS_CSV, names)?;
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
    let data = gunzip_text("diabetes data", DIABETES_DATA_GZ)?;
    let target = gunzip_text("diabetes target", DIABETES_TARGET_GZ)?;
    let x = read_table(
        numbered_lines(&data),
        Separator::Whitespace,
        false,
        None,
        Task::Regression,
    )?;
    let y = read_table(
        numbered_lines(&target),
        Separator::Whitespace,
        false,
        None,
        Task::Regression,
    )?;
    if y.n_features != 1 {
        return Err(format_err(format!(
            "bundled diabetes target has {} columns, expected 1",
            y.n_features
        )));
    }
    let ds = Dataset::new(x.features, x.n_features, Targets::regression(y.features))?;
    check_shape("diabetes", &ds, 442, 10, None)?;
    ds.with_feature_names(strings(&[
        "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
    ]))
}
