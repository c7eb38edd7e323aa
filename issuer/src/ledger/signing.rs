//! Signing with a record: each signature happens inside the transaction
//! that records it, and every rule of a chain is checked in that
//! transaction, under the ledger's write lock.
//!
//! * A new order for a chain (a product, account and region) whose newest
//!   license is in force — active, in grace or not valid yet, and neither
//!   revoked nor released nor lapsed — is refused: it is an upgrade or a
//!   renewal of that license.
//! * An upgrade or renewal starts from the newest license of its chain,
//!   which is not revoked; a license bound to an install moves to another
//!   only once the first install's deactivation receipt is in, or with its
//!   old binding revoked in the same step.
//! * Sequences are allocated per chain, above every license and every
//!   revocation floor of the chain.
//! * A key retired in the ledger signs nothing after its date; a distrusted
//!   key signs nothing.

use super::db::{self, OptionalExtension, params};
use license_common::envelope::{self, Kind, Signer};
use license_common::keys::{KeyId, PublicKey};
use license_common::license::License;
use license_common::revocation::{DistrustedKey, Floor, REVOCATION_FORMAT, RetiredKey, RevocationList, Revoked};
use license_common::time::Timestamp;
use serde::Serialize;

use super::query::{EntryStatus, status_of};
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

/// When the ledger retired key `kid` and when it distrusted it (`None`: a
/// key it has not seen sign).
type KeyDates = Option<(Option<String>, Option<String>)>;

fn key_dates(rec: &Recorder<'_>, kid: KeyId) -> Result<KeyDates, IssuerError> {
    rec.tx()
        .query_row("SELECT retired_at, distrusted_at FROM keys WHERE kid = ?1", params![kid.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(rec.err())
}

/// Refuses a key the ledger retired before `now`, or distrusted.
pub(crate) fn check_signer(rec: &Recorder<'_>, kid: KeyId, now: Timestamp) -> Result<(), IssuerError> {
    let Some((retired, distrusted)) = key_dates(rec, kid)? else { return Ok(()) };
    if let Some(at) = distrusted {
        return Err(IssuerError::KeyDistrusted { kid, distrusted_at: at });
    }
    if let Some(not_after) = retired.and_then(|t| Timestamp::parse_wire(&t).ok())
        && now > not_after
    {
        return Err(IssuerError::KeyRetired { kid, not_after });
    }
    Ok(())
}

/// Signs `license` and records it (and the key) in `rec`.
fn sign_and_record<S>(
    rec: &Recorder<'_>,
    key: &S,
    license: License,
    max_installs: Option<u32>,
    now: Timestamp,
) -> Result<Issued, IssuerError>
where
    S: LedgerSigner + ?Sized,
    IssuerError: From<S::Error>,
{
    license.check_shape().map_err(IssuerError::invalid)?;
    check_signer(rec, key.kid(), now)?;
    rec.key(&key.public_key(), now)?;
    let issued = sign(key, license)?;
    rec.license(&issued.license, &issued.token, &key.kid().to_string(), max_installs)?;
    Ok(issued)
}

/// The newest license of a chain: its id, sequence and content.
pub(crate) struct Newest {
    pub id: String,
    pub kid: String,
    pub sequence: u64,
    pub license: License,
}

impl Recorder<'_> {
    /// The newest license of the chain of `product`, `account` and `region`.
    pub(crate) fn newest(&self, product: &str, account: &str, region: &str) -> Result<Option<Newest>, IssuerError> {
        let row: Option<(String, String, i64, String)> = self
            .tx()
            .prepare_cached(
                "SELECT id, kid, sequence, token FROM licenses WHERE product = ?1 AND account = ?2 AND region = ?3
                 ORDER BY sequence DESC LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![product, account, region], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()
            })
            .map_err(self.err())?;
        row.map(|(id, kid, sequence, token)| {
            Ok(Newest {
                id,
                kid,
                sequence: u64::try_from(sequence).unwrap_or(0),
                license: super::query::decode_unverified(&token)?,
            })
        })
        .transpose()
    }

    /// Refuses a first license for the chain of `product`, `account` and
    /// `region` when its newest license is in force.
    pub(crate) fn check_chain_free(
        &self,
        product: &str,
        account: &str,
        region: &str,
        now: Timestamp,
    ) -> Result<(), IssuerError> {
        let Some(newest) = self.newest(product, account, region)? else { return Ok(()) };
        let status = status_of(self.tx(), &newest.id, &newest.kid, &newest.license, now).map_err(self.err())?;
        if matches!(status, EntryStatus::Active | EntryStatus::Grace | EntryStatus::NotYetValid) {
            return Err(IssuerError::InstanceInForce {
                instance: Box::new(crate::error::Instance {
                    product: product.to_owned(),
                    account: account.to_owned(),
                    region: region.to_owned(),
                }),
                newest: newest.id,
                sequence: newest.sequence,
                status: status.as_str(),
            });
        }
        Ok(())
    }

    /// The next sequence of the chain of `license`.
    pub(crate) fn next_sequence(&self, license: &License) -> Result<u64, IssuerError> {
        Ok(self.last_sequence(&license.product, &license.account, &license.region)?.map_or(1, |s| s + 1))
    }
}

