//! Shared fixtures for the benchmarks: a typical commercial license (about
//! ten fields, three packages) signed by a fixed key.

/// The issuer benches' order (`issuer/benches/fixture`), so that every
/// figure is about the same license.
#[path = "../../issuer/benches/fixture/mod.rs"]
#[allow(dead_code)]
mod fixture;

use license_common::License;
use license_common::signing::IssuerKey;
use license_common::time::Timestamp;

/// The vendor key of the benchmarks.
pub fn key() -> IssuerKey {
    IssuerKey::from_seed(&[42; 32])
}

/// A typical commercial license: intelligent R&D, three packages, one quota.
pub fn typical_license() -> License {
    let order = license_issuer::order::Order {
        account: "acct-1001".into(),
        licensee: "Acme Analytics Ltd".into(),
        ..fixture::order(0)
    };
    let now = Timestamp::parse("2026-11-23").unwrap();
    let mut license = order.validate(&license_issuer::catalogs::data_platform(), now).unwrap().preview().clone();
    license.id = "01a209e2-7267-7053-be09-cd51886254bd".into();
    license.sequence = 1;
    license
}

/// What the ledger does to sign a license: serialise it, seal the envelope.
pub fn sign(key: &IssuerKey, license: &License) -> String {
    key.seal(license_common::Kind::License, &serde_json::to_vec(license).unwrap())
}
