//! The issuer's register of revocations and key retirements, and the signed
//! revocation lists made from it.
//!
//! One JSON file (`--register`, `ISSUER_REGISTER`, default
//! `issuer-register.json`), replaced atomically under a lock (`FILE.lock`),
//! so two commands never lose each other's entries. Each export signs every
//! entry so far with the next `sequence`.

use std::path::{Path, PathBuf};

use license_common::envelope::{self, Kind};
use license_common::fsio::{self, FileLock};
use license_common::keys::KeyId;
use license_common::revocation::{REVOCATION_FORMAT, RetiredKey, RevocationList, Revoked};
use license_common::signing::IssuerKey;
use license_common::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::IssuerError;
use crate::order::OrderError;

/// The environment variable naming the register file.
pub const REGISTER_ENV: &str = "ISSUER_REGISTER";
/// The register file used when nothing names one.
pub const DEFAULT_REGISTER: &str = "issuer-register.json";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFile {
    format: u32,
    last_sequence: u64,
    revoked: Vec<Revoked>,
    retired_keys: Vec<RetiredKey>,
}

/// The register file: an explicit path, `ISSUER_REGISTER`, or the default.
pub fn register_path(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var(REGISTER_ENV).ok().filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_REGISTER))
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), IssuerError> {
    let problem = if value.trim().is_empty() {
        "is empty"
    } else if value.chars().count() > max {
        "is too long"
    } else if value.chars().any(char::is_control) {
        "contains control characters"
    } else {
        return Ok(());
    };
    Err(OrderError::Field { field, problem }.into())
}

/// Runs `change` on the register under its lock and saves the result.
fn with_register<T>(path: &Path, change: impl FnOnce(&mut RegisterFile) -> T) -> Result<T, IssuerError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| IssuerError::Io {
        action: "use",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let _lock = FileLock::acquire(&dir.join(format!("{name}.lock"))).map_err(IssuerError::io("lock", path))?;
    let mut register = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<RegisterFile>(&bytes).map_err(|e| IssuerError::Io {
            action: "read",
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RegisterFile { format: 1, ..Default::default() },
        Err(e) => return Err(IssuerError::Io { action: "read", path: path.to_path_buf(), source: e }),
    };
    let before = register.clone();
    let out = change(&mut register);
    if register != before {
        let bytes = serde_json::to_vec_pretty(&register).expect("serialises");
        fsio::write_atomic(dir, name, &bytes, 0o600).map_err(IssuerError::io("write", path))?;
    }
    Ok(out)
}

/// Records that `license_id` is revoked. Returns false when it already was.
pub fn revoke(path: &Path, license_id: &str, reason: &str, now: Timestamp) -> Result<bool, IssuerError> {
    check_text("license id", license_id, 128)?;
    check_text("reason", reason, 500)?;
    with_register(path, |r| {
        if r.revoked.iter().any(|x| x.license_id == license_id) {
            return false;
        }
        r.revoked.push(Revoked { license_id: license_id.to_owned(), reason: reason.to_owned(), revoked_at: now });
        true
    })
}

/// Records that key `kid` signs nothing valid after `not_after`.
pub fn retire_key(path: &Path, kid: KeyId, not_after: Timestamp, reason: &str) -> Result<(), IssuerError> {
    check_text("reason", reason, 500)?;
    with_register(path, |r| {
        r.retired_keys.retain(|k| k.kid != kid);
        r.retired_keys.push(RetiredKey { kid, not_after, reason: reason.to_owned() });
    })
}

/// Signs a revocation list of everything in the register, with the next
/// sequence number, and returns it with its compact token.
pub fn export(path: &Path, key: &IssuerKey, now: Timestamp) -> Result<(RevocationList, String), IssuerError> {
    with_register(path, |r| {
        r.last_sequence += 1;
        let list = RevocationList {
            format: REVOCATION_FORMAT,
            sequence: r.last_sequence,
            issued_at: now,
            revoked: r.revoked.clone(),
            retired_keys: r.retired_keys.clone(),
        };
        let token = envelope::seal(Kind::RevocationList, key, &serde_json::to_vec(&list).expect("serialises"));
        (list, token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_accumulate_and_sequences_grow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.json");
        let now = Timestamp::parse("2026-11-23").unwrap();
        assert!(revoke(&path, "L-1", "chargeback", now).unwrap());
        assert!(!revoke(&path, "L-1", "again", now).unwrap(), "revoking twice records once");
        let key = IssuerKey::from_seed(&[3; 32]);
        let (first, _) = export(&path, &key, now).unwrap();
        revoke(&path, "L-2", "fraud", now).unwrap();
        let (second, token) = export(&path, &key, now).unwrap();
        assert_eq!((first.sequence, second.sequence), (1, 2));
        assert_eq!(second.revoked.len(), 2);
        assert!(token.starts_with("rev1."));
        assert!(revoke(&path, "", "x", now).is_err());
    }
}
