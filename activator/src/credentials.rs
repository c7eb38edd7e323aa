//! AK/SK credentials: the access key in clear, the secret key sealed.
//!
//! The secret key is encrypted with XChaCha20-Poly1305 under a 256-bit key
//! kept in its own file, `seal.key` (mode 0600), in the state directory; the
//! access key is bound to it as associated data, so a sealed secret cannot
//! be moved to another access key. `state.json` holds only
//! `xc1.<base64url(nonce ‖ ciphertext ‖ tag)>`. The secret is never printed:
//! every output shows `****` and its last four characters.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Key, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use license_common::exit::{ExitClass, Explain};

use license_common::fsio;

/// The seal key's file name in the state directory.
pub const SEAL_KEY_FILE: &str = "seal.key";
const SEALED_PREFIX: &str = "xc1.";
const AAD_PREFIX: &[u8] = b"license-activator/credentials/v1\0";
const NONCE_LEN: usize = 24;
const MAX_ACCESS_KEY: usize = 128;
const MAX_SECRET_KEY: usize = 512;

/// A secret key: wiped from memory on drop, never in `Debug` or `Display`.
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps a secret key as read from a prompt, file or stdin (one trailing
    /// line break is removed). Refuses an empty one, or one with spaces or
    /// control characters (a paste error).
    pub fn new(text: String) -> Result<Self, CredentialsError> {
        let text = Zeroizing::new(license_common::text::strip_line_end(text));
        let problem = if text.is_empty() {
            "is empty"
        } else if text.len() > MAX_SECRET_KEY {
            "is longer than 512 bytes"
        } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            "contains spaces or control characters"
        } else {
            return Ok(SecretKey(text));
        };
        Err(CredentialsError::SecretKey { problem })
    }

    /// The secret itself, for the launcher to use.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `****` and the last four characters (just `****` for short secrets).
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n < 8 {
        return "****".into();
    }
    let tail: String = secret.chars().skip(n - 4).collect();
    format!("****{tail}")
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// An access key pair, unsealed.
#[derive(Debug)]
pub struct Credentials {
    /// The access key (not secret).
    pub access_key: String,
    /// The secret key.
    pub secret_key: SecretKey,
}

impl Credentials {
    /// Checks an access key and pairs it with its secret.
    pub fn new(access_key: &str, secret_key: SecretKey) -> Result<Self, CredentialsError> {
        let problem = if access_key.is_empty() {
            "is empty"
        } else if access_key.len() > MAX_ACCESS_KEY {
            "is longer than 128 bytes"
        } else if !access_key.chars().all(|c| c.is_ascii_graphic()) {
            "must be printable ASCII without spaces"
        } else {
            return Ok(Credentials { access_key: access_key.to_owned(), secret_key });
        };
        Err(CredentialsError::AccessKey { problem })
    }
}

/// What `status` and `credentials show` print: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaskedCredentials {
    /// The access key.
    pub access_key: String,
    /// `****` and the secret's last four characters.
    pub secret_key: String,
}

/// The credentials as stored in `state.json`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SealedCredentials {
    pub access_key: String,
    /// `xc1.` + base64url(nonce ‖ ciphertext ‖ tag).
    pub sealed_secret: String,
    /// The masked form, kept beside it so showing it needs no unsealing.
    pub masked_secret: String,
}

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedCredentials").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

impl SealedCredentials {
    pub fn masked(&self) -> MaskedCredentials {
        MaskedCredentials { access_key: self.access_key.clone(), secret_key: self.masked_secret.clone() }
    }
}

/// The key that seals secrets, read from (or created in) the state directory.
pub(crate) struct SealKey(Zeroizing<[u8; 32]>);

impl SealKey {
    /// Reads `seal.key`, creating it (0600) when it is missing; the caller
    /// holds the directory lock.
    pub fn load_or_create(dir: &Path) -> Result<SealKey, CredentialsError> {
        Self::load(dir, true)?.ok_or(CredentialsError::SealKeyIo { detail: "seal.key could not be made".into() })
    }

