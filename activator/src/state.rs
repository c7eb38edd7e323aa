//! The files of a state directory, and the state as it is stored.
//!
//! ```text
//! STATE/
//!   state.json     everything that changes, in one file (0600): product,
//!                  region, trusted keys, the license in force (its signed
//!                  token), gateway template, access key and sealed secret,
//!                  history, usage, the clock's high-water mark, the newest
//!                  revocation list (its signed token), the floors of every
//!                  chain met, deactivation receipts kept, the head of the
//!                  install's chain of files, the machine it was made on, a
//!                  generation number and a MAC over all of it
//!   state.gen      the generation last written, with its MAC
//!   state.key      the MAC key (0600), made once
//!   install.key    this install's own signing key (0600), made once
//!   seal.key       the key that seals the secret key (0600), made once
//!   .lock          taken by every writer
//! ```
//!
//! Every change of the state is one atomic replacement of `state.json`
//! (temp file, fsync, rename, fsync the directory), then of `state.gen`, so
//! a crash at any moment leaves the old state or the new one.
//! `state.json` is written last by `init`, so its presence marks an
//! initialised directory. [`crate::integrity`] says what the MAC and the
//! generation protect against.
//!
//! Format 1 kept the trusted keys in a second file, `keyring.json`; format 2
//! kept the newest revocation list decoded and had no MAC. Both are read as
//! they are, while the directory has no `state.key`, and written in format 3
//! at their next change (a format-2 list stays, decoded, under the MAC until
//! the next list is imported).

use std::path::{Path, PathBuf};

use license_common::fsio::{self, DirLock};
use license_common::keys::{KeyId, KeyUse, Keyring, PublicKey, TrustedKey};
use license_common::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::credentials::SealedCredentials;
use crate::error::ActivatorError;
use crate::integrity::{STATE_KEY_FILE, StateKey};

/// The state file's name.
pub const STATE_FILE: &str = "state.json";
/// The keyring file of format 1, read when found and removed once migrated.
pub const LEGACY_KEYRING_FILE: &str = "keyring.json";
/// The format this build writes.
pub const STORE_FORMAT: u32 = 3;
/// The most bytes a state file may have.
const MAX_FILE_LEN: u64 = 4 << 20;

/// What `state.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateFile {
    pub format: u32,
    pub product: String,
    /// The vendor keys this install trusts.
    #[serde(default)]
    pub keyring: Vec<KeyEntry>,
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
    /// Format 2's newest revocation list, decoded (kept under the MAC until
    /// the next list is imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocations: Option<license_common::revocation::RevocationList>,
    /// The newest revocation list imported, as signed; verified on every open.
    #[serde(default)]
    pub revocation_list: Option<String>,
    /// Every chain met, with its floors.
    #[serde(default)]
    pub chains: Vec<crate::chains::ChainFloor>,
    /// The deactivation receipts of the licenses released here, newest last.
    #[serde(default)]
    pub released: Vec<ReleasedLicense>,
    /// The head of the install's chain of files for the vendor.
    #[serde(default)]
    pub sent: Option<SentHead>,
    /// The vendor's time of the newest time attestation imported.
    #[serde(default)]
    pub attested: Option<Timestamp>,
    /// The newest activation request made here: the only one a time
    /// attestation may answer, and only while the mark is still `mark`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request: Option<PendingRequest>,
    /// The host fingerprint of the machine the directory was made on.
    #[serde(default)]
    pub machine: Option<String>,
    /// False for a product without a free edition: with no license in force
    /// the install runs nothing, and a released instance's data is due for
    /// deletion (absent: the product has one, the community edition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_edition: Option<bool>,
    /// The local service's bearer tokens, hashed ([`crate::tokens`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_tokens: Vec<crate::tokens::ServiceToken>,
    /// Grows with every write; `state.gen` holds the newest.
    #[serde(default)]
    pub generation: u64,
    /// HMAC-SHA256 of the state without this field ([`crate::integrity`]).
    #[serde(default)]
    pub mac: Option<String>,
}

/// A license released from this install, with its deactivation receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleasedLicense {
    pub license_id: String,
    pub at: Timestamp,
    /// The signed deactivation receipt (`dea1`).
    pub receipt: String,
}

/// An activation request made here, which a time attestation can answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PendingRequest {
    /// [`license_common::exchange::chain_hash`] of its token.
    pub hash: String,
    /// The clock mark when it was made.
    pub mark: Option<Timestamp>,
}

/// The most deactivation receipts kept.
pub(crate) const MAX_RELEASED: usize = 32;

/// The newest file of the install's chain: its counter and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SentHead {
    pub counter: u64,
    pub hash: String,
}

/// The activated license as stored: the exact token, verified again on load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredLicense {
    pub token: String,
    pub activated_at: Timestamp,
}

/// A trusted key as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyEntry {
    kid: KeyId,
    public_key: String,
    not_after: Option<Timestamp>,
    #[serde(default)]
    usage: KeyUse,
}

/// The keyring file of format 1.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyKeyringFile {
    format: u32,
    keys: Vec<KeyEntry>,
}

impl StateFile {
    /// The state of a directory just initialised: the community edition.
    pub fn new(product: &str, keyring: &Keyring, region: Option<String>) -> Self {
        StateFile {
            format: STORE_FORMAT,
            product: product.to_owned(),
            keyring: entries(keyring),
            license: None,
            gateway: None,
            credentials: None,
            history: Vec::new(),
            usage: Default::default(),
            high_water: None,
            region,
            revocations: None,
            revocation_list: None,
            chains: Vec::new(),
            released: Vec::new(),
            sent: None,
            attested: None,
            pending_request: None,
            machine: crate::identity::machine_fingerprint(),
            free_edition: None,
            service_tokens: Vec::new(),
            generation: 0,
            mac: None,
        }
    }

