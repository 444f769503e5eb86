//! Property test of the parsers on hostile input, on the stable toolchain: seeded random and
//! mutated inputs (bit flips, truncations, insertions, deletions, duplications) are fed to the
//! CSV parser, to the gzip decoder and through `load_csv` (which sniffs gzip, checks UTF-8 and
//! parses), each for a bounded time (1.2 s for CSV, 1.2 s for gzip and files).
//!
//! Every call must return `Ok` or one of the errors its documentation lists, never panic; an `Ok`
//! dataset must satisfy the `Dataset` invariants. Iteration `i` of a loop depends only on the
//! loop's seed and `i`, so a failure names the iteration and its input, and reruns reproduce it
//! (the number of iterations depends on the machine's speed, not what each one does). The
//! coverage-guided version of this lives in `fuzz/` (cargo-fuzz, nightly).

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use mgs::data::gzip::gunzip_with_limit;
use mgs::data::{ClassLabels, Column, CsvOptions, Dataset, Missing, Task, load_csv, parse_csv};
use mgs::{Error, MgsRng, rng_from_seed};
use rand::RngExt;

/// Wall-clock budget of each loop.
const BUDGET: Duration = Duration::from_millis(1200);
/// Decompression bound in the gzip loop.
const GZIP_LIMIT: usize = 1 << 20;

const CSV_SEEDS: [&str; 8] = [
    "a,b,y\n1,2,0\n3,4,1\n",
    "\u{feff}x1, x2 ,label\r\n1,2,cat\r\n\r\n\"3.5\",4e1,dog\r\n5,-6,\"a \"\"b\"\"\"\r\n",
    "id,a,date,b,y\nr1,1,2024-01-01,2,0\nr2,3,,4,1\nr3,NA,x,NaN,2\n",
    "1 2   3.5\n\t4 5 -6.25\n7 8 9\n",
    "y1;y2;x\n1;2;0.5\nNA;3;1\n4;5;1.5\n",
    "x,y\n1,9007199254740992\n2,9007199254740993\n3,-3.0\n",
    "a\tb\tc\n1\t2\t3\n4\t5\n",
    "\"unterminated,1\n2,3\n",
];

/// One of the bundled texts, cut to its first `len` bytes (at a character boundary).
fn bundled_head(gz: &[u8], len: usize) -> String {
    let text = String::from_utf8(gunzip_with_limit(gz, 16 << 20).unwrap()).unwrap();
    let mut end = len.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Bytes that make parsers take unusual paths.
const TOKENS: [&[u8]; 14] = [
    b",",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"NA",
    b"nan",
    b"inf",
    b"1e999",
    b"-0.0",
    b"\xef\xbb\xbf",
    b"\x1f\x8b\x08",
];

/// Applies one to four random mutations to `bytes`.
fn mutate(rng: &mut MgsRng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=4) {
        let len = bytes.len();
        match rng.random_range(0..6) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => bytes.truncate(rng.random_range(0..len)),
            2 => {
                let at = rng.random_range(0..=len);
                let insert: Vec<u8> = if rng.random_bool(0.5) {
                    TOKENS[rng.random_range(0..TOKENS.len())].to_vec()
                } else {
                    (0..rng.random_range(1..9)).map(|_| rng.random()).collect()
                };
                bytes.splice(at..at, insert);
            }
            3 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len.min(start + 16));
                bytes.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len.min(start + 64));
                let copy = bytes[start..end].to_vec();
                let at = rng.random_range(0..=bytes.len());
                bytes.splice(at..at, copy);
            }
            _ => bytes.push(rng.random()),
        }
    }
}

fn random_column(rng: &mut MgsRng) -> Column {
    const NAMES: [&str; 6] = ["a", "y", "x1", "id", "", "label"];
    match rng.random_range(0..4) {
        0 => Column::Last,
        1 => Column::Name(NAMES[rng.random_range(0..NAMES.len())].to_string()),
        2 => Column::Index(rng.random_range(0..6)),
        _ => Column::Index(if rng.random_bool(0.5) {
            usize::MAX
        } else {
            rng.random_range(0..3)
        }),
    }
}

/// Random options, valid or not.
fn random_options(rng: &mut MgsRng) -> CsvOptions {
    const DELIMITERS: [u8; 7] = [b',', b',', b';', b'\t', b' ', b'"', 0xe9];
    let mut o = CsvOptions::default()
        .with_header(rng.random_bool(0.5))
        .with_delimiter(DELIMITERS[rng.random_range(0..DELIMITERS.len())])
        .with_task(if rng.random_bool(0.7) {
            Task::Classification
        } else {
            Task::Regression
        })
        .with_class_labels(
            [ClassLabels::Auto, ClassLabels::Integer, ClassLabels::Text][rng.random_range(0..3)],
        )
        .with_missing(if rng.random_bool(0.5) {
            Missing::Error
        } else {
            Missing::DropRows
        });
    if rng.random_bool(0.2) {
        o = o.whitespace();
    }
    if rng.random_bool(0.5) {
        let n = rng.random_range(0..3);
        o = o.with_targets((0..n).map(|_| random_column(rng)).collect::<Vec<_>>());
    }
    if rng.random_bool(0.3) {
        let n = rng.random_range(1..3);
        o = o.with_skip((0..n).map(|_| random_column(rng)).collect::<Vec<_>>());
    }
    o
}

