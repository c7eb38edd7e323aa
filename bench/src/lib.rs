//! Shared fixtures for the benchmarks: a typical commercial license (about
//! ten fields, three packages) signed by a fixed key.

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
        region: "cn-hangzhou".into(),
        edition: "intelligent_rnd".into(),
        engine: Some("maxcompute".into()),
        plan: Some(license_common::Plan::Subscription),
        packages: [
            ("data_service".to_string(), "api.s1.small".to_string()),
            ("asset_quality".to_string(), "standard".to_string()),
            ("asset_governance".to_string(), "standard".to_string()),
        ]
        .into(),
        quotas: [("processing_units".to_string(), 40)].into(),
        months: Some(12),
        ..Default::default()
    };
    let now = Timestamp::parse("2026-11-23").unwrap();
    order
        .to_license(&license_issuer::catalogs::data_platform(), "01a209e2-7267-7053-be09-cd51886254bd".into(), now)
        .unwrap()
}
