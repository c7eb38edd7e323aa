//! Revocation lists: the vendor's signed word that licenses are revoked and
//! keys retired.
//!
//! A `rev1` envelope signed by a vendor key. Its `sequence` only grows: an
//! install refuses a list that is not newer than the one it has, so an old
//! list cannot be replayed to bring a revoked license back. A list carries
//! every revocation so far (not a delta), and may carry key-retirement
//! notices: licenses signed by a retired key after its `not_after` are
//! refused.

use serde::{Deserialize, Serialize};

use crate::keys::KeyId;
use crate::time::Timestamp;

/// The payload format version of revocation lists.
pub const REVOCATION_FORMAT: u32 = 1;

/// A signed revocation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// [`REVOCATION_FORMAT`].
    pub format: u32,
    /// Grows with each list the vendor exports.
    pub sequence: u64,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// Every revoked license.
    pub revoked: Vec<Revoked>,
    /// Keys retired from signing.
    pub retired_keys: Vec<RetiredKey>,
}

/// One revoked license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    /// The license id.
    pub license_id: String,
    /// Why, in words shown to the operator.
    pub reason: String,
    /// When it was revoked.
    pub revoked_at: Timestamp,
}

/// A key retirement notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredKey {
    /// The key.
    pub kid: KeyId,
    /// Licenses it signed after this time are refused.
    pub not_after: Timestamp,
    /// Why.
    pub reason: String,
}

impl RevocationList {
    /// The revocation of `license_id`, if any.
    pub fn find(&self, license_id: &str) -> Option<&Revoked> {
        self.revoked.iter().find(|r| r.license_id == license_id)
    }
}
