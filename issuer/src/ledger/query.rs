//! Reading the ledger: statuses, lists, chains, lapsed orders, installs.

use std::collections::BTreeMap;

use super::db::{self, OptionalExtension, params};
use license_common::license::{License, Phase};
use license_common::time::Timestamp;
use serde::Serialize;

use super::Ledger;
use super::columns::DERIVED;
use crate::error::IssuerError;

/// Where a license of the ledger stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// In force.
    Active,
    /// Expired, in its grace period.
    Grace,
    /// Its grace period is over.
    Released,
    /// Not valid yet.
    NotYetValid,
    /// Replaced by a later license of its chain.
    Superseded,
    /// Revoked.
    Revoked,
    /// A pay-as-you-go order not activated within its window.
    Lapsed,
}

impl EntryStatus {
    /// Every status.
    pub const ALL: [EntryStatus; 7] = [
        EntryStatus::Active,
        EntryStatus::Grace,
        EntryStatus::Released,
        EntryStatus::NotYetValid,
        EntryStatus::Superseded,
        EntryStatus::Revoked,
        EntryStatus::Lapsed,
    ];

    /// The wire name, e.g. `not_yet_valid`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Active => "active",
            EntryStatus::Grace => "grace",
            EntryStatus::Released => "released",
            EntryStatus::NotYetValid => "not_yet_valid",
            EntryStatus::Superseded => "superseded",
            EntryStatus::Revoked => "revoked",
            EntryStatus::Lapsed => "lapsed",
        }
    }

    fn of_phase(phase: &license_common::license::Phase) -> Self {
        use license_common::license::Phase;
        match phase {
            Phase::NotYetValid { .. } => EntryStatus::NotYetValid,
            Phase::Active { .. } => EntryStatus::Active,
            Phase::Grace { .. } => EntryStatus::Grace,
            Phase::Released { .. } => EntryStatus::Released,
        }
    }
}

impl std::fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a pay-as-you-go order was activated within its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Its window is still open and no receipt came yet.
    Pending,
    /// A receipt shows it was activated in its window.
    Activated,
    /// No receipt by the deadline: the account is back to community.
    Lapsed,
}

/// One license as the ledger sees it (`ledger list --json`, one per element).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// License id.
    pub id: String,
    /// Account.
    pub account: String,
    /// The licensee's name.
    pub licensee: String,
    /// Product.
    pub product: String,
    /// Region.
    pub region: String,
    /// Edition.
    pub edition: String,
    /// Plan.
    pub plan: String,
    /// Sequence in its chain.
    pub sequence: u64,
    /// When it was signed.
    pub issued_at: String,
    /// When it starts.
    pub not_before: String,
    /// Expiry.
    pub expires_at: Option<String>,
    /// The license it replaced.
    pub supersedes: Option<String>,
    /// The install it is bound to.
    pub install: Option<String>,
    /// Packages: id → tier.
    pub packages: BTreeMap<String, String>,
    /// How many installs may run it (`null`: no limit).
    pub max_installs: Option<u32>,
    /// The account that asked for it, when the request named one.
    pub requested_by: Option<String>,
    /// The key that signed it.
    pub kid: String,
    /// `active`, `grace`, `released`, `not_yet_valid`, `superseded`, `revoked` or `lapsed`.
    pub status: EntryStatus,
}

/// A license's whole story (`ledger show ID --json`, format 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chain {
    /// Version of this JSON shape.
    pub format: u32,
    /// The license asked about.
    pub id: String,
    /// Oldest first: every license of its chain (product, account and region).
    pub licenses: Vec<LedgerEntry>,
    /// Receipts of any license in the chain: (license id, install id, activated at).
    pub receipts: Vec<(String, String, String)>,
    /// Deactivation receipts of any license in the chain: (license id, install id, deactivated at).
    pub deactivations: Vec<(String, String, String)>,
    /// Revocation of the license, if any: (reason, revoked at).
    pub revocation: Option<(String, String)>,
    /// The chain's revocation floor: every license up to this sequence is void.
    pub floor: Option<u64>,
}

/// A pay-as-you-go order and whether it was activated in its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lapsed {
    /// The first pay-as-you-go license of the order.
    pub license_id: String,
    /// Account.
    pub account: String,
    /// The activation deadline.
    pub activate_by: String,
    /// `lapsed` (no receipt by the deadline, back to community), `activated` or `pending`.
    pub state: OrderState,
}