    /// Reads `seal.key`; creates it (0600) if `create` and it is missing.
    /// Callers that create must hold the directory lock.
    pub fn load(dir: &Path, create: bool) -> Result<Option<SealKey>, CredentialsError> {
        let path = dir.join(SEAL_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let text = std::str::from_utf8(&bytes).map_err(|_| CredentialsError::SealKeyDamaged)?;
                let raw =
                    Zeroizing::new(URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| CredentialsError::SealKeyDamaged)?);
                let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| CredentialsError::SealKeyDamaged)?;
                Ok(Some(SealKey(Zeroizing::new(key))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let raw = license_common::random::secret::<32>()
                    .map_err(|e| CredentialsError::SealKeyIo { detail: e.to_string() })?;
                let text = Zeroizing::new(format!("{}\n", URL_SAFE_NO_PAD.encode(&raw[..])));
                fsio::write_atomic(dir, SEAL_KEY_FILE, text.as_bytes(), 0o600)
                    .map_err(|e| CredentialsError::SealKeyIo { detail: e.to_string() })?;
                Ok(Some(SealKey(raw)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CredentialsError::SealKeyIo { detail: e.to_string() }),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::<XChaCha20Poly1305>::from(*self.0))
    }

    pub fn seal(&self, credentials: &Credentials) -> Result<SealedCredentials, CredentialsError> {
        let nonce_bytes = license_common::random::bytes::<NONCE_LEN>()
            .map_err(|e| CredentialsError::SealKeyIo { detail: e.to_string() })?;
        let nonce = XNonce::from(nonce_bytes);
        let aad = [AAD_PREFIX, credentials.access_key.as_bytes()].concat();
        let ciphertext = self
            .cipher()
            .encrypt(&nonce, Payload { msg: credentials.secret_key.expose().as_bytes(), aad: &aad })
            .expect("encryption with a valid key cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(SealedCredentials {
            access_key: credentials.access_key.clone(),
            sealed_secret: format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(&blob)),
            masked_secret: credentials.secret_key.masked(),
        })
    }

    pub fn unseal(&self, sealed: &SealedCredentials) -> Result<Credentials, CredentialsError> {
        let blob = sealed
            .sealed_secret
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(CredentialsError::Unseal)?;
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| CredentialsError::Unseal)?;
        let aad = [AAD_PREFIX, sealed.access_key.as_bytes()].concat();
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(&nonce, Payload { msg: ciphertext, aad: &aad })
                .map_err(|_| CredentialsError::Unseal)?,
        );
        let text = String::from_utf8(plain.to_vec()).map_err(|_| CredentialsError::Unseal)?;
        Ok(Credentials { access_key: sealed.access_key.clone(), secret_key: SecretKey::new(text)? })
    }
}