/// Where a license stands as the base of a successor: the chain it is in
/// and its binding, once it is known to be the newest license of an
/// unrevoked chain.
struct Head {
    product: String,
    account: String,
    region: String,
    install: Option<String>,
}

/// License `id` as the base of a successor: in the ledger, not revoked, and
/// the newest of its chain. Read with `q`, in a transaction or not.
fn head_of(q: db::Q<'_>, id: &str, err: impl Fn(db::DbError) -> IssuerError) -> Result<Head, IssuerError> {
    let current: Option<(String, String, String, i64, Option<String>)> = q
        .query_row("SELECT product, account, region, sequence, install FROM licenses WHERE id = ?1", params![id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()
        .map_err(&err)?;
    let Some((product, account, region, sequence, install)) = current else {
        return Err(IssuerError::NotInLedger { id: id.to_owned() });
    };
    let floor: Option<(i64, String)> = q
        .query_row(
            "SELECT sequence, reason FROM revocations WHERE product = ?1 AND account = ?2 AND region = ?3
             ORDER BY sequence DESC LIMIT 1",
            params![product, account, region],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(&err)?;
    if let Some((floor, reason)) = floor
        && floor >= sequence
    {
        return Err(IssuerError::RevokedChain { id: id.to_owned(), floor: u64::try_from(floor).unwrap_or(0), reason });
    }
    let newest: String = q
        .query_row(
            "SELECT id FROM licenses WHERE product = ?1 AND account = ?2 AND region = ?3 ORDER BY sequence DESC LIMIT 1",
            params![product, account, region],
            |r| r.get(0),
        )
        .map_err(&err)?;
    if newest != id {
        return Err(IssuerError::AlreadySuperseded { id: id.to_owned(), by: newest });
    }
    Ok(Head { product, account, region, install })
}

impl Ledger {
    /// Refuses license `id` as the base of an upgrade or renewal, as
    /// signing one would: not in the ledger, revoked, or superseded. For
    /// what prices a successor without signing it (a quote).
    pub fn check_successor_base(&self, id: &str) -> Result<(), IssuerError> {
        head_of(self.conn(), id, self.err()).map(|_| ())
    }
}

/// A successor starts from the newest license of its chain, which is not
/// revoked, and moves a binding only when the old install let it go.
fn check_successor(rec: &Recorder<'_>, successor: &Successor, revoke_binding: bool) -> Result<String, IssuerError> {
    let current_id = successor.supersedes();
    let Head { product, account, region, install } = head_of(rec.tx(), current_id, rec.err())?;
    if let Some(old) = install
        && successor.preview().install.as_deref() != Some(old.as_str())
        && !revoke_binding
    {
        let released: bool = rec
            .tx()
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM deactivations d JOIN licenses l ON l.id = d.license_id
                 WHERE d.install_id = ?1 AND l.product = ?2 AND l.account = ?3 AND l.region = ?4)",
                params![old, product, account, region],
                |r| r.get(0),
            )
            .map_err(rec.err())?;
        if !released {
            return Err(IssuerError::StillBound { id: current_id.to_owned(), install: old });
        }
    }
    Ok(current_id.to_owned())
}

/// What a distrust did (`issuer distrust-key --json`, format 1):
/// `{"format": 1, "kid": "...", "resigned": [Issued, …]}`: the newest license
/// of every live chain the key had signed, signed again with the new key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Distrusted {
    /// Version of this JSON shape.
    pub format: u32,
    /// The distrusted key.
    pub kid: KeyId,
    /// The licenses signed again.
    pub resigned: Vec<Issued>,
}