/// A license run by more installs than it allows (`ledger overuse --json`,
/// one per element).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Overuse {
    /// The license.
    pub license_id: String,
    /// Its account.
    pub account: String,
    /// Its product.
    pub product: String,
    /// Its region.
    pub region: String,
    /// Where it stands.
    pub status: EntryStatus,
    /// How many installs it allows.
    pub max_installs: u32,
    /// The installs that sent a receipt or a usage report for it and did
    /// not release it since, sorted.
    pub installs: Vec<String>,
}

/// Whether the license of a row `l` of `licenses` is revoked: itself, at
/// or below its chain's revocation floor, or through its key's distrust.
/// SQL over `l.id`, `l.kid`, `l.product`, `l.account`, `l.region` and
/// `l.sequence`, shared by [`status_of`] and the listing, so that both
/// decide alike.
pub(super) const REVOKED: &str = "(EXISTS(SELECT 1 FROM revocations v WHERE v.license_id = l.id
         OR (v.product = l.product AND v.account = l.account AND v.region = l.region AND v.sequence >= l.sequence))
     OR EXISTS(SELECT 1 FROM keys k WHERE k.kid = l.kid AND k.distrusted_at IS NOT NULL))";

/// Whether a row `l` of `licenses` is superseded: its chain holds a higher
/// sequence, or a license names it as the one it replaces. SQL, as
/// [`REVOKED`].
pub(super) const SUPERSEDED: &str = "(EXISTS(SELECT 1 FROM licenses s
         WHERE s.product = l.product AND s.account = l.account AND s.region = l.region AND s.sequence > l.sequence)
     OR EXISTS(SELECT 1 FROM licenses s WHERE s.supersedes = l.id))";

/// Where the license `id` (signed by `kid`) stands at `now`.
///
/// * revoked: revoked itself, at or below its chain's revocation floor, or
///   signed by a distrusted key;
/// * superseded: its chain holds a higher sequence;
/// * lapsed: its pay-as-you-go order's activation deadline passed with no
///   receipt of any license of that order by then;
/// * otherwise its phase: not valid yet, active, in grace, released.
pub(crate) fn status_of(
    conn: db::Q<'_>,
    id: &str,
    kid: &str,
    license: &License,
    now: Timestamp,
) -> db::Result<EntryStatus> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {REVOKED}, {SUPERSEDED} FROM (SELECT CAST(?1 AS TEXT) AS id, CAST(?2 AS TEXT) AS kid,
                 CAST(?3 AS TEXT) AS product, CAST(?4 AS TEXT) AS account, CAST(?5 AS TEXT) AS region,
                 CAST(?6 AS BIGINT) AS sequence) l"
        )
    });
    let sequence = i64::try_from(license.sequence).unwrap_or(i64::MAX);
    let standing = params![id, kid, license.product, license.account, license.region, sequence];
    let (revoked, superseded) = conn.query_row(&SQL, standing, |r| Ok((r.get(0)?, r.get(1)?)))?;
    match standing_of(revoked, superseded) {
        Some(status) => Ok(status),
        None => own_status(conn, Own::of(license, now), now),
    }
}

/// The status [`REVOKED`] and [`SUPERSEDED`] decide, in that order; `None`
/// when neither holds and the license itself decides ([`own_status`]).
pub(super) fn standing_of(revoked: bool, superseded: bool) -> Option<EntryStatus> {
    if revoked {
        Some(EntryStatus::Revoked)
    } else if superseded {
        Some(EntryStatus::Superseded)
    } else {
        None
    }
}

/// What the status of a license neither revoked nor superseded depends on.
pub(super) struct Own<'a> {
    /// Its chain: product, account, region (where a receipt of its order is).
    pub chain: [&'a str; 3],
    /// Its pay-as-you-go order's activation deadline.
    pub activate_by: Option<Timestamp>,
    /// Its phase at the time asked about.
    pub phase: Phase,
}

