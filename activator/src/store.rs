//! The files of a state directory.
//!
//! ```text
//! STATE/
//!   keyring.json   trusted vendor public keys            (0600)
//!   state.json     product, activated license, when,
//!                  gateway template, access key, sealed secret key (0600)
//!   seal.key       the key that seals the secret key    (0600)
//!   .lock          taken by every writer
//! ```
//!
//! `state.json` is written last by `init`, so its presence marks an
//! initialised directory. Both files are replaced atomically.

use std::path::{Path, PathBuf};

use license_common::keys::{KeyId, KeyUse, Keyring, PublicKey, TrustedKey};
use license_common::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::credentials::SealedCredentials;
use crate::error::ActivatorError;
use license_common::fsio;

/// The state file's name.
pub const STATE_FILE: &str = "state.json";
/// The keyring file's name.
pub const KEYRING_FILE: &str = "keyring.json";
/// The format version of both files.
pub const STORE_FORMAT: u32 = 1;
/// The most bytes a state file may have.
const MAX_FILE_LEN: u64 = 4 << 20;

/// What `state.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateFile {
    pub format: u32,
    pub product: String,
    pub license: Option<StoredLicense>,
    /// The gateway template, exactly as validated.
    #[serde(default)]
    pub gateway: Option<String>,
    /// The access key and the sealed secret key.
    #[serde(default)]
    pub credentials: Option<SealedCredentials>,
    /// What was activated when.
    #[serde(default)]
    pub history: Vec<crate::history::HistoryEntry>,
    /// Collectors seen per day (the day's maximum).
    #[serde(default)]
    pub usage: std::collections::BTreeMap<chrono::NaiveDate, u64>,
    /// The newest trusted time seen (clock defence).
    #[serde(default)]
    pub high_water: Option<Timestamp>,
    /// The install's region or site, when set: licenses for another are refused.
    #[serde(default)]
    pub region: Option<String>,
    /// The newest revocation list imported (verified when imported).
    #[serde(default)]
    pub revocations: Option<license_common::revocation::RevocationList>,
}

/// The activated license as stored: the exact token, verified again on load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredLicense {
    pub token: String,
    pub activated_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    format: u32,
    keys: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    kid: KeyId,
    public_key: String,
    not_after: Option<Timestamp>,
    #[serde(default)]
    usage: KeyUse,
}

/// Paths of a state directory.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn new(dir: &Path) -> Self {
        Store { dir: dir.to_path_buf() }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    pub fn keyring_path(&self) -> PathBuf {
        self.dir.join(KEYRING_FILE)
    }

    pub fn is_initialised(&self) -> bool {
        self.state_path().exists()
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<T, ActivatorError> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ActivatorError::NotInitialised { dir: self.dir.clone() }
            } else {
                ActivatorError::Io { action: "read", path: path.to_path_buf(), source: e }
            }
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_LEN + 1).read_to_end(&mut bytes).map_err(ActivatorError::io("read", path))?;
        if bytes.len() as u64 > MAX_FILE_LEN {
            return Err(ActivatorError::CorruptState {
                path: path.to_path_buf(),
                detail: "the file is too large".into(),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ActivatorError::CorruptState { path: path.to_path_buf(), detail: e.to_string() })
    }

    /// Refuses a state directory owned by another user than the one running:
    /// writing into it would leave files the service's own user cannot read.
    pub fn check_owner(&self) -> Result<(), ActivatorError> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::MetadataExt;
            let Ok(dir) = std::fs::metadata(&self.dir) else { return Ok(()) };
            // The owner of /proc/self is the effective user of this process.
            let Ok(me) = std::fs::metadata("/proc/self") else { return Ok(()) };
            if dir.uid() != me.uid() {
                return Err(ActivatorError::WrongOwner { dir: self.dir.clone(), owner: dir.uid(), you: me.uid() });
            }
        }
        Ok(())
    }

    pub fn read_state(&self) -> Result<StateFile, ActivatorError> {
        let state: StateFile = self.read_json(&self.state_path())?;
        if state.format != STORE_FORMAT {
            return Err(ActivatorError::CorruptState {
                path: self.state_path(),
                detail: format!("format {} is not {STORE_FORMAT}", state.format),
            });
        }
        Ok(state)
    }

    pub fn write_state(&self, state: &StateFile) -> Result<(), ActivatorError> {
        let bytes = serde_json::to_vec_pretty(state).expect("state serialises");
        fsio::write_atomic(&self.dir, STATE_FILE, &bytes, 0o600).map_err(ActivatorError::io("write", self.state_path()))
    }

    pub fn read_keyring(&self) -> Result<Keyring, ActivatorError> {
        let path = self.keyring_path();
        let file: KeyringFile = self.read_json(&path)?;
        let corrupt = |detail: String| ActivatorError::CorruptState { path: path.clone(), detail };
        if file.format != STORE_FORMAT {
            return Err(corrupt(format!("format {} is not {STORE_FORMAT}", file.format)));
        }
        let mut ring = Keyring::new();
        for entry in file.keys {
            let key = PublicKey::from_pem(&entry.public_key).map_err(|e| corrupt(e.to_string()))?;
            if key.kid() != entry.kid {
                return Err(corrupt(format!("key {} does not have the id {} written beside it", key.kid(), entry.kid)));
            }
            ring.add(TrustedKey { key, not_after: entry.not_after, usage: entry.usage });
        }
        Ok(ring)
    }

    pub fn write_keyring(&self, ring: &Keyring) -> Result<(), ActivatorError> {
        let file = KeyringFile {
            format: STORE_FORMAT,
            keys: ring
                .keys()
                .iter()
                .map(|k| KeyEntry {
                    kid: k.key.kid(),
                    public_key: k.key.to_pem(),
                    not_after: k.not_after,
                    usage: k.usage,
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("keyring serialises");
        fsio::write_atomic(&self.dir, KEYRING_FILE, &bytes, 0o600)
            .map_err(ActivatorError::io("write", self.keyring_path()))
    }
}
