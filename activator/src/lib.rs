//! The install's side of the offline licensing toolkit.
//!
//! A launcher embeds this crate to verify a vendor's license offline,
//! activate it atomically in a state directory together with the data
//! gateway address ([`gateway`], with its `?token={}` placeholder) and the
//! access key pair ([`credentials`], the secret sealed), and answer "is this
//! package on, at which tier, until when". The `activator` binary is a thin command
//! line over the same calls (build with `default-features = false` to leave
//! the command-line dependencies out).
//!
//! Time is always a parameter ([`Timestamp`]): the library never reads the
//! clock itself, so behaviour at expiry, grace and release is testable and
//! the caller decides where time comes from.
//!
//! # Example: a launcher's activation dialog
//!
//! "License activation and AK/SK configuration": the operator pastes the
//! license, types the access key pair and the data gateway address, whose
//! `?token={}` stays exactly as it is. All three are stored in one atomic
//! step; the secret key is sealed; the launcher later renders the gateway
//! address per workspace and unseals the keys for its own use.
//!
//! ```
//! use license_activator::{Activator, Setup};
//! use license_activator::credentials::{Credentials, SecretKey};
//! use license_common::envelope::Kind;
//! use license_common::keys::Keyring;
//! use license_common::signing::IssuerKey;
//! use license_common::Timestamp;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The vendor's public key is compiled into the product; here we make one.
//! let vendor = IssuerKey::from_seed(&[42; 32]);
//! let trusted = Keyring::from_keys([*vendor.public()]);
//!
//! // Start-up: open (or create) the state directory, community edition.
//! let dir = tempfile::tempdir()?;
//! let mut activator = Activator::open_with_keyring(dir.path(), "data-platform", trusted)?;
//! let now = Timestamp::parse("2026-11-23")?;
//! assert_eq!(activator.status(now).edition, "community");
//!
//! // What the operator pastes: a license as the vendor's `issuer` signs it.
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
//! let pasted = vendor.seal(Kind::License, license.to_string().as_bytes());
//!
//! // A gateway with a real token typed in is refused, and nothing is stored.
//! let typed_token = "https://gw.example.com/v1/write?token=tkn_0123456789";
//! let keys = Credentials::new("AKID-0001", SecretKey::new("sk-example-secret".into())?)?;
//! let setup = Setup { gateway: Some(typed_token), credentials: Some(keys), ..Setup::default() };
//! assert!(activator.activate_with(&pasted, setup, now).is_err());
//! assert!(activator.current().is_none());
//!
//! // The dialog done right: all three in one atomic step.
//! let keys = Credentials::new("AKID-0001", SecretKey::new("sk-example-secret".into())?)?;
//! let gateway = "https://gw.example.com/v1/write?token={}";
//! let setup = Setup { gateway: Some(gateway), credentials: Some(keys), ..Setup::default() };
//! activator.activate_with(&pasted, setup, now)?;
//!
//! // What the launcher asks afterwards.
//! let status = activator.status(now);
//! assert_eq!((status.edition.as_str(), status.phase), ("intelligent_rnd", "active"));
//! assert_eq!(status.credentials.unwrap().secret_key, "****cret");
//! let grant = activator.check("data_service", Some("api.base"), now)?;
//! assert_eq!(grant.limits["qps"], 2500);
//! assert!(activator.check("data_service", Some("api.s2.large"), now).is_err());
//! assert_eq!(activator.quota("processing_units", now), Some(40));
//! assert_eq!(
//!     activator.render_gateway("ws token/1")?,
//!     "https://gw.example.com/v1/write?token=ws%20token%2F1"
//! );
//! let unsealed = activator.unseal_credentials()?.unwrap();
//! assert_eq!(unsealed.secret_key.expose(), "sk-example-secret");
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

mod activation;
mod airgap;
pub mod chains;
pub mod credentials;
mod denied;
pub mod entitlement;
pub mod error;
mod examples;
pub mod gateway;
mod handle;
pub mod history;
pub mod identity;
pub mod integrity;
pub mod location;
pub mod metering;
mod replay;
mod snapshot;
mod state;
pub mod status;
pub mod tokens;
pub mod trust;

pub use activation::{Activation, Setup};
pub use airgap::{MAX_USAGE_DAYS, Released};
pub use entitlement::{CheckOutcome, Grant};
pub use error::{ActivatorError, Denied};
pub use handle::{Activator, Init, Initialised};
pub use license_common::Timestamp;
pub use snapshot::{ActiveLicense, CLOCK_TOLERANCE};
pub use state::{LEGACY_KEYRING_FILE, STATE_FILE};
pub use status::{LicenseStatus, Status};