impl Ledger {
    /// Signs the license of a checked order with its chain's next sequence,
    /// and records it, in one transaction; refused when the chain's newest
    /// license is in force.
    pub fn issue<S>(&mut self, key: &S, order: CheckedOrder, now: Timestamp) -> Result<Issued, IssuerError>
    where
        S: LedgerSigner + ?Sized,
        IssuerError: From<S::Error>,
    {
        self.transaction(|rec| {
            let preview = order.preview();
            rec.check_chain_free(&preview.product, &preview.account, &preview.region, now)?;
            let sequence = rec.next_sequence(preview)?;
            let max_installs = order.max_installs();
            let issued = sign_and_record(rec, key, order.into_license(new_id(), sequence), max_installs, now)?;
            rec.requested_by(&issued.id, &issued.license.account)?;
            Ok(issued)
        })
    }

    /// Signs and records a checked upgrade or renewal of the newest license
    /// of its chain (see the module docs for the rules). With
    /// `revoke_binding`, a license bound to an install that has not released
    /// it moves anyway, and the license it replaces is revoked in the same
    /// transaction (the next revocation list tells the old install).
    pub fn sign_successor<S>(
        &mut self,
        key: &S,
        successor: Successor,
        revoke_binding: bool,
        now: Timestamp,
    ) -> Result<Issued, IssuerError>
    where
        S: LedgerSigner + ?Sized,
        IssuerError: From<S::Error>,
    {
        self.transaction(|rec| {
            let current = check_successor(rec, &successor, revoke_binding)?;
            let max_installs: Option<i64> = rec
                .tx()
                .query_row("SELECT max_installs FROM licenses WHERE id = ?1", params![current], |r| r.get(0))
                .map_err(rec.err())?;
            if revoke_binding && let Some(old) = rec.newest_install(&current)? {
                let moved = successor.preview().install.clone().unwrap_or_else(|| "no install".into());
                rec.record_revocation(&current, &format!("bound to install {old}, moved to {moved}"), now)?;
            }
            let preview = successor.preview();
            let sequence = preview.sequence.max(rec.next_sequence(preview)?);
            // A successor keeps the limit, unless it binds the license to one install.
            let max_installs =
                if preview.install.is_some() { Some(1) } else { max_installs.and_then(|m| u32::try_from(m).ok()) };
            let requested_by = successor.requested_by().map(str::to_owned);
            let issued = sign_and_record(rec, key, successor.into_license(new_id(), sequence), max_installs, now)?;
            if let Some(account) = requested_by {
                rec.requested_by(&issued.id, &account)?;
            }
            Ok(issued)
        })
    }

    /// Records that `license_id` is revoked, and with it every license of its
    /// chain up to its sequence; false when it already was. A license the
    /// ledger does not hold is refused.
    pub fn revoke(&mut self, license_id: &str, reason: &str, now: Timestamp) -> Result<bool, IssuerError> {
        check_text("license id", license_id, 128)?;
        check_text("reason", reason, 500)?;
        self.transaction(|rec| rec.record_revocation(license_id, reason, now))
    }

