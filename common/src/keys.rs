//! Key ids, public keys and the keyring of trusted keys.
//!
//! A key id (`kid`) is the first 8 bytes of SHA-256 over the 32-byte raw
//! Ed25519 public key, written as 16 lowercase hex digits. It names the key in
//! every envelope, so a refusal can say which key signed a file.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use sha2::{Digest, Sha256};

use crate::exit::{ExitClass, Explain};
use crate::time::Timestamp;

/// Length of a key id in bytes.
pub const KID_LEN: usize = 8;
/// Length of a key id in its hex text form.
pub const KID_HEX_LEN: usize = 2 * KID_LEN;

/// The identifier of a signing key: 8 bytes of SHA-256 of the public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; KID_LEN]);

impl KeyId {
    /// The key id of a public key.
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; KID_LEN];
        id.copy_from_slice(&digest[..KID_LEN]);
        KeyId(id)
    }

    /// The key id with these bytes.
    pub const fn from_bytes(bytes: [u8; KID_LEN]) -> Self {
        KeyId(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; KID_HEX_LEN];
        hex::encode_to_slice(self.0, &mut text).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = ();
    /// Parses exactly 16 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, ()> {
        // `hex` also reads upper case; a key id is written in lower case only.
        if s.len() != KID_HEX_LEN || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(());
        }
        let mut id = [0u8; KID_LEN];
        hex::decode_to_slice(s, &mut id).map_err(|_| ())?;
        Ok(KeyId(id))
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(|()| serde::de::Error::custom("a key id is 16 lowercase hex digits"))
    }
}

/// A public key that may verify signatures: never a weak (small-order) key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    kid: KeyId,
}

impl PublicKey {
    /// Wraps a verifying key, refusing weak keys.
    pub fn new(key: VerifyingKey) -> Result<Self, KeyError> {
        if key.is_weak() {
            return Err(KeyError::WeakKey);
        }
        Ok(PublicKey { kid: KeyId::of(&key), key })
    }

    /// Parses a key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        Self::new(VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotAPublicKey)?)
    }

    /// Parses an SPKI PEM file (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| KeyError::NotAPublicKey)?;
        Self::new(key)
    }

    /// The SPKI PEM text of this key.
    pub fn to_pem(&self) -> String {
        self.key.to_public_key_pem(pkcs8::LineEnding::LF).expect("an Ed25519 public key always encodes as SPKI")
    }

    /// The key id.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The SHA-256 fingerprint of the key's SPKI DER encoding, as
    /// `openssl pkey -pubin -outform DER | sha256sum` prints it, in pairs of
    /// hex digits joined by `:`: what an operator compares with the
    /// vendor's published fingerprint before trusting the key.
    pub fn fingerprint(&self) -> String {
        let der = self.key.to_public_key_der().expect("an Ed25519 public key always encodes as SPKI");
        let digest = Sha256::digest(der.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
    }

    /// The ed25519-dalek key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish()
    }
}

/// One trusted key, with an optional date after which it no longer verifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    /// The public key.
    pub key: PublicKey,
    /// Signatures made with this key are refused after this time, if set.
    pub not_after: Option<Timestamp>,
    /// What this key is trusted to sign.
    pub usage: KeyUse,
}

/// What a trusted vendor key may sign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUse {
    /// Licenses and revocation lists.
    #[default]
    All,
    /// Licenses only: a revocation list signed by it is refused.
    Licenses,
    /// Revocation lists only: a license signed by it is refused.
    Revocations,
}

impl KeyUse {
    /// Every use.
    pub const ALL: [KeyUse; 3] = [KeyUse::All, KeyUse::Licenses, KeyUse::Revocations];

    /// May a key with this use sign an envelope of `kind`? Install-signed
    /// kinds are not signed by vendor keys at all. A time attestation goes
    /// with the licenses.
    pub fn allows(self, kind: crate::kind::Kind) -> bool {
        use crate::kind::Kind;
        match (self, kind) {
            (KeyUse::All, Kind::License | Kind::RevocationList | Kind::TimeAttestation) => true,
            (KeyUse::Licenses, Kind::License | Kind::TimeAttestation) => true,
            (KeyUse::Revocations, Kind::RevocationList) => true,
            (_, Kind::License | Kind::RevocationList | Kind::TimeAttestation) => false,
            _ => true,
        }
    }

    /// Parses `all`, `licenses` or `revocations`.
    pub fn parse(s: &str) -> Option<KeyUse> {
        match s {
            "all" => Some(KeyUse::All),
            "licenses" => Some(KeyUse::Licenses),
            "revocations" => Some(KeyUse::Revocations),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUse::All => "all",
            KeyUse::Licenses => "licenses",
            KeyUse::Revocations => "revocations",
        }
    }
}

