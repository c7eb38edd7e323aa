#![no_main]
//! The armored file form, for every kind.

use libfuzzer_sys::fuzz_target;
use license_common::armor;
use license_common::envelope::Kind;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in Kind::ALL {
        if let Ok(token) = armor::read(text, kind) {
            // What comes out is one run of non-blank characters, or it was refused.
            assert!(!token.is_empty() || text.trim().is_empty());
            assert!(!token.chars().any(|c| c.is_whitespace() || c.is_control()), "{token:?}");
        }
    }
});
