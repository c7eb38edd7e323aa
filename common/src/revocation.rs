//! Revocation lists: the vendor's signed word that licenses are revoked,
//! chains voided up to a sequence, and keys retired or distrusted.
//!
//! A `rev1` envelope signed by a vendor key. Its `sequence` only grows: an
//! install refuses a list that is not newer than the one it has, so an old
//! list cannot be replayed to bring a revoked license back. A list carries
//! every revocation so far (not a delta):
//!
//! * `revoked`: the licenses revoked, by id;
//! * `floors` (format 2): per revoked chain — one product, account and
//!   region — the sequence up to which every license of the chain is void,
//!   so that no older license of a revoked chain can come back either;
//! * `retired_keys`: keys retired from signing (rotation): what a key signed
//!   after its `not_after` is refused, what it signed before stays valid;
//! * `distrusted_keys` (format 2): keys that are no longer trusted at all
//!   (compromise): everything they ever signed is void, since a stolen key
//!   can write any date.
//!
//! Readers accept format 1 (without `floors` and `distrusted_keys`) and 2.

use serde::{Deserialize, Serialize};

use crate::keys::KeyId;
use crate::time::Timestamp;

/// The payload format version this build writes.
pub const REVOCATION_FORMAT: u32 = 2;
/// The payload format versions this build reads.
pub const REVOCATION_FORMATS_READ: [u32; 2] = [1, 2];

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
    /// Per revoked chain, the sequence up to which its licenses are void.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floors: Vec<Floor>,
    /// Keys whose every signature is void.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distrusted_keys: Vec<DistrustedKey>,
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

/// A chain voided up to a sequence: every license of this product, account
/// and region with a sequence at or below `sequence` is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    /// The product.
    pub product: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The highest sequence voided.
    pub sequence: u64,
    /// Why (the reason of the revocation that set it).
    pub reason: String,
    /// When it was set.
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

/// A key that is no longer trusted for anything it ever signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrustedKey {
    /// The key.
    pub kid: KeyId,
    /// When the vendor distrusted it.
    pub distrusted_at: Timestamp,
    /// Why.
    pub reason: String,
}

impl RevocationList {
    /// The revocation of `license_id`, if any.
    pub fn find(&self, license_id: &str) -> Option<&Revoked> {
        self.revoked.iter().find(|r| r.license_id == license_id)
    }

    /// The floor of the chain of `product`, `account` and `region`, if any.
    pub fn floor(&self, product: &str, account: &str, region: &str) -> Option<&Floor> {
        self.floors.iter().find(|f| f.product == product && f.account == account && f.region == region)
    }

    /// The distrust of key `kid`, if any.
    pub fn distrust(&self, kid: &KeyId) -> Option<&DistrustedKey> {
        self.distrusted_keys.iter().find(|d| &d.kid == kid)
    }

    /// Why this list voids `license`, signed by `kid`: its own revocation,
    /// its chain's floor, or its key's distrust — (reason, since when).
    pub fn voids(&self, license: &crate::license::License, kid: &KeyId) -> Option<(String, Timestamp)> {
        if let Some(r) = self.find(&license.id) {
            return Some((r.reason.clone(), r.revoked_at));
        }
        if let Some(f) = self.floor(&license.product, &license.account, &license.region)
            && license.sequence <= f.sequence
        {
            return Some((format!("its chain is revoked up to sequence {} ({})", f.sequence, f.reason), f.revoked_at));
        }
        self.distrust(kid)
            .map(|d| (format!("the key {kid} that signed it is distrusted ({})", d.reason), d.distrusted_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_1_list_reads_with_no_floors_and_no_distrust() {
        let v1 = r#"{"format":1,"sequence":2,"issued_at":"2026-01-01T00:00:00Z","revoked":[],"retired_keys":[]}"#;
        let list: RevocationList = serde_json::from_str(v1).unwrap();
        assert!(list.floors.is_empty() && list.distrusted_keys.is_empty());
        assert!(REVOCATION_FORMATS_READ.contains(&list.format));
    }

    #[test]
    fn a_floor_voids_its_chain_up_to_its_sequence_and_a_distrust_every_signature() {
        let mut license = crate::license::tests::sample();
        let kid = KeyId::from_bytes([7; 8]);
        let at = Timestamp::parse("2026-06-01").unwrap();
        let mut list = RevocationList {
            format: REVOCATION_FORMAT,
            sequence: 1,
            issued_at: at,
            revoked: Vec::new(),
            retired_keys: Vec::new(),
            floors: vec![Floor {
                product: license.product.clone(),
                account: license.account.clone(),
                region: license.region.clone(),
                sequence: 3,
                reason: "fraud".into(),
                revoked_at: at,
            }],
            distrusted_keys: Vec::new(),
        };
        for (sequence, void) in [(1, true), (3, true), (4, false)] {
            license.sequence = sequence;
            assert_eq!(list.voids(&license, &kid).is_some(), void, "sequence {sequence}");
        }
        license.region = "elsewhere".into();
        license.sequence = 1;
        assert!(list.voids(&license, &kid).is_none(), "another chain of the account");
        list.distrusted_keys.push(DistrustedKey { kid, distrusted_at: at, reason: "stolen".into() });
        assert!(list.voids(&license, &kid).unwrap().0.contains("stolen"));
        assert!(list.voids(&license, &KeyId::from_bytes([8; 8])).is_none());
    }
}
