//! What a `licenses` row repeats of its signed token: the derived columns.
//!
//! The ledger records each license with its token and, for queries, the
//! fields of the token as columns. The columns are derived, never a source:
//! [`derived`] makes them from a license, the recording writes exactly that,
//! and the audit compares every one of them with the token it holds.

use std::collections::BTreeMap;

use license_common::keys::KeyId;
use license_common::license::License;

/// The derived columns, in the order of [`derived`]'s values.
pub(crate) const DERIVED: [&str; 19] = [
    "id",
    "account",
    "product",
    "region",
    "edition",
    "plan",
    "sequence",
    "issued_at",
    "not_before",
    "expires_at",
    "activate_by",
    "supersedes",
    "install",
    "licensee",
    "engine",
    "settlement",
    "packages",
    "quotas",
    "kid",
];

/// A signed license as the ledger records it: its derived columns, its
/// token, and how many installs may run it (`None`: no limit).
pub(crate) type Row = ([Option<String>; DERIVED.len()], String, Option<u32>);

/// A `SELECT` of the derived columns, all as text, then the token.
pub(crate) fn select(filter: &str) -> String {
    let columns: Vec<String> = DERIVED.iter().map(|c| format!("CAST({c} AS TEXT)")).collect();
    format!("SELECT {}, token FROM licenses {filter}", columns.join(", "))
}

/// The derived columns of `license`, signed by `kid`, as the ledger stores
/// them (text; `None` for SQL NULL).
pub(crate) fn derived(license: &License, kid: &KeyId) -> [Option<String>; 19] {
    let t = |t: Option<license_common::Timestamp>| t.map(|t| t.to_string());
    let packages: BTreeMap<&str, &str> = license.packages.iter().map(|(k, g)| (k.as_str(), g.tier.as_str())).collect();
    [
        Some(license.id.clone()),
        Some(license.account.clone()),
        Some(license.product.clone()),
        Some(license.region.clone()),
        Some(license.edition.clone()),
        Some(license.plan.as_str().to_owned()),
        Some(license.sequence.to_string()),
        Some(license.issued_at.to_string()),
        Some(license.not_before.to_string()),
        t(license.expires_at),
        t(license.activate_by),
        license.supersedes.clone(),
        license.install.clone(),
        Some(license.licensee.clone()),
        license.engine.clone(),
        Some(license.settlement.clone()),
        Some(serde_json::to_string(&packages).expect("serialises")),
        Some(serde_json::to_string(&license.quotas).expect("serialises")),
        Some(kid.to_string()),
    ]
}
