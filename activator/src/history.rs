//! What was activated when, and which license replaced which.

use std::fmt;

use license_common::text::escape;
use license_common::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The most entries kept; the oldest are dropped first.
pub const MAX_HISTORY: usize = 1000;

/// One activation. `activator history --json` prints a list of these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// When it was activated on this install.
    pub at: Timestamp,
    /// The license id.
    pub license: String,
    /// Its account.
    pub account: String,
    /// Its edition.
    pub edition: String,
    /// Its sequence number.
    pub sequence: u64,
    /// Its expiry (`null` for perpetual).
    pub expires_at: Option<Timestamp>,
    /// The license it replaced on this install, if any.
    pub replaced: Option<String>,
    /// True when it replaced a license of another account (`--replace`).
    pub account_change: bool,
    /// What happened: `activated` or `deactivated`.
    #[serde(default)]
    pub event: HistoryEvent,
}

/// What a history entry records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryEvent {
    /// The license was activated.
    #[default]
    Activated,
    /// The license was released from this install (`activator deactivate`).
    Deactivated,
}

/// Formats a history as a table, oldest first.
pub struct HistoryTable<'a>(pub &'a [HistoryEntry]);

impl fmt::Display for HistoryTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return writeln!(f, "no license has been activated on this install");
        }
        writeln!(f, "{:<22}{:<38}{:>4}  {:<18}{:<18}replaced", "activated at", "license", "seq", "account", "edition")?;
        for e in self.0 {
            let replaced = match (&e.replaced, e.account_change) {
                _ if e.event == HistoryEvent::Deactivated => "(deactivated: released from this install)".into(),
                (Some(r), true) => format!("{} (account change)", escape(r)),
                (Some(r), false) => escape(r).into_owned(),
                (None, _) => "-".into(),
            };
            writeln!(
                f,
                "{:<22}{:<38}{:>4}  {:<18}{:<18}{replaced}",
                e.at.to_string(),
                escape(&e.license),
                e.sequence,
                escape(&e.account),
                escape(&e.edition)
            )?;
        }
        Ok(())
    }
}