    /// Records that key `kid` signs nothing valid after `not_after`
    /// (rotation: what it signed before stays valid). A key the ledger does
    /// not know is refused, and so is a distrusted one.
    pub fn retire_key(&mut self, kid: KeyId, not_after: Timestamp, reason: &str) -> Result<(), IssuerError> {
        check_text("reason", reason, 500)?;
        self.transaction(|rec| {
            rec.known_key(kid)?;
            // A distrusted key already signs nothing: a retirement date
            // after that would only blur what the ledger says of it.
            if let Some((_, Some(distrusted_at))) = key_dates(rec, kid)? {
                return Err(IssuerError::KeyDistrusted { kid, distrusted_at });
            }
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

    /// Compromise: key `kid` is distrusted — everything it ever signed is
    /// void once the next revocation list is imported, since a stolen key
    /// can write any date — and the newest license of every live chain it
    /// signed is signed again with `new_key` (same content, the next
    /// sequence), in one transaction.
    pub fn distrust_key<S>(
        &mut self,
        kid: KeyId,
        new_key: &S,
        reason: &str,
        now: Timestamp,
    ) -> Result<Distrusted, IssuerError>
    where
        S: LedgerSigner + ?Sized,
        IssuerError: From<S::Error>,
    {
        check_text("reason", reason, 500)?;
        if new_key.kid() == kid {
            return Err(IssuerError::SameKey { kid });
        }
        self.transaction(|rec| {
            rec.known_key(kid)?;
            // The newest license of each chain, where the distrusted key signed it.
            let newest: Vec<(String, String)> = {
                let mut stmt = rec
                    .tx()
                    .prepare(
                        "SELECT l.id, l.token FROM licenses l
                         WHERE l.kid = ?1 AND l.sequence = (SELECT MAX(m.sequence) FROM licenses m
                             WHERE m.product = l.product AND m.account = l.account AND m.region = l.region)
                         ORDER BY l.issued_at, l.id",
                    )
                    .map_err(rec.err())?;
                stmt.query_map(params![kid.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(rec.err())?
                    .collect::<Result<_, _>>()
                    .map_err(rec.err())?
            };
            // Which of them are live, before the distrust voids them all.
            let mut live = Vec::new();
            for (id, token) in newest {
                let current = super::query::decode_unverified(&token)?;
                let status = status_of(rec.tx(), &id, &kid.to_string(), &current, now).map_err(rec.err())?;
                if matches!(status, EntryStatus::Active | EntryStatus::Grace | EntryStatus::NotYetValid) {
                    live.push((id, current));
                }
            }
            rec.tx()
                .execute(
                    "UPDATE keys SET distrusted_at = COALESCE(distrusted_at, ?2), distrust_reason = COALESCE(distrust_reason, ?3)
                     WHERE kid = ?1",
                    params![kid.to_string(), now.to_string(), reason],
                )
                .map_err(rec.err())?;
            let mut resigned = Vec::new();
            for (id, current) in live {
                let mut next = current.clone();
                next.id = new_id();
                next.issued_at = now;
                next.supersedes = Some(id.clone());
                next.sequence = rec.next_sequence(&current)?;
                next.activate_by = current.activate_by.filter(|by| *by > now);
                let max_installs: Option<i64> = rec
                    .tx()
                    .query_row("SELECT max_installs FROM licenses WHERE id = ?1", params![id], |r| r.get(0))
                    .map_err(rec.err())?;
                let issued =
                    sign_and_record(rec, new_key, next, max_installs.and_then(|m| u32::try_from(m).ok()), now)?;
                resigned.push(issued);
            }
            Ok(Distrusted { format: 1, kid, resigned })
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
            check_signer(rec, key.kid(), now)?;
            let tx = rec.tx();
            let err = rec.err();
            let time = |t: String| Timestamp::parse_wire(&t).unwrap_or(now);
            let last: Option<i64> =
                tx.query_row("SELECT MAX(sequence) FROM revocation_lists", [], |r| r.get(0)).map_err(&err)?;
            let mut stmt = tx
                .prepare("SELECT license_id, reason, revoked_at FROM revocations ORDER BY revoked_at, license_id")
                .map_err(&err)?;
            let revoked = stmt
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?)))
                .map_err(&err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&err)?
                .into_iter()
                .map(|(license_id, reason, at)| Revoked { license_id, reason, revoked_at: time(at) })
                .collect();
            // Per chain, the highest sequence revoked, with its reason.
            let mut stmt = tx
                .prepare(
                    "SELECT r.product, r.account, r.region, r.sequence, r.reason, r.revoked_at FROM revocations r
                     WHERE r.product != '' AND r.sequence = (SELECT MAX(s.sequence) FROM revocations s
                         WHERE s.product = r.product AND s.account = r.account AND s.region = r.region)
                     ORDER BY r.product, r.account, r.region, r.revoked_at, r.license_id",
                )
                .map_err(&err)?;
            let floors = stmt
                .query_map([], |r| {
                    Ok(Floor {
                        product: r.get(0)?,
                        account: r.get(1)?,
                        region: r.get(2)?,
                        sequence: u64::try_from(r.get::<i64>(3)?).unwrap_or(0),
                        reason: r.get(4)?,
                        revoked_at: time(r.get(5)?),
                    })
                })
                .map_err(&err)?
                .collect::<Result<Vec<Floor>, _>>()
                .map_err(&err)?;
            // One floor a chain (the first, should two revocations share its sequence).
            let mut floors = floors;
            floors.dedup_by(|b, a| (&a.product, &a.account, &a.region) == (&b.product, &b.account, &b.region));
            let mut stmt = tx.prepare("SELECT kid, not_after, reason FROM retired_keys ORDER BY kid").map_err(&err)?;
            let retired_keys = stmt
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?)))
                .map_err(&err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&err)?
                .into_iter()
                .filter_map(|(kid, na, reason)| {
                    Some(RetiredKey { kid: kid.parse().ok()?, not_after: Timestamp::parse_wire(&na).ok()?, reason })
                })
                .collect();
            let mut stmt = tx
                .prepare(
                    "SELECT kid, distrusted_at, distrust_reason FROM keys WHERE distrusted_at IS NOT NULL ORDER BY kid",
                )
                .map_err(&err)?;
            let distrusted_keys = stmt
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<Option<String>>(2)?)))
                .map_err(&err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&err)?
                .into_iter()
                .filter_map(|(kid, at, reason)| {
                    Some(DistrustedKey {
                        kid: kid.parse().ok()?,
                        distrusted_at: Timestamp::parse_wire(&at).ok()?,
                        reason: reason.unwrap_or_default(),
                    })
                })
                .collect();
            let list = RevocationList {
                format: REVOCATION_FORMAT,
                sequence: u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1,
                issued_at: now,
                revoked,
                retired_keys,
                floors,
                distrusted_keys,
            };
            rec.key(&key.public_key(), now)?;
            let token = envelope::seal(Kind::RevocationList, key, &serde_json::to_vec(&list).expect("serialises"))?;
            let sequence = i64::try_from(list.sequence).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO revocation_lists (sequence, issued_at, token) VALUES (?1, ?2, ?3)",
                params![sequence, now.to_string(), token],
            )
            .map_err(&err)?;
            if let Some((key, _)) = &rec.request {
                tx.execute("UPDATE idempotency SET list_sequence = ?1 WHERE key = ?2", params![sequence, key])
                    .map_err(&err)?;
            }
            Ok((list, token))
        })
    }
}

