//! What an install remembers of every chain it has met, for good.
//!
//! A chain is the licenses of one product, account and region. Per chain
//! the install keeps the highest sequence it has ever seen — activated,
//! replaced, revoked or released — and the revocation floor of every list
//! it imported. A license at or below either is never admitted again,
//! whether or not a license is in force: neither a revocation nor a
//! deactivation lets an older license of the chain come back. The history
//! may be compacted; these floors are not.

use license_common::license::License;
use license_common::revocation::RevocationList;
use serde::{Deserialize, Serialize};

/// One chain's floors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainFloor {
    /// The product.
    pub product: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The highest sequence this install has seen in the chain.
    pub seen: u64,
    /// The license that had it.
    pub seen_license: String,
    /// The highest sequence a revocation list voided, with its reason.
    #[serde(default)]
    pub revoked: Option<(u64, String)>,
}

impl ChainFloor {
    fn is(&self, product: &str, account: &str, region: &str) -> bool {
        self.product == product && self.account == account && self.region == region
    }
}

/// Why the floors refuse a license.
pub(crate) enum Refusal<'a> {
    /// Its sequence is not above the highest one seen.
    Seen(&'a ChainFloor),
    /// A revocation list voided its chain up to its sequence.
    Revoked(u64, &'a str),
}

/// The floor of `license`'s chain that refuses it, if any.
pub(crate) fn refuses<'a>(chains: &'a [ChainFloor], license: &License) -> Option<Refusal<'a>> {
    let chain = chains.iter().find(|c| c.is(&license.product, &license.account, &license.region))?;
    if let Some((floor, reason)) = &chain.revoked
        && license.sequence <= *floor
    {
        return Some(Refusal::Revoked(*floor, reason));
    }
    (license.sequence <= chain.seen && chain.seen_license != license.id).then_some(Refusal::Seen(chain))
}

fn entry<'a>(chains: &'a mut Vec<ChainFloor>, product: &str, account: &str, region: &str) -> &'a mut ChainFloor {
    let at = match chains.iter().position(|c| c.is(product, account, region)) {
        Some(at) => at,
        None => {
            chains.push(ChainFloor {
                product: product.to_owned(),
                account: account.to_owned(),
                region: region.to_owned(),
                seen: 0,
                seen_license: String::new(),
                revoked: None,
            });
            chains.len() - 1
        }
    };
    &mut chains[at]
}

/// Records that the install saw `license`.
pub(crate) fn saw(chains: &mut Vec<ChainFloor>, license: &License) {
    let chain = entry(chains, &license.product, &license.account, &license.region);
    if license.sequence > chain.seen {
        chain.seen = license.sequence;
        chain.seen_license = license.id.clone();
    }
}

/// Raises the floors to those of `list` (never lowers one).
pub(crate) fn import(chains: &mut Vec<ChainFloor>, list: &RevocationList) {
    for floor in &list.floors {
        let chain = entry(chains, &floor.product, &floor.account, &floor.region);
        if chain.revoked.as_ref().is_none_or(|(have, _)| floor.sequence > *have) {
            chain.revoked = Some((floor.sequence, floor.reason.clone()));
        }
    }
}
