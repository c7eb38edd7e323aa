//! Each install's chain of files, and the forks and gaps in it; the
//! vendor's time attestations.
//!
//! Every receipt, usage report and deactivation receipt an install makes
//! carries its counter of such files and the SHA-256 of the one before
//! (FORMAT.md §8). The ledger keeps every link it imports and flags:
//!
//! * a **fork**: a second file with a counter already on record, or a file
//!   whose previous hash is not the file on record before it — what an
//!   install restored from a backup (or copied) makes as soon as it sends
//!   anything;
//! * a **gap**: a counter more than one above the install's highest on
//!   record — files made but never imported (or withheld).
//!
//! A flagged file is still recorded (both files are evidence); the flag
//! names the license, the install and the two files. Files of release 1
//! carry no counter and are not chained.

use super::db::{OptionalExtension, params};
use license_common::envelope::{self, Kind};
use license_common::exchange::{ActivationRequest, TimeAttestation, open_self_signed};
use license_common::time::Timestamp;
use serde::Serialize;

use super::{Ledger, LedgerSigner, Recorder};
use crate::error::IssuerError;

/// What is wrong with a link of an install's chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainProblem {
    /// Two files claim one place in the chain: a restored or copied install.
    Fork,
    /// Files are missing between two on record.
    Gap,
}

impl ChainProblem {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChainProblem::Fork => "fork",
            ChainProblem::Gap => "gap",
        }
    }
}

/// A fork or gap in an install's chain (`ledger forks --json`, one per element).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainFlag {
    /// `fork` or `gap`.
    pub problem: ChainProblem,
    /// The install.
    pub install_id: String,
    /// The license the flagged file names.
    pub license_id: String,
    /// The flagged file's counter.
    pub counter: u64,
    /// The file on record it conflicts with (fork), or the last file before the gap.
    pub first: Option<String>,
    /// The flagged file (SHA-256 of its token).
    pub second: String,
    /// What happened, in words.
    pub detail: String,
    /// When it was imported.
    pub flagged_at: String,
}

impl std::fmt::Display for ChainFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} in the chain of install {} (license {}): {}",
            self.problem.as_str(),
            self.install_id,
            self.license_id,
            self.detail
        )
    }
}

/// A link to record: one file of an install.
pub(crate) struct Link<'a> {
    pub kind: Kind,
    pub install_id: &'a str,
    pub license_id: &'a str,
    pub counter: Option<u64>,
    pub prev: Option<&'a str>,
    pub sha256: &'a str,
}

impl Recorder<'_> {
    /// Records `link` in its install's chain and returns the flag it raises,
    /// if any (recorded too). Nothing is recorded for a file without a counter.
    pub(crate) fn chain_link(&self, link: &Link<'_>, now: Timestamp) -> Result<Option<ChainFlag>, IssuerError> {
        let Some(counter) = link.counter else { return Ok(None) };
        let tx = self.tx();
        let err = self.err();
        let c = i64::try_from(counter).unwrap_or(i64::MAX);
        let known: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM install_chain WHERE install_id = ?1 AND token_sha256 = ?2)",
                params![link.install_id, link.sha256],
                |r| r.get(0),
            )
            .map_err(&err)?;
        if known {
            return Ok(None); // the same file again
        }
        let same_place: Option<String> = tx
            .query_row(
                "SELECT token_sha256 FROM install_chain WHERE install_id = ?1 AND counter = ?2 LIMIT 1",
                params![link.install_id, c],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let before: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT token_sha256 FROM install_chain WHERE install_id = ?1 AND counter = ?2")
                .map_err(&err)?;
            stmt.query_map(params![link.install_id, c - 1], |r| r.get(0))
                .map_err(&err)?
                .collect::<Result<_, _>>()
                .map_err(&err)?
        };
        let highest: Option<i64> = tx
            .query_row("SELECT MAX(counter) FROM install_chain WHERE install_id = ?1", params![link.install_id], |r| {
                r.get(0)
            })
            .map_err(&err)?;
        let flag = if let Some(first) = same_place {
            Some((
                ChainProblem::Fork,
                Some(first),
                format!(
                    "its {} is file {counter} of the install, and another file {counter} is already on record: the install was restored from a backup or copied",
                    link.kind
                ),
            ))
        } else if !before.is_empty() && !link.prev.is_some_and(|p| before.iter().any(|b| b == p)) {
            Some((
                ChainProblem::Fork,
                before.first().cloned(),
                format!(
                    "its {} (file {counter}) does not follow file {} on record: the install was restored from a backup or copied",
                    link.kind,
                    counter - 1
                ),
            ))
        } else if let Some(h) = highest
            && c > h + 1
        {
            let last: Option<String> = tx
                .query_row(
                    "SELECT token_sha256 FROM install_chain WHERE install_id = ?1 AND counter = ?2 LIMIT 1",
                    params![link.install_id, h],
                    |r| r.get(0),
                )
                .optional()
                .map_err(&err)?;
            Some((
                ChainProblem::Gap,
                last,
                format!(
                    "its {} is file {counter}, but the last file on record is {h}: files between were not imported",
                    link.kind
                ),
            ))
        } else {
            None
        };
        tx.execute(
            "INSERT INTO install_chain (install_id, counter, token_sha256, prev, kind, license_id, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![link.install_id, c, link.sha256, link.prev, link.kind.name(), link.license_id, now.to_string()],
        )
        .map_err(&err)?;
        let Some((problem, first, detail)) = flag else { return Ok(None) };
        tx.execute(
            "INSERT INTO chain_flags (problem, install_id, license_id, counter, first_sha256, second_sha256, detail, flagged_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![problem.as_str(), link.install_id, link.license_id, c, first, link.sha256, detail, now.to_string()],
        )
        .map_err(&err)?;
        Ok(Some(ChainFlag {
            problem,
            install_id: link.install_id.to_owned(),
            license_id: link.license_id.to_owned(),
            counter,
            first,
            second: link.sha256.to_owned(),
            detail,
            flagged_at: now.to_string(),
        }))
    }
}

