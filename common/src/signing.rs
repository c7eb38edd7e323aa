//! The issuer's private key: generation, encrypted PKCS#8 files, signing.
//!
//! The key file is an encrypted PKCS#8 **v1** PEM (`-----BEGIN ENCRYPTED
//! PRIVATE KEY-----`, PBES2 with scrypt and AES-256-CBC) that `openssl pkey`
//! reads with the passphrase. The v1 form is written on purpose: PKCS#8 v2
//! (with the public key embedded) is refused by OpenSSL 3.0.
//!
//! Secret material never reaches `Debug` or `Display`, and is wiped from
//! memory when dropped.

use std::fmt;

use ed25519_dalek::pkcs8::KeypairBytes;
use ed25519_dalek::{Signer, SigningKey};
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use zeroize::Zeroizing;

use crate::keys::{KeyError, KeyId, PublicKey};

/// A passphrase, wiped from memory when dropped and never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase, refusing an empty one. One trailing newline (as
    /// left by `echo` into a file) is removed.
    pub fn new(text: String) -> Result<Self, KeyError> {
        let text = Zeroizing::new(crate::text::strip_line_end(text));
        if text.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        Ok(Passphrase(text))
    }

    /// A fresh random passphrase of 32 base64url characters (192 bits).
    pub fn random() -> Result<Self, KeyError> {
        use base64::Engine as _;
        let bytes = crate::random::secret::<24>()?;
        Ok(Passphrase(Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..]))))
    }

    /// The passphrase text, for writing it to a 0600 file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The issuer's Ed25519 signing key. Zeroized on drop; no `Debug` of secrets.
pub struct IssuerKey {
    key: SigningKey,
    public: PublicKey,
}

impl IssuerKey {
    /// Generates a new key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let seed = crate::random::secret::<32>()?;
        Ok(Self::from_signing_key(SigningKey::from_bytes(&seed)))
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let public =
            PublicKey::new(key.verifying_key()).expect("a key derived from a random scalar is never of small order");
        IssuerKey { key, public }
    }

    /// Builds a key from a 32-byte seed (for test vectors).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self::from_signing_key(SigningKey::from_bytes(seed))
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key id.
    pub fn kid(&self) -> KeyId {
        self.public.kid()
    }

    /// Signs a message.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Signs a payload into a compact token of `kind`: a key in a file
    /// always can.
    pub fn seal(&self, kind: crate::kind::Kind, payload: &[u8]) -> String {
        match crate::envelope::seal(kind, self, payload) {
            Ok(token) => token,
            Err(never) => match never {},
        }
    }

    /// The encrypted PKCS#8 v1 PEM of this key.
    pub fn to_encrypted_pem(&self, passphrase: &Passphrase) -> Result<Zeroizing<String>, KeyError> {
        let bytes = KeypairBytes { secret_key: self.key.to_bytes(), public_key: None };
        bytes
            .to_pkcs8_encrypted_pem(passphrase.0.as_bytes(), pkcs8::LineEnding::LF)
            .map_err(|e| KeyError::Encode { detail: e.to_string() })
    }

    /// Opens an encrypted PKCS#8 PEM key file's text.
    ///
    /// A file that is not an encrypted PKCS#8 structure is "not a private
    /// key"; once it is one, any failure to decrypt it or to read what
    /// decryption gave is a wrong passphrase (a wrong passphrase can decrypt
    /// to bytes with valid padding, about one time in 256).
    pub fn from_encrypted_pem(pem: &str, passphrase: &Passphrase) -> Result<Self, KeyError> {
        let pem = pem.trim();
        if !pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(KeyError::NotAPrivateKey);
        }
        let (label, document) = pkcs8::SecretDocument::from_pem(pem).map_err(|_| KeyError::NotAPrivateKey)?;
        if label != "ENCRYPTED PRIVATE KEY" {
            return Err(KeyError::NotAPrivateKey);
        }
        let info =
            pkcs8::EncryptedPrivateKeyInfoRef::try_from(document.as_bytes()).map_err(|_| KeyError::NotAPrivateKey)?;
        let plain = info.decrypt(passphrase.0.as_bytes()).map_err(|_| KeyError::WrongPassphrase)?;
        let bytes = KeypairBytes::from_pkcs8_der(plain.as_bytes()).map_err(|_| KeyError::WrongPassphrase)?;
        Ok(Self::from_signing_key(SigningKey::from_bytes(&bytes.secret_key)))
    }
}

impl crate::envelope::Signer for IssuerKey {
    type Error = std::convert::Infallible;

    fn kid(&self) -> KeyId {
        self.public.kid()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], Self::Error> {
        Ok(self.key.sign(message).to_bytes())
    }
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKey").field("kid", &self.kid()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(s.to_owned()).unwrap()
    }

    #[test]
    fn encrypted_pem_round_trips_and_needs_the_passphrase() {
        let key = IssuerKey::from_seed(&[7u8; 32]);
        let pem = key.to_encrypted_pem(&pass("correct horse")).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        let back = IssuerKey::from_encrypted_pem(&pem, &pass("correct horse\n")).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert!(matches!(IssuerKey::from_encrypted_pem(&pem, &pass("wrong")), Err(KeyError::WrongPassphrase)));
        assert!(matches!(
            IssuerKey::from_encrypted_pem("-----BEGIN PUBLIC KEY-----", &pass("x")),
            Err(KeyError::NotAPrivateKey)
        ));
    }

    /// Found by a flaky end-to-end test: a wrong passphrase decrypts to
    /// bytes with valid CBC padding about once in 256 tries, and was then
    /// reported as "not a private key".
    #[test]
    fn a_wrong_passphrase_is_always_a_wrong_passphrase() {
        use pkcs8::der::Decode as _;
        use pkcs8::pkcs5::{pbes2, scrypt};
        // The same file form with a cheap scrypt, so that 2,000 tries take
        // a moment (at least one wrong try in 256 has valid padding).
        let der = KeypairBytes { secret_key: [7u8; 32], public_key: None }.to_pkcs8_der().unwrap();
        let params = pbes2::Parameters {
            kdf: pbes2::ScryptParams::from_params_and_salt(scrypt::Params::new(2, 8, 1).unwrap(), &[9u8; 16])
                .unwrap()
                .into(),
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: [3u8; 16] },
        };
        let info = pkcs8::PrivateKeyInfoRef::from_der(der.as_bytes()).unwrap();
        let encrypted = info.encrypt_with_params(params, "correct horse").unwrap();
        let pem = encrypted.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF).unwrap();
        let right = IssuerKey::from_encrypted_pem(&pem, &pass("correct horse")).unwrap();
        assert_eq!(right.kid(), IssuerKey::from_seed(&[7u8; 32]).kid());
        for i in 0..2000 {
            let got = IssuerKey::from_encrypted_pem(&pem, &pass(&format!("wrong {i}")));
            assert!(matches!(got, Err(KeyError::WrongPassphrase)), "passphrase `wrong {i}`: {got:?}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let key = IssuerKey::from_seed(&[7u8; 32]);
        let dbg = format!("{key:?} {:?}", pass("hunter2"));
        assert!(!dbg.contains("hunter2"));
        assert!(!dbg.contains("0707"));
        assert!(!dbg.contains("[7, 7"));
        assert!(Passphrase::new("\n".into()).is_err());
    }
}