impl<'a> Own<'a> {
    /// What `license` says of itself at `now`.
    pub fn of(license: &'a License, now: Timestamp) -> Own<'a> {
        Own {
            chain: [&license.product, &license.account, &license.region],
            activate_by: license.activate_by,
            phase: license.phase_at(now),
        }
    }
}

/// The status of a license neither revoked nor superseded: a lapsed order,
/// or else its phase.
pub(super) fn own_status(conn: db::Q<'_>, own: Own<'_>, now: Timestamp) -> db::Result<EntryStatus> {
    if let Some(by) = own.activate_by
        && now > by
        && !chain_activated(conn, own.chain, by)?
    {
        return Ok(EntryStatus::Lapsed);
    }
    Ok(EntryStatus::of_phase(&own.phase))
}

/// Whether a receipt shows the pay-as-you-go order of `license` (its
/// licenses share its deadline) activated by `deadline`.
pub(crate) fn order_activated(conn: db::Q<'_>, license: &License, deadline: Timestamp) -> db::Result<bool> {
    chain_activated(conn, [&license.product, &license.account, &license.region], deadline)
}

/// [`order_activated`] for the order of chain `[product, account, region]`
/// whose deadline is `deadline`.
fn chain_activated(conn: db::Q<'_>, [product, account, region]: [&str; 3], deadline: Timestamp) -> db::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM receipts r JOIN licenses l ON l.id = r.license_id
         WHERE l.product = ?1 AND l.account = ?2 AND l.region = ?3 AND l.activate_by = ?4 AND r.activated_at <= ?4)",
        params![product, account, region, deadline.to_string()],
        |r| r.get(0),
    )
}

/// The `SELECT` of everything a [`LedgerEntry`] shows.
fn entry_select(filter: &str) -> String {
    let columns: Vec<String> = DERIVED.iter().map(|c| format!("CAST({c} AS TEXT)")).collect();
    format!("SELECT {}, max_installs, requested_by, token FROM licenses {filter}", columns.join(", "))
}

/// A row of [`entry_select`].
fn entry_of(r: &db::Row<'_>) -> db::Result<(LedgerEntry, String)> {
    let text = |i: usize| r.get::<Option<String>>(i).map(Option::unwrap_or_default);
    let packages: BTreeMap<String, String> = serde_json::from_str(&text(16)?).unwrap_or_default();
    Ok((
        LedgerEntry {
            id: text(0)?,
            account: text(1)?,
            licensee: text(13)?,
            product: text(2)?,
            region: text(3)?,
            edition: text(4)?,
            plan: text(5)?,
            sequence: text(6)?.parse().unwrap_or(0),
            issued_at: text(7)?,
            not_before: text(8)?,
            expires_at: r.get(9)?,
            supersedes: r.get(11)?,
            install: r.get(12)?,
            packages,
            max_installs: r.get::<Option<i64>>(DERIVED.len())?.and_then(|m| u32::try_from(m).ok()),
            requested_by: r.get(DERIVED.len() + 1)?,
            kid: text(18)?,
            status: EntryStatus::Active,
        },
        r.get(DERIVED.len() + 2)?,
    ))
}