    /// The bytes the MAC covers: the compact JSON of the state without it.
    fn mac_input(&self) -> Vec<u8> {
        let mut unsealed = self.clone();
        unsealed.mac = None;
        serde_json::to_vec(&unsealed).expect("state serialises")
    }

    /// The stored keyring, checked: every key has the id written beside it.
    pub fn keyring(&self, path: &Path) -> Result<Keyring, ActivatorError> {
        let corrupt = |detail: String| ActivatorError::CorruptState { path: path.to_path_buf(), detail };
        let mut ring = Keyring::new();
        for entry in &self.keyring {
            let key = PublicKey::from_pem(&entry.public_key).map_err(|e| corrupt(e.to_string()))?;
            if key.kid() != entry.kid {
                return Err(corrupt(format!("key {} does not have the id {} written beside it", key.kid(), entry.kid)));
            }
            ring.add(TrustedKey { key, not_after: entry.not_after, usage: entry.usage });
        }
        Ok(ring)
    }

    /// Replaces the stored keyring.
    pub fn set_keyring(&mut self, keyring: &Keyring) {
        self.keyring = entries(keyring);
    }
}

fn entries(keyring: &Keyring) -> Vec<KeyEntry> {
    keyring
        .keys()
        .iter()
        .map(|k| KeyEntry { kid: k.key.kid(), public_key: k.key.to_pem(), not_after: k.not_after, usage: k.usage })
        .collect()
}

/// A state directory's files.
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

    pub fn is_initialised(&self) -> bool {
        self.state_path().exists()
    }

    /// Takes the directory's lock: every writer holds it.
    pub fn lock(&self) -> Result<DirLock, ActivatorError> {
        DirLock::acquire(&self.dir).map_err(ActivatorError::io("lock", &self.dir))
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

    /// Refuses a state directory that others may write into: they could
    /// plant files the activator would then trust, or remove its own.
    pub fn check_permissions(&self) -> Result<(), ActivatorError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(&self.dir) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o022 != 0 {
                    return Err(ActivatorError::UnsafeDirectory { dir: self.dir.clone(), mode });
                }
            }
        }
        Ok(())
    }

    /// Reads the state, checking its MAC and generation (a directory of
    /// format 1 or 2, which has neither, is read as it is while it has no
    /// state key).
    pub fn read(&self) -> Result<StateFile, ActivatorError> {
        let path = self.state_path();
        // The generation first: a writer replaces `state.json` before
        // `state.gen`, so a reader without the lock never sees a state
        // older than the generation it read.
        let key = StateKey::load(&self.dir)?;
        let newest = match &key {
            Some(key) => key.read_generation(&self.dir)?,
            None => None,
        };
        let mut state: StateFile = self.read_json(&path)?;
        let damaged = |detail: String| ActivatorError::DamagedState { path: path.clone(), detail };
        match (state.format, &key) {
            (STORE_FORMAT, Some(key)) => {
                let tag = state.mac.clone().unwrap_or_default();
                if !key.verify(&state.mac_input(), &tag) {
                    return Err(damaged("its MAC does not match: it was changed outside the activator".into()));
                }
                if let Some(newest) = newest
                    && state.generation < newest
                {
                    return Err(damaged(format!(
                        "it is an older copy (generation {}) than the directory last wrote (generation {newest})",
                        state.generation
                    )));
                }
                Ok(state)
            }
            (STORE_FORMAT, None) => {
                Err(damaged(format!("{STATE_KEY_FILE}, the key its MAC is checked with, is missing")))
            }
            (1 | 2, Some(_)) => Err(damaged(format!(
                "it is of format {}, but this directory has been written in format {STORE_FORMAT} (an old copy put back?)",
                state.format
            ))),
            (2, None) => Ok(state),
            (1, None) => {
                let legacy_path = self.dir.join(LEGACY_KEYRING_FILE);
                let legacy: LegacyKeyringFile = self.read_json(&legacy_path)?;
                if legacy.format != 1 {
                    return Err(ActivatorError::CorruptState {
                        path: legacy_path,
                        detail: format!("format {} is not 1", legacy.format),
                    });
                }
                state.keyring = legacy.keys;
                Ok(state)
            }
            (other, _) => Err(ActivatorError::CorruptState {
                path: self.state_path(),
                detail: format!("format {other} is not {STORE_FORMAT}"),
            }),
        }
    }

    /// Replaces the state atomically, in format 3, with the next generation
    /// and a MAC (the caller holds the lock); then the generation file. The
    /// state key is made on the first write of an older directory; a
    /// format-1 keyring file is removed only after.
    pub fn write(&self, state: &StateFile) -> Result<(), ActivatorError> {
        let key = match StateKey::load(&self.dir)? {
            Some(key) => key,
            None => StateKey::create(&self.dir)?,
        };
        let mut state = state.clone();
        state.format = STORE_FORMAT;
        state.generation += 1;
        state.mac = None;
        state.mac = Some(key.seal(&state.mac_input()));
        let bytes = serde_json::to_vec_pretty(&state).expect("state serialises");
        fsio::write_atomic(&self.dir, STATE_FILE, &bytes, 0o600)
            .map_err(ActivatorError::io("write", self.state_path()))?;
        fsio::fault_point("state-written");
        key.write_generation(&self.dir, state.generation)?;
        let legacy = self.dir.join(LEGACY_KEYRING_FILE);
        if legacy.exists() {
            std::fs::remove_file(&legacy).map_err(ActivatorError::io("remove", &legacy))?;
        }
        Ok(())
    }
}
