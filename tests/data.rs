//! Tests of `mgs::data`: bundled datasets, gzip decoding, CSV parsing and errors, splits,
//! standardisation and label noise.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use mgs::data::gzip::{DEFAULT_MAX_OUTPUT, gunzip, gunzip_with_limit};
use mgs::data::noise::{LabelNoise, pair_flip, symmetric};
use mgs::data::{
    ClassLabels, Column, CsvOptions, Dataset, MNIST1D_N_TRAIN, Missing, OPTDIGITS_N_TRAIN,
    Standardizer, Targets, Task, breast_cancer, diabetes, digits, iris, letter, load_csv, mnist_5k,
    mnist1d, mnist1d_train_test, optdigits, optdigits_train_test, parse_csv, random_split,
    stratified_split, subsample_per_class, wine,
};
use mgs::{Error, rng_from_seed};

const DIGITS_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");
const DIABETES_TARGET_GZ: &[u8] = include_bytes!("../data/diabetes_target.csv.gz");
const DIABETES_DATA_GZ: &[u8] = include_bytes!("../data/diabetes_data_raw.csv.gz");

// ---------------------------------------------------------------- bundled datasets

#[test]
fn digits_shape_and_counts() {
    let ds = digits().unwrap();
    assert_eq!(ds.n_samples(), 1797);
    assert_eq!(ds.n_features(), 64);
    assert_eq!(ds.n_classes(), Some(10));
    assert_eq!(
        ds.class_counts().unwrap(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    // First image of the file, first row of pixels: 0,0,5,13,9,1,0,0; label 0.
    assert_eq!(
        &ds.row(0).unwrap()[..8],
        &[0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(ds.labels().unwrap()[0], 0);
    assert_eq!(feature_range(&ds), (0.0, 16.0));
    assert_eq!(ds.feature_names().unwrap()[9], "pixel_1_1");
}

/// The smallest and largest feature value.
fn feature_range(ds: &Dataset) -> (f64, f64) {
    ds.feature_values()
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// Every feature value is an integer.
fn all_integers(ds: &Dataset) -> bool {
    ds.feature_values().iter().all(|v| v.fract() == 0.0)
}

#[test]
fn mnist1d_shape_counts_values_and_split() {
    let ds = mnist1d().unwrap();
    assert_eq!(
        (ds.n_samples(), ds.n_features(), ds.n_classes()),
        (10_000, 40, Some(10))
    );
    assert_eq!(ds.class_counts().unwrap(), vec![1000; 10]);
    // First line of the file: -0.0866928,-0.408285,-1.58309,…,1.04057,4.
    assert_eq!(&ds.row(0).unwrap()[..3], &[-0.0866928, -0.408285, -1.58309]);
    assert_eq!(ds.row(0).unwrap()[39], 1.04057);
    assert_eq!(ds.labels().unwrap()[0], 4);
    assert_eq!(feature_range(&ds), (-5.48164, 4.54014));
    let names = ds.feature_names().unwrap();
    assert_eq!((names[0].as_str(), names[39].as_str()), ("x0", "x39"));
    assert_eq!(ds.class_names().unwrap()[9], "9");

    let (train, test) = mnist1d_train_test().unwrap();
    assert_eq!(
        (train.n_samples(), test.n_samples()),
        (MNIST1D_N_TRAIN, 2000)
    );
    assert_eq!(
        train.class_counts().unwrap(),
        vec![788, 788, 789, 800, 807, 803, 815, 804, 797, 809]
    );
    assert_eq!(
        test.class_counts().unwrap(),
        vec![212, 212, 211, 200, 193, 197, 185, 196, 203, 191]
    );
    assert_eq!(train.row(0), ds.row(0));
    // Line 8002 of the file (8001st sample): the first of the test split.
    assert_eq!(&test.row(0).unwrap()[..3], &[1.30009, 0.420032, -0.666237]);
    assert_eq!(test.labels().unwrap()[0], 5);
    assert_eq!(test.row(1999), ds.row(9999));
    assert_eq!(test.feature_names(), ds.feature_names());
    assert_eq!(test.class_names(), ds.class_names());
}

#[test]
fn optdigits_shape_counts_values_and_split() {
    let ds = optdigits().unwrap();
    assert_eq!(
        (ds.n_samples(), ds.n_features(), ds.n_classes()),
        (5620, 64, Some(10))
    );
    let counts = ds.class_counts().unwrap();
    assert_eq!(
        counts,
        vec![554, 571, 557, 572, 568, 558, 558, 566, 554, 562]
    );
    assert_eq!(counts.iter().sum::<usize>(), 5620);
    assert_eq!(
        &ds.row(0).unwrap()[..8],
        &[0.0, 1.0, 6.0, 15.0, 12.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(ds.labels().unwrap()[0], 0);
    assert_eq!(feature_range(&ds), (0.0, 16.0));
    assert!(all_integers(&ds));
    // UCI's training part (with its known class counts), then its test part, which is digits.
    let (train, test) = optdigits_train_test().unwrap();
    assert_eq!(train.n_samples(), OPTDIGITS_N_TRAIN);
    assert_eq!(
        train.class_counts().unwrap(),
        vec![376, 389, 380, 389, 387, 376, 377, 387, 380, 382]
    );
    let digits = digits().unwrap();
    assert_eq!(test.feature_values(), digits.feature_values());
    assert_eq!(test.labels(), digits.labels());
}

#[test]
fn mnist_5k_shape_counts_and_values() {
    let ds = mnist_5k().unwrap();
    assert_eq!(
        (ds.n_samples(), ds.n_features(), ds.n_classes()),
        (5000, 784, Some(10))
    );
    assert_eq!(ds.class_counts().unwrap(), vec![500; 10]);
    // The first image's first ink, pixels 127-131 (row 4, columns 15-19): 51,159,253,159,50.
    let row = ds.row(0).unwrap();
    assert!(row[..127].iter().all(|&v| v == 0.0));
    assert_eq!(&row[127..132], &[51.0, 159.0, 253.0, 159.0, 50.0]);
    assert_eq!(ds.labels().unwrap()[0], 0);
    assert_eq!(feature_range(&ds), (0.0, 255.0));
    assert!(all_integers(&ds));
    assert_eq!(ds.feature_names().unwrap()[127], "pixel_4_15");
}

#[test]
fn letter_shape_counts_and_values() {
    let ds = letter().unwrap();
    assert_eq!(
        (ds.n_samples(), ds.n_features(), ds.n_classes()),
        (20_000, 16, Some(26))
    );
    let counts = ds.class_counts().unwrap();
    assert_eq!(counts.iter().sum::<usize>(), 20_000);
    // `A` 789, `B` 766, …, `Z` 734 (counted in the file).
    assert_eq!((counts[0], counts[1], counts[25]), (789, 766, 734));
    assert_eq!(counts.iter().min(), Some(&734));
    assert_eq!(counts.iter().max(), Some(&813)); // `U`
    let names = ds.class_names().unwrap();
    assert_eq!((names[0].as_str(), names[25].as_str()), ("A", "Z"));
    // First line: 2,4,4,3,2,7,8,2,9,11,7,7,1,8,5,6,Z.
    assert_eq!(
        ds.row(0).unwrap(),
        &[
            2.0, 4.0, 4.0, 3.0, 2.0, 7.0, 8.0, 2.0, 9.0, 11.0, 7.0, 7.0, 1.0, 8.0, 5.0, 6.0
        ]
    );
    assert_eq!(ds.labels().unwrap()[0], 25);
    assert_eq!(ds.labels().unwrap()[1], 15); // `P`
    assert_eq!(feature_range(&ds), (0.0, 15.0));
    assert!(all_integers(&ds));
    assert_eq!(ds.feature_names().unwrap()[0], "x-box");
}

#[test]
fn iris_shape_and_counts() {
    let ds = iris().unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (150, 4));
    assert_eq!(ds.class_counts().unwrap(), vec![50, 50, 50]);
    assert_eq!(ds.row(0).unwrap(), &[5.1, 3.5, 1.4, 0.2]);
    assert_eq!(
        ds.class_names().unwrap(),
        &["setosa", "versicolor", "virginica"]
    );
}

#[test]
fn wine_shape_and_counts() {
    let ds = wine().unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (178, 13));
    assert_eq!(ds.class_counts().unwrap(), vec![59, 71, 48]);
    assert_eq!(ds.row(0).unwrap()[12], 1065.0);
}

#[test]
fn breast_cancer_shape_and_counts() {
    let ds = breast_cancer().unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (569, 30));
    assert_eq!(ds.class_counts().unwrap(), vec![212, 357]);
    assert_eq!(ds.class_names().unwrap(), &["malignant", "benign"]);
    assert_eq!(ds.feature_names().unwrap()[0], "mean radius");
    assert_eq!(ds.feature_names().unwrap()[29], "worst fractal dimension");
    assert_eq!(ds.row(0).unwrap()[0], 17.99);
}

#[test]
fn diabetes_shape_and_targets() {
    let ds = diabetes().unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (442, 10));
    assert_eq!(ds.n_classes(), None);
    assert_eq!(ds.class_counts(), None);
    let y = ds.regression_targets().unwrap();
    assert_eq!(y[0], 151.0);
    assert_eq!(y[1], 75.0);
    assert_eq!(
        ds.row(0).unwrap(),
        &[59.0, 2.0, 32.1, 101.0, 157.0, 93.2, 38.0, 4.0, 4.8598, 87.0]
    );
}

// ---------------------------------------------------------------- gzip / deflate

#[test]
fn gunzip_bundled_files_are_csv_text() {
    let text = String::from_utf8(gunzip(DIGITS_GZ).unwrap()).unwrap();
    assert_eq!(text.lines().count(), 1797);
    assert!(text.starts_with("0,0,5,13,9,1,0,0,"));
    let target = String::from_utf8(gunzip(DIABETES_TARGET_GZ).unwrap()).unwrap();
    assert_eq!(target.lines().count(), 442);
    assert!(target.starts_with("1.510000000000000000e+02\n"));
}

#[test]
fn gunzip_rejects_corrupt_and_truncated_input() {
    let is_format = |r: Result<Vec<u8>, Error>| matches!(r, Err(Error::Format { .. }));
    assert!(is_format(gunzip(&[])));
    assert!(is_format(gunzip(b"plain text, not gzip")));
    // Every truncation point, including inside the header, the stream and the trailer.
    let n = DIABETES_TARGET_GZ.len();
    for cut in 0..n {
        assert!(
            is_format(gunzip(&DIABETES_TARGET_GZ[..cut])),
            "cut at {cut}"
        );
    }
    // Every single-byte corruption of the compressed data or trailer is detected (bit flips in
    // the header's time stamp, extra flags or OS byte are harmless and not checked).
    let header_len = 10 + "y.csv".len() + 1;
    for pos in header_len..n {
        let mut bad = DIABETES_TARGET_GZ.to_vec();
        bad[pos] ^= 0x01 << (pos % 8);
        assert!(is_format(gunzip(&bad)), "flip at byte {pos}");
    }
    // A corrupted CRC-32 in the trailer, a wrong ISIZE, a wrong method, trailing garbage.
    let mut bad = DIABETES_TARGET_GZ.to_vec();
    bad[n - 8] ^= 0xff;
    let err = gunzip(&bad).unwrap_err();
    assert!(err.to_string().contains("CRC-32 mismatch"), "{err}");
    let mut bad = DIABETES_TARGET_GZ.to_vec();
    bad[n - 1] ^= 0x01;
    assert!(
        gunzip(&bad)
            .unwrap_err()
            .to_string()
            .contains("size mismatch")
    );
    let mut bad = DIABETES_TARGET_GZ.to_vec();
    bad[2] = 7;
    assert!(is_format(gunzip(&bad)));
    let mut bad = DIABETES_TARGET_GZ.to_vec();
    bad.extend_from_slice(b"junk");
    assert!(is_format(gunzip(&bad)));
}

#[test]
fn gunzip_detects_bit_flips_in_dynamic_huffman_data() {
    // The stream starts with a dynamic block: flip every bit of its first 64 bytes (the code
    // descriptions) and bits at 300 spread-out positions after them.
    let gz = DIABETES_DATA_GZ;
    let start = 10 + gz[10..].iter().position(|&b| b == 0).unwrap() + 1;
    assert_eq!(gz[start] & 0b110, 0b100, "first block is dynamic");
    let mut positions: Vec<(usize, u8)> = (start..start + 64)
        .flat_map(|p| (0..8).map(move |b| (p, 1u8 << b)))
        .collect();
    positions
        .extend((0..300).map(|k| (start + 64 + k * 23 % (gz.len() - start - 64), 1 << (k % 8))));
    for (pos, mask) in positions {
        let mut bad = gz.to_vec();
        bad[pos] ^= mask;
        assert!(
            matches!(gunzip(&bad), Err(Error::Format { .. })),
            "flip {mask:#04x} at byte {pos}"
        );
    }
}

#[test]
fn gunzip_concatenated_members() {
    let mut two = DIABETES_TARGET_GZ.to_vec();
    two.extend_from_slice(DIABETES_TARGET_GZ);
    let one = gunzip(DIABETES_TARGET_GZ).unwrap();
    let both = gunzip(&two).unwrap();
    assert_eq!(both.len(), 2 * one.len());
    assert_eq!(&both[..one.len()], &one[..]);
    assert_eq!(&both[one.len()..], &one[..]);
}

/// `bytes` compressed as one gzip member.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn gunzip_round_trips_and_bounds_its_output() {
    for text in [&b""[..], b"a", b"hello, gzip\n", &[7u8; 100_000][..]] {
        assert_eq!(gunzip(&gzip(text)).unwrap(), text);
    }
    // A stored block (no compression) and a fixed-Huffman one.
    let mut stored = GzEncoder::new(Vec::new(), Compression::none());
    stored.write_all(b"abc").unwrap();
    assert_eq!(gunzip(&stored.finish().unwrap()).unwrap(), b"abc");
    // 8 MiB of zeros compress to about 8 KB: a limit stops the expansion at once.
    let bomb = gzip(&vec![0u8; 8 << 20]);
    assert!(bomb.len() < 20_000, "{}", bomb.len());
    let err = gunzip_with_limit(&bomb, 1 << 20).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "decompressed gzip data needs 1048577 bytes (1.0 MiB), more than the limit of 1048576 \
         bytes (1.0 MiB)"
    );
    // Exactly at the limit is fine, one byte below is not; the limit counts all members.
    assert_eq!(gunzip_with_limit(&bomb, 8 << 20).unwrap().len(), 8 << 20);
    assert!(gunzip_with_limit(&bomb, (8 << 20) - 1).is_err());
    let mut two = bomb.clone();
    two.extend_from_slice(&bomb);
    assert!(matches!(
        gunzip_with_limit(&two, 12 << 20),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(DEFAULT_MAX_OUTPUT, 256 << 20);
}

#[test]
fn gunzip_error_messages_are_precise() {
    let msg = |bytes: &[u8]| gunzip(bytes).unwrap_err().to_string();
    assert_eq!(msg(&[]), "bad file format: empty input is not gzip data");
    assert!(msg(b"plain text, not gzip").contains("not gzip data (magic bytes 0x70 0x6c"));
    let gz = DIABETES_TARGET_GZ;
    let n = gz.len();
    assert!(msg(&gz[..5]).contains("gzip header is truncated (5 bytes"));
    assert!(msg(&gz[..12]).contains("truncated in the file name"));
    let m = msg(&gz[..200]);
    assert!(
        m.contains("truncated") && m.contains("without its final block"),
        "{m}"
    );
    assert!(msg(&gz[..n - 3]).contains("gzip trailer is truncated (5 of 8 bytes)"));
    let mut bad = gz.to_vec();
    bad[3] |= 0x80;
    assert!(msg(&bad).contains("reserved gzip header flags set (0x88)"));
    // Trailing bytes that are not a second member name the offset where they start.
    let mut bad = gz.to_vec();
    bad.extend_from_slice(b"junk");
    assert!(
        msg(&bad).contains(&format!("in the gzip member starting at byte {n}")),
        "{}",
        msg(&bad)
    );
}
// ---------------------------------------------------------------- CSV

fn parse_error(text: &str, opts: &CsvOptions) -> (usize, usize, String) {
    match parse_csv(text, opts) {
        Err(err @ Error::Parse { .. }) => {
            let Error::Parse { line, column, .. } = &err else {
                unreachable!()
            };
            (*line, *column, err.to_string())
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn csv_parses_header_names_and_labels() {
    let text = "\u{feff}x1, x2 ,label\r\n1,2,0\r\n\r\n\"3.5\",4e1,2\r\n5,-6,1\r\n";
    let ds = parse_csv(text, &CsvOptions::default()).unwrap();
    assert_eq!(
        (ds.n_samples(), ds.n_features(), ds.n_classes()),
        (3, 2, Some(3))
    );
    assert_eq!(ds.feature_values(), &[1.0, 2.0, 3.5, 40.0, 5.0, -6.0]);
    assert_eq!(ds.labels().unwrap(), &[0, 2, 1]);
    assert_eq!(ds.feature_names().unwrap(), &["x1", "x2"]);
    assert_eq!(ds.class_names(), None);
}

#[test]
fn csv_maps_sparse_labels_in_sorted_order() {
    let opts = CsvOptions::default()
        .with_header(false)
        .with_target(Column::Index(0));
    let ds = parse_csv("7,1.0\n3,2.0\n10.0,3.0\n3,4.0\n", &opts).unwrap();
    assert_eq!(ds.labels().unwrap(), &[1, 0, 2, 0]);
    assert_eq!(ds.n_classes(), Some(3));
    assert_eq!(ds.class_names().unwrap(), &["3", "7", "10"]);
    assert_eq!(ds.feature_values(), &[1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn csv_regression_whitespace_and_tab() {
    let opts = CsvOptions::regression().with_header(false).whitespace();
    let ds = parse_csv("1 2   3.5\n\t4 5 -6.25\n", &opts).unwrap();
    assert_eq!(ds.regression_targets().unwrap(), &[3.5, -6.25]);
    assert_eq!(ds.feature_values(), &[1.0, 2.0, 4.0, 5.0]);
    let opts = CsvOptions::regression()
        .with_delimiter(b'\t')
        .with_target(Column::Name("y".into()));
    let ds = parse_csv("y\ta\n0.5\t1\n1.5\t2\n", &opts).unwrap();
    assert_eq!(ds.regression_targets().unwrap(), &[0.5, 1.5]);
    assert_eq!(ds.feature_names().unwrap(), &["a"]);
}

#[test]
fn csv_error_ragged_row() {
    let (line, column, msg) = parse_error("a,b,c\n1,2,0\n\n3,4\n", &CsvOptions::default());
    assert_eq!((line, column), (4, 0));
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("expected 3 fields, found 2"), "{msg}");
    let (line, _, msg) = parse_error(
        "1,2,0\n1,2,3,4\n",
        &CsvOptions::default().with_header(false),
    );
    assert_eq!(line, 2);
    assert!(msg.contains("expected 3 fields, found 4"), "{msg}");
}

#[test]
fn csv_error_non_numeric_field() {
    let (line, column, msg) = parse_error("a,b,c\n1,2,0\n3,abc,1\n", &CsvOptions::default());
    assert_eq!((line, column), (3, 2));
    assert!(msg.contains("line 3, column 2"), "{msg}");
    assert!(msg.contains("\"abc\""), "{msg}");
    let (line, column, msg) = parse_error("a,b,c\n1,,0\n", &CsvOptions::default());
    assert_eq!((line, column), (2, 2));
    assert!(msg.contains("empty field (a missing value"), "{msg}");
}

#[test]
fn csv_error_empty_input() {
    for text in ["", "\n\n  \n"] {
        let (line, column, msg) = parse_error(text, &CsvOptions::default());
        assert_eq!((line, column), (1, 0));
        assert!(msg.contains("empty input"), "{msg}");
    }
    let (line, _, msg) = parse_error("a,b,c\n", &CsvOptions::default());
    assert_eq!(line, 2);
    assert!(msg.contains("no data rows"), "{msg}");
}

#[test]
fn csv_error_unknown_label_name() {
    let opts = CsvOptions::default().with_target(Column::Name("target".into()));
    let (line, column, msg) = parse_error("a,b,y\n1,2,0\n", &opts);
    assert_eq!((line, column), (1, 0));
    assert!(msg.contains("line 1"), "{msg}");
    assert!(msg.contains("unknown column name \"target\""), "{msg}");
    let (_, _, msg) = parse_error("1,2,0\n", &opts.clone().with_header(false));
    assert!(msg.contains("no header line"), "{msg}");
}

#[test]
fn csv_error_label_index_out_of_range() {
    let opts = CsvOptions::default()
        .with_header(false)
        .with_target(Column::Index(3));
    let (line, column, msg) = parse_error("\n1,2,0\n", &opts);
    assert_eq!((line, column), (2, 0));
    assert!(msg.contains("column index 3 is out of range"), "{msg}");
}

#[test]
fn csv_error_bad_class_labels() {
    let opts = CsvOptions::default().with_class_labels(ClassLabels::Integer);
    let (line, column, msg) = parse_error("a,b,y\n1,2,0\n1,2,1.5\n", &opts);
    assert_eq!((line, column), (3, 3));
    assert!(msg.contains("line 3, column 3"), "{msg}");
    assert!(msg.contains("\"1.5\" is not an integer"), "{msg}");
    let (line, column, msg) = parse_error("a,b,y\n1,2,cat\n", &opts);
    assert_eq!((line, column), (2, 3));
    assert!(
        msg.contains("class label \"cat\" is not an integer"),
        "{msg}"
    );
    let huge = format!("a,y\n1,{}0\n", i128::MAX);
    let (_, _, msg) = parse_error(&huge, &opts);
    assert!(
        msg.contains("out of the range of 128-bit integers"),
        "{msg}"
    );
    // Negative integers are classes like any other, in numeric order.
    let ds = parse_csv("a,y\n1,-1\n2,3\n3,-10\n", &opts).unwrap();
    assert_eq!(ds.labels().unwrap(), &[1, 2, 0]);
    assert_eq!(ds.class_names().unwrap(), &["-10", "-1", "3"]);
}

#[test]
fn csv_error_non_finite_values() {
    let opts = CsvOptions::default();
    let (line, column, msg) = parse_error("a,b,y\n1,2,0\n1,NaN,0\n", &opts);
    assert_eq!((line, column), (3, 2));
    assert!(msg.contains("missing value \"NaN\""), "{msg}");
    let (line, column, _) = parse_error("a,b,y\n1e999,2,0\n", &opts);
    assert_eq!((line, column), (2, 1));
    let (line, column, msg) = parse_error("a,y\n1,inf\n", &CsvOptions::regression());
    assert_eq!((line, column), (2, 2));
    assert!(msg.contains("non-finite"), "{msg}");
}

#[test]
fn csv_error_unterminated_quote() {
    let (line, column, msg) = parse_error("a,b,y\n1,\"2,0\n", &CsvOptions::default());
    assert_eq!((line, column), (2, 2));
    assert!(msg.contains("unterminated"), "{msg}");
}

#[test]
fn csv_bad_delimiter_and_missing_file() {
    let err = parse_csv("1\"2\n", &CsvOptions::default().with_delimiter(b'"')).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidHyperparameter {
            name: "delimiter",
            ..
        }
    ));
    let err = load_csv("/nonexistent/mgs/file.csv", &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/mgs/file.csv"));
}

#[test]
fn csv_text_labels_keep_their_names_in_byte_order() {
    let text = "x,y\n1,dog\n2,cat\n3,\"bird, small\"\n4,cat\n5,Cat\n";
    let ds = parse_csv(text, &CsvOptions::default()).unwrap();
    assert_eq!(ds.n_classes(), Some(4));
    assert_eq!(
        ds.class_names().unwrap(),
        &["Cat", "bird, small", "cat", "dog"]
    );
    assert_eq!(ds.labels().unwrap(), &[3, 2, 1, 2, 0]);
    // Under `Auto` numbers that are not all integers are text, ordered by bytes.
    let ds = parse_csv("x,y\n1,10\n2,9\n3,1.5\n", &CsvOptions::default()).unwrap();
    assert_eq!(ds.class_names().unwrap(), &["1.5", "10", "9"]);
    // `Text` keeps integers as text (and their spelling).
    let opts = CsvOptions::default().with_class_labels(ClassLabels::Text);
    let ds = parse_csv("x,y\n1,10\n2,9\n3,09\n", &opts).unwrap();
    assert_eq!(ds.class_names().unwrap(), &["09", "10", "9"]);
    assert_eq!(ds.labels().unwrap(), &[1, 2, 0]);
    // Dense integer labels under `Text` are still named.
    let ds = parse_csv("x,y\n1,0\n2,1\n", &opts).unwrap();
    assert_eq!(ds.class_names().unwrap(), &["0", "1"]);
}

#[test]
fn csv_integer_labels_are_exact() {
    // 2^53 and 2^53 + 1 are the same f64 but two classes here; 3.0 and 3 are one class.
    let text = "x,y\n1,9007199254740992\n2,9007199254740993\n3,3.0\n4,3\n5,-9007199254740993\n";
    for mode in [ClassLabels::Auto, ClassLabels::Integer] {
        let ds = parse_csv(text, &CsvOptions::default().with_class_labels(mode)).unwrap();
        assert_eq!(ds.n_classes(), Some(4), "{mode:?}");
        assert_eq!(
            ds.class_names().unwrap(),
            &[
                "-9007199254740993",
                "3",
                "9007199254740992",
                "9007199254740993"
            ]
        );
        assert_eq!(ds.labels().unwrap(), &[2, 3, 1, 1, 0]);
    }
    // Labels exactly 0..K keep their values and get no names.
    let ds = parse_csv("x,y\n1,2\n2,0\n3,1.00\n", &CsvOptions::default()).unwrap();
    assert_eq!(ds.labels().unwrap(), &[2, 0, 1]);
    assert_eq!(ds.class_names(), None);
}

#[test]
fn csv_skipped_columns() {
    let text = "id,a,date,b,y\nr1,1,2024-01-01,2,0\nr2,3,,4,1\n";
    let by_name =
        CsvOptions::default().with_skip([Column::Name("id".into()), Column::Name("date".into())]);
    let by_index = CsvOptions::default().with_skip([Column::Index(0), Column::Index(2)]);
    for opts in [by_name, by_index] {
        let ds = parse_csv(text, &opts).unwrap();
        assert_eq!(ds.feature_values(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ds.feature_names().unwrap(), &["a", "b"]);
        assert_eq!(ds.labels().unwrap(), &[0, 1]);
    }
    // Errors: an unknown name, a name without a header, a column both skipped and a target, a
    // column skipped twice, nothing left to be a feature, a name twice in the header.
    let cases: [(&str, CsvOptions, &str); 6] = [
        (
            text,
            CsvOptions::default().with_skip([Column::Name("ID".into())]),
            "unknown column name \"ID\"; the header has \"id\", \"a\"",
        ),
        (
            "1,2,0\n",
            CsvOptions::default()
                .with_header(false)
                .with_skip([Column::Name("a".into())]),
            "no header line",
        ),
        (
            text,
            CsvOptions::default().with_skip([Column::Index(4)]),
            "column index 4 (field 5) is named more than once",
        ),
        (
            text,
            CsvOptions::default().with_skip([Column::Index(0), Column::Name("id".into())]),
            "column \"id\" (field 1) is named more than once",
        ),
        (
            "a,b,y\n1,2,0\n",
            CsvOptions::default().with_skip([Column::Index(0), Column::Index(1)]),
            "no feature column: the lines have 3 fields, 1 of them targets and 2 skipped",
        ),
        (
            "a,a,y\n1,2,0\n",
            CsvOptions::default().with_skip([Column::Name("a".into())]),
            "column name \"a\" occurs more than once in the header",
        ),
    ];
    for (text, opts, expected) in cases {
        let (line, column, msg) = parse_error(text, &opts);
        assert_eq!((line, column), (1, 0), "{msg}");
        assert!(msg.contains(expected), "{msg}");
    }
}

#[test]
fn csv_missing_values() {
    let text = "a,b,y\n1,2,0\n3,NA,1\n,4,1\n5,NaN,0\n6,7,n/a\n8,9,1\n";
    // By default each missing value is an error at its line and column.
    let (line, column, msg) = parse_error(text, &CsvOptions::default());
    assert_eq!((line, column), (3, 2));
    assert_eq!(
        msg,
        "parse error at line 3, column 2: missing value \"NA\" (Missing::DropRows drops rows \
         with missing values)"
    );
    let (line, column, _) = parse_error("a,y\n1,0\n,1\n", &CsvOptions::default());
    assert_eq!((line, column), (3, 1));
    let (line, column, _) = parse_error("a,y\n1,0\n2,nan\n", &CsvOptions::default());
    assert_eq!((line, column), (3, 2));
    // DropRows keeps the complete rows, for features and labels alike.
    let opts = CsvOptions::default().with_missing(Missing::DropRows);
    let ds = parse_csv(text, &opts).unwrap();
    assert_eq!(ds.feature_values(), &[1.0, 2.0, 8.0, 9.0]);
    assert_eq!(ds.labels().unwrap(), &[0, 1]);
    // A dropped row is still checked for other errors; missing values in skipped columns are
    // not looked at; infinities are never missing values.
    let (line, column, msg) = parse_error("a,b,y\n1,NA,0\nx,NA,1\n", &opts);
    assert_eq!((line, column), (3, 1));
    assert!(msg.contains("not a number: \"x\""), "{msg}");
    let ds = parse_csv(
        "a,b,y\n1,NA,0\n2,NA,1\n",
        &CsvOptions::default().with_skip([Column::Name("b".into())]),
    )
    .unwrap();
    assert_eq!(ds.n_samples(), 2);
    let (_, _, msg) = parse_error("a,y\n1,0\ninf,1\n", &opts);
    assert!(msg.contains("non-finite value \"inf\""), "{msg}");
    // All rows dropped.
    let (line, _, msg) = parse_error("a,y\nNA,0\n1,\n", &opts);
    assert_eq!(line, 2);
    assert!(msg.contains("all 2 rows have missing values"), "{msg}");
    // A label dropped with its row does not decide how the others are read.
    let ds = parse_csv("a,y\n1,10\nNA,cat\n2,9\n", &opts).unwrap();
    assert_eq!(ds.labels().unwrap(), &[1, 0]);
    assert_eq!(ds.class_names().unwrap(), &["9", "10"]);
}

#[test]
fn csv_several_regression_targets() {
    let text = "x1,t1,x2,t2\n1,10,2,-1\n3,30,4,-3\n5,50,6,-5\n";
    let opts = CsvOptions::regression().with_targets([Column::Name("t2".into()), Column::Index(1)]);
    let ds = parse_csv(text, &opts).unwrap();
    assert_eq!(ds.n_regression_targets(), Some(2));
    assert_eq!(
        ds.regression_targets().unwrap(),
        &[-1.0, 10.0, -3.0, 30.0, -5.0, 50.0]
    );
    assert_eq!(ds.feature_names().unwrap(), &["x1", "x2"]);
    let y = ds.targets_as::<f64>();
    assert_eq!(
        (y.nrows(), y.ncols(), y[(2, 0)], y[(2, 1)]),
        (3, 2, -5.0, 50.0)
    );
    let sub = ds.subset(&[2, 0]).unwrap();
    assert_eq!(sub.regression_targets().unwrap(), &[-5.0, 50.0, -1.0, 10.0]);
    // Option errors: no target; two targets for classification.
    let err = parse_csv(text, &CsvOptions::regression().with_targets([])).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidHyperparameter {
            name: "targets",
            ..
        }
    ));
    let two = CsvOptions::classification().with_targets([Column::Index(1), Column::Index(3)]);
    assert!(matches!(
        parse_csv(text, &two),
        Err(Error::InvalidHyperparameter {
            name: "targets",
            ..
        })
    ));
    // The same column twice as a target.
    let twice =
        CsvOptions::regression().with_targets([Column::Index(1), Column::Name("t1".into())]);
    let (_, _, msg) = parse_error(text, &twice);
    assert!(msg.contains("named more than once"), "{msg}");
}

#[test]
fn dataset_regression_targets_are_checked() {
    let bad_rows = Targets::Regression {
        values: vec![1.0; 5],
        n_targets: 2,
    };
    assert!(matches!(
        Dataset::new(vec![0.0; 2], 1, bad_rows),
        Err(Error::LengthMismatch {
            expected: 6,
            found: 5,
            ..
        })
    ));
    let none = Targets::Regression {
        values: vec![],
        n_targets: 0,
    };
    assert!(matches!(
        Dataset::new(vec![], 1, none),
        Err(Error::EmptyBatch { .. })
    ));
    let huge = Targets::Regression {
        values: vec![],
        n_targets: usize::MAX,
    };
    assert!(matches!(
        Dataset::new(vec![], 1, huge),
        Err(Error::TooLarge { .. })
    ));
    let ds = Dataset::new(vec![0.0; 2], 1, Targets::regression(vec![1.0, 2.0])).unwrap();
    assert_eq!(ds.n_regression_targets(), Some(1));
    assert!(matches!(
        ds.with_targets(Targets::regression(vec![1.0])),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn load_csv_is_bounded_and_reads_gzip() {
    let dir = std::env::temp_dir().join(format!("mgs-data-bounded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("toy.csv");
    let text = "f,g,class\n0.5,1,b\n2,3,a\n";
    std::fs::write(&path, text).unwrap();
    // A regular file larger than the limit is refused from its size, before reading.
    let small = CsvOptions::default().with_max_bytes(10);
    assert!(matches!(
        load_csv(&path, &small),
        Err(Error::TooLarge { limit: 10, .. })
    ));
    let exact = CsvOptions::default().with_max_bytes(text.len());
    assert_eq!(load_csv(&path, &exact).unwrap().n_samples(), 2);
    // gzip-compressed CSV is recognised by its magic bytes; its expansion is bounded too.
    let gz_path = dir.join("toy.csv.gz");
    std::fs::write(&gz_path, gzip(text.as_bytes())).unwrap();
    let ds = load_csv(&gz_path, &CsvOptions::default()).unwrap();
    assert_eq!(ds.class_names().unwrap(), &["a", "b"]);
    let bomb_path = dir.join("bomb.csv.gz");
    std::fs::write(&bomb_path, gzip(&vec![b'1'; 4 << 20])).unwrap();
    assert!(matches!(
        load_csv(&bomb_path, &CsvOptions::default().with_max_bytes(1 << 20)),
        Err(Error::TooLarge { ref what, .. }) if what.starts_with("decompressed gzip data")
    ));
    let mut corrupt = gzip(text.as_bytes());
    let n = corrupt.len();
    corrupt[n - 6] ^= 1;
    std::fs::write(&gz_path, corrupt).unwrap();
    assert!(matches!(
        load_csv(&gz_path, &CsvOptions::default()),
        Err(Error::Format { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn load_csv_on_an_endless_file_is_an_error() {
    // /dev/zero has no size and never ends: the bounded read stops after max_bytes + 1 bytes.
    let zero = std::path::Path::new("/dev/zero");
    if !zero.exists() {
        return;
    }
    let start = std::time::Instant::now();
    let opts = CsvOptions::default().with_max_bytes(1 << 20);
    assert!(matches!(
        load_csv(zero, &opts),
        Err(Error::TooLarge { ref what, limit: 1_048_576, .. }) if what.starts_with("the CSV file")
    ));
    // And with the default bound of 256 MiB.
    assert!(matches!(
        load_csv(zero, &CsvOptions::default()),
        Err(Error::TooLarge { limit, .. }) if limit == mgs::data::DEFAULT_MAX_BYTES as u128
    ));
    assert!(start.elapsed().as_secs_f64() < 30.0);
}

#[test]
fn load_csv_reads_a_file() {
    let dir = std::env::temp_dir().join(format!("mgs-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("toy.csv");
    std::fs::write(&path, "f,g,class\n0.5,1,1\n2,3,0\n").unwrap();
    let ds = load_csv(&path, &CsvOptions::default()).unwrap();
    assert_eq!(ds.labels().unwrap(), &[1, 0]);
    std::fs::write(&path, b"f,class\n1,0\n\xff,1\n").unwrap();
    let err = load_csv(&path, &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------- Dataset

#[test]
fn dataset_checks_its_inputs() {
    let classes = |labels: Vec<usize>| Targets::Classes {
        labels,
        n_classes: 2,
    };
    assert!(matches!(
        Dataset::new(vec![1.0; 5], 2, classes(vec![0, 1, 0])),
        Err(Error::LengthMismatch {
            expected: 6,
            found: 5,
            ..
        })
    ));
    // The message names the real counts (5 values for 2 samples of 2 features).
    let err = Dataset::new(vec![1.0; 5], 2, classes(vec![0, 1])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "wrong number of feature values (n_samples · n_features): expected 4, found 5"
    );
    // N = 0 with d = usize::MAX is refused at once, before anything is allocated or iterated.
    let start = std::time::Instant::now();
    for d in [usize::MAX, usize::MAX / 8 + 1] {
        assert!(matches!(
            Dataset::new(vec![], d, classes(vec![])),
            Err(Error::TooLarge { ref what, .. }) if what.starts_with("one row of features")
        ));
    }
    assert!(start.elapsed().as_secs_f64() < 1.0);
    // The product n · d overflowing is refused too, whatever the buffer.
    assert!(matches!(
        Dataset::new(vec![1.0; 3], 1 << 20, classes(vec![0; 1 << 24])),
        Err(Error::TooLarge { ref what, .. }) if what.starts_with("the feature matrix")
    ));
    assert!(matches!(
        Dataset::new(vec![1.0, f64::NAN], 1, classes(vec![0, 1])),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        Dataset::new(vec![1.0, 2.0], 1, classes(vec![0, 2])),
        Err(Error::InvalidLabel {
            index: 1,
            label: 2,
            ..
        })
    ));
    assert!(matches!(
        Dataset::new(vec![], 0, classes(vec![])),
        Err(Error::EmptyBatch { .. })
    ));
    let ds = Dataset::new(vec![1.0, 2.0, 3.0], 1, classes(vec![0, 1, 1])).unwrap();
    assert!(matches!(
        ds.subset(&[0, 3]),
        Err(Error::IndexOutOfRange {
            what: "subset indices",
            index: 3,
            len: 3,
        })
    ));
    assert_eq!(ds.row(2), Some(&[3.0][..]));
    assert_eq!(ds.row(3), None);
    assert_eq!(ds.row(usize::MAX), None);
    let sub = ds.subset(&[2, 2, 0]).unwrap();
    assert_eq!(sub.feature_values(), &[3.0, 3.0, 1.0]);
    assert_eq!(sub.n_classes(), Some(2));
    let onehot = ds.targets_as::<f64>();
    assert_eq!(
        (onehot[(0, 0)], onehot[(0, 1)], onehot[(2, 1)]),
        (1.0, 0.0, 1.0)
    );
    let x32 = ds.features_as::<f32>();
    assert_eq!(x32[(1, 0)], 2.0f32);
}

// ---------------------------------------------------------------- splits

fn assert_partition(split: &mgs::data::Split, n: usize) {
    let mut all: Vec<usize> = split
        .train_indices
        .iter()
        .chain(&split.validation_indices)
        .chain(&split.test_indices)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>());
}

#[test]
fn stratified_split_keeps_class_proportions() {
    let fractions = (0.7, 0.15, 0.15);
    let f = [0.7, 0.15, 0.15];
    for (name, ds) in [
        ("digits", digits().unwrap()),
        ("wine", wine().unwrap()),
        ("breast_cancer", breast_cancer().unwrap()),
        ("iris", iris().unwrap()),
    ] {
        for seed in 0..5 {
            let split = stratified_split(&ds, fractions, &mut rng_from_seed(seed)).unwrap();
            let n = ds.n_samples();
            assert_partition(&split, n);
            let whole = ds.class_counts().unwrap();
            let parts = [&split.train, &split.validation, &split.test];
            let idx = [
                &split.train_indices,
                &split.validation_indices,
                &split.test_indices,
            ];
            for s in 0..3 {
                // Each part's samples are those of its indices.
                assert_eq!(parts[s], &ds.subset(idx[s]).unwrap());
                let counts = parts[s].class_counts().unwrap();
                for (c, (&got, &all)) in counts.iter().zip(&whole).enumerate() {
                    let exact = f[s] * all as f64;
                    assert!(
                        (got as f64 - exact).abs() < 1.0,
                        "{name} seed {seed} part {s} class {c}: {got} vs {exact}"
                    );
                }
                // Part sizes stay close to their targets too.
                let size = parts[s].n_samples() as f64;
                assert!(
                    (size - f[s] * n as f64).abs() <= 1.5,
                    "{name} part {s}: {size}"
                );
            }
        }
    }
    // Exact proportions where they are integral.
    let split = stratified_split(&iris().unwrap(), (0.6, 0.2, 0.2), &mut rng_from_seed(3)).unwrap();
    assert_eq!(split.train.class_counts().unwrap(), vec![30, 30, 30]);
    assert_eq!(split.validation.class_counts().unwrap(), vec![10, 10, 10]);
    assert_eq!(split.test.class_counts().unwrap(), vec![10, 10, 10]);
}

#[test]
fn splits_are_seeded_and_check_fractions() {
    let ds = wine().unwrap();
    let a = stratified_split(&ds, (0.5, 0.25, 0.25), &mut rng_from_seed(11)).unwrap();
    let b = stratified_split(&ds, (0.5, 0.25, 0.25), &mut rng_from_seed(11)).unwrap();
    let c = stratified_split(&ds, (0.5, 0.25, 0.25), &mut rng_from_seed(12)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.train_indices, c.train_indices);
    for bad in [(0.5, 0.5, 0.5), (1.2, -0.1, -0.1), (f64::NAN, 0.5, 0.5)] {
        assert!(matches!(
            stratified_split(&ds, bad, &mut rng_from_seed(0)),
            Err(Error::InvalidHyperparameter { .. })
        ));
    }
    let all_train = stratified_split(&ds, (1.0, 0.0, 0.0), &mut rng_from_seed(0)).unwrap();
    assert_eq!(all_train.train.n_samples(), 178);
    assert_eq!(all_train.validation.n_samples(), 0);
}

#[test]
fn regression_split_is_plain_random() {
    let ds = diabetes().unwrap();
    let split = stratified_split(&ds, (0.8, 0.1, 0.1), &mut rng_from_seed(5)).unwrap();
    assert_partition(&split, 442);
    assert_eq!(
        (
            split.train.n_samples(),
            split.validation.n_samples(),
            split.test.n_samples()
        ),
        (354, 44, 44)
    );
    let again = random_split(&ds, (0.8, 0.1, 0.1), &mut rng_from_seed(5)).unwrap();
    assert_eq!(split, again);
}

#[test]
fn subsample_per_class_counts() {
    let ds = digits().unwrap();
    let sub = subsample_per_class(&ds, 20, &mut rng_from_seed(1)).unwrap();
    assert_eq!(sub.class_counts().unwrap(), vec![20; 10]);
    let again = subsample_per_class(&ds, 20, &mut rng_from_seed(1)).unwrap();
    assert_eq!(sub, again);
    assert!(matches!(
        subsample_per_class(&ds, 175, &mut rng_from_seed(1)),
        Err(Error::InvalidHyperparameter {
            name: "n_per_class",
            ..
        })
    ));
    assert!(subsample_per_class(&ds, 174, &mut rng_from_seed(1)).is_ok());
    assert!(matches!(
        subsample_per_class(&diabetes().unwrap(), 1, &mut rng_from_seed(1)),
        Err(Error::EmptyBatch { .. })
    ));
}

// ---------------------------------------------------------------- standardisation

#[test]
fn standardizer_uses_training_statistics_only() {
    let ds = wine().unwrap();
    let split = stratified_split(&ds, (0.6, 0.2, 0.2), &mut rng_from_seed(7)).unwrap();
    let scaler = Standardizer::fit(&split.train).unwrap();
    let train = scaler.transform(&split.train).unwrap();
    let (n, d) = (train.n_samples(), train.n_features());
    let z = train.features();
    for j in 0..d {
        let mean = (0..n).map(|i| z[(i, j)]).sum::<f64>() / n as f64;
        let var = (0..n).map(|i| (z[(i, j)] - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 1e-12, "column {j} mean {mean}");
        assert!(
            (var.sqrt() - 1.0).abs() < 1e-12,
            "column {j} std {}",
            var.sqrt()
        );
    }
    // Validation is transformed with the training statistics, exactly.
    let val = scaler.transform(&split.validation).unwrap();
    let raw = split.validation.features();
    for i in 0..val.n_samples() {
        for j in 0..d {
            let expected = (raw[(i, j)] - scaler.mean()[j]) / scaler.std()[j];
            assert_eq!(val.features()[(i, j)], expected);
        }
    }
    // ... which differ from the validation part's own statistics.
    let own = Standardizer::fit(&split.validation).unwrap();
    assert_ne!(own.mean(), scaler.mean());
    assert_eq!(val.labels(), split.validation.labels());
}

#[test]
fn standardizer_constant_column_and_errors() {
    let ds = Dataset::new(
        vec![0.1, 1.0, 0.1, 3.0, 0.1, 5.0],
        2,
        Targets::regression(vec![0.0; 3]),
    )
    .unwrap();
    let scaler = Standardizer::fit(&ds).unwrap();
    assert_eq!(scaler.mean()[0], 0.1);
    assert_eq!(scaler.std()[0], 1.0);
    let z = scaler.transform(&ds).unwrap();
    assert_eq!(z.features()[(1, 0)], 0.0);
    assert!(z.feature_values().iter().all(|v| v.is_finite()));
    let empty = ds.subset(&[]).unwrap();
    assert!(matches!(
        Standardizer::fit(&empty),
        Err(Error::EmptyBatch { .. })
    ));
    let other = iris().unwrap();
    assert!(matches!(
        scaler.transform(&other),
        Err(Error::LengthMismatch {
            expected: 2,
            found: 4,
            ..
        })
    ));
    // Five values are not whole rows of two: the message names the real counts.
    let err = scaler
        .transform_in_place(&mut [0.0; 5], 2)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "wrong number of values to (de-)standardise (whole rows of n_features): expected 6, \
         found 5"
    );
    assert!(scaler.inverse_transform_in_place(&mut [0.0; 5], 2).is_err());
}

#[test]
fn standardizer_extreme_magnitudes() {
    // Columns near 1e200 (squares overflow) and 1e-200 (squares underflow), and one mixing
    // both ends of the range: each gets its exact statistics, not the constant-column σ = 1.
    // Column j holds c_j·(1, 2, 3, 4): mean 2.5·c_j, population σ = √1.25·c_j.
    let scales = [1e200, 1e-200, 1e300, 1e-300, 1.0];
    let d = scales.len();
    let x: Vec<f64> = (1..=4)
        .flat_map(|i| scales.iter().map(move |c| c * i as f64))
        .collect();
    let ds = Dataset::new(x, d, Targets::regression(vec![0.0; 4])).unwrap();
    let scaler = Standardizer::fit(&ds).unwrap();
    for (j, c) in scales.iter().enumerate() {
        let (mean, std) = (scaler.mean()[j], scaler.std()[j]);
        assert!(
            ((mean - 2.5 * c) / (2.5 * c)).abs() < 1e-15,
            "column {j}: {mean}"
        );
        let exact = 1.25f64.sqrt() * c;
        assert!(((std - exact) / exact).abs() < 1e-15, "column {j}: {std}");
    }
    let z = scaler.transform(&ds).unwrap();
    let first = 1.5 / 1.25f64.sqrt();
    for j in 0..d {
        assert!((z.features()[(0, j)] + first).abs() < 1e-14, "column {j}");
        assert!((z.features()[(3, j)] - first).abs() < 1e-14, "column {j}");
    }
    // Values at the very top of the range and of opposite signs (their difference overflows).
    let ds = Dataset::new(
        vec![f64::MAX, -f64::MAX],
        1,
        Targets::regression(vec![0.0; 2]),
    )
    .unwrap();
    let scaler = Standardizer::fit(&ds).unwrap();
    assert_eq!((scaler.mean()[0], scaler.std()[0]), (0.0, f64::MAX));
    // Subnormal values: σ stays positive.
    let tiny = f64::from_bits(1);
    let ds = Dataset::new(vec![0.0, tiny], 1, Targets::regression(vec![0.0; 2])).unwrap();
    let scaler = Standardizer::fit(&ds).unwrap();
    assert!(scaler.std()[0] > 0.0);
    assert!(scaler.transform(&ds).is_ok());
}

// ---------------------------------------------------------------- label noise

#[test]
fn symmetric_noise_is_exact() {
    let labels = digits().unwrap().labels().unwrap().to_vec();
    let n = labels.len();
    for (p, seed) in [(0.0, 0), (0.1, 1), (0.2, 2), (0.333, 3), (0.5, 4), (1.0, 5)] {
        let noisy = symmetric(&labels, 10, p, &mut rng_from_seed(seed)).unwrap();
        let expected = (p * n as f64).round() as usize;
        assert_eq!(noisy.n_corrupted(), expected, "p = {p}");
        for ((&new, &old), &flipped) in noisy.labels.iter().zip(&labels).zip(&noisy.corrupted) {
            assert!(new < 10);
            if flipped {
                assert_ne!(new, old);
            } else {
                assert_eq!(new, old);
            }
        }
    }
    // p = 0.2 of 1797 is 359.4 → 359.
    let noisy = symmetric(&labels, 10, 0.2, &mut rng_from_seed(9)).unwrap();
    assert_eq!(noisy.n_corrupted(), 359);
    // Every wrong class is reachable: with 1797 flips, all 9 targets of each class appear.
    let all = symmetric(&labels, 10, 1.0, &mut rng_from_seed(9)).unwrap();
    for k in 0..10 {
        let mut seen: Vec<usize> = (0..n)
            .filter(|&i| labels[i] == k)
            .map(|i| all.labels[i])
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 9, "class {k}");
    }
}

#[test]
fn pair_flip_noise_is_exact() {
    let labels = wine().unwrap().labels().unwrap().to_vec();
    let n = labels.len();
    for (p, seed) in [(0.05, 0), (0.25, 1), (0.4, 2), (1.0, 3)] {
        let noisy = pair_flip(&labels, 3, p, &mut rng_from_seed(seed)).unwrap();
        assert_eq!(noisy.n_corrupted(), (p * n as f64).round() as usize);
        for ((&new, &old), &flipped) in noisy.labels.iter().zip(&labels).zip(&noisy.corrupted) {
            let expected = if flipped { (old + 1) % 3 } else { old };
            assert_eq!(new, expected);
        }
    }
    // 0.25 · 178 = 44.5 rounds away from zero to 45.
    let noisy = pair_flip(&labels, 3, 0.25, &mut rng_from_seed(0)).unwrap();
    assert_eq!(noisy.n_corrupted(), 45);
}

#[test]
fn noise_is_reproducible_and_validated() {
    let labels: Vec<usize> = (0..500).map(|i| i % 5).collect();
    for kind in [LabelNoise::Symmetric, LabelNoise::PairFlip] {
        let a = kind.apply(&labels, 5, 0.3, &mut rng_from_seed(21)).unwrap();
        let b = kind.apply(&labels, 5, 0.3, &mut rng_from_seed(21)).unwrap();
        let c = kind.apply(&labels, 5, 0.3, &mut rng_from_seed(22)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.labels, c.labels);
        assert_ne!(a.corrupted, c.corrupted);
        for p in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                kind.apply(&labels, 5, p, &mut rng_from_seed(0)),
                Err(Error::InvalidHyperparameter { name: "p", .. })
            ));
        }
        assert!(matches!(
            kind.apply(&labels, 1, 0.1, &mut rng_from_seed(0)),
            Err(Error::InvalidHyperparameter {
                name: "n_classes",
                ..
            })
        ));
        assert!(matches!(
            kind.apply(&labels, 4, 0.1, &mut rng_from_seed(0)),
            Err(Error::InvalidLabel {
                what: "labels",
                n_classes: 4,
                ..
            })
        ));
    }
}

#[test]
fn dataset_with_label_noise() {
    let ds = iris().unwrap();
    let (noisy, mask) = ds
        .with_label_noise(LabelNoise::PairFlip, 0.2, &mut rng_from_seed(4))
        .unwrap();
    assert_eq!(mask.iter().filter(|&&m| m).count(), 30);
    assert_eq!(noisy.feature_values(), ds.feature_values());
    assert_eq!(noisy.class_names(), ds.class_names());
    let (clean, noisy_labels) = (ds.labels().unwrap(), noisy.labels().unwrap());
    for i in 0..150 {
        assert_eq!(mask[i], clean[i] != noisy_labels[i]);
    }
    assert!(matches!(
        diabetes()
            .unwrap()
            .with_label_noise(LabelNoise::Symmetric, 0.1, &mut rng_from_seed(0)),
        Err(Error::EmptyBatch { .. })
    ));
    // Task is re-exported for building options.
    assert_eq!(CsvOptions::default().task, Task::Classification);
    assert_eq!(CsvOptions::regression().task, Task::Regression);
}
