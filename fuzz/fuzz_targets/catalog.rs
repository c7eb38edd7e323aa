#![no_main]
//! Catalog parsing and validation: never panics, errors name a line within the file.

use libfuzzer_sys::fuzz_target;
use license_common::catalog::Catalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = Catalog::from_toml(text) {
        if let Some(line) = e.line {
            assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line} of a {}-line file", text.lines().count());
        }
    }
});