impl Ledger {
    /// The entries `filter` selects, each with its token, their statuses
    /// not worked out yet.
    pub(super) fn entry_rows(
        &self,
        filter: &str,
        args: &[db::Arg<'_>],
    ) -> Result<Vec<(LedgerEntry, String)>, IssuerError> {
        let mut stmt = self.conn().prepare(&entry_select(filter)).map_err(self.err())?;
        stmt.query_map(args, entry_of).map_err(self.err())?.collect::<Result<_, _>>().map_err(self.err())
    }

    /// `entry`, with its status at `now` worked out from its `token`.
    pub(super) fn with_status(
        &self,
        mut entry: LedgerEntry,
        token: &str,
        now: Timestamp,
    ) -> Result<LedgerEntry, IssuerError> {
        let license = decode_unverified(token)?;
        entry.status = status_of(self.conn(), &entry.id, &entry.kid, &license, now).map_err(self.err())?;
        Ok(entry)
    }

    /// The entries `filter` selects, each with its status at `now`.
    pub(super) fn entries(
        &self,
        filter: &str,
        args: &[db::Arg<'_>],
        now: Timestamp,
    ) -> Result<Vec<LedgerEntry>, IssuerError> {
        self.entry_rows(filter, args)?.into_iter().map(|(entry, token)| self.with_status(entry, &token, now)).collect()
    }

    /// License `id` exactly as it was signed, from its stored token (a lost
    /// license printed again).
    pub fn issued(&self, id: &str) -> Result<crate::Issued, IssuerError> {
        let token: String = self
            .conn()
            .query_row("SELECT token FROM licenses WHERE id = ?1", params![id], |r| r.get(0))
            .optional()
            .map_err(self.err())?
            .ok_or_else(|| IssuerError::NotInLedger { id: id.to_owned() })?;
        let license = decode_unverified(&token)?;
        Ok(crate::Issued { id: license.id.clone(), token, license })
    }

    /// What distrusting key `kid` did, as [`Ledger::distrust_key`] answered
    /// it: the licenses it signed again (those that replaced a license of
    /// that key at the moment of the distrust). For a replayed call.
    pub fn distrusted(&self, kid: license_common::keys::KeyId) -> Result<super::Distrusted, IssuerError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT n.id FROM licenses n
                 JOIN licenses o ON n.supersedes = o.id
                 JOIN keys k ON k.kid = o.kid
                 WHERE o.kid = ?1 AND n.issued_at = k.distrusted_at
                 ORDER BY o.issued_at, o.id",
            )
            .map_err(self.err())?;
        let ids: Vec<String> = stmt
            .query_map(params![kid.to_string()], |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        drop(stmt);
        let resigned = ids.iter().map(|id| self.issued(id)).collect::<Result<_, _>>()?;
        Ok(super::Distrusted { format: 1, kid, resigned })
    }

    /// The whole chain of a license.
    pub fn show(&self, id: &str, now: Timestamp) -> Result<Chain, IssuerError> {
        let start = self
            .entries("WHERE id = ?1", &params![id], now)?
            .into_iter()
            .next()
            .ok_or_else(|| IssuerError::NotInLedger { id: id.to_owned() })?;
        let chain_args = params![start.product, start.account, start.region];
        let licenses = self.entries(
            "WHERE product = ?1 AND account = ?2 AND region = ?3 ORDER BY sequence, issued_at",
            &chain_args,
            now,
        )?;
        let triples = |sql: &str| -> Result<Vec<(String, String, String)>, IssuerError> {
            let mut stmt = self.conn().prepare(sql).map_err(self.err())?;
            let rows = stmt
                .query_map(&chain_args[..], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(self.err())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.err())?;
            Ok(rows)
        };
        let receipts = triples(
            "SELECT r.license_id, r.install_id, r.activated_at FROM receipts r JOIN licenses l ON l.id = r.license_id
             WHERE l.product = ?1 AND l.account = ?2 AND l.region = ?3 ORDER BY r.activated_at, r.imported_at",
        )?;
        let deactivations = triples(
            "SELECT d.license_id, d.install_id, d.deactivated_at FROM deactivations d JOIN licenses l ON l.id = d.license_id
             WHERE l.product = ?1 AND l.account = ?2 AND l.region = ?3 ORDER BY d.deactivated_at, d.imported_at",
        )?;
        let revocation = self
            .conn()
            .query_row("SELECT reason, revoked_at FROM revocations WHERE license_id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.err())?;
        let floor: Option<i64> = self
            .conn()
            .query_row(
                "SELECT MAX(sequence) FROM revocations WHERE product = ?1 AND account = ?2 AND region = ?3",
                &chain_args[..],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        Ok(Chain {
            format: 1,
            id: id.to_owned(),
            licenses,
            receipts,
            deactivations,
            revocation,
            floor: floor.and_then(|f| u64::try_from(f).ok()),
        })
    }

    /// Pay-as-you-go orders and their activation windows: the first license
    /// of each order (one whose deadline its predecessor does not share).
    pub fn lapsed(&self, now: Timestamp) -> Result<Vec<Lapsed>, IssuerError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT l.id, l.account, l.activate_by, l.token FROM licenses l WHERE l.activate_by IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM licenses p WHERE p.id = l.supersedes AND p.activate_by = l.activate_by)
                 ORDER BY l.activate_by, l.id",
            )
            .map_err(self.err())?;
        let rows: Vec<(String, String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (license_id, account, activate_by, token) in rows {
            let license = decode_unverified(&token)?;
            let deadline = Timestamp::parse_wire(&activate_by)
                .map_err(|e| IssuerError::Ledger { path: self.path().to_path_buf(), detail: e.to_string() })?;
            let state = if order_activated(self.conn(), &license, deadline).map_err(self.err())? {
                OrderState::Activated
            } else if now > deadline {
                OrderState::Lapsed
            } else {
                OrderState::Pending
            };
            out.push(Lapsed { license_id, account, activate_by, state });
        }
        Ok(out)
    }

    /// The pay-as-you-go orders that lapsed by `now`: not activated within
    /// their window, so their accounts are back to community.
    pub fn lapsed_orders(&self, now: Timestamp) -> Result<Vec<Lapsed>, IssuerError> {
        Ok(self.lapsed(now)?.into_iter().filter(|l| l.state == OrderState::Lapsed).collect())
    }

    /// The installs running license `id`, as far as the ledger knows: every
    /// install that sent a receipt or a usage report for it, less those
    /// whose last word was a deactivation receipt.
    pub fn installs_of(&self, id: &str) -> Result<Vec<String>, IssuerError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT install_id, MAX(at) FROM (
                    SELECT install_id, activated_at AS at FROM receipts WHERE license_id = ?1
                    UNION ALL SELECT install_id, created_at FROM usage_reports WHERE license_id = ?1) AS seen
                 GROUP BY install_id ORDER BY install_id",
            )
            .map_err(self.err())?;
        let seen: Vec<(String, String)> = stmt
            .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (install, last) in seen {
            let released: bool = self
                .conn()
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM deactivations WHERE license_id = ?1 AND install_id = ?2 AND deactivated_at >= ?3)",
                    params![id, install, last],
                    |r| r.get(0),
                )
                .map_err(self.err())?;
            if !released {
                out.push(install);
            }
        }
        Ok(out)
    }

    /// Every license that more installs run than it allows.
    pub fn overuse(&self, now: Timestamp) -> Result<Vec<Overuse>, IssuerError> {
        let mut out = Vec::new();
        for entry in self.entries("WHERE max_installs IS NOT NULL ORDER BY issued_at, id", &[][..], now)? {
            let Some(max_installs) = entry.max_installs else { continue };
            let installs = self.installs_of(&entry.id)?;
            if installs.len() > max_installs as usize {
                out.push(Overuse {
                    license_id: entry.id,
                    account: entry.account,
                    product: entry.product,
                    region: entry.region,
                    status: entry.status,
                    max_installs,
                    installs,
                });
            }
        }
        Ok(out)
    }
}

