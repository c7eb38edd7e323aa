//! `ledger list` and `GET /v1/licenses`: which licenses a filter selects,
//! and one page of them.
//!
//! A filter on the account, product, region or expiry is SQL: the ledger
//! counts and pages there, so a page costs what it holds. A filter on the
//! status or the licensee asks about every selected row. The listing then
//! reads only what deciding needs, in one statement: each row's id and
//! licensee, and for a status its standing ([`REVOKED`], [`SUPERSEDED`])
//! and its term from the derived columns (start, expiry, activation
//! deadline; columns made for queries, which `ledger verify` holds to the
//! token); a token is read from the store, and decoded, only for a license
//! that expired, whose grace period only the token holds, or whose columns
//! do not parse. It decides
//! in Rust, where names fold alike in either store, and reads whole entries
//! for the page alone.

use std::collections::HashMap;

use license_common::license::Phase;
use license_common::time::Timestamp;
use serde::Serialize;

use super::Ledger;
use super::db;
use super::query::{EntryStatus, LedgerEntry, Own, REVOKED, SUPERSEDED, decode_unverified, own_status, standing_of};
use crate::error::IssuerError;

/// Which licenses `ledger list` shows, and which page of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this account (exactly).
    pub account: Option<String>,
    /// Only licensees whose name contains this, ignoring case (Unicode's
    /// lower case, the same in either store).
    pub licensee: Option<String>,
    /// Only this product.
    pub product: Option<String>,
    /// Only this region.
    pub region: Option<String>,
    /// Only licenses with this status.
    pub status: Option<EntryStatus>,
    /// Only active licenses that expire within this many days.
    pub expiring_within_days: Option<u32>,
    /// Skip this many matching licenses (oldest first).
    pub offset: usize,
    /// At most this many.
    pub limit: Option<usize>,
}

/// A page of licenses (`ledger list --json`, format 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// Version of this JSON shape.
    pub format: u32,
    /// How many licenses match the filter, on every page.
    pub total: usize,
    /// Where this page starts among them.
    pub offset: usize,
    /// This page, oldest first.
    pub licenses: Vec<LedgerEntry>,
}

