//! What an envelope carries: the leaf every other module names.
//!
//! The type tag is part of the signed bytes (see `envelope`), so a file
//! signed as one kind can never be presented as another.

use std::fmt;

/// The most bytes any reader accepts before it starts decoding (1 MiB).
pub const MAX_INPUT_LEN: usize = 1 << 20;

/// What an envelope carries. The tag is part of the signed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A license signed by the vendor (`lic`).
    License,
    /// An activation request signed by an install (`req`).
    ActivationRequest,
    /// An activation receipt signed by an install (`rct`).
    ActivationReceipt,
    /// A usage report signed by an install (`use`).
    UsageReport,
    /// A revocation list signed by the vendor (`rev`).
    RevocationList,
    /// A deactivation receipt signed by an install (`dea`).
    DeactivationReceipt,
    /// The vendor's word of the time, for one install (`att`).
    TimeAttestation,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 7] = [
        Kind::License,
        Kind::ActivationRequest,
        Kind::ActivationReceipt,
        Kind::UsageReport,
        Kind::RevocationList,
        Kind::DeactivationReceipt,
        Kind::TimeAttestation,
    ];

    /// The three-letter tag that starts the compact form.
    pub const fn tag(self) -> &'static str {
        match self {
            Kind::License => "lic",
            Kind::ActivationRequest => "req",
            Kind::ActivationReceipt => "rct",
            Kind::UsageReport => "use",
            Kind::RevocationList => "rev",
            Kind::DeactivationReceipt => "dea",
            Kind::TimeAttestation => "att",
        }
    }

    /// The label of the armored form (`-----BEGIN <LABEL>-----`).
    pub const fn label(self) -> &'static str {
        match self {
            Kind::License => "LICENSE",
            Kind::ActivationRequest => "ACTIVATION REQUEST",
            Kind::ActivationReceipt => "ACTIVATION RECEIPT",
            Kind::UsageReport => "USAGE REPORT",
            Kind::RevocationList => "REVOCATION LIST",
            Kind::DeactivationReceipt => "DEACTIVATION RECEIPT",
            Kind::TimeAttestation => "TIME ATTESTATION",
        }
    }

    /// The name people read: `license`, `activation request`, ….
    pub const fn name(self) -> &'static str {
        match self {
            Kind::License => "license",
            Kind::ActivationRequest => "activation request",
            Kind::ActivationReceipt => "activation receipt",
            Kind::UsageReport => "usage report",
            Kind::RevocationList => "revocation list",
            Kind::DeactivationReceipt => "deactivation receipt",
            Kind::TimeAttestation => "time attestation",
        }
    }

    /// The most bytes a compact token of this kind may have.
    pub const fn max_len(self) -> usize {
        match self {
            Kind::RevocationList | Kind::UsageReport => MAX_INPUT_LEN,
            _ => 64 * 1024,
        }
    }

    /// True for the kinds an install signs with its own key.
    pub const fn is_install_signed(self) -> bool {
        matches!(
            self,
            Kind::ActivationRequest | Kind::ActivationReceipt | Kind::UsageReport | Kind::DeactivationReceipt
        )
    }

    /// The kind with this tag.
    pub fn from_tag(tag: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// The kind with this armor label.
    pub fn from_label(label: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == label)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Kind {
    /// The name people read, as in messages: `"license"`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_labels_and_names_are_distinct_and_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_tag(kind.tag()), Some(kind));
            assert_eq!(Kind::from_label(kind.label()), Some(kind));
            assert_eq!(kind.label().to_lowercase(), kind.name());
        }
        let tags: std::collections::HashSet<_> = Kind::ALL.iter().map(|k| k.tag()).collect();
        assert_eq!(tags.len(), Kind::ALL.len());
    }
}
