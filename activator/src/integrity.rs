//! What keeps `state.json` honest between two runs: a MAC over the whole
//! state and a generation counter kept in a second file.
//!
//! * `state.key` (32 random bytes, mode 0600, made by `init`) keys an
//!   HMAC-SHA256 over every byte of the state but the MAC itself. The state
//!   keeps signed tokens for what it can re-derive (the license, the newest
//!   revocation list) and re-verifies them on every open; the MAC covers what
//!   cannot be re-derived (the clock's high-water mark, usage counts, chain
//!   floors, the install's chain of files) and everything else besides. A
//!   state edited by hand, or a state of release 1 or 2 put back once the key
//!   exists, is refused as damaged.
//! * `state.gen` holds the generation of the newest state written, with its
//!   own MAC. A `state.json` older than it — an old copy put back beside
//!   newer files — is refused as damaged; one exactly one generation newer
//!   is a write interrupted between the two files, and is accepted.
//!
//! What this does not stop: whoever can read `state.key` (the install's own
//! user, root) can write a state that passes, and a whole directory restored
//! from a backup is indistinguishable offline from the real one. The vendor
//! sees the latter: the install's files form a hash chain (FORMAT.md §8),
//! and a restored install forks it.

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::ActivatorError;
use license_common::fsio;

/// The MAC key's file.
pub const STATE_KEY_FILE: &str = "state.key";
/// The generation file.
pub const GENERATION_FILE: &str = "state.gen";

const STATE_DOMAIN: &[u8] = b"license-activator/state/v3\0";
const GENERATION_DOMAIN: &[u8] = b"license-activator/generation/v1\0";

/// The MAC key of a state directory.
pub(crate) struct StateKey {
    key: Zeroizing<[u8; 32]>,
}

fn damaged(path: PathBuf, detail: impl Into<String>) -> ActivatorError {
    ActivatorError::DamagedState { path, detail: detail.into() }
}

impl StateKey {
    /// The key of `dir`, if it has one.
    pub fn load(dir: &Path) -> Result<Option<StateKey>, ActivatorError> {
        let path = dir.join(STATE_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let key: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| damaged(path.clone(), "the state key is not 32 bytes long"))?;
                Ok(Some(StateKey { key: Zeroizing::new(key) }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ActivatorError::Io { action: "read", path, source: e }),
        }
    }

    /// Makes the key of `dir` (the caller holds the lock and has checked
    /// that there is none).
    pub fn create(dir: &Path) -> Result<StateKey, ActivatorError> {
        let key = license_common::random::secret::<32>()?;
        fsio::write_atomic(dir, STATE_KEY_FILE, key.as_slice(), 0o600)
            .map_err(ActivatorError::io("write", dir.join(STATE_KEY_FILE)))?;
        Ok(StateKey { key })
    }

    fn mac(&self, domain: &[u8], bytes: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_slice()).expect("any key length");
        mac.update(domain);
        mac.update(bytes);
        mac
    }

    /// The MAC of a state's bytes (serialised without its MAC), hex.
    pub fn seal(&self, bytes: &[u8]) -> String {
        hex::encode(self.mac(STATE_DOMAIN, bytes).finalize().into_bytes())
    }

    /// Whether `tag` is the MAC of `bytes`, compared in constant time.
    pub fn verify(&self, bytes: &[u8], tag: &str) -> bool {
        hex::decode(tag).is_ok_and(|t| self.mac(STATE_DOMAIN, bytes).verify_slice(&t).is_ok())
    }

    /// Writes `generation` to the generation file.
    pub fn write_generation(&self, dir: &Path, generation: u64) -> Result<(), ActivatorError> {
        let tag = hex::encode(self.mac(GENERATION_DOMAIN, &generation.to_le_bytes()).finalize().into_bytes());
        fsio::write_atomic(dir, GENERATION_FILE, format!("{generation} {tag}\n").as_bytes(), 0o600)
            .map_err(ActivatorError::io("write", dir.join(GENERATION_FILE)))
    }

    /// The generation the directory was last written at (`None` before the
    /// first write of format 3).
    pub fn read_generation(&self, dir: &Path) -> Result<Option<u64>, ActivatorError> {
        let path = dir.join(GENERATION_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ActivatorError::Io { action: "read", path, source: e }),
        };
        let parsed =
            text.trim().split_once(' ').and_then(|(n, tag)| Some((n.parse::<u64>().ok()?, hex::decode(tag).ok()?)));
        match parsed {
            Some((n, tag)) if self.mac(GENERATION_DOMAIN, &n.to_le_bytes()).verify_slice(&tag).is_ok() => Ok(Some(n)),
            _ => Err(damaged(path, "the generation file was edited")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_covers_every_byte_and_the_generation_file_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let key = StateKey::create(dir.path()).unwrap();
        let tag = key.seal(b"{\"a\":1}");
        assert!(key.verify(b"{\"a\":1}", &tag));
        assert!(!key.verify(b"{\"a\":2}", &tag));
        assert!(!key.verify(b"{\"a\":1}", "00"));
        let other = StateKey { key: Zeroizing::new([7; 32]) };
        assert!(!other.verify(b"{\"a\":1}", &tag), "another directory's key");

        assert_eq!(key.read_generation(dir.path()).unwrap(), None);
        key.write_generation(dir.path(), 41).unwrap();
        assert_eq!(key.read_generation(dir.path()).unwrap(), Some(41));
        let path = dir.path().join(GENERATION_FILE);
        let text = std::fs::read_to_string(&path).unwrap().replacen("41", "40", 1);
        std::fs::write(&path, text).unwrap();
        assert!(matches!(key.read_generation(dir.path()), Err(ActivatorError::DamagedState { .. })));
    }
}
