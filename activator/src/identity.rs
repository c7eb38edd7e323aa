//! The install's identity: its own Ed25519 key, its install id, and the
//! host fingerprint.
//!
//! `install.key` (unencrypted PKCS#8 PEM, mode 0600) is made by `init`, or
//! on first use in a state directory made before it existed. The install id
//! is the key id of its public key (16 hex digits): a license bound to it is
//! refused by any other install. The host fingerprint is
//! `hex(SHA-256("license-activator/host/v1\0" ‖ machine id))[..32]`, where the
//! machine id is `$ACTIVATOR_MACHINE_ID` when set (for containers whose
//! `/etc/machine-id` is not stable), else `/etc/machine-id`, else
//! `/var/lib/dbus/machine-id`: stable across reboots, different across
//! machines.

use std::fmt;
use std::path::Path;

use ed25519_dalek::pkcs8::KeypairBytes;
use ed25519_dalek::{Signer as _, SigningKey};
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use license_common::envelope::{self, Kind, Signer};
use license_common::keys::{KeyId, PublicKey};

use crate::error::ActivatorError;
use license_common::fsio;

/// The install key's file name in the state directory.
pub const INSTALL_KEY_FILE: &str = "install.key";
/// The environment variable that overrides the machine id.
pub const MACHINE_ID_ENV: &str = "ACTIVATOR_MACHINE_ID";

/// The install's signing key. No `Debug` of secrets; zeroized on drop.
pub struct InstallKey {
    key: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for InstallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallKey").field("install_id", &self.id()).finish_non_exhaustive()
    }
}

impl InstallKey {
    fn from_signing_key(key: SigningKey) -> Self {
        let public = PublicKey::new(key.verifying_key()).expect("a random key is never of small order");
        InstallKey { key, public }
    }

    fn generate() -> Result<Self, ActivatorError> {
        let seed = license_common::random::secret::<32>()?;
        Ok(Self::from_signing_key(SigningKey::from_bytes(&seed)))
    }

    /// Reads the install key of `dir`, creating it when missing (the caller
    /// holds the directory lock).
    pub(crate) fn load_or_create(dir: &Path) -> Result<InstallKey, ActivatorError> {
        match Self::load(dir, true)? {
            Some(key) => Ok(key),
            None => Err(ActivatorError::CorruptState {
                path: dir.join(INSTALL_KEY_FILE),
                detail: "the install key could not be made".into(),
            }),
        }
    }

    /// Reads the install key of `dir`, creating it when missing and `create`
    /// is set (the caller holds the directory lock).
    pub(crate) fn load(dir: &Path, create: bool) -> Result<Option<InstallKey>, ActivatorError> {
        let path = dir.join(INSTALL_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let bytes = KeypairBytes::from_pkcs8_pem(text.trim()).map_err(|_| ActivatorError::CorruptState {
                    path: path.clone(),
                    detail: "not an Ed25519 PKCS#8 private key".into(),
                })?;
                Ok(Some(Self::from_signing_key(SigningKey::from_bytes(&bytes.secret_key))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key = Self::generate()?;
                let bytes = KeypairBytes { secret_key: key.key.to_bytes(), public_key: None };
                let pem = bytes.to_pkcs8_pem(pkcs8::LineEnding::LF).expect("an Ed25519 key always encodes");
                fsio::write_atomic(dir, INSTALL_KEY_FILE, pem.as_bytes(), 0o600)
                    .map_err(ActivatorError::io("write", path))?;
                Ok(Some(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ActivatorError::Io { action: "read", path, source: e }),
        }
    }

    /// The install id: the key id of the public key, in hex.
    pub fn id(&self) -> String {
        self.public.kid().to_string()
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs a payload into an envelope of `kind`.
    pub fn seal(&self, kind: Kind, payload: &[u8]) -> String {
        match envelope::seal(kind, self, payload) {
            Ok(token) => token,
            Err(never) => match never {},
        }
    }
}

impl Signer for InstallKey {
    type Error = std::convert::Infallible;

    fn kid(&self) -> KeyId {
        self.public.kid()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], Self::Error> {
        Ok(self.key.sign(message).to_bytes())
    }
}

/// The machine id: `$ACTIVATOR_MACHINE_ID`, `/etc/machine-id` or
/// `/var/lib/dbus/machine-id`, trimmed.
pub fn machine_id() -> Result<String, ActivatorError> {
    if let Ok(id) = std::env::var(MACHINE_ID_ENV)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(id) = std::fs::read_to_string(path)
            && !id.trim().is_empty()
        {
            return Ok(id.trim().to_owned());
        }
    }
    Err(ActivatorError::NoMachineId)
}

/// The host fingerprint for a machine id.
pub fn host_fingerprint(machine_id: &str) -> String {
    let digest =
        Sha256::new().chain_update(b"license-activator/host/v1\0").chain_update(machine_id.as_bytes()).finalize();
    hex::encode(&digest[..16])
}

/// This machine's host fingerprint, when it has a machine id.
pub fn machine_fingerprint() -> Option<String> {
    machine_id().ok().map(|id| host_fingerprint(&id))
}

/// The host name, for people reading a request.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A warning for each of the directory's secret key files (the install key,
/// the seal key, the state key) that its group or others can read: they
/// could sign as this install, open its credentials, or forge its state.
pub(crate) fn loose_key_files(dir: &Path) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        [INSTALL_KEY_FILE, crate::credentials::SEAL_KEY_FILE, crate::integrity::STATE_KEY_FILE]
            .into_iter()
            .filter_map(|name| {
                let mode = std::fs::metadata(dir.join(name)).ok()?.permissions().mode() & 0o777;
                (mode & 0o077 != 0).then(|| {
                    format!(
                        "{name} can be read by other users (mode {mode:04o}): they could act as this install; `chmod 600` it, and treat the key as exposed"
                    )
                })
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(InstallKey::load(dir.path(), false).unwrap().is_none());
        let made = InstallKey::load_or_create(dir.path()).unwrap();
        let again = InstallKey::load_or_create(dir.path()).unwrap();
        assert_eq!(made.id(), again.id());
        assert_eq!(made.id().len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(INSTALL_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{made:?}").contains("secret"));
    }

    #[test]
    fn the_missing_machine_id_hint_names_the_variable() {
        use license_common::exit::Explain;
        assert!(ActivatorError::NoMachineId.hint().contains(MACHINE_ID_ENV));
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(host_fingerprint("abc"), host_fingerprint("abc"));
        assert_ne!(host_fingerprint("abc"), host_fingerprint("abd"));
        assert_eq!(host_fingerprint("abc").len(), 32);
    }
}
