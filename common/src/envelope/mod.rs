//! The signed envelope: `<type><version>.<kid>.<payload>.<signature>`.
//!
//! * `type` is a three-letter lowercase tag ([`Kind::tag`]) and `version` a
//!   decimal number (this build writes and reads `1`);
//! * `kid` is the signing key's id, 16 lowercase hex digits ([`KeyId`]);
//! * `payload` is base64url without padding of the UTF-8 JSON content;
//! * `signature` is base64url without padding of the 64-byte Ed25519
//!   signature over the ASCII bytes of everything before the last dot.
//!
//! Because the type tag is inside the signed bytes, a signature made for one
//! kind of file can never be presented as another kind; nothing is
//! re-serialised before verification, so what is verified is exactly what was
//! signed. Verification gives `verify_strict`'s verdicts (no malleable
//! signatures, no weak keys; see [`Envelope::verify`]), the JSON is decoded
//! only after the signature holds, and it is
//! decoded strictly: unknown or duplicate fields are refused. The exact bytes
//! are specified in `docs/FORMAT.md`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;
use serde::de::DeserializeOwned;

use crate::exit::{ExitClass, Explain};
use crate::keys::{KID_HEX_LEN, KeyId, Keyring};

#[cfg(any(feature = "batch", test))]
mod signature;
#[cfg(feature = "batch")]
pub use signature::{BATCH_SIZE, verify_batch};

/// The envelope format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Length of an Ed25519 signature in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Length of the base64url text of a signature.
pub const SIGNATURE_B64_LEN: usize = 86;
pub use crate::kind::MAX_INPUT_LEN;

pub use crate::kind::Kind;

/// Something that signs envelopes: the issuer's key file, an install's own
/// key, or (later) a key inside a hardware module. The envelope never sees
/// the private key, only this.
pub trait Signer {
    /// Why signing can fail: [`std::convert::Infallible`] for a key in
    /// memory, [`SignError`] for a key elsewhere.
    type Error;
    /// The id of the key that signs.
    fn kid(&self) -> KeyId;
    /// The 64-byte Ed25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], Self::Error>;
}

/// A signer could not sign (a key in a hardware module that went away).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("key {kid} could not sign: {detail}")]
pub struct SignError {
    /// The key.
    pub kid: KeyId,
    /// What the signer said.
    pub detail: String,
}

impl Explain for SignError {
    fn class(&self) -> ExitClass {
        ExitClass::Key
    }

    fn hint(&self) -> String {
        "check that the signing key is available, then try again; nothing was signed".into()
    }

    fn case(&self) -> String {
        "SignError".into()
    }

    fn fields(&self) -> serde_json::Value {
        crate::exit::fields_of(self)
    }
}

impl crate::exit::Examples for SignError {
    fn examples() -> Vec<crate::exit::Example<Self>> {
        vec![crate::exit::Example {
            error: SignError {
                kid: crate::keys::KeyId::from_bytes(crate::exit::placeholders::KID),
                detail: "<detail>".into(),
            },
            when: "The signing key is held outside this process (a hardware module) and could not sign. Nothing was signed or recorded.",
        }]
    }
}

/// A compact token, split and decoded, not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    kind: Kind,
    kid: KeyId,
    signed: &'a str,
    payload: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
}