/// The invariants of a dataset that a parser returned.
fn check_dataset(ds: &Dataset) {
    let (n, d) = (ds.n_samples(), ds.n_features());
    assert!(d >= 1);
    assert_eq!(ds.feature_values().len(), n * d);
    assert!(ds.feature_values().iter().all(|v| v.is_finite()));
    if let Some(names) = ds.feature_names() {
        assert_eq!(names.len(), d);
    }
    match (ds.labels(), ds.n_classes()) {
        (Some(labels), Some(k)) => {
            assert!(labels.iter().all(|&l| l < k));
            assert_eq!(ds.class_counts().unwrap().iter().sum::<usize>(), n);
            if let Some(names) = ds.class_names() {
                assert_eq!(names.len(), k);
                assert!(names.windows(2).all(|w| w[0] != w[1]));
            }
        }
        _ => {
            let m = ds.n_regression_targets().unwrap();
            let y = ds.regression_targets().unwrap();
            assert_eq!(y.len(), n * m);
            assert!(y.iter().all(|v| v.is_finite()));
        }
    }
}

/// Outcome counts of one loop, and the input being tried (for the report of a panic).
#[derive(Default, Debug)]
struct Tally {
    iterations: usize,
    ok: usize,
    err: usize,
    input: String,
}

impl Tally {
    fn count<T>(&mut self, result: &Result<T, Error>) {
        if result.is_ok() {
            self.ok += 1;
        } else {
            self.err += 1;
        }
    }
}

