//! The vendor's side of the offline licensing toolkit: a library that a
//! vendor's billing system can embed, and that the `issuer` command line
//! drives.
//!
//! * [`keyfile`]: generate the signing key (encrypted PKCS#8 PEM, 0600) and
//!   read key files;
//! * [`order`]: an order and its validation against the product
//!   [catalog](license_common::catalog), with refusals that name the rule;
//! * [`upgrade`](mod@upgrade): upgrades that only go up, renewals, and the
//!   `sequence`/`supersedes` chain; [`quote`](mod@quote): prorated prices in
//!   integer fen;
//! * [`ledger`]: the only way to sign: every license is numbered, signed and
//!   recorded in one transaction; revocation lists, receipts, usage and
//!   bills;
//! * [`inspect`](mod@inspect): verify a license or an install's file and
//!   describe it.
//!
//! Nothing here prompts, prints or parses a command line.
//!
//! # Example: check an order, then sign it in the ledger
//!
//! ```
//! use license_common::signing::IssuerKey;
//! use license_common::Timestamp;
//! use license_issuer::{catalogs, ledger::Ledger, order::Order};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = IssuerKey::from_seed(&[42; 32]); // `issuer keygen` makes a real one
//! let catalog = catalogs::data_platform();
//! let order = Order {
//!     account: "acct-1001".into(),
//!     licensee: "Acme Analytics".into(),
//!     region: "cn-hangzhou".into(),
//!     edition: "basic_rnd".into(),
//!     engine: Some("adb_pg".into()),
//!     plan: Some(license_common::Plan::Subscription),
//!     packages: [("data_service".to_string(), "api.s1.small".to_string())].into(),
//!     quotas: [("processing_units".to_string(), 40)].into(),
//!     ..Order::default()
//! };
//! let now = Timestamp::parse("2026-11-23")?;
//!
//! // The catalog's rules are checked before any key is opened: basic R&D
//! // on ADB PG takes only data_service.
//! let mut bad = order.clone();
//! bad.packages.insert("asset_quality".into(), "standard".into());
//! let refused = bad.validate(&catalog, now).unwrap_err();
//! assert!(refused.to_string().contains("does not take package `asset_quality`"));
//!
//! // A checked order is signed by the ledger, which numbers each instance's
//! // licenses (one chain per product, account and region).
//! let dir = tempfile::tempdir()?;
//! let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3"))?;
//! let first = ledger.issue(&key, order.validate(&catalog, now)?, now)?;
//! assert!(first.token.starts_with("lic1."));
//! assert_eq!(first.license.packages["data_service"].limits["qps"], 2500);
//!
//! // A second order for the same instance is refused while the first is in
//! // force: the account's rights change by an upgrade or a renewal of it.
//! let again = ledger.issue(&key, order.validate(&catalog, now)?, now).unwrap_err();
//! assert!(again.to_string().contains(&first.id));
//! let renewal = license_issuer::upgrade::renew(&catalog, &first.license, license_issuer::upgrade::RenewTerm::Months(12), Some("acct-1001"), now)?;
//! let second = ledger.sign_successor(&key, renewal, false, now)?;
//! assert_eq!((first.license.sequence, second.license.sequence), (1, 2));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod catalogs;
pub mod error;
pub mod hsm;
pub mod inspect;
pub mod keyfile;
pub mod ledger;
pub mod order;
pub mod quote;
pub mod upgrade;

use license_common::armor;
use license_common::envelope::{self, Kind, Signer};
use license_common::license::License;
use license_common::text::escape;
use license_common::time::Timestamp;
use serde::Serialize;

pub use error::IssuerError;
pub use inspect::{Inspection, InstallFile, inspect, inspect_install_file};

/// A freshly signed (and recorded) license.
///
/// Its JSON form is `{"id": …, "sequence": …, "supersedes": …, "token": …,
/// "license": {every signed field}}`, the body of `issuer issue --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Issued {
    /// The license id.
    pub id: String,
    /// The compact token.
    pub token: String,
    /// The signed content.
    pub license: License,
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

/// Reads and verifies a license this vendor signed (the CURRENT license of
/// an upgrade, renewal or quote), with the rules every license follows.
pub fn read_current(text: &str, trusted: &license_common::Keyring) -> Result<License, IssuerError> {
    let token = armor::read(text, Kind::License)?;
    let license = envelope::open::<License>(&token, Kind::License, trusted)?.content;
    license.check_shape().map_err(IssuerError::invalid)?;
    Ok(license)
}

/// Reads and verifies an install's activation request (`req1`): signed by
/// the install key it carries, for the catalog's product.
pub fn read_request(
    text: &str,
    catalog: &license_common::catalog::Catalog,
) -> Result<license_common::exchange::ActivationRequest, IssuerError> {
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

/// Prices the upgrade of `current` at `at` (nothing is signed).
pub fn quote_upgrade(
    catalog: &license_common::catalog::Catalog,
    current: &License,
    request: &upgrade::UpgradeRequest,
    at: Timestamp,
) -> Result<quote::Quote, IssuerError> {
    let next = upgrade::upgrade(catalog, current, request, at)?;
    Ok(quote::quote(catalog, current, next.preview(), at)?)
}

/// Prices the renewal of `current` by `term`, asked at `at` (nothing is
/// signed).
pub fn quote_renewal(
    catalog: &license_common::catalog::Catalog,
    current: &License,
    term: upgrade::RenewTerm,
    at: Timestamp,
) -> Result<quote::Quote, IssuerError> {
    Ok(quote::quote_renewal(catalog, current, term, at)?)
}

/// Signs a license as it is: only the ledger calls it, inside the
/// transaction that numbers and records the license.
pub(crate) fn sign<S: Signer + ?Sized>(signer: &S, license: License) -> Result<Issued, S::Error> {
    let payload = serde_json::to_vec(&license).expect("a license serialises");
    let token = envelope::seal(Kind::License, signer, &payload)?;
    Ok(Issued { id: license.id.clone(), token, license })
}