/// A time attestation just made (`issuer attest-time --json`, format 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attestation {
    /// Version of this JSON shape.
    pub format: u32,
    /// The install it is for.
    pub install_id: String,
    /// The product.
    pub product: String,
    /// The time attested.
    pub time: Timestamp,
    /// The compact token (`att1.…`).
    pub token: String,
}

impl Ledger {
    /// Every fork and gap flagged so far, oldest first.
    pub fn forks(&self) -> Result<Vec<ChainFlag>, IssuerError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT problem, install_id, license_id, counter, first_sha256, second_sha256, detail, flagged_at
                 FROM chain_flags ORDER BY rowid",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                let problem: String = r.get(0)?;
                Ok(ChainFlag {
                    problem: if problem == "gap" { ChainProblem::Gap } else { ChainProblem::Fork },
                    install_id: r.get(1)?,
                    license_id: r.get(2)?,
                    counter: u64::try_from(r.get::<i64>(3)?).unwrap_or(0),
                    first: r.get(4)?,
                    second: r.get(5)?,
                    detail: r.get(6)?,
                    flagged_at: r.get(7)?,
                })
            })
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Signs the vendor's time, `now`, for the install that made the
    /// activation request `request_text`, and records it: the install
    /// imports it to bring back a clock mark a wrong clock pushed forward.
    pub fn attest_time<S>(&mut self, key: &S, request_text: &str, now: Timestamp) -> Result<Attestation, IssuerError>
    where
        S: LedgerSigner + ?Sized,
        IssuerError: From<S::Error>,
    {
        let token = license_common::armor::read(request_text, Kind::ActivationRequest)?;
        let request = open_self_signed::<ActivationRequest>(&token, Kind::ActivationRequest)?.content;
        self.transaction(|rec| {
            super::signing::check_signer(rec, key.kid(), now)?;
            rec.key(&key.public_key(), now)?;
            let attestation = TimeAttestation {
                format: license_common::exchange::ATTESTATION_FORMAT,
                request: Some(license_common::exchange::chain_hash(&token)),
                install_id: request.install_id.clone(),
                product: request.product.clone(),
                time: now,
            };
            let token =
                envelope::seal(Kind::TimeAttestation, key, &serde_json::to_vec(&attestation).expect("serialises"))?;
            rec.tx()
                .execute(
                    "INSERT INTO attestations (install_id, time, kid, token) VALUES (?1, ?2, ?3, ?4)",
                    params![request.install_id, now.to_string(), key.kid().to_string(), token],
                )
                .map_err(rec.err())?;
            Ok(Attestation {
                format: 1,
                install_id: request.install_id.clone(),
                product: request.product.clone(),
                time: now,
                token,
            })
        })
    }
}
