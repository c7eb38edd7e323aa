//! The install's side of the offline licensing toolkit.
//!
//! A launcher embeds this crate to verify a vendor's license offline,
//! activate it atomically in a state directory, and answer "is this package
//! on, at which tier, until when". The `activator` binary is a thin command
//! line over the same calls (build with `default-features = false` to leave
//! the command-line dependencies out).
//!
//! Time is always a parameter ([`Timestamp`]): the library never reads the
//! clock itself, so behaviour at expiry, grace and release is testable and
//! the caller decides where time comes from.
//!
//! # Example: activate a license and check a package
//!
//! ```
//! use license_activator::Activator;
//! use license_common::envelope::{self, Kind};
//! use license_common::signing::IssuerKey;
//! use license_common::Timestamp;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The vendor's public key is compiled into the product; here we make one.
//! let vendor = IssuerKey::from_seed(&[42; 32]);
//! let dir = tempfile::tempdir()?;
//! let mut activator = Activator::init(dir.path(), "data-platform", &[*vendor.public()])?;
//!
//! // A license as the vendor's `issuer` would sign it.
//! let license = serde_json::json!({
//!     "format": 1, "id": "0193-demo", "product": "data-platform", "account": "acct-1",
//!     "licensee": "Acme", "region": "cn-hangzhou", "edition": "intelligent_rnd",
//!     "engine": "maxcompute", "plan": "subscription",
//!     "issued_at": "2026-11-01T00:00:00Z", "not_before": "2026-11-01T00:00:00Z",
//!     "expires_at": "2027-11-01T00:00:00Z", "grace_days": 14, "activate_by": null,
//!     "settlement": "enterprise", "supersedes": null, "sequence": 1, "notice_days": 30,
//!     "packages": {"data_service": {"tier": "api.s1.small",
//!         "includes": ["api.base", "api.s1.small"], "limits": {"qps": 2500}}},
//!     "quotas": {"processing_units": 40}
//! });
//! let token = envelope::seal(Kind::License, &vendor, license.to_string().as_bytes());
//!
//! let now = Timestamp::parse("2026-11-23")?;
//! activator.activate(&token, now)?;
//! assert_eq!(activator.status(now).phase, "active");
//! let grant = activator.check("data_service", Some("api.base"), now)?;
//! assert_eq!(grant.limits["qps"], 2500);
//! assert!(activator.check("data_service", Some("api.s2.large"), now).is_err());
//!
//! // After expiry the 14-day grace period starts: not usable, data kept.
//! let later = Timestamp::parse("2027-11-05")?;
//! assert_eq!(activator.status(later).phase, "grace");
//! assert!(activator.check("data_service", None, later).is_err());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod activator;
pub mod entitlement;
pub mod error;
mod fsio;
pub mod location;
pub mod status;
mod store;

pub use activator::{Activation, Activator, ActiveLicense};
pub use entitlement::Grant;
pub use error::{ActivatorError, Denied};
pub use license_common::Timestamp;
pub use status::{LicenseStatus, Status};
pub use store::{KEYRING_FILE, STATE_FILE};
