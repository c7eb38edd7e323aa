//! Which license may replace the one in force: the replay rules.
//!
//! * The same license again is not an error (nothing changes).
//! * A license that this install has already replaced never comes back.
//! * Otherwise the new license must be for the same account as the one in
//!   force (only the primary account upgrades or renews) and carry a higher
//!   `sequence`: an older license cannot undo an upgrade.
//! * A deliberate move to another account is allowed only when asked for
//!   (`--replace`), and the outcome says what was thrown away.
//! * A pay-as-you-go license must be activated by its `activate_by`, unless
//!   the license in force here is of the same order (same account, same
//!   deadline: an upgrade of an order already activated is not a new
//!   activation). A plan change to pay-as-you-go is a new order with a new
//!   window, as the vendor's ledger and bills count it: activated after that
//!   window, it is refused and the install stays on the license it has.

use license_common::license::License;
use license_common::text::escape;
use license_common::time::Timestamp;

use crate::error::ActivatorError;
use crate::history::{HistoryEntry, HistoryEvent};
use crate::snapshot::ActiveLicense;

/// The decision to let a license in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Admission {
    pub already_active: bool,
    pub replaced: Option<String>,
    pub account_change: bool,
    pub notes: Vec<String>,
}

pub(crate) fn admit(
    current: Option<&ActiveLicense>,
    history: &[HistoryEntry],
    new: &License,
    replace: bool,
    now: Timestamp,
) -> Result<Admission, ActivatorError> {
    let same_as_current = current.is_some_and(|c| c.license.id == new.id);
    if same_as_current {
        return Ok(Admission { already_active: true, replaced: None, account_change: false, notes: Vec::new() });
    }
    if let Some(entry) = history.iter().rev().find(|e| e.license == new.id && e.event == HistoryEvent::Activated) {
        let by = history.iter().find(|e| e.replaced.as_deref() == Some(&new.id)).map(|e| e.license.clone());
        let released_at =
            history.iter().find(|e| e.license == new.id && e.event == HistoryEvent::Deactivated).map(|e| e.at);
        return Err(ActivatorError::AlreadyReplaced { id: new.id.clone(), activated_at: entry.at, by, released_at });
    }
    let mut notes = Vec::new();
    let mut account_change = false;
    if let Some(current) = current {
        let old = &current.license;
        if old.account != new.account {
            if !replace {
                return Err(ActivatorError::OtherAccount {
                    id: new.id.clone(),
                    account: new.account.clone(),
                    current: old.id.clone(),
                    current_account: old.account.clone(),
                });
            }
            account_change = true;
            let expiry = old.expires_at.map_or_else(|| "never expires".to_owned(), |e| format!("expires {e}"));
            notes.push(format!(
                "thrown away: license {} of account {} ({} edition, {}, {expiry}); its rights end now and it cannot be activated again",
                escape(&old.id),
                escape(&old.account),
                escape(&old.edition),
                old.plan
            ));
        } else if new.sequence <= old.sequence {
            return Err(ActivatorError::Superseded {
                id: new.id.clone(),
                sequence: new.sequence,
                current: old.id.clone(),
                current_sequence: old.sequence,
            });
        }
    }
    if let Some(activate_by) = new.activate_by
        && now > activate_by
        && !current.is_some_and(|c| c.license.account == new.account && c.license.activate_by == Some(activate_by))
    {
        return Err(ActivatorError::ActivationWindowClosed { id: new.id.clone(), activate_by });
    }
    Ok(Admission { already_active: false, replaced: current.map(|c| c.license.id.clone()), account_change, notes })
}