/// Decodes a stored license's payload without verifying it (for listing;
/// `verify` checks the signatures).
pub(crate) fn decode_unverified(token: &str) -> Result<License, IssuerError> {
    use base64::Engine as _;
    let payload = token.split('.').nth(2).unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| IssuerError::invalid(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| IssuerError::invalid(e.to_string()))
}

impl Ledger {
    /// Everything on record, for accounting (`ledger export --json`, format 1).
    pub fn export(&self, now: Timestamp) -> Result<serde_json::Value, IssuerError> {
        let rows = |sql: &str, cols: &[&str]| -> Result<Vec<serde_json::Value>, IssuerError> {
            let mut stmt = self.conn().prepare(sql).map_err(self.err())?;
            let n = cols.len();
            let out = stmt
                .query_map([], |r| {
                    let mut obj = serde_json::Map::new();
                    for (i, col) in cols.iter().enumerate().take(n) {
                        let json = match r.value(i)? {
                            db::Value::Null | db::Value::Blob(_) => serde_json::Value::Null,
                            db::Value::Integer(v) => v.into(),
                            db::Value::Real(v) => v.into(),
                            db::Value::Text(v) => v.into(),
                        };
                        obj.insert((*col).to_owned(), json);
                    }
                    Ok(serde_json::Value::Object(obj))
                })
                .map_err(self.err())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.err())?;
            Ok(out)
        };
        Ok(serde_json::json!({
            "format": 1,
            "exported_at": now,
            "licenses": self.list(&super::Filter::default(), now)?.licenses,
            "orders": self.lapsed(now)?,
            "receipts": rows("SELECT license_id, install_id, activated_at, imported_at FROM receipts ORDER BY imported_at",
                &["license_id", "install_id", "activated_at", "imported_at"])?,
            "usage": rows("SELECT account, day, install_id, datakits FROM usage_days ORDER BY account, day, install_id",
                &["account", "day", "install_id", "datakits"])?,
            "revocations": rows("SELECT license_id, reason, revoked_at, product, account, region, sequence FROM revocations ORDER BY revoked_at",
                &["license_id", "reason", "revoked_at", "product", "account", "region", "floor"])?,
            "deactivations": rows("SELECT license_id, install_id, deactivated_at, imported_at FROM deactivations ORDER BY imported_at",
                &["license_id", "install_id", "deactivated_at", "imported_at"])?,
            "keys": rows("SELECT kid, first_used_at, retired_at, distrusted_at FROM keys ORDER BY first_used_at", &["kid", "first_used_at", "retired_at", "distrusted_at"])?,
        }))
    }
}
