//! The air-gapped round trip through files only, and how an install defends
//! itself offline: tampered files, stale revocation lists, revoked licenses,
//! removed and rotated keys, a clock set back.

use std::path::{Path, PathBuf};
use std::process::Command;

use license_tests::{Install, Run, Vendor, bin, run};

fn issuer(args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("issuer"));
    cmd.args(args);
    run(cmd, None)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An install whose machine id is fixed, like a container with ACTIVATOR_MACHINE_ID.
fn activator(install: &Install, machine: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("activator"));
    cmd.arg("--state").arg(&install.state).args(args).env("ACTIVATOR_MACHINE_ID", machine);
    run(cmd, None)
}

/// A pay-as-you-go license bound to the install of `request`, whose term
/// began two days ago (so it can carry usage for yesterday and today).
fn bound_license(vendor: &Vendor, request: &Path, out: &Path) {
    let start = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    vendor.issue_run(&["--plan", "pay_as_you_go", "--not-before", &start, "--bind", s(request), "--out", s(out)]).ok();
}

/// A usage day `back` days before today, in the example catalogs' billing
/// time zone (UTC+8).
fn billing_day(back: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8) - chrono::Duration::days(back)).date_naive().to_string()
}

#[test]
fn request_bound_license_receipt_usage_report_through_files_only() {
    let vendor = Vendor::new();
    let install = Install::on_machine(&vendor, "machine-one");
    let files = tempfile::tempdir().unwrap();
    let f = |name: &str| files.path().join(name);

    // Install → vendor: the activation request.
    let out = activator(&install, "machine-one", &["request", "--out", s(&f("request.txt"))]);
    assert!(out.ok().contains("send it to the vendor"), "{}", out.stdout);
    let request = issuer(&["inspect", s(&f("request.txt")), "--json"]).json();
    assert_eq!(request["kind"], "activation request");
    assert_eq!(request["content"]["product"], "data-platform");
    let install_id = request["content"]["install_id"].as_str().unwrap().to_owned();

    // Vendor → install: a license bound to that install.
    bound_license(&vendor, &f("request.txt"), &f("license.txt"));
    let license = issuer(&["inspect", s(&f("license.txt")), "--pub", s(&vendor.public), "--json"]).json();
    assert_eq!(license["license"]["install"], install_id.as_str());
    activator(&install, "machine-one", &["activate", s(&f("license.txt"))]).ok();

    // Install → vendor: the receipt and the usage.
    activator(&install, "machine-one", &["receipt", "--out", s(&f("receipt.txt"))]).ok();
    let (yesterday, today) = (billing_day(1), billing_day(0));
    for (day, n) in [(&yesterday, "12"), (&yesterday, "30"), (&yesterday, "7"), (&today, "19")] {
        activator(&install, "machine-one", &["usage", "record", "--datakits", n, "--day", day]).ok();
    }
    activator(
        &install,
        "machine-one",
        &["usage", "report", "--from", &billing_day(30), "--to", &today, "--out", s(&f("usage.txt"))],
    )
    .ok();
    let receipt = issuer(&["inspect", s(&f("receipt.txt")), "--json"]).json();
    assert_eq!(receipt["content"]["license_id"], license["license"]["id"]);
    assert_eq!(receipt["content"]["install_id"], install_id.as_str());
    let usage = issuer(&["inspect", s(&f("usage.txt")), "--json"]).json();
    assert_eq!(usage["content"]["days"], serde_json::json!({yesterday: 30, today: 19}), "each day keeps its maximum");
    assert_eq!(usage["content"]["install_id"], install_id.as_str());

    // A second install with the same files is refused, naming both ids.
    let second = Install::new(&vendor);
    let before = second.snapshot();
    let err = activator(&second, "machine-two", &["activate", s(&f("license.txt"))]).fails_with(16).to_owned();
    assert!(err.contains(&install_id) && err.contains("not to this install"), "{err}");
    assert_eq!(second.snapshot(), before);

    // Deactivation releases the license and says so in a signed receipt.
    activator(&install, "machine-one", &["deactivate", "--out", s(&f("deactivation.txt"))]).ok();
    // The data platform has no free edition (its licenses say so): released,
    // the install runs nothing rather than a community edition.
    let status = activator(&install, "machine-one", &["status", "--json"]).json();
    assert_eq!((status["edition"].as_str(), status["phase"].as_str()), (Some("none"), Some("unlicensed")), "{status}");
    let dea = issuer(&["inspect", s(&f("deactivation.txt")), "--json"]).json();
    assert_eq!(dea["content"]["license_id"], license["license"]["id"]);
}

