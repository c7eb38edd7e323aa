//! The files an install sends to the vendor across an air gap: activation
//! requests, activation receipts, usage reports and deactivation receipts.
//!
//! Each is an envelope **signed by the install's own key**. The install's
//! public key travels inside the payload and its key id is the envelope's
//! `kid` and the install id, so the file proves which install made it:
//! [`open_self_signed`] checks that the key in the payload has the envelope's
//! key id, verifies the signature with it (strictly), and only then hands the
//! content out. (To find the key it must read the payload first; the payload
//! is size-bounded and parsed strictly, and nothing in it is trusted until
//! the signature holds.) Whether the vendor knows that install is the
//! vendor's decision (the bound license, the ledger).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::envelope::{Envelope, EnvelopeError, Kind, Verified};
use crate::keys::{Keyring, PublicKey};
use crate::time::Timestamp;

/// The payload format version of every exchange file.
pub const EXCHANGE_FORMAT: u32 = 1;

/// The largest count one usage day can hold (of DataKits, processing
/// units, whatever the license meters): far above what one account runs,
/// and small enough that a day's amount, the count times a unit price,
/// fits in 64 bits for any price below 1.8 × 10¹⁰ minor units.
pub const MAX_DAY_COUNT: u64 = 1_000_000_000;

/// A file signed by an install: it names its own public key.
pub trait SelfSigned {
    /// The install's public key, base64url of the 32 raw bytes.
    fn install_key(&self) -> &str;
    /// The install id the payload claims.
    fn install_id(&self) -> &str;
}

/// Encodes a public key as it travels in exchange payloads.
pub fn encode_key(key: &PublicKey) -> String {
    URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())
}

/// Decodes a public key from an exchange payload.
pub fn decode_key(text: &str) -> Option<PublicKey> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
    PublicKey::from_bytes(&bytes).ok()
}

/// Parses and verifies an install-signed envelope of `kind`.
pub fn open_self_signed<T: DeserializeOwned + SelfSigned>(
    token: &str,
    kind: Kind,
) -> Result<Verified<T>, EnvelopeError> {
    let envelope = Envelope::parse(token, kind)?;
    let payload = envelope.payload_unverified();
    let claimed: T = crate::envelope::decode(payload, kind)?;
    let key = decode_key(claimed.install_key())
        .ok_or_else(|| EnvelopeError::Payload { kind, detail: "`install_key` is not an Ed25519 public key".into() })?;
    if key.kid() != envelope.kid() {
        return Err(EnvelopeError::BadSignature { kind, kid: envelope.kid() });
    }
    if claimed.install_id() != key.kid().to_string() {
        return Err(EnvelopeError::Payload { kind, detail: "`install_id` is not the id of `install_key`".into() });
    }
    envelope.verify(&Keyring::from_keys([key]))?;
    Ok(Verified { content: claimed, kid: key.kid() })
}

macro_rules! self_signed {
    ($t:ty) => {
        impl SelfSigned for $t {
            fn install_key(&self) -> &str {
                &self.install_key
            }
            fn install_id(&self) -> &str {
                &self.install_id
            }
        }
    };
}

/// `req1`: an install asks for a license bound to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequest {
    /// [`EXCHANGE_FORMAT`].
    pub format: u32,
    /// The install id: the key id of `install_key`.
    pub install_id: String,
    /// The install's public key.
    pub install_key: String,
    /// The product the install runs.
    pub product: String,
    /// The machine's host name (informational).
    pub hostname: String,
    /// A fingerprint of the machine (see `docs/AIRGAP.md` for its inputs).
    pub host_fingerprint: String,
    /// When the request was made.
    pub created_at: Timestamp,
    /// 16 random bytes, hex: no two requests are alike, even from one
    /// install in one second, so a time attestation answers exactly one
    /// (absent in requests of the first release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}
self_signed!(ActivationRequest);

/// `rct1`: an install confirms it activated a license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationReceipt {
    /// [`EXCHANGE_FORMAT`].
    pub format: u32,
    /// The install id.
    pub install_id: String,
    /// The install's public key.
    pub install_key: String,
    /// The product.
    pub product: String,
    /// The license activated.
    pub license_id: String,
    /// Its account.
    pub account: String,
    /// Its region, as the install read it (absent in files of release 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When it was activated on the install.
    pub activated_at: Timestamp,
    /// When this receipt was made.
    pub created_at: Timestamp,
    /// The install's count of the files it signed for the vendor (receipts,
    /// usage reports, deactivation receipts), this one included; absent in
    /// files of release 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// SHA-256 (hex) of the previous such file's token, absent for the first:
    /// the install's files form a hash chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}
self_signed!(ActivationReceipt);

