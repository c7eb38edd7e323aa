//! Signing with a record: each signature happens inside the transaction
//! that records it.

use license_common::envelope::{self, Kind, Signer};
use license_common::keys::{KeyId, PublicKey};
use license_common::license::License;
use license_common::revocation::{REVOCATION_FORMAT, RetiredKey, RevocationList, Revoked};
use license_common::time::Timestamp;
use rusqlite::params;

use super::{Ledger, Recorder};
use crate::error::IssuerError;
use crate::order::CheckedOrder;
use crate::upgrade::Successor;
use crate::{Issued, sign};

/// A signer the ledger can use: one whose public key it records with every
/// signature.
pub trait LedgerSigner: Signer {
    /// The public key of the signing key.
    fn public_key(&self) -> PublicKey;
}

impl LedgerSigner for license_common::signing::IssuerKey {
    fn public_key(&self) -> PublicKey {
        *self.public()
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), IssuerError> {
    Ok(crate::order::check_text_len(field, value, max)?)
}

/// Signs `license` and records it (and the key) in `rec`.
fn sign_and_record<S>(rec: &Recorder<'_>, key: &S, license: License, now: Timestamp) -> Result<Issued, IssuerError>
where
    S: LedgerSigner + ?Sized,
    IssuerError: From<S::Error>,
{
    license.check_shape().map_err(IssuerError::invalid)?;
    rec.key(&key.public_key(), now)?;
    let issued = sign(key, license)?;
    rec.license(&issued.license, &issued.token, &key.kid().to_string())?;
    Ok(issued)
}

/// A successor must start from the newest license of its chain.
fn check_not_superseded(rec: &Recorder<'_>, current: &str) -> Result<(), IssuerError> {
    if let Some(by) = rec.superseded_by(current)? {
        return Err(IssuerError::AlreadySuperseded { id: current.to_owned(), by });
    }
    Ok(())
}

/// A new license id: a UUID v7, so that ids sort in the order they were made.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Ledger {
    /// Signs the license of a checked order with the account's next
    /// sequence number, and records it, in one transaction.
    pub fn issue<S>(&mut self, key: &S, order: CheckedOrder, now: Timestamp) -> Result<Issued, IssuerError>
    where
        S: LedgerSigner + ?Sized,
        IssuerError: From<S::Error>,
    {
        self.transaction(|rec| {
            let account = order.preview().account.clone();
            let sequence = rec.last_sequence(&account)?.map_or(1, |s| s + 1);
            sign_and_record(rec, key, order.into_license(new_id(), sequence), now)
        })
    }

    /// Signs and records a checked upgrade or renewal, unless the license it
    /// replaces was replaced already.
    pub fn sign_successor<S>(&mut self, key: &S, successor: Successor, now: Timestamp) -> Result<Issued, IssuerError>
    where
        S: LedgerSigner + ?Sized,
        IssuerError: From<S::Error>,
    {
        self.transaction(|rec| {
            check_not_superseded(rec, successor.supersedes())?;
            let preview = successor.preview();
            let sequence = preview.sequence.max(rec.last_sequence(&preview.account)?.map_or(0, |s| s + 1));
            sign_and_record(rec, key, successor.into_license(new_id(), sequence), now)
        })
    }

    /// Records that `license_id` is revoked; false when it already was.
    pub fn revoke(&mut self, license_id: &str, reason: &str, now: Timestamp) -> Result<bool, IssuerError> {
        check_text("license id", license_id, 128)?;
        check_text("reason", reason, 500)?;
        self.transaction(|rec| {
            let n = rec
                .tx()
                .execute(
                    "INSERT OR IGNORE INTO revocations (license_id, reason, revoked_at) VALUES (?1, ?2, ?3)",
                    params![license_id, reason, now.to_string()],
                )
                .map_err(rec.err())?;
            Ok(n == 1)
        })
    }

    /// Records that key `kid` signs nothing valid after `not_after`.
    pub fn retire_key(&mut self, kid: KeyId, not_after: Timestamp, reason: &str) -> Result<(), IssuerError> {
        check_text("reason", reason, 500)?;
        self.transaction(|rec| {
            rec.tx()
                .execute(
                    "INSERT INTO retired_keys (kid, not_after, reason) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kid) DO UPDATE SET not_after = excluded.not_after, reason = excluded.reason",
                    params![kid.to_string(), not_after.to_string(), reason],
                )
                .map_err(rec.err())?;
            rec.tx()
                .execute(
                    "UPDATE keys SET retired_at = ?2 WHERE kid = ?1",
                    params![kid.to_string(), not_after.to_string()],
                )
                .map_err(rec.err())?;
            Ok(())
        })
    }

    /// Signs a revocation list of everything so far with the next sequence,
    /// and records it.
    pub fn export_revocations<S>(&mut self, key: &S, now: Timestamp) -> Result<(RevocationList, String), IssuerError>
    where
        S: LedgerSigner + ?Sized,
        IssuerError: From<S::Error>,
    {
        self.transaction(|rec| {
            let tx = rec.tx();
            let err = rec.err();
            let last: Option<i64> =
                tx.query_row("SELECT MAX(sequence) FROM revocation_lists", [], |r| r.get(0)).map_err(&err)?;
            let mut stmt = tx
                .prepare("SELECT license_id, reason, revoked_at FROM revocations ORDER BY revoked_at, license_id")
                .map_err(&err)?;
            let revoked = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
                .map_err(&err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&err)?
                .into_iter()
                .map(|(license_id, reason, at)| Revoked {
                    license_id,
                    reason,
                    revoked_at: Timestamp::parse_wire(&at).unwrap_or(now),
                })
                .collect();
            let mut stmt = tx.prepare("SELECT kid, not_after, reason FROM retired_keys ORDER BY kid").map_err(&err)?;
            let retired_keys = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
                .map_err(&err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&err)?
                .into_iter()
                .filter_map(|(kid, na, reason)| {
                    Some(RetiredKey { kid: kid.parse().ok()?, not_after: Timestamp::parse_wire(&na).ok()?, reason })
                })
                .collect();
            let list = RevocationList {
                format: REVOCATION_FORMAT,
                sequence: u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1,
                issued_at: now,
                revoked,
                retired_keys,
            };
            rec.key(&key.public_key(), now)?;
            let token = envelope::seal(Kind::RevocationList, key, &serde_json::to_vec(&list).expect("serialises"))?;
            tx.execute(
                "INSERT INTO revocation_lists (sequence, issued_at, token) VALUES (?1, ?2, ?3)",
                params![i64::try_from(list.sequence).unwrap_or(i64::MAX), now.to_string(), token],
            )
            .map_err(&err)?;
            Ok((list, token))
        })
    }
}