#[test]
fn requests_and_receipts_with_a_changed_byte_are_refused() {
    let vendor = Vendor::new();
    let install = Install::on_machine(&vendor, "m");
    let dir = tempfile::tempdir().unwrap();
    let request = dir.path().join("request.txt");
    activator(&install, "m", &["request", "--out", s(&request)]).ok();
    let license = dir.path().join("license.txt");
    bound_license(&vendor, &request, &license);
    activator(&install, "m", &["activate", s(&license)]).ok();
    let receipt = dir.path().join("receipt.txt");
    activator(&install, "m", &["receipt", "--out", s(&receipt)]).ok();

    let mut tried = 0;
    for file in [&request, &receipt] {
        let text = std::fs::read_to_string(file).unwrap();
        let body_start = text.find("\n\n").map_or_else(|| text.find('\n').unwrap() + 1, |i| i + 2);
        let body_end = text.rfind("-----END").unwrap();
        for i in body_start..body_end {
            let mut bytes = text.clone().into_bytes();
            if bytes[i] == b'\n' {
                continue;
            }
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = dir.path().join("tampered.txt");
            std::fs::write(&tampered, &bytes).unwrap();
            let r = issuer(&["inspect", s(&tampered)]);
            assert!([10, 11].contains(&r.code), "byte {i} of {}: code {} {}", file.display(), r.code, r.stderr);
            tried += 1;
        }
    }
    assert!(tried > 800, "tried {tried}");
    println!("{tried} single-byte variants of a request and a receipt refused");
}

#[test]
fn revocation_lists_only_move_forward_and_revoked_licenses_stop_working() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let dir = tempfile::tempdir().unwrap();
    let token = vendor.issue(&[]);
    install.activate(&token).ok();
    let license_id = {
        let mut cmd = Command::new(bin("issuer"));
        cmd.args(["inspect", "-", "--pub", s(&vendor.public), "--json"]);
        run(cmd, Some(token.as_bytes())).json()["license"]["id"].as_str().unwrap().to_owned()
    };
    let export = |name: &str| -> PathBuf {
        let out = dir.path().join(name);
        let mut cmd = vendor.issuer();
        cmd.args(["revocations", "export", "--key", s(&vendor.key), "--passphrase-file", s(&vendor.pass_file)]);
        cmd.args(["--ledger", s(&vendor.ledger), "--out", s(&out)]);
        run(cmd, None).ok();
        out
    };
    let first = export("rev-1.txt");
    let mut revoke = vendor.issuer();
    revoke.args(["revoke", &license_id, "--reason", "chargeback on order 7731", "--ledger", s(&vendor.ledger)]);
    run(revoke, None).ok();
    let second = export("rev-2.txt");

    install.run(&["revocations", "import", s(&first)], None).ok();
    install.run(&["check", "data_service"], None).ok();
    let out = install.run(&["revocations", "import", s(&second)], None);
    // The data platform has no free edition: the install runs nothing.
    assert!(out.ok().contains("runs nothing until a license is activated"), "{}", out.stdout);
    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("no license is in force, and this product has no free edition"), "{err}");
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["edition"], "none");
    assert!(status["warnings"][0].as_str().unwrap().contains("chargeback on order 7731"), "{status}");

    // An older list cannot bring it back, and the license cannot be activated again.
    let before = install.snapshot();
    let err = install.run(&["revocations", "import", s(&first)], None).fails_with(18).to_owned();
    assert!(err.contains("not newer"), "{err}");
    install.run(&["revocations", "import", s(&second)], None).fails_with(18);
    assert_eq!(install.snapshot(), before);
    let fresh = Install::new(&vendor);
    fresh.run(&["revocations", "import", s(&second)], None).ok();
    let err = fresh.activate(&token).fails_with(18).to_owned();
    assert!(err.contains("revoked") && err.contains("chargeback"), "{err}");
}

