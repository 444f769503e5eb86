//! The CSV parser on arbitrary text, with options chosen by the input's first two bytes: it
//! must return `Ok` (a dataset whose buffers have the right lengths) or a documented error,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mgs::Error;
use mgs::data::{ClassLabels, Column, CsvOptions, Missing, Task, parse_csv};

/// Options from two bytes: header, delimiter, task, label kind, missing values, target and
/// skipped columns.
fn options(a: u8, b: u8) -> CsvOptions {
    const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'"'];
    let column = |bits: u8| match bits & 3 {
        0 => Column::Last,
        1 => Column::Index(usize::from(bits >> 2)),
        2 => Column::Name(["a", "y", "id", ""][usize::from(bits >> 2) & 3].to_string()),
        _ => Column::Index(usize::MAX),
    };
    let mut o = CsvOptions::default()
        .with_header(a & 1 != 0)
        .with_delimiter(DELIMITERS[usize::from(a >> 1) & 3])
        .with_task(if a & 8 != 0 {
            Task::Regression
        } else {
            Task::Classification
        })
        .with_class_labels(
            [ClassLabels::Auto, ClassLabels::Integer, ClassLabels::Text][usize::from(a >> 4) % 3],
        )
        .with_missing(if a & 64 != 0 {
            Missing::DropRows
        } else {
            Missing::Error
        })
        .with_target(column(b & 15));
    if a & 128 != 0 {
        o = o.whitespace();
    }
    if b & 16 != 0 {
        o = o.with_skip([column(b >> 4)]);
    }
    o
}

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else { return };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match parse_csv(text, &options(*a, *b)) {
        Ok(ds) => assert_eq!(ds.feature_values().len(), ds.n_samples() * ds.n_features()),
        Err(Error::Parse { .. } | Error::InvalidHyperparameter { .. }) => {}
        Err(other) => panic!("undocumented error {other:?}"),
    }
});