/// The keys an install trusts, looked up by key id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<TrustedKey>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// A keyring of the given keys (without expiry).
    pub fn from_keys(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut ring = Self::new();
        for key in keys {
            ring.add(TrustedKey { key, not_after: None, usage: KeyUse::All });
        }
        ring
    }

    /// Adds a key, replacing any entry with the same key id.
    pub fn add(&mut self, trusted: TrustedKey) {
        self.keys.retain(|k| k.key.kid() != trusted.key.kid());
        self.keys.push(trusted);
    }

    /// Looks a key up by id.
    pub fn get(&self, kid: &KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| &k.key.kid() == kid)
    }

    /// All keys, in the order they were added.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// True when no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, comma-separated, for messages.
    pub fn kids(&self) -> String {
        let kids: Vec<String> = self.keys.iter().map(|k| k.key.kid().to_string()).collect();
        if kids.is_empty() { "none".to_owned() } else { kids.join(", ") }
    }
}

/// A problem with a key or key file.
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not an SPKI PEM Ed25519 public key.
    #[error("this is not an Ed25519 public key in SPKI PEM form (-----BEGIN PUBLIC KEY-----)")]
    NotAPublicKey,
    /// The key is of small order and would accept forged signatures.
    #[error("this public key is a weak (small-order) Ed25519 key and cannot be trusted")]
    WeakKey,
    /// The text is not an encrypted PKCS#8 private key.
    #[error("this is not an encrypted Ed25519 private key (-----BEGIN ENCRYPTED PRIVATE KEY-----)")]
    NotAPrivateKey,
    /// The private key could not be decrypted.
    #[error("the passphrase does not open this private key")]
    WrongPassphrase,
    /// The passphrase is empty.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// Encoding or encrypting the key failed.
    #[error("the private key could not be encrypted: {detail}")]
    Encode {
        /// What the encoder said.
        detail: String,
    },
    /// No random bytes for a new key.
    #[error(transparent)]
    Random(#[from] crate::random::RandomError),
}

impl Explain for KeyError {
    fn class(&self) -> ExitClass {
        match self {
            KeyError::Encode { .. } => ExitClass::Internal,
            KeyError::Random(e) => e.class(),
            _ => ExitClass::Key,
        }
    }

    fn hint(&self) -> String {
        match self {
            KeyError::NotAPublicKey | KeyError::WeakKey => {
                "give the vendor's public key, the SPKI PEM file made with the signing key".into()
            }
            KeyError::NotAPrivateKey => "give the encrypted private key file made with the key pair".into(),
            KeyError::WrongPassphrase => "give the passphrase the key was written with".into(),
            KeyError::EmptyPassphrase => "choose a passphrase of at least one character".into(),
            KeyError::Encode { .. } => "this is a bug; please report it".into(),
            KeyError::Random(e) => e.hint(),
        }
    }

    fn case(&self) -> String {
        match self {
            KeyError::Random(e) => e.case(),
            other => crate::exit::case_of("KeyError", other),
        }
    }

    fn fields(&self) -> serde_json::Value {
        crate::exit::fields_of(self)
    }
}

impl crate::exit::Examples for KeyError {
    fn examples() -> Vec<crate::exit::Example<Self>> {
        use crate::exit::Example;
        vec![
            Example {
                error: KeyError::NotAPublicKey,
                when: "The file given as a public key is something else, e.g. the private `issuer.key`.",
            },
            Example {
                error: KeyError::WeakKey,
                when: "The key is of small order: signatures \"by\" it can be forged, so it is refused.",
            },
            Example {
                error: KeyError::NotAPrivateKey,
                when: "The file given as the signing key is something other than the encrypted `issuer.key`, e.g. `issuer.pub` or an unencrypted key.",
            },
            Example {
                error: KeyError::WrongPassphrase,
                when: "The passphrase is not the one the key was written with.",
            },
            Example { error: KeyError::EmptyPassphrase, when: "The passphrase given is empty." },
            Example {
                error: KeyError::Encode { detail: "<detail>".into() },
                when: "A new key could not be encrypted. This should not happen: it is a bug.",
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn kid_is_sha256_prefix_in_hex() {
        let key = PublicKey::from_pem(PEM).unwrap();
        let digest = Sha256::digest(key.verifying_key().as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key.kid().to_string(), hex);
        assert_eq!(hex.parse::<KeyId>().unwrap(), key.kid());
        assert_eq!(key.to_pem(), PEM);
    }

    #[test]
    fn kid_parsing_is_strict() {
        assert!("0123456789ABCDEF".parse::<KeyId>().is_err());
        assert!("0123456789abcde".parse::<KeyId>().is_err());
        assert!("0123456789abcdeg".parse::<KeyId>().is_err());
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point: small order, accepts forged signatures under
        // non-strict verification.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(PublicKey::from_bytes(&identity), Err(KeyError::WeakKey)));
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(matches!(PublicKey::from_pem("hello"), Err(KeyError::NotAPublicKey)));
    }
}
