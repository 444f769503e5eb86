//! The gzip decoder on arbitrary bytes, with a 1 MiB bound on the output: it must return the
//! data (within the bound), a format error or the bound's error, never panic; decompressed
//! UTF-8 is then parsed as CSV, as `load_csv` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mgs::Error;
use mgs::data::gzip::gunzip_with_limit;
use mgs::data::{CsvOptions, parse_csv};

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    match gunzip_with_limit(data, LIMIT) {
        Ok(out) => {
            assert!(out.len() <= LIMIT);
            if let Ok(text) = std::str::from_utf8(&out) {
                let _ = parse_csv(text, &CsvOptions::default());
            }
        }
        Err(Error::Format { .. } | Error::TooLarge { .. }) => {}
        Err(other) => panic!("undocumented error {other:?}"),
    }
});