impl Recorder<'_> {
    /// Refuses a key id the ledger has never signed with.
    fn known_key(&self, kid: KeyId) -> Result<(), IssuerError> {
        let known: bool = self
            .tx()
            .query_row("SELECT EXISTS(SELECT 1 FROM keys WHERE kid = ?1)", params![kid.to_string()], |r| r.get(0))
            .map_err(self.err())?;
        if known { Ok(()) } else { Err(IssuerError::UnknownKey { kid }) }
    }

    /// Records the revocation of `license_id` (and so the floor of its
    /// chain); false when it was already recorded.
    pub(crate) fn record_revocation(
        &self,
        license_id: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, IssuerError> {
        let chain: Option<(String, String, String, i64)> = self
            .tx()
            .query_row(
                "SELECT product, account, region, sequence FROM licenses WHERE id = ?1",
                params![license_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(self.err())?;
        let Some((product, account, region, sequence)) = chain else {
            return Err(IssuerError::NotInLedger { id: license_id.to_owned() });
        };
        let n = self
            .tx()
            .execute(
                "INSERT INTO revocations (license_id, reason, revoked_at, product, account, region, sequence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                params![license_id, reason, now.to_string(), product, account, region, sequence],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Records the account that asked for license `id`.
    fn requested_by(&self, id: &str, account: &str) -> Result<(), IssuerError> {
        self.tx()
            .execute("UPDATE licenses SET requested_by = ?2 WHERE id = ?1", params![id, account])
            .map_err(self.err())?;
        Ok(())
    }

    /// The install the license is bound to, if any.
    fn newest_install(&self, license_id: &str) -> Result<Option<String>, IssuerError> {
        self.tx()
            .query_row("SELECT install FROM licenses WHERE id = ?1", params![license_id], |r| r.get(0))
            .map_err(self.err())
    }
}

/// A new license id: a UUID v7, so that ids sort in the order they were made.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
