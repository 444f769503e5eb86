//! The checkpoint parser on arbitrary text: it must return `Ok` or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mgs::train::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Checkpoint::<f64>::from_text(text) {
        // Whatever is accepted round-trips.
        let again = Checkpoint::<f64>::from_text(&c.to_text().unwrap()).unwrap();
        assert_eq!(again, c);
    }
});