/// `use1`: the daily count of collectors that reported data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    /// [`EXCHANGE_FORMAT`].
    pub format: u32,
    /// The install id.
    pub install_id: String,
    /// The install's public key.
    pub install_key: String,
    /// The product.
    pub product: String,
    /// The license in force when the report was made.
    pub license_id: String,
    /// Its account.
    pub account: String,
    /// Its region, as the install read it (absent in files of release 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// First day covered (inclusive).
    pub from: NaiveDate,
    /// Last day covered (inclusive).
    pub to: NaiveDate,
    /// Per day with a record: the most collectors (DataKits) seen that day.
    /// Days without a record are absent, never guessed.
    #[serde(deserialize_with = "crate::strict_map::deserialize")]
    pub days: BTreeMap<NaiveDate, u64>,
    /// When this report was made.
    pub created_at: Timestamp,
    /// The install's count of the files it signed for the vendor (receipts,
    /// usage reports, deactivation receipts), this one included; absent in
    /// files of release 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// SHA-256 (hex) of the previous such file's token, absent for the first:
    /// the install's files form a hash chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}
self_signed!(UsageReport);

/// `dea1`: an install released its license (back to community).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeactivationReceipt {
    /// [`EXCHANGE_FORMAT`].
    pub format: u32,
    /// The install id.
    pub install_id: String,
    /// The install's public key.
    pub install_key: String,
    /// The product.
    pub product: String,
    /// The license released.
    pub license_id: String,
    /// Its account.
    pub account: String,
    /// Its region, as the install read it (absent in files of release 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When it was released.
    pub deactivated_at: Timestamp,
    /// The install's count of the files it signed for the vendor (receipts,
    /// usage reports, deactivation receipts), this one included; absent in
    /// files of release 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// SHA-256 (hex) of the previous such file's token, absent for the first:
    /// the install's files form a hash chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}
self_signed!(DeactivationReceipt);

/// A link of an install's chain of files: its counter and the hash of the
/// file before it.
pub trait Chained {
    /// The counter, if the file has one.
    fn counter(&self) -> Option<u64>;
    /// The previous file's hash, if any.
    fn prev(&self) -> Option<&str>;
}

macro_rules! chained {
    ($t:ty) => {
        impl Chained for $t {
            fn counter(&self) -> Option<u64> {
                self.counter
            }
            fn prev(&self) -> Option<&str> {
                self.prev.as_deref()
            }
        }
    };
}
chained!(ActivationReceipt);
chained!(UsageReport);
chained!(DeactivationReceipt);

/// The hash that links an install's files: SHA-256 of the token, hex.
pub fn chain_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The format of a time attestation that answers one request
/// ([`TimeAttestation::request`]).
pub const ATTESTATION_FORMAT: u32 = 2;

/// `att1`: the vendor's word of the time, bound to one install and to the
/// activation request it answers, so that an install whose clock mark a
/// wrong clock pushed forward can come back — and a kept attestation cannot
/// later take the mark back to a time already passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeAttestation {
    /// [`ATTESTATION_FORMAT`] (1 for attestations of the first release,
    /// which answer no request and which installs refuse).
    pub format: u32,
    /// The [`chain_hash`] of the activation request it answers (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The install it is for (from its activation request).
    pub install_id: String,
    /// The product.
    pub product: String,
    /// The vendor's time when it signed.
    pub time: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{assemble, signing_input};
    use ed25519_dalek::{Signer, SigningKey};

    fn request(sk: &SigningKey) -> (ActivationRequest, String) {
        let public = PublicKey::new(sk.verifying_key()).unwrap();
        let req = ActivationRequest {
            format: 1,
            install_id: public.kid().to_string(),
            install_key: encode_key(&public),
            product: "data-platform".into(),
            hostname: "node-1".into(),
            host_fingerprint: "ab".repeat(16),
            created_at: Timestamp::parse("2026-11-23").unwrap(),
            nonce: None,
        };
        let input = signing_input(Kind::ActivationRequest, public.kid(), &serde_json::to_vec(&req).unwrap());
        let token = assemble(&input, &sk.sign(input.as_bytes()).to_bytes());
        (req, token)
    }

    #[test]
    fn a_request_proves_its_install() {
        let sk = SigningKey::from_bytes(&[5; 32]);
        let (req, token) = request(&sk);
        let opened = open_self_signed::<ActivationRequest>(&token, Kind::ActivationRequest).unwrap();
        assert_eq!(opened.content, req);
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] ^= 0x01;
            if let Ok(text) = String::from_utf8(bytes)
                && text.trim() != token
            {
                assert!(open_self_signed::<ActivationRequest>(&text, Kind::ActivationRequest).is_err(), "byte {i}");
            }
        }
    }

    #[test]
    fn a_request_with_someone_elses_key_inside_is_refused() {
        let sk = SigningKey::from_bytes(&[5; 32]);
        let other = PublicKey::new(SigningKey::from_bytes(&[6; 32]).verifying_key()).unwrap();
        let (mut req, _) = request(&sk);
        req.install_key = encode_key(&other);
        let kid = PublicKey::new(sk.verifying_key()).unwrap().kid();
        let input = signing_input(Kind::ActivationRequest, kid, &serde_json::to_vec(&req).unwrap());
        let token = assemble(&input, &sk.sign(input.as_bytes()).to_bytes());
        assert!(open_self_signed::<ActivationRequest>(&token, Kind::ActivationRequest).is_err());
    }
}
