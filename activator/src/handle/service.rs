//! What the local service (`activator serve`) needs of a handle: its bearer
//! tokens, and seeing at once what another process changed.

use std::path::Path;

use license_common::Timestamp;

use super::Activator;
use crate::error::ActivatorError;
use crate::tokens::{self, MAX_TOKENS, NewToken, Scope, ServiceToken};

/// What identifies one version of the state file: it is replaced by a
/// rename on every write, so a new inode (or time, or length) is a new
/// state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let ino = 0;
        Some(FileStamp { ino, len: meta.len(), modified: meta.modified().ok() })
    }
}

impl Activator {
    /// Reads the state again if another process (the CLI, another service)
    /// replaced it since this handle last read or wrote it; returns whether
    /// it did. One `stat` when nothing changed, so a service can call it
    /// before every request.
    pub fn refresh(&mut self) -> Result<bool, ActivatorError> {
        let now = FileStamp::of(&self.store.state_path());
        if now == self.seen {
            return Ok(false);
        }
        let fresh = Activator::open_with(&self.store.dir, self.keys.clone())?;
        *self = fresh;
        Ok(true)
    }

    /// Makes a bearer token of `scope` for the local service and stores its
    /// hash; the returned text is the only copy of the token.
    pub fn token_create(&mut self, scope: Scope, label: &str, now: Timestamp) -> Result<NewToken, ActivatorError> {
        let made = tokens::make(scope, label, now)?;
        let stored = made.stored.clone();
        self.transact(|state, _, _| {
            if state.service_tokens.len() >= MAX_TOKENS {
                return Err(ActivatorError::TooManyTokens { max: MAX_TOKENS });
            }
            state.service_tokens.push(stored);
            Ok(())
        })?;
        Ok(made)
    }

    /// The service's tokens (hashes only), revoked ones included.
    pub fn tokens(&self) -> &[ServiceToken] {
        &self.snapshot.service_tokens
    }

    /// Revokes the token with id `id`; revoking it again changes nothing.
    pub fn token_revoke(&mut self, id: &str, now: Timestamp) -> Result<ServiceToken, ActivatorError> {
        self.transact(|state, _, _| {
            let token = state
                .service_tokens
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or_else(|| ActivatorError::UnknownToken { id: id.to_owned() })?;
            token.revoked_at = token.revoked_at.or(Some(now));
            Ok(token.clone())
        })
    }

    /// How many collectors the license in force lets run at once (its
    /// `collectors` quota), if it caps them.
    pub fn collector_cap(&self, now: Timestamp) -> Option<u64> {
        self.quota(crate::metering::CAP_QUOTA, now)
    }

    /// The scope of a presented bearer token, if it is a live one.
    pub fn token_scope(&self, presented: &str) -> Option<Scope> {
        tokens::verify(&self.snapshot.service_tokens, presented)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Activator, Init};
    use license_common::Timestamp;
    use license_common::signing::IssuerKey;

    use crate::tokens::Scope;

    #[test]
    fn tokens_are_stored_hashed_revoked_and_seen_by_another_handle_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let key = IssuerKey::from_seed(&[5; 32]);
        let path = dir.path().join("s");
        let (mut cli, _) = Activator::init(&path, &Init::new("observability", &[*key.public()])).unwrap();
        let mut service = Activator::open(&path).unwrap();
        let now = Timestamp::parse("2026-12-01").unwrap();
        let made = cli.token_create(Scope::Launcher, "launcher on host-1", now).unwrap();
        let state = std::fs::read_to_string(path.join("state.json")).unwrap();
        assert!(!state.contains(crate::tokens::secret_of(&made.text).unwrap()), "only the hash is stored");
        assert_eq!(service.token_scope(&made.text), None, "not read yet");
        assert!(service.refresh().unwrap());
        assert!(!service.refresh().unwrap(), "nothing changed since");
        assert_eq!(service.token_scope(&made.text), Some(Scope::Launcher));
        cli.token_revoke(&made.stored.id, now).unwrap();
        service.refresh().unwrap();
        assert_eq!(service.token_scope(&made.text), None);
        assert!(matches!(cli.token_revoke("0000000000000000", now), Err(crate::ActivatorError::UnknownToken { .. })));
        assert_eq!(cli.tokens().len(), 1);
    }
}