impl Ledger {
    /// The licenses `filter` selects, oldest first, one page of them.
    pub fn list(&self, filter: &Filter, now: Timestamp) -> Result<Listing, IssuerError> {
        let mut clauses = vec!["1 = 1".to_owned()];
        let text = |v: &str| db::Arg::Text(v.to_owned().into());
        let mut args: Vec<db::Arg<'_>> = Vec::new();
        let mut arg = |clause: &str, value: db::Arg<'static>, clauses: &mut Vec<String>| {
            args.push(value);
            clauses.push(clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(a) = &filter.account {
            arg("account = ?", text(a), &mut clauses);
        }
        if let Some(p) = &filter.product {
            arg("product = ?", text(p), &mut clauses);
        }
        if let Some(r) = &filter.region {
            arg("region = ?", text(r), &mut clauses);
        }
        if let Some(days) = filter.expiring_within_days {
            // Times are stored as RFC 3339 text and compared as text: a bound
            // past the year 9999 (`+10000-…`) would sort before every one of
            // them, so it stops at the last time text can hold.
            let last = Timestamp::parse("9999-12-31T23:59:59Z").expect("a valid time");
            let bound = now.plus_days(days).min(last);
            arg("expires_at IS NOT NULL AND expires_at <= ?", text(&bound.to_string()), &mut clauses);
        }
        let status = filter.status.or(filter.expiring_within_days.map(|_| EntryStatus::Active));
        let needle = filter.licensee.as_deref().map(str::to_lowercase);
        let selected = clauses.join(" AND ");
        if status.is_none() && needle.is_none() {
            // Everything is selected in SQL: count there and read one page,
            // so a page costs what it holds, not what the ledger holds.
            let total: i64 = self
                .conn()
                .query_row(&format!("SELECT COUNT(*) FROM licenses WHERE {selected}"), &args[..], |r| r.get(0))
                .map_err(self.err())?;
            let limit = filter.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
            let n = args.len();
            args.push(db::Arg::Int(limit));
            args.push(db::Arg::Int(offset));
            let sql = format!("WHERE {selected} ORDER BY issued_at, sequence, id LIMIT ?{} OFFSET ?{}", n + 1, n + 2);
            let licenses = self.entries(&sql, &args, now)?;
            return Ok(Listing {
                format: 1,
                total: usize::try_from(total).unwrap_or(0),
                offset: filter.offset,
                licenses,
            });
        }
        // A status or a licensee asks about every selected row: each is
        // decided on the few columns it needs, and only the page's entries
        // are read whole.
        let chosen = self.choose(&selected, &args, status, needle.as_deref(), now)?;
        let total = chosen.len();
        let page = chosen.into_iter().skip(filter.offset).take(filter.limit.unwrap_or(usize::MAX)).collect();
        let licenses = self.page_of(page, now)?;
        Ok(Listing { format: 1, total, offset: filter.offset, licenses })
    }
}

/// What a status filter knows of a row once it is read.
enum Standing {
    /// Revoked or superseded.
    Decided(EntryStatus),
    /// Neither, and not expired: its chain (where a receipt of its order
    /// is), its order's deadline and its phase.
    Term { chain: [String; 3], activate_by: Option<Timestamp>, phase: Phase },
    /// Neither, and its token decides (`None`: not read with the row).
    Token(Option<String>),
}

/// A time column as the ledger writes it (`None` for SQL NULL); `Err` when
/// it does not parse.
fn parse_time(text: Option<String>) -> Result<Option<Timestamp>, ()> {
    text.map(|t| Timestamp::parse(&t).map_err(drop)).transpose()
}

/// A license a filter chose, in listing order, with its status when the
/// filter had to work it out.
type Chosen = (String, Option<EntryStatus>);

/// Ids per `IN (…)` when a page is read back: well inside SQLite's and
/// PostgreSQL's limits on parameters.
const IDS_PER_READ: usize = 500;

impl Ledger {
    /// The licenses `selected` (SQL over `licenses`, with `args`) picks
    /// whose licensee contains `needle` (already in lower case) and whose
    /// status is `status`, oldest first. The licensee is matched here, not
    /// in SQL: SQLite's `lower()` folds ASCII only and PostgreSQL's follows
    /// the database's locale, so "ärzte" would find "Ärzte GmbH" in one
    /// store and not the other.
    fn choose(
        &self,
        selected: &str,
        args: &[db::Arg<'_>],
        status: Option<EntryStatus>,
        needle: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<Chosen>, IssuerError> {
        // A token crosses from the store only for a license whose expiry
        // has passed, as text compares (times are written alike); one the
        // columns cannot judge is read alone, below.
        let mut args = args.to_vec();
        let standing = if status.is_some() {
            args.push(db::Arg::Text(now.to_string().into()));
            format!(
                ", {REVOKED}, {SUPERSEDED}, l.not_before, l.expires_at, l.activate_by, l.product, l.account, l.region, \
                 CASE WHEN l.expires_at IS NULL OR l.expires_at > ?{} THEN NULL ELSE l.token END",
                args.len()
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT l.id, l.licensee{standing} FROM licenses l WHERE {selected} ORDER BY l.issued_at, l.sequence, l.id"
        );
        let mut stmt = self.conn().prepare(&sql).map_err(self.err())?;
        let candidates: Vec<(String, Option<Standing>)> = stmt
            .query_map(&args[..], |r| {
                let (id, licensee): (String, String) = (r.get(0)?, r.get(1)?);
                if needle.is_some_and(|n| !licensee.to_lowercase().contains(n)) {
                    return Ok(None);
                }
                if status.is_none() {
                    return Ok(Some((id, None)));
                }
                if let Some(is) = standing_of(r.get(2)?, r.get(3)?) {
                    return Ok(Some((id, Some(Standing::Decided(is)))));
                }
                // The derived columns hold the license's term; its token
                // is read only for what they cannot say: the grace period
                // of one that expired, or a time that does not parse.
                let (not_before, expires_at, activate_by) = (r.get(4)?, r.get(5)?, r.get(6)?);
                let standing = match (parse_time(Some(not_before)), parse_time(expires_at), parse_time(activate_by)) {
                    (Ok(Some(not_before)), Ok(expires_at), Ok(activate_by))
                        if now < not_before || expires_at.is_none_or(|e| now < e) =>
                    {
                        Standing::Term {
                            chain: [r.get(7)?, r.get(8)?, r.get(9)?],
                            activate_by,
                            // Not expired: the grace period does not count.
                            phase: Phase::at(not_before, expires_at, 0, now),
                        }
                    }
                    _ => Standing::Token(r.get(10)?),
                };
                Ok(Some((id, Some(standing))))
            })
            .map_err(self.err())?
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        drop(stmt);
        let mut chosen = Vec::with_capacity(candidates.len());
        for (id, standing) in candidates {
            let is = match standing {
                None => {
                    chosen.push((id, None));
                    continue;
                }
                Some(Standing::Decided(is)) => is,
                Some(Standing::Term { chain: [product, account, region], activate_by, phase }) => {
                    let own = Own { chain: [&product, &account, &region], activate_by, phase };
                    own_status(self.conn(), own, now).map_err(self.err())?
                }
                Some(Standing::Token(token)) => {
                    let token = match token {
                        Some(token) => token,
                        None => self
                            .conn()
                            .query_row("SELECT token FROM licenses WHERE id = ?1", db::params![id], |r| r.get(0))
                            .map_err(self.err())?,
                    };
                    let license = decode_unverified(&token)?;
                    own_status(self.conn(), Own::of(&license, now), now).map_err(self.err())?
                }
            };
            if status == Some(is) {
                chosen.push((id, Some(is)));
            }
        }
        Ok(chosen)
    }

    /// The entries of `page`, in its order: read whole by id, with the
    /// status the filter worked out, or worked out now.
    fn page_of(&self, page: Vec<Chosen>, now: Timestamp) -> Result<Vec<LedgerEntry>, IssuerError> {
        let mut read = HashMap::with_capacity(page.len());
        for part in page.chunks(IDS_PER_READ) {
            let marks: Vec<String> = (1..=part.len()).map(|i| format!("?{i}")).collect();
            let args: Vec<db::Arg<'_>> = part.iter().map(|(id, _)| db::Arg::Text(id.as_str().into())).collect();
            for (entry, token) in self.entry_rows(&format!("WHERE id IN ({})", marks.join(", ")), &args)? {
                read.insert(entry.id.clone(), (entry, token));
            }
        }
        // Licenses are never deleted: every chosen id is read back.
        let mut out = Vec::with_capacity(page.len());
        for (id, status) in page {
            let Some((mut entry, token)) = read.remove(&id) else { continue };
            match status {
                Some(status) => entry.status = status,
                None => entry = self.with_status(entry, &token, now)?,
            }
            out.push(entry);
        }
        Ok(out)
    }
}
