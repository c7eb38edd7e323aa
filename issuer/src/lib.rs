//! The vendor's side of the offline licensing toolkit.
//!
//! The `issuer` binary is a thin command line over this library:
//!
//! * [`keyfile`]: generate the signing key (encrypted PKCS#8 PEM, 0600) and
//!   read key files;
//! * [`order`]: an order and its validation against the product
//!   [catalog](license_common::catalog), with refusals that name the rule;
//! * [`issue`]: sign the license;
//! * [`upgrade`](mod@upgrade): upgrades that only go up, renewals, and the
//!   `sequence`/`supersedes` chain; [`quote`](mod@quote): prorated prices in
//!   integer fen;
//! * [`inspect`](mod@inspect): verify a license and describe it;
//! * [`demo`]: the end-to-end walk-through behind `issuer demo`.
//!
//! # Example: issue a license from an order
//!
//! ```
//! use license_common::signing::IssuerKey;
//! use license_common::Timestamp;
//! use license_issuer::{catalogs, issue, order::Order};
//!
//! let key = IssuerKey::generate();
//! let catalog = catalogs::data_platform();
//! let order = Order {
//!     account: "acct-1001".into(),
//!     licensee: "Acme Analytics".into(),
//!     region: "cn-hangzhou".into(),
//!     edition: "basic_rnd".into(),
//!     engine: Some("hadoop".into()),
//!     plan: Some(license_common::Plan::Subscription),
//!     packages: [("data_service".to_string(), "api.s1.small".to_string())].into(),
//!     quotas: [("processing_units".to_string(), 40)].into(),
//!     ..Order::default()
//! };
//! let now = Timestamp::parse("2026-11-23").unwrap();
//! let issued = issue(&key, &catalog, &order, now).unwrap();
//! assert!(issued.token.starts_with("lic1."));
//! assert_eq!(issued.license.packages["data_service"].limits["qps"], 2500);
//!
//! // The catalog's rules are enforced: basic R&D on hadoop takes only data_service.
//! let mut bad = order.clone();
//! bad.packages.insert("asset_quality".into(), "standard".into());
//! let err = issue(&key, &catalog, &bad, now).unwrap_err();
//! assert!(err.to_string().contains("does not take package `asset_quality`"));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod catalogs;
pub mod demo;
pub mod error;
pub mod inspect;
pub mod keyfile;
pub mod ledger;
pub mod order;
pub mod quote;
pub mod upgrade;

use license_common::armor;
use license_common::catalog::Catalog;
use license_common::envelope::{self, Kind};
use license_common::license::License;
use license_common::signing::IssuerKey;
use license_common::text::escape;
use license_common::time::Timestamp;

pub use error::IssuerError;
pub use inspect::{Inspection, inspect};

/// A freshly signed license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The signed content.
    pub license: License,
    /// The compact token.
    pub token: String,
}

impl Issued {
    /// The armored file form, with unsigned header lines for people.
    pub fn armored(&self) -> String {
        let l = &self.license;
        let expires = l.expires_at.map_or_else(|| "never (perpetual)".to_owned(), |e| e.to_string());
        armor::armor(
            Kind::License,
            &self.token,
            &[
                ("Comment", "unsigned summary for people; only the token below counts".into()),
                ("License", l.id.clone()),
                ("Licensee", escape(&l.licensee).into_owned()),
                ("Product", format!("{} / {} / {}", l.product, l.edition, l.plan)),
                ("Expires", expires),
            ],
        )
    }
}

/// Validates `order` against `catalog` and signs the license at `now`.
pub fn issue(key: &IssuerKey, catalog: &Catalog, order: &order::Order, now: Timestamp) -> Result<Issued, IssuerError> {
    let id = uuid::Uuid::now_v7().to_string();
    let license = order.to_license(catalog, id, now)?;
    license.check_shape().map_err(IssuerError::InvalidLicense)?;
    Ok(sign(key, license))
}

/// Reads and verifies a license this vendor signed (the CURRENT license of
/// an upgrade, renewal or quote), with the rules every license follows.
pub fn read_current(text: &str, trusted: &license_common::Keyring) -> Result<License, IssuerError> {
    let token = armor::read(text, Kind::License)?;
    let license = envelope::open::<License>(&token, Kind::License, trusted)?.content;
    license.check_shape().map_err(IssuerError::InvalidLicense)?;
    Ok(license)
}