#[test]
fn key_rotation_keeps_old_licenses_while_trusted_and_removal_refuses_them() {
    let old_vendor = Vendor::new();
    let new_vendor = Vendor::new();
    let install = Install::new(&old_vendor);
    let old_license = old_vendor.issue(&[]);
    install.activate(&old_license).ok();

    // Rotate: trust the new key too; the old license stays valid.
    install.run(&["trust", "add", s(&new_vendor.public), "--yes"], None).ok();
    install.run(&["check", "data_service"], None).ok();
    let listed = install.run(&["trust", "list", "--json"], None).json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    // Licenses from the new key are accepted where it is trusted.
    let fresh = Install::new(&new_vendor);
    fresh.activate(&new_vendor.issue(&[])).ok();

    // Remove the old key: its license is refused, naming the key.
    let old_kid = old_license.split('.').nth(1).unwrap().to_owned();
    let out = install.run(&["trust", "remove", &old_kid], None);
    assert!(out.ok().contains("no longer accepted"), "{}", out.stdout);
    install.run(&["check", "data_service"], None).fails_with(20);
    let other = Install::new(&new_vendor);
    let err = other.activate(&old_license).fails_with(12).to_owned();
    assert!(err.contains(&old_kid), "the refusal names the key: {err}");
    let err = install.run(&["trust", "remove", &new_vendor_kid(&new_vendor)], None).fails_with(2).to_owned();
    assert!(err.contains("only trusted key"), "{err}");
}

fn new_vendor_kid(vendor: &Vendor) -> String {
    vendor.issue(&[]).split('.').nth(1).unwrap().to_owned()
}

#[test]
fn a_clock_set_back_two_days_is_detected_and_nothing_is_deleted() {
    use license_activator::Activator;
    use license_common::Timestamp;

    // Library: time is a parameter, so the "machine clock" is whatever we pass.
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let mut activator = Activator::open(&install.state).unwrap();
    let now = Timestamp::now();
    activator.observe_clock(now).unwrap();
    let two_days_back = now.plus(-chrono::Duration::days(2));
    let status = activator.status(two_days_back);
    assert!(status.clock_set_back && !status.usable, "{status:?}");
    assert!(activator.check("data_service", None, two_days_back).is_err());
    assert!(activator.clock_set_back(now.plus(-chrono::Duration::minutes(30))).is_none(), "within the tolerance");
    assert!(activator.clock_set_back(now.plus(-chrono::Duration::minutes(61))).is_some());
    assert!(activator.check("data_service", None, now).is_ok(), "works again once the clock is right");

    // CLI: the install has already seen a time two days ahead of this
    // machine's clock (it ran once with the clock two days ahead).
    activator.observe_clock(now.plus(chrono::Duration::days(2))).unwrap();
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["clock_set_back"], true);
    assert!(status["warnings"].to_string().contains("clock was set back"), "{status}");
    assert!(status["license"]["id"].is_string(), "nothing was deleted");
    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("clock was set back"), "{err}");
}

#[test]
fn a_revocation_list_signed_by_a_licenses_only_key_is_refused() {
    let vendor = Vendor::new();
    let revoker = Vendor::new();
    let install = Install::new(&vendor);
    install.run(&["trust", "add", s(&vendor.public), "--use", "licenses", "--yes"], None).ok();
    install.run(&["trust", "add", s(&revoker.public), "--use", "revocations", "--yes"], None).ok();
    install.activate(&vendor.issue(&[])).ok();
    let export = |v: &Vendor, name: &str| {
        let out = v.dir.path().join(name);
        let mut cmd = v.issuer();
        cmd.args(["revocations", "export", "--key", s(&v.key), "--passphrase-file", s(&v.pass_file), "--out", s(&out)]);
        run(cmd, None).ok();
        out
    };
    let before = install.snapshot();
    let by_license_key = export(&vendor, "rev-by-license-key.txt");
    let err = install.run(&["revocations", "import", s(&by_license_key)], None).fails_with(12).to_owned();
    assert!(err.contains("trusted here only for licenses"), "{err}");
    assert_eq!(install.snapshot(), before);
    install.run(&["revocations", "import", s(&export(&revoker, "rev-by-revocation-key.txt"))], None).ok();
    // And a license signed by the revocations-only key is refused.
    let other = Install::new(&revoker);
    other.run(&["trust", "add", s(&revoker.public), "--use", "revocations", "--yes"], None).ok();
    let err = other.activate(&revoker.issue(&[])).fails_with(12).to_owned();
    assert!(err.contains("only for revocations"), "{err}");
}

