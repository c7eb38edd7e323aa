//! The tamper sweep: for a real license, activation request, receipt, usage
//! report and revocation list, every single-byte change, deletion and
//! duplication, swapped payloads, moved signatures, changed type prefixes and
//! re-encoded base64 are refused; nothing panics; the state directory is
//! byte for byte unchanged.

use license_activator::Activator;
use license_common::Timestamp;
use license_common::envelope::Kind;
use license_common::exchange::{ActivationReceipt, ActivationRequest, UsageReport, open_self_signed};
use license_tests::{Install, Vendor, snapshot};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

/// Every variant of `token` this sweep tries.
fn variants(token: &str, other: &str) -> Vec<String> {
    let bytes = token.as_bytes();
    let mut out = Vec::new();
    for i in 0..bytes.len() {
        // Changed: to the next character of the token alphabet, and a bit flip.
        let pos = ALPHABET.iter().position(|c| *c == bytes[i]).unwrap_or(0);
        for replacement in [ALPHABET[(pos + 1) % ALPHABET.len()], bytes[i] ^ 0x01] {
            let mut v = bytes.to_vec();
            v[i] = replacement;
            if let Ok(s) = String::from_utf8(v) {
                out.push(s);
            }
        }
        // Deleted and duplicated.
        let mut deleted = bytes.to_vec();
        deleted.remove(i);
        out.push(String::from_utf8(deleted).unwrap());
        let mut duplicated = bytes.to_vec();
        duplicated.insert(i, bytes[i]);
        out.push(String::from_utf8(duplicated).unwrap());
    }
    let parts: Vec<&str> = token.split('.').collect();
    let theirs: Vec<&str> = other.split('.').collect();
    // Swapped payloads and moved signatures between two valid tokens.
    out.push(format!("{}.{}.{}.{}", parts[0], parts[1], theirs[2], parts[3]));
    out.push(format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], theirs[3]));
    // Every other type prefix.
    for kind in Kind::ALL {
        let prefix = format!("{}1", kind.tag());
        if prefix != parts[0] {
            out.push(format!("{prefix}.{}.{}.{}", parts[1], parts[2], parts[3]));
        }
    }
    out.push(format!("{}2.{}.{}.{}", &parts[0][..3], parts[1], parts[2], parts[3]));
    // Re-encoded base64: with padding, and in the standard alphabet.
    let pad = |s: &str| format!("{s}{}", "=".repeat((4 - s.len() % 4) % 4));
    out.push(format!("{}.{}.{}.{}", parts[0], parts[1], pad(parts[2]), pad(parts[3])));
    let standard = |s: &str| s.replace('-', "+").replace('_', "/");
    out.push(format!("{}.{}.{}.{}", parts[0], parts[1], standard(parts[2]), standard(parts[3])));
    out.retain(|v| v != token);
    out
}

#[test]
fn every_tampered_artifact_is_refused_and_nothing_changes() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let license = vendor.issue(&[]);
    let other_license = vendor.issue(&["--account", "acct-other"]);
    install.activate(&license).ok();

    let mut activator = Activator::open(&install.state).unwrap();
    let now = Timestamp::now();
    activator.record_usage(activator.usage_day(now), 21, now).unwrap();
    let request = activator.request(now).unwrap();
    let receipt = activator.receipt(now).unwrap();
    let today = activator.usage_day(now);
    let usage = activator.usage_report(today, today, now).unwrap();
    let mut ledger = vendor.open_ledger();
    let (_, revocations) = ledger.export_revocations(&vendor.signing_key(), now).unwrap();
    let (_, newer_revocations) = ledger.export_revocations(&vendor.signing_key(), now).unwrap();
    // A second install's files, to swap parts with.
    let other = Install::new(&vendor);
    let mut other_activator = Activator::open(&other.state).unwrap();
    let other_request = other_activator.request(now).unwrap();

    let before = snapshot(&install.state);
    let mut tried = 0usize;
    let mut check = |name: &str, token: &str, other: &str, refused: &mut dyn FnMut(&str) -> bool| {
        for v in variants(token, other) {
            assert!(refused(&v), "{name}: a tampered variant was accepted: {v}");
            tried += 1;
        }
    };
    check("license", &license, &other_license, &mut |v| {
        let mut a = Activator::open(&install.state).unwrap();
        a.activate(v, now).is_err()
    });
    check("activation request", &request, &other_request, &mut |v| {
        open_self_signed::<ActivationRequest>(v, Kind::ActivationRequest).is_err()
    });
    check("activation receipt", &receipt, &request, &mut |v| {
        open_self_signed::<ActivationReceipt>(v, Kind::ActivationReceipt).is_err()
    });
    check("usage report", &usage, &receipt, &mut |v| open_self_signed::<UsageReport>(v, Kind::UsageReport).is_err());
    check("revocation list", &newer_revocations, &revocations, &mut |v| {
        let mut a = Activator::open(&install.state).unwrap();
        a.import_revocations(v, now).is_err()
    });
    assert_eq!(snapshot(&install.state), before, "the state directory changed");
    // The untampered originals still work, so the refusals were about the tampering.
    Activator::open(&install.state).unwrap().import_revocations(&newer_revocations, now).unwrap();
    open_self_signed::<ActivationRequest>(&request, Kind::ActivationRequest).unwrap();
    open_self_signed::<ActivationReceipt>(&receipt, Kind::ActivationReceipt).unwrap();
    open_self_signed::<UsageReport>(&usage, Kind::UsageReport).unwrap();
    println!("{tried} tampered variants refused across 5 artifact kinds");
    assert!(tried > 10_000, "tried {tried}");
}
