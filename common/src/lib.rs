//! The shared vocabulary of the offline licensing toolkit.
//!
//! Both the vendor's `issuer` and the install's `activator` speak through the
//! types here:
//!
//! * [`kind`]: what an envelope carries; [`envelope`]: the signed wire format
//!   `<type><version>.<kid>.<payload>.<signature>`, signed by any
//!   [`Signer`], and [`armor`], its file form;
//! * [`keys`]: key ids, public keys and the keyring of trusted keys
//!   (and, with the `signing` feature, the issuer's encrypted private key);
//! * [`license`]: the license model and its lifecycle (active, grace, released);
//! * [`catalog`] (feature `catalog`): the vendor's product catalog;
//! * [`exit`]: error classes, the exit statuses of both command lines, and
//!   the [`Explain`] trait every error implements (with its `--json` form);
//! * [`fsio`]: atomic writes, the one [`Output`](fsio::Output) primitive and
//!   directory locks; [`input`]: bounded reads;
//! * [`random`]: the one source of random bytes;
//! * [`time`] and [`text`]: UTC timestamps and safe printing of signed text;
//! * [`auth`]: the bearer token of an `Authorization` header;
//! * `sqlite` (feature `sqlite`): entering WAL mode on a SQLite file that
//!   other processes open at the same moment.
//!
//! There is no I/O policy here and no command line.
//!
//! # Example: sign and verify a license envelope
//!
//! ```
//! use license_common::envelope::{self, Kind};
//! use license_common::keys::{Keyring, PublicKey};
//!
//! // The vendor's key (here from a fixed seed; `issuer keygen` makes a real one).
//! let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
//! let public = PublicKey::new(signing.verifying_key()).unwrap();
//!
//! // Sign: the type tag, key id and payload are all covered by the signature.
//! let input = envelope::signing_input(Kind::License, public.kid(), br#"{"hello":"world"}"#);
//! let signature = ed25519_dalek::Signer::sign(&signing, input.as_bytes()).to_bytes();
//! let token = envelope::assemble(&input, &signature);
//! assert!(token.starts_with("lic1."));
//! assert_eq!(token.split('.').nth(1), Some(public.kid().to_string().as_str()));
//!
//! // Verify with a keyring of trusted keys.
//! let keyring = Keyring::from_keys([public]);
//! let opened: envelope::Verified<serde_json::Value> = envelope::open(&token, Kind::License, &keyring).unwrap();
//! assert_eq!(opened.content["hello"], "world");
//!
//! // One changed byte, and it is refused.
//! let mut bytes = token.into_bytes();
//! bytes[30] ^= 0x01; // inside the payload
//! let tampered = String::from_utf8(bytes).unwrap();
//! assert!(envelope::open::<serde_json::Value>(&tampered, Kind::License, &keyring).is_err());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod armor;
pub mod auth;
#[cfg(feature = "catalog")]
pub mod catalog;
pub mod envelope;
pub mod exchange;
pub mod exit;
pub mod fsio;
pub mod input;
pub mod keys;
pub mod kind;
pub mod license;
pub mod random;
pub mod revocation;
#[cfg(feature = "signing")]
pub mod signing;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod strict_map;
pub mod text;
pub mod time;

pub use envelope::{EnvelopeError, Signer, Verified};
pub use exit::{ExitClass, Explain};
pub use keys::{KeyId, Keyring, PublicKey};
pub use kind::Kind;
pub use license::{License, Phase, Plan};
pub use time::Timestamp;