#[test]
fn deactivate_with_a_taken_out_path_releases_nothing() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let taken = install.dir.path().join("taken.txt");
    std::fs::write(&taken, "keep").unwrap();
    let before = install.snapshot();
    let err = install.run(&["deactivate", "--out", s(&taken)], None).fails_with(3).to_owned();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(install.snapshot(), before, "the license is still in force");
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep");
}

#[test]
fn files_dated_by_a_clock_set_back_are_not_signed_and_nothing_is_released() {
    use license_activator::Activator;
    use license_common::Timestamp;

    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&["--plan", "pay_as_you_go"])).ok();
    // The install has seen a time two days ahead of this machine's clock.
    let mut activator = Activator::open(&install.state).unwrap();
    let ahead = Timestamp::now().plus(chrono::Duration::days(2));
    activator.observe_clock(ahead).unwrap();
    let before = install.snapshot();
    let out = |name: &str| install.dir.path().join(name);
    let today = billing_day(0);
    for args in [
        vec!["receipt", "--out", s(&out("receipt.txt"))],
        vec!["usage", "report", "--from", &today, "--to", &today, "--out", s(&out("usage.txt"))],
        vec!["deactivate", "--out", s(&out("deactivation.txt"))],
    ] {
        let err = install.run(&args, None).fails_with(30).to_owned();
        assert!(err.contains("the clock was set back"), "{args:?}: {err}");
        assert_eq!(install.snapshot(), before, "{args:?}: nothing changed, the license is still in force");
    }
    for name in ["receipt.txt", "usage.txt", "deactivation.txt"] {
        assert!(!out(name).exists(), "{name} was not written");
    }
    // The request for a time attestation, the way out, is still made.
    install.run(&["request", "--out", s(&out("request.txt"))], None).ok();
    // With the clock right again, the license is released and its receipt dated now.
    let released = activator.deactivate(ahead).unwrap();
    assert!(released.now && released.released_at == ahead);
}

#[test]
fn usage_is_recorded_only_for_days_a_report_of_the_license_can_carry() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let record = |count: &str, day: &str| install.run(&["usage", "record", "--count", count, "--day", day], None);
    // The community edition has no license to report usage of.
    let err = record("5", &billing_day(0)).fails_with(30).to_owned();
    assert!(err.contains("no license is in force"), "{err}");
    install.activate(&vendor.issue(&["--plan", "pay_as_you_go"])).ok();
    let before = install.snapshot();
    for (count, day, says) in [
        ("5", billing_day(-1), "the days that have begun"),
        ("5", "9999-12-31".to_owned(), "the days that have begun"),
        ("5", billing_day(3), "the license's term"),
        ("5", "1970-01-01".to_owned(), "the license's term"),
        ("1000000001", billing_day(0), "more than the 1000000000 a day can hold"),
        ("18446744073709551615", billing_day(0), "more than the 1000000000 a day can hold"),
    ] {
        let err = record(count, &day).fails_with(2).to_owned();
        assert!(err.contains(says), "{count} on {day}: {err}");
        assert_eq!(install.snapshot(), before, "{count} on {day}: nothing recorded");
    }
    let today = billing_day(0);
    assert_eq!(record("1000000000", &today).ok(), format!("{today}: 1000000000 processing units\n"));
    // What was recorded is a report the vendor takes.
    let dir = install.dir.path();
    install.run(&["receipt", "--out", s(&dir.join("r.txt"))], None).ok();
    install.run(&["usage", "report", "--from", &today, "--to", &today, "--out", s(&dir.join("u.txt"))], None).ok();
    for (what, file) in [("receipts", "r.txt"), ("usage", "u.txt")] {
        let mut cmd = vendor.issuer();
        cmd.args([what, "import", s(&dir.join(file))]);
        run(cmd, None).ok();
    }
}
