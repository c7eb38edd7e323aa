//! Why a feature is not entitled now: the answers of
//! [`Activator::check`](crate::Activator::check) that say no.

use license_common::exit::{ExitClass, Explain};
use license_common::text::escape;
use license_common::time::Timestamp;

/// Why a feature is not entitled now. Exit status: not entitled.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Denied {
    /// No commercial license: the community edition.
    #[error("`{feature}` is not part of the community edition and no license is active")]
    Community {
        /// The feature asked for.
        feature: String,
    },
    /// No license in force, for a product without a free edition.
    #[error("`{feature}` is not available: no license is in force, and this product has no free edition")]
    NoLicense {
        /// The feature asked for.
        feature: String,
    },
    /// Released after grace, for a product without a free edition.
    #[error(
        "license {id} expired on {expired_at} and the instance was released on {released_at}: the product is not usable, and its data is due for deletion since then"
    )]
    ReleasedForDeletion {
        /// License id.
        id: String,
        /// When it expired.
        expired_at: Timestamp,
        /// When it was released (and its data due for deletion).
        released_at: Timestamp,
    },
    /// Expired, in grace.
    #[error(
        "license {id} expired on {expired_at}; the product is not usable during the grace period, which ends on {release_at}"
    )]
    InGrace {
        /// License id.
        id: String,
        /// When it expired.
        expired_at: Timestamp,
        /// When the instance will be released.
        release_at: Timestamp,
    },
    /// Released after grace.
    #[error(
        "license {id} expired on {expired_at} and the grace period ended on {released_at}; the install is back to the community edition"
    )]
    Released {
        /// License id.
        id: String,
        /// When it expired.
        expired_at: Timestamp,
        /// When it was released.
        released_at: Timestamp,
    },
    /// The clock was set back.
    #[error(
        "this machine's clock reads {now}, but this install has already seen {mark}: the clock was set back, so commercial features are off"
    )]
    ClockSetBack {
        /// What the clock reads.
        now: Timestamp,
        /// The newest trusted time seen.
        mark: Timestamp,
    },
    /// The package is not in the license.
    #[error("license {id} does not include package `{feature}` (it includes: {granted})")]
    NotIncluded {
        /// License id.
        id: String,
        /// The feature asked for.
        feature: String,
        /// The packages it has.
        granted: String,
    },
    /// The package is there at a lower tier.
    #[error("license {id} grants `{feature}` at tier `{granted}`, which does not include tier `{wanted}`")]
    TierTooLow {
        /// License id.
        id: String,
        /// The feature asked for.
        feature: String,
        /// The tier granted.
        granted: String,
        /// The tier asked for.
        wanted: String,
    },
}

impl Denied {
    pub(crate) fn escaped(feature: &str) -> String {
        escape(feature).into_owned()
    }
}

impl Explain for Denied {
    fn class(&self) -> ExitClass {
        ExitClass::NotEntitled
    }

    fn hint(&self) -> String {
        match self {
            Denied::Community { .. } => "activate a commercial license that includes it".into(),
            Denied::NoLicense { .. } => "activate the license the vendor sent".into(),
            Denied::ReleasedForDeletion { .. } => {
                "the instance was released: buy a new one from the vendor; released data cannot be restored".into()
            }
            Denied::InGrace { .. } => "renew before the grace period ends; all data is kept until then".into(),
            Denied::Released { .. } => "buy a new license from the vendor to get commercial rights back".into(),
            Denied::ClockSetBack { .. } => {
                "set the clock right (UTC); nothing was deleted and everything works again once it is".into()
            }
            Denied::NotIncluded { .. } | Denied::TierTooLow { .. } => {
                "ask the vendor for an upgrade that adds it".into()
            }
        }
    }

    fn case(&self) -> String {
        license_common::exit::case_of("Denied", self)
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}