/// Runs `step(rng, tally)` for iterations `0, 1, …` until the budget is spent; a panic is
/// reported with the iteration and the input `step` last recorded in `tally.input`.
fn run(name: &str, seed: u64, mut step: impl FnMut(&mut MgsRng, &mut Tally)) -> Tally {
    let start = Instant::now();
    let mut tally = Tally::default();
    while start.elapsed() < BUDGET {
        let i = tally.iterations as u64;
        let mut rng = rng_from_seed(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let outcome = catch_unwind(AssertUnwindSafe(|| step(&mut rng, &mut tally)));
        assert!(
            outcome.is_ok(),
            "{name}: iteration {i} (seed {seed}) panicked on {}",
            tally.input
        );
        tally.iterations += 1;
    }
    eprintln!(
        "{name}: {} iterations, {} Ok, {} Err",
        tally.iterations, tally.ok, tally.err
    );
    tally
}

/// Parses `text` and checks the outcome: a valid dataset, or a documented error.
fn parse_and_check(text: &str, options: &CsvOptions, tally: &mut Tally) {
    tally.input = format!("text {text:?} with {options:?}");
    let result = parse_csv(text, options);
    match &result {
        Ok(ds) => check_dataset(ds),
        Err(Error::Parse { line, reason, .. }) => {
            assert!(*line >= 1 && !reason.is_empty(), "{text:?} {options:?}")
        }
        Err(Error::InvalidHyperparameter { .. }) => {}
        Err(other) => panic!("unexpected error {other:?} for {text:?} with {options:?}"),
    }
    tally.count(&result);
}

#[test]
fn csv_parser_never_panics() {
    let mut corpus: Vec<String> = CSV_SEEDS.iter().map(|s| s.to_string()).collect();
    corpus.push(bundled_head(include_bytes!("../data/letter.csv.gz"), 600));
    corpus.push(bundled_head(
        include_bytes!("../data/mnist1d_10k.csv.gz"),
        1500,
    ));
    corpus.push(bundled_head(include_bytes!("../data/digits.csv.gz"), 800));
    let tally = run("csv", 0x00C5_5EED, |rng, tally| {
        let mut bytes = if rng.random_bool(0.1) {
            (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect()
        } else {
            corpus[rng.random_range(0..corpus.len())]
                .as_bytes()
                .to_vec()
        };
        // One input in five stays intact, for the option paths on well-formed text.
        if rng.random_bool(0.8) {
            mutate(rng, &mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes);
        // The seed's own options first (most inputs parse), then random ones.
        let default_like = CsvOptions::default().with_header(rng.random_bool(0.5));
        parse_and_check(&text, &default_like, tally);
        parse_and_check(&text, &random_options(rng), tally);
    });
    assert!(tally.iterations >= 100, "{tally:?}");
    assert!(tally.ok > 0 && tally.err > 0, "{tally:?}");
}

/// `bytes` as one gzip member at compression `level`.
fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn gzip_and_file_loading_never_panic() {
    let mut corpus: Vec<Vec<u8>> = CSV_SEEDS
        .iter()
        .enumerate()
        .map(|(i, s)| gzip(s.as_bytes(), [0, 1, 6, 9][i % 4]))
        .collect();
    corpus.push(include_bytes!("../data/diabetes_target.csv.gz").to_vec());
    corpus.push(include_bytes!("../data/diabetes_data_raw.csv.gz").to_vec());
    // Two members, and a highly compressible one that expands past the limit.
    let mut two = corpus[0].clone();
    two.extend_from_slice(&corpus[1]);
    corpus.push(two);
    corpus.push(gzip(&vec![b'7'; 2 * GZIP_LIMIT], 9));

    let dir = std::env::temp_dir().join(format!("mgs-parsers-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("input.csv");
    let tally = run("gzip", 0x0069_5EED, |rng, tally| {
        let mut bytes = corpus[rng.random_range(0..corpus.len())].clone();
        mutate(rng, &mut bytes);
        tally.input = format!("gzip bytes {bytes:?}");
        let result = gunzip_with_limit(&bytes, GZIP_LIMIT);
        match &result {
            Ok(out) => {
                assert!(out.len() <= GZIP_LIMIT);
                if let Ok(text) = std::str::from_utf8(out) {
                    parse_and_check(text, &random_options(rng), tally);
                }
            }
            Err(Error::Format { reason }) => assert!(!reason.is_empty()),
            Err(Error::TooLarge { limit, .. }) => assert_eq!(*limit, GZIP_LIMIT as u128),
            Err(other) => panic!("unexpected error {other:?} for {bytes:?}"),
        }
        tally.count(&result);
        // Every 16th input also goes through a file: gzip sniffing, UTF-8, the parser.
        if rng.random_range(0..16) == 0 {
            std::fs::write(&path, &bytes).unwrap();
            let options = random_options(rng).with_max_bytes(GZIP_LIMIT);
            tally.input = format!("file bytes {bytes:?} with {options:?}");
            let loaded = load_csv(&path, &options);
            match &loaded {
                Ok(ds) => check_dataset(ds),
                Err(
                    Error::Parse { .. }
                    | Error::Format { .. }
                    | Error::TooLarge { .. }
                    | Error::InvalidHyperparameter { .. },
                ) => {}
                Err(other) => panic!("unexpected error {other:?} for {bytes:?}"),
            }
            tally.count(&loaded);
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(tally.iterations >= 100, "{tally:?}");
    assert!(tally.ok > 0 && tally.err > 0, "{tally:?}");
}

/// A valid checkpoint text of a small run (the seed of the checkpoint mutations).
fn checkpoint_text() -> String {
    use mgs::train::{LossConfig, TrainConfig, Trainer};
    use mgs::{Activation, Architecture, DatasetView, Init, Mlp};
    let x = faer::Mat::from_fn(12, 2, |i, j| ((i * 3 + j) % 5) as f64 - 2.0);
    let y: Vec<usize> = (0..12).map(|i| i % 2).collect();
    let arch = Architecture::new(2, &[(3, Activation::Tanh)], 2).unwrap();
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(1)).unwrap();
    let config = TrainConfig {
        epochs: 2,
        batch_size: 4,
        loss: LossConfig::EarlyLearning {
            lambda: 3.0,
            momentum: 0.7,
        },
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(
        mlp,
        config,
        DatasetView::classification(x.as_ref(), &y).unwrap(),
    )
    .unwrap()
    .with_validation(DatasetView::classification(x.as_ref(), &y).unwrap())
    .unwrap();
    t.run_for(1).unwrap();
    t.checkpoint().to_text().unwrap()
}

#[test]
fn checkpoint_parser_never_panics_and_rejects_changed_bytes() {
    use mgs::train::Checkpoint;
    let valid = checkpoint_text();
    assert!(Checkpoint::<f64>::from_text(&valid).is_ok());
    let tally = run("checkpoint", 41, |rng, tally| {
        let mut bytes = valid.as_bytes().to_vec();
        mutate(rng, &mut bytes);
        let changed = bytes != valid.as_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        tally.input = format!("{} bytes", text.len());
        let result = Checkpoint::<f64>::from_text(&text);
        match &result {
            // A mutation that leaves the text valid must leave it unchanged (the CRC-32 covers
            // every payload byte; the header's fields are all checked).
            Ok(c) => assert!(
                !changed || c == &Checkpoint::from_text(&valid).unwrap(),
                "a changed checkpoint was accepted with other contents"
            ),
            Err(Error::Format { reason }) => assert!(!reason.is_empty()),
            Err(
                Error::ShapeMismatch { .. } | Error::NonFinite { .. } | Error::InvalidState { .. },
            ) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
        tally.count(&result);
    });
    assert!(tally.iterations > 100 && tally.err > tally.ok);
}