/// A credentials problem. No variant carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The access key is not usable.
    #[error("the access key {problem}")]
    AccessKey {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The secret key is not usable.
    #[error("the secret key {problem}")]
    SecretKey {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `seal.key` cannot be read or written.
    #[error("the seal key file cannot be used: {detail}")]
    SealKeyIo {
        /// What the operating system said.
        detail: String,
    },
    /// `seal.key` is not 32 base64url bytes.
    #[error("the seal key file (seal.key) is damaged")]
    SealKeyDamaged,
    /// The sealed secret does not open with the seal key.
    #[error("the stored secret key cannot be unsealed: it or seal.key was changed or replaced")]
    Unseal,
}

impl Explain for CredentialsError {
    fn class(&self) -> ExitClass {
        match self {
            CredentialsError::AccessKey { .. } | CredentialsError::SecretKey { .. } => ExitClass::Usage,
            _ => ExitClass::State,
        }
    }

    fn hint(&self) -> String {
        match self {
            CredentialsError::AccessKey { .. } => "copy the access key (AK) again from the console".into(),
            CredentialsError::SecretKey { .. } => "copy the secret key (SK) again from the console".into(),
            _ => "move seal.key out of the state directory, then set the access key pair again".into(),
        }
    }

    fn case(&self) -> String {
        license_common::exit::case_of("CredentialsError", self)
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}

impl license_common::exit::Examples for CredentialsError {
    fn examples() -> Vec<license_common::exit::Example<Self>> {
        use license_common::exit::Example;
        vec![
            Example {
                error: CredentialsError::AccessKey { problem: "<problem>" },
                when: "The access key `is empty`, `is longer than 128 bytes`, or `must be printable ASCII without spaces`.",
            },
            Example {
                error: CredentialsError::SecretKey { problem: "<problem>" },
                when: "The secret `is empty`, `is longer than 512 bytes`, or `contains spaces or control characters` (one trailing newline is ignored).",
            },
            Example {
                error: CredentialsError::SealKeyIo { detail: "<detail>".into() },
                when: "`seal.key` cannot be read or created in the state directory, or no random bytes could be had for it.",
            },
            Example {
                error: CredentialsError::SealKeyDamaged,
                when: "`seal.key` is not 32 bytes of base64url text. Setting the credentials stops on it too: move `seal.key` away first, then set them again.",
            },
            Example {
                error: CredentialsError::Unseal,
                when: "A program embedding the activator library asked for the secret, and the sealed secret or `seal.key` was edited, copied from another install, or removed. The command lines never unseal.",
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(ak: &str, sk: &str) -> Credentials {
        Credentials::new(ak, SecretKey::new(sk.into()).unwrap()).unwrap()
    }

    #[test]
    fn seal_round_trip_binds_the_access_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = SealKey::load(dir.path(), true).unwrap().unwrap();
        let sealed = key.seal(&creds("AKID123", "s3cr3t-SK-value-9876")).unwrap();
        assert!(!sealed.sealed_secret.contains("s3cr3t"));
        assert_eq!(sealed.masked_secret, "****9876");
        assert_eq!(key.unseal(&sealed).unwrap().secret_key.expose(), "s3cr3t-SK-value-9876");
        let mut moved = sealed.clone();
        moved.access_key = "AKOTHER".into();
        assert_eq!(key.unseal(&moved).unwrap_err(), CredentialsError::Unseal);
        let reloaded = SealKey::load(dir.path(), false).unwrap().unwrap();
        assert!(reloaded.unseal(&sealed).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SEAL_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn another_seal_key_cannot_open_it() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let sealed = SealKey::load(a.path(), true).unwrap().unwrap().seal(&creds("AK", "secret-secret")).unwrap();
        assert!(SealKey::load(b.path(), true).unwrap().unwrap().unseal(&sealed).is_err());
    }

    #[test]
    fn no_secret_in_debug_or_errors() {
        let c = creds("AKID", "hunter2hunter2");
        let dir = tempfile::tempdir().unwrap();
        let sealed = SealKey::load(dir.path(), true).unwrap().unwrap().seal(&c).unwrap();
        let text = format!("{c:?} {:?} {sealed:?} {:?}", c.secret_key, SecretKey::new(" bad".into()).unwrap_err());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains(&sealed.sealed_secret));
    }

    #[test]
    fn masking_and_validation() {
        assert_eq!(SecretKey::new("abcdefgh\n".into()).unwrap().masked(), "****efgh");
        assert_eq!(SecretKey::new("short".into()).unwrap().masked(), "****");
        assert!(SecretKey::new("\n".into()).is_err());
        assert!(SecretKey::new("has space".into()).is_err());
        assert!(Credentials::new("AK ID", SecretKey::new("x".into()).unwrap()).is_err());
        assert!(Credentials::new("", SecretKey::new("x".into()).unwrap()).is_err());
    }
}