impl fmt::Debug for Envelope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope").field("kind", &self.kind).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl<'a> Envelope<'a> {
    /// Splits and decodes a compact token of the expected kind. Surrounding
    /// whitespace is ignored; anything else out of place is an error.
    pub fn parse(token: &'a str, expected: Kind) -> Result<Self, EnvelopeError> {
        let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
        if token.is_empty() {
            return Err(EnvelopeError::Empty { expected });
        }
        if token.len() > expected.max_len() {
            return Err(EnvelopeError::TooLarge { expected, len: token.len(), max: expected.max_len() });
        }
        let malformed = |detail: &str| EnvelopeError::Malformed { expected, detail: detail.to_owned() };

        let (head, _) = token.split_once('.').ok_or_else(|| malformed("it has no `.` separators"))?;
        let tag_len = head.bytes().take_while(u8::is_ascii_lowercase).count();
        let (kind_tag, version) = head.split_at(tag_len);
        let found = Kind::from_tag(kind_tag)
            .ok_or_else(|| malformed(&format!("it does not start with `{}{VERSION}.`", expected.tag())))?;
        if found != expected {
            return Err(EnvelopeError::WrongKind { expected, found });
        }
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(&format!("`{head}` is not a type and version such as `{}1`", expected.tag())));
        }
        if version != VERSION.to_string() {
            return Err(EnvelopeError::UnsupportedVersion { kind: expected, version: version.to_owned() });
        }

        let mut parts = token.split('.');
        let (Some(_), Some(kid_text), Some(payload_text), Some(sig_text), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            let n = token.split('.').count();
            return Err(malformed(&format!("it has {n} `.`-separated parts instead of 4")));
        };
        if kid_text.len() != KID_HEX_LEN {
            return Err(malformed("its key id is not 16 hex digits"));
        }
        let kid: KeyId = kid_text.parse().map_err(|()| malformed("its key id is not 16 lowercase hex digits"))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_text)
            .map_err(|_| malformed("its payload is not base64url without padding (is the token cut short?)"))?;
        if payload.is_empty() {
            return Err(malformed("its payload is empty"));
        }
        if sig_text.len() != SIGNATURE_B64_LEN {
            return Err(malformed(&format!(
                "its signature is {} characters instead of {SIGNATURE_B64_LEN} (is the token cut short?)",
                sig_text.len()
            )));
        }
        // 86 characters decode to at most 65 bytes; 64 are expected.
        let mut sig_bytes = [0u8; SIGNATURE_LEN + 2];
        let sig_len = URL_SAFE_NO_PAD
            .decode_slice(sig_text, &mut sig_bytes)
            .map_err(|_| malformed("its signature is not base64url without padding"))?;
        let signature: [u8; SIGNATURE_LEN] =
            sig_bytes[..sig_len].try_into().map_err(|_| malformed("its signature is not 64 bytes"))?;
        let signed_len = token.len() - sig_text.len() - 1;
        Ok(Envelope { kind: found, kid, signed: &token[..signed_len], payload, signature })
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The id of the key that claims to have signed it.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The payload bytes **before** verification: only for install-signed
    /// files, whose key is inside the payload (see `exchange`).
    pub(crate) fn payload_unverified(&self) -> &[u8] {
        &self.payload
    }

    /// Verifies the signature against the keyring with ed25519-dalek's
    /// `verify_strict` (no malleable signatures, no small-order `R`, no weak
    /// keys), and returns the payload.
    pub fn verify(&self, keyring: &Keyring) -> Result<&[u8], EnvelopeError> {
        let trusted = self.trusted_key(keyring)?;
        let signature = Signature::from_bytes(&self.signature);
        if trusted.key.verifying_key().verify_strict(self.signed.as_bytes(), &signature).is_err() {
            return Err(EnvelopeError::BadSignature { kind: self.kind, kid: self.kid });
        }
        Ok(&self.payload)
    }

    /// The trusted key of this envelope's `kid`, if it may sign this kind.
    fn trusted_key<'k>(&self, keyring: &'k Keyring) -> Result<&'k crate::keys::TrustedKey, EnvelopeError> {
        let trusted = keyring.get(&self.kid).ok_or_else(|| EnvelopeError::UntrustedKey {
            kind: self.kind,
            kid: self.kid,
            trusted: keyring.kids(),
        })?;
        if !trusted.usage.allows(self.kind) {
            return Err(EnvelopeError::KeyNotForKind { kind: self.kind, kid: self.kid, usage: trusted.usage.as_str() });
        }
        Ok(trusted)
    }

    /// The same verdicts as [`Envelope::verify`], for the audit's batch path
    /// only: `verify` (a canonical `s`, and [s]B - [k]A encoding to exactly
    /// `R`) once `R` is known not to be of small order, which skips the
    /// decompression of `R`. A weak key never becomes a `PublicKey`; a
    /// small-order `R` is one of the few encodings listed, as libsodium
    /// checks it. A test compares the two on every kind of bad signature.
    #[cfg(any(feature = "batch", test))]
    pub(crate) fn verify_fast(&self, keyring: &Keyring) -> Result<&[u8], EnvelopeError> {
        use ed25519_dalek::Verifier as _;
        let trusted = self.trusted_key(keyring)?;
        let signature = Signature::from_bytes(&self.signature);
        if signature::is_small_order_encoding(&self.signature[..32])
            || trusted.key.verifying_key().verify(self.signed.as_bytes(), &signature).is_err()
        {
            return Err(EnvelopeError::BadSignature { kind: self.kind, kid: self.kid });
        }
        Ok(&self.payload)
    }
}

/// A verified payload, with the key id that signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified<T> {
    /// The decoded content.
    pub content: T,
    /// The key that signed it.
    pub kid: KeyId,
}

