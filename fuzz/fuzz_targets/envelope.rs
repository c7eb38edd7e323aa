#![no_main]
//! Compact envelope decoding and verification of every kind, with a keyring
//! that holds one real key, and the install-signed path.

use libfuzzer_sys::fuzz_target;
use license_common::envelope::{self, Kind};
use license_common::exchange::{ActivationRequest, UsageReport, open_self_signed};
use license_common::keys::{Keyring, PublicKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let key = PublicKey::from_pem(
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
    )
    .expect("RFC 8410 key");
    let ring = Keyring::from_keys([key]);
    for kind in Kind::ALL {
        let _ = envelope::open::<serde_json::Value>(text, kind, &ring);
        let _ = envelope::open::<license_common::License>(text, kind, &ring);
    }
    let _ = open_self_signed::<ActivationRequest>(text, Kind::ActivationRequest);
    let _ = open_self_signed::<UsageReport>(text, Kind::UsageReport);
});
