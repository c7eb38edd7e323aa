//! The issuer's key files: `issuer.key` (encrypted PKCS#8 PEM, mode 0600)
//! and `issuer.pub` (SPKI PEM), and which public keys may have signed a
//! license the vendor starts an upgrade from.

use std::path::{Path, PathBuf};

use license_common::fsio::Output;
use license_common::input;
use license_common::keys::{KeyId, Keyring, PublicKey};
use license_common::signing::{IssuerKey, Passphrase};
use serde::Serialize;

use crate::error::IssuerError;

/// The private key file's name inside the key directory.
pub const KEY_FILE: &str = "issuer.key";
/// The public key file's name inside the key directory.
pub const PUB_FILE: &str = "issuer.pub";
/// The most bytes a key file may have.
pub const MAX_KEY_FILE: usize = 64 * 1024;

/// The files `keygen` wrote (`issuer keygen --json`, format 1):
/// `{"format": 1, "kid": "...", "key": "DIR/issuer.key", "public": "DIR/issuer.pub"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyFiles {
    /// Version of this JSON shape.
    pub format: u32,
    /// The key id.
    pub kid: KeyId,
    /// The encrypted private key.
    pub key: PathBuf,
    /// The public key.
    pub public: PathBuf,
}

/// Generates a key pair into `dir` (created if needed). Refuses to overwrite
/// either file; on any failure nothing is left behind.
pub fn keygen(dir: &Path, passphrase: &Passphrase) -> Result<KeyFiles, IssuerError> {
    let key_out = Output::secret(dir.join(KEY_FILE));
    let pub_out = Output::new(dir.join(PUB_FILE), false);
    std::fs::create_dir_all(dir).map_err(IssuerError::io("create", dir))?;
    key_out.check()?;
    pub_out.check()?;
    let key = IssuerKey::generate()?;
    let pem = key.to_encrypted_pem(passphrase)?;
    key_out.write(pem.as_bytes())?;
    if let Err(e) = pub_out.write(key.public().to_pem().as_bytes()) {
        let _ = std::fs::remove_file(key_out.path());
        return Err(e.into());
    }
    Ok(KeyFiles { format: 1, kid: key.kid(), key: key_out.path().to_path_buf(), public: pub_out.path().to_path_buf() })
}

/// Makes a key pair inside the token `uri` names and writes its public
/// key to `dir/issuer.pub` (refusing to overwrite it); the private key
/// never leaves the module. Checks the public file can be written before
/// anything is made in the token.
pub fn keygen_pkcs11(dir: &Path, uri: &crate::hsm::Pkcs11Uri, pin: &str) -> Result<KeyFiles, IssuerError> {
    let pub_out = Output::new(dir.join(PUB_FILE), false);
    std::fs::create_dir_all(dir).map_err(IssuerError::io("create", dir))?;
    pub_out.check()?;
    let public = crate::hsm::HsmKey::generate(uri, pin)?;
    pub_out.write(public.to_pem().as_bytes())?;
    Ok(KeyFiles {
        format: 1,
        kid: public.kid(),
        key: PathBuf::from(uri.to_string()),
        public: pub_out.path().to_path_buf(),
    })
}

/// Opens an encrypted private key file.
pub fn read_key(path: &Path, passphrase: &Passphrase) -> Result<IssuerKey, IssuerError> {
    let text = zeroize::Zeroizing::new(input::read_text(path, MAX_KEY_FILE)?);
    Ok(IssuerKey::from_encrypted_pem(&text, passphrase)?)
}

/// The key that signs: an encrypted key file opened in memory, or a key
/// that stays inside a hardware module ([`crate::hsm`]).
#[derive(Debug)]
pub enum SigningKey {
    /// `issuer.key`, opened with its passphrase.
    File(IssuerKey),
    /// A key in a PKCS#11 token.
    Hsm(crate::hsm::HsmKey),
}

impl SigningKey {
    /// The key id.
    pub fn kid(&self) -> KeyId {
        self.public().kid()
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        match self {
            SigningKey::File(k) => k.public(),
            SigningKey::Hsm(k) => k.public(),
        }
    }
}

impl license_common::envelope::Signer for SigningKey {
    type Error = license_common::envelope::SignError;

    fn kid(&self) -> KeyId {
        self.public().kid()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; license_common::envelope::SIGNATURE_LEN], Self::Error> {
        match self {
            SigningKey::File(k) => Ok(k.sign(message)),
            SigningKey::Hsm(k) => k.sign(message),
        }
    }
}

impl crate::ledger::LedgerSigner for SigningKey {
    fn public_key(&self) -> PublicKey {
        *self.public()
    }
}

/// Reads a public key file.
pub fn read_public(path: &Path) -> Result<PublicKey, IssuerError> {
    let text = input::read_text(path, MAX_KEY_FILE)?;
    Ok(PublicKey::from_pem(&text)?)
}

/// The keys that may have signed a license an upgrade or renewal starts
/// from: the public key beside the signing key (`issuer.pub` beside
/// `issuer.key`), and the keys the vendor names besides (after a rotation).
///
/// A key in a hardware module (`pkcs11:…`) has no file beside it: name its
/// public key among `also`.
pub fn keys_for_current(key: &Path, also: &[PathBuf]) -> Result<Keyring, IssuerError> {
    let mut keys = also.iter().map(|p| read_public(p)).collect::<Result<Vec<_>, _>>()?;
    let beside = key.with_extension("pub");
    if !key.to_str().is_some_and(crate::hsm::Pkcs11Uri::is_uri) && beside.exists() {
        keys.push(read_public(&beside)?);
    }
    Ok(Keyring::from_keys(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_0600_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("pw".into()).unwrap();
        let files = keygen(dir.path(), &pass).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let before = std::fs::read(&files.key).unwrap();
        assert!(matches!(
            keygen(dir.path(), &pass),
            Err(IssuerError::Output(license_common::fsio::OutputError::Exists { .. }))
        ));
        assert_eq!(std::fs::read(&files.key).unwrap(), before);
        let key = read_key(&files.key, &pass).unwrap();
        assert_eq!(key.kid(), files.kid);
        assert_eq!(read_public(&files.public).unwrap().kid(), files.kid);
    }

    #[test]
    fn the_key_beside_and_the_keys_named_may_have_signed_current() {
        let dir = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("pw".into()).unwrap();
        let old = keygen(&dir.path().join("old"), &pass).unwrap();
        let new = keygen(&dir.path().join("new"), &pass).unwrap();
        let ring = keys_for_current(&new.key, std::slice::from_ref(&old.public)).unwrap();
        assert!(ring.get(&old.kid).is_some() && ring.get(&new.kid).is_some());
        let lone = keys_for_current(&dir.path().join("elsewhere/issuer.key"), &[]).unwrap();
        assert!(lone.is_empty());
    }
}