/// Reads and verifies an install's activation request (`req1`): signed by
/// the install key it carries, for the catalog's product.
pub fn read_request(text: &str, catalog: &Catalog) -> Result<license_common::exchange::ActivationRequest, IssuerError> {
    let token = armor::read(text, Kind::ActivationRequest)?;
    let request = license_common::exchange::open_self_signed::<license_common::exchange::ActivationRequest>(
        &token,
        Kind::ActivationRequest,
    )?
    .content;
    if request.product != catalog.product.id {
        return Err(
            order::OrderError::WrongProduct { order: request.product, catalog: catalog.product.id.clone() }.into()
        );
    }
    Ok(request)
}

/// Verifies a file an install signed (request, receipt, usage report,
/// deactivation receipt) and returns its kind and content.
pub fn inspect_install_file(text: &str) -> Result<(Kind, serde_json::Value), IssuerError> {
    use license_common::exchange::{
        ActivationReceipt, ActivationRequest, DeactivationReceipt, UsageReport, open_self_signed,
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with("lic1.") || trimmed.starts_with("-----BEGIN LICENSE-----") {
        return Err(IssuerError::Usage(
            "this is a license: pass --pub ISSUER.pub to verify it with the vendor's key".into(),
        ));
    }
    let kind = [Kind::ActivationRequest, Kind::ActivationReceipt, Kind::UsageReport, Kind::DeactivationReceipt]
        .into_iter()
        .find(|k| trimmed.starts_with(&format!("-----BEGIN {}-----", k.label())) || trimmed.starts_with(&format!("{}1.", k.tag())))
        .ok_or_else(|| {
            IssuerError::from(license_common::EnvelopeError::Malformed {
                expected: Kind::ActivationRequest,
                detail: "it is not an install's request, receipt, usage report or deactivation receipt (for a license, pass --pub)".into(),
            })
        })?;
    let token = armor::read(text, kind)?;
    let value = match kind {
        Kind::ActivationRequest => serde_json::to_value(open_self_signed::<ActivationRequest>(&token, kind)?.content),
        Kind::ActivationReceipt => serde_json::to_value(open_self_signed::<ActivationReceipt>(&token, kind)?.content),
        Kind::UsageReport => serde_json::to_value(open_self_signed::<UsageReport>(&token, kind)?.content),
        _ => serde_json::to_value(open_self_signed::<DeactivationReceipt>(&token, kind)?.content),
    }
    .expect("serialises");
    Ok((kind, value))
}

/// Signs the upgrade of `current` (see [`upgrade`](mod@upgrade) for the rules).
pub fn upgrade_license(
    key: &IssuerKey,
    catalog: &Catalog,
    current: &License,
    request: &upgrade::UpgradeRequest,
    now: Timestamp,
) -> Result<Issued, IssuerError> {
    let license = upgrade::upgrade(catalog, current, request, uuid::Uuid::now_v7().to_string(), now)?;
    license.check_shape().map_err(IssuerError::InvalidLicense)?;
    Ok(sign(key, license))
}

/// Signs the renewal of `current`.
pub fn renew_license(
    key: &IssuerKey,
    catalog: &Catalog,
    current: &License,
    term: upgrade::RenewTerm,
    now: Timestamp,
) -> Result<Issued, IssuerError> {
    let license = upgrade::renew(catalog, current, term, uuid::Uuid::now_v7().to_string(), now)?;
    license.check_shape().map_err(IssuerError::InvalidLicense)?;
    Ok(sign(key, license))
}

/// Prices the upgrade of `current` at `at` (nothing is signed).
pub fn quote_upgrade(
    catalog: &Catalog,
    current: &License,
    request: &upgrade::UpgradeRequest,
    at: Timestamp,
) -> Result<quote::Quote, IssuerError> {
    let next = upgrade::upgrade(catalog, current, request, String::from("quote"), at)?;
    Ok(quote::quote(catalog, current, &next, at)?)
}

/// Signs a license as it is (no catalog check): the building block of
/// [`issue`] and of later renewals and upgrades.
pub fn sign(key: &IssuerKey, license: License) -> Issued {
    let payload = serde_json::to_vec(&license).expect("a license serialises");
    let token = envelope::seal(Kind::License, key, &payload);
    Issued { license, token }
}