/// Parses, verifies and strictly decodes a compact token.
pub fn open<T: DeserializeOwned>(token: &str, kind: Kind, keyring: &Keyring) -> Result<Verified<T>, EnvelopeError> {
    let envelope = Envelope::parse(token, kind)?;
    let payload = envelope.verify(keyring)?;
    Ok(Verified { content: decode(payload, kind)?, kid: envelope.kid })
}

/// Strictly decodes a verified payload. The UTF-8 is checked once, for the
/// whole payload, rather than string by string.
pub fn decode<T: DeserializeOwned>(payload: &[u8], kind: Kind) -> Result<T, EnvelopeError> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| EnvelopeError::Payload { kind, detail: format!("the payload is not UTF-8 ({e})") })?;
    serde_json::from_str(text).map_err(|e| EnvelopeError::Payload { kind, detail: e.to_string() })
}

/// The bytes that are signed: `<tag><version>.<kid>.<base64url(payload)>`.
pub fn signing_input(kind: Kind, kid: KeyId, payload: &[u8]) -> String {
    format!("{}{VERSION}.{kid}.{}", kind.tag(), URL_SAFE_NO_PAD.encode(payload))
}

/// Assembles a compact token from its signing input and signature.
pub fn assemble(signing_input: &str, signature: &[u8; SIGNATURE_LEN]) -> String {
    let mut token = String::with_capacity(signing_input.len() + 1 + SIGNATURE_B64_LEN);
    token.push_str(signing_input);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// Signs a payload into a compact token of `kind`.
pub fn seal<S: Signer + ?Sized>(kind: Kind, signer: &S, payload: &[u8]) -> Result<String, S::Error> {
    // `signing_input` then `assemble`, in one buffer sized once.
    let mut token = String::with_capacity(8 + KID_HEX_LEN + payload.len().div_ceil(3) * 4 + 1 + SIGNATURE_B64_LEN);
    token.push_str(kind.tag());
    token.push_str(&VERSION.to_string());
    token.push('.');
    token.push_str(&signer.kid().to_string());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = signer.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Why an envelope was refused.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(untagged)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Nothing but whitespace was given.
    #[error("the {expected} is empty")]
    Empty {
        /// What was expected.
        expected: Kind,
    },
    /// The input is larger than any valid envelope of its kind.
    #[error("the input is {len} bytes, more than the {max} bytes a {expected} may have")]
    TooLarge {
        /// What was expected.
        expected: Kind,
        /// The size seen (at least).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text is not a well-formed envelope.
    #[error("this is not a well-formed {expected}: {detail}")]
    Malformed {
        /// What was expected.
        expected: Kind,
        /// What is wrong.
        detail: String,
    },
    /// A valid envelope of another kind, e.g. a receipt given as a license.
    #[error("this is an envelope of kind `{found}`, not a {expected}")]
    WrongKind {
        /// What was expected.
        expected: Kind,
        /// What was found.
        found: Kind,
    },
    /// A format version this build does not read.
    #[error("this {kind} is in format version {version}, which this build does not read (it reads version {VERSION})")]
    UnsupportedVersion {
        /// The kind.
        kind: Kind,
        /// The version text found.
        version: String,
    },
    /// The signing key is not trusted.
    #[error("this {kind} is signed by key {kid}, which is not a trusted key here (trusted: {trusted})")]
    UntrustedKey {
        /// The kind.
        kind: Kind,
        /// The key that signed it.
        kid: KeyId,
        /// The trusted key ids, for the message.
        trusted: String,
    },
    /// The key is trusted, but not to sign this kind of file.
    #[error("key {kid} is trusted here only for {usage}, not to sign a {kind}")]
    KeyNotForKind {
        /// The kind.
        kind: Kind,
        /// The key.
        kid: KeyId,
        /// What it is trusted for.
        usage: &'static str,
    },
    /// The signature does not verify.
    #[error("the signature of this {kind} does not verify with key {kid}: it was changed after it was signed")]
    BadSignature {
        /// The kind.
        kind: Kind,
        /// The key it claims.
        kid: KeyId,
    },
    /// Signed, but the content is not what this build expects.
    #[error("the signed content of this {kind} is not valid: {detail}")]
    Payload {
        /// The kind.
        kind: Kind,
        /// What is wrong.
        detail: String,
    },
}

impl Explain for EnvelopeError {
    fn class(&self) -> ExitClass {
        match self {
            EnvelopeError::UntrustedKey { .. } | EnvelopeError::KeyNotForKind { .. } => ExitClass::UntrustedKey,
            EnvelopeError::BadSignature { .. } => ExitClass::BadSignature,
            _ => ExitClass::Malformed,
        }
    }

    fn hint(&self) -> String {
        match self {
            EnvelopeError::Empty { expected } | EnvelopeError::Malformed { expected, .. } => format!(
                "give the whole {expected} exactly as it was made: the compact `{}1.…` line or the armored file",
                expected.tag()
            ),
            EnvelopeError::TooLarge { .. } => "check that the right file was given".into(),
            EnvelopeError::WrongKind { expected, .. } => format!("give the {expected} file instead"),
            EnvelopeError::UnsupportedVersion { .. } => "upgrade this tool to a release that reads it".into(),
            EnvelopeError::UntrustedKey { .. } => {
                "check that the file is from your vendor, or add the vendor's public key to the keyring".into()
            }
            EnvelopeError::BadSignature { .. } => "ask the vendor to send the file again; do not edit it".into(),
            EnvelopeError::KeyNotForKind { .. } => "ask the vendor for a file signed by the key meant for it".into(),
            EnvelopeError::Payload { .. } => "ask the vendor for a file made for this release".into(),
        }
    }

    fn case(&self) -> String {
        crate::exit::case_of("EnvelopeError", self)
    }

    fn fields(&self) -> serde_json::Value {
        crate::exit::fields_of(self)
    }
}

impl crate::exit::Examples for EnvelopeError {
    fn examples() -> Vec<crate::exit::Example<Self>> {
        use crate::exit::{Example, placeholders};
        let kind = Kind::License;
        let kid = crate::keys::KeyId::from_bytes(placeholders::KID);
        let n = placeholders::NUMBER as usize;
        vec![
            Example {
                error: EnvelopeError::Empty { expected: kind },
                when: "The input holds nothing but spaces and line breaks: an empty file, an empty `ACTIVATOR_LICENSE`, nothing on standard input.",
            },
            Example {
                error: EnvelopeError::TooLarge { expected: kind, len: n, max: n },
                when: "Longer than any valid envelope of its kind: 64 KiB for a license, request or receipt, 1 MiB for a usage report or revocation list (twice that for the armored file).",
            },
            Example {
                error: EnvelopeError::Malformed { expected: kind, detail: "<detail>".into() },
                when: "Not an envelope: cut short, not base64url, not four `.`-separated parts, a key id that is not 16 hex digits, spaces inside a token, a damaged armor line (`armor line <n>: …`).",
            },
            Example {
                error: EnvelopeError::WrongKind { expected: kind, found: Kind::ActivationReceipt },
                when: "A valid envelope of another kind, e.g. an activation receipt given where a license is read, or a license where a receipt is imported.",
            },
            Example {
                error: EnvelopeError::UnsupportedVersion { kind, version: "<version>".into() },
                when: "The token starts with `lic2.` (or another version): made by a newer release.",
            },
            Example {
                error: EnvelopeError::UntrustedKey { kind, kid, trusted: "<kids>".into() },
                when: "Signed by a key the reader does not trust: for an install, a key it was not initialised with or told to trust (or one removed since); for the issuer, a key other than the public keys it was given.",
            },
            Example {
                error: EnvelopeError::KeyNotForKind { kind: Kind::RevocationList, kid, usage: "<usage>" },
                when: "The key is trusted with a use (`licenses` or `revocations`) that does not cover this kind of file, e.g. a revocation list signed by a licenses-only key.",
            },
            Example {
                error: EnvelopeError::BadSignature { kind, kid },
                when: "The text was edited, even by one character, after it was signed, or its type tag was changed.",
            },
            Example {
                error: EnvelopeError::Payload { kind, detail: "<detail>".into() },
                when: "The signature verifies but the signed JSON is not what this release reads: an unknown, duplicate or missing field, a wrong type.",
            },
        ]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keys::PublicKey;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    pub(crate) fn key(seed: u8) -> (SigningKey, Keyring) {
        let sk = SigningKey::from_bytes(&[seed; 32]);
        let ring = Keyring::from_keys([PublicKey::new(sk.verifying_key()).unwrap()]);
        (sk, ring)
    }

    pub(crate) fn sign(kind: Kind, sk: &SigningKey, payload: &[u8]) -> String {
        let kid = KeyId::of(&sk.verifying_key());
        let input = signing_input(kind, kid, payload);
        assemble(&input, &sk.sign(input.as_bytes()).to_bytes())
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let (sk, ring) = key(1);
        let token = sign(Kind::License, &sk, br#"{"a":1}"#);
        assert!(open::<serde_json::Value>(&token, Kind::License, &ring).is_ok());
        for i in 0..token.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut bytes = token.clone().into_bytes();
                bytes[i] ^= flip;
                let Ok(text) = String::from_utf8(bytes) else {
                    continue;
                };
                if text.trim() == token {
                    continue; // a flip that only changed surrounding whitespace
                }
                assert!(
                    open::<serde_json::Value>(&text, Kind::License, &ring).is_err(),
                    "byte {i} ^ {flip:#x} accepted"
                );
            }
        }
    }

    #[test]
    fn refusals_are_precise() {
        let (sk, ring) = key(1);
        let token = sign(Kind::License, &sk, br#"{"a":1}"#);
        let (_, other_ring) = key(2);
        assert!(matches!(
            open::<serde_json::Value>(&token, Kind::License, &other_ring),
            Err(EnvelopeError::UntrustedKey { .. })
        ));
        assert!(matches!(
            open::<serde_json::Value>(&token[..token.len() - 3], Kind::License, &ring),
            Err(EnvelopeError::Malformed { .. })
        ));
        assert!(matches!(
            open::<serde_json::Value>(&token, Kind::ActivationReceipt, &ring),
            Err(EnvelopeError::WrongKind { found: Kind::License, .. })
        ));
        let v2 = token.replacen("lic1.", "lic2.", 1);
        assert!(matches!(Envelope::parse(&v2, Kind::License), Err(EnvelopeError::UnsupportedVersion { .. })));
        let mut payload_changed = token.clone().into_bytes();
        payload_changed[25] = if payload_changed[25] == b'A' { b'B' } else { b'A' };
        let payload_changed = String::from_utf8(payload_changed).unwrap();
        assert!(matches!(
            open::<serde_json::Value>(&payload_changed, Kind::License, &ring),
            Err(EnvelopeError::BadSignature { .. })
        ));
        let huge = "a".repeat(Kind::License.max_len() + 1);
        assert!(matches!(Envelope::parse(&huge, Kind::License), Err(EnvelopeError::TooLarge { .. })));
    }

    #[test]
    fn a_signature_for_one_kind_never_verifies_as_another() {
        let (sk, ring) = key(1);
        let receipt = sign(Kind::ActivationReceipt, &sk, br#"{"a":1}"#);
        let relabelled = receipt.replacen("rct1.", "lic1.", 1);
        assert!(matches!(
            open::<serde_json::Value>(&relabelled, Kind::License, &ring),
            Err(EnvelopeError::BadSignature { .. })
        ));
    }

    #[test]
    fn padded_or_standard_base64_is_refused() {
        let (sk, ring) = key(1);
        let token = sign(Kind::License, &sk, br#"{"ab":1}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let padded = format!("{}.{}.{}=.{}", parts[0], parts[1], parts[2], parts[3]);
        assert!(open::<serde_json::Value>(&padded, Kind::License, &ring).is_err());
        let std_alpha = token.replace('-', "+").replace('_', "/");
        if std_alpha != token {
            assert!(open::<serde_json::Value>(&std_alpha, Kind::License, &ring).is_err());
        }
    }

    proptest! {
        #[test]
        fn round_trip_any_payload(kind_index in 0usize..Kind::ALL.len(), payload in proptest::collection::vec(any::<u8>(), 1..512)) {
            let kind = Kind::ALL[kind_index];
            let (sk, ring) = key(3);
            let token = sign(kind, &sk, &payload);
            let envelope = Envelope::parse(&token, kind).unwrap();
            prop_assert_eq!(envelope.verify(&ring).unwrap(), &payload[..]);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let (_, ring) = key(3);
            let _ = open::<serde_json::Value>(&text, Kind::License, &ring);
            let _ = crate::armor::read(&text, Kind::License);
        }

        #[test]
        fn token_shaped_text_never_panics(head in "[a-z]{0,4}[0-9]{0,2}", kid in "[0-9a-f]{14,18}", payload in "[A-Za-z0-9_-]{0,40}", sig in "[A-Za-z0-9_=-]{80,90}") {
            let (_, ring) = key(3);
            let _ = open::<serde_json::Value>(&format!("{head}.{kid}.{payload}.{sig}"), Kind::License, &ring);
        }
    }
}
