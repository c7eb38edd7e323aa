//! Issue with the `issuer` binary, activate with the `activator` binary:
//! every field survives the trip, and every refusal has its own exit code
//! and leaves the state directory byte for byte as it was.

use license_common::Timestamp;
use license_tests::{Install, Vendor, license_id};
use serde_json::Value;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn every_field_round_trips_through_issue_inspect_activate_status() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let out = vendor.dir.path().join("lic.txt");
    let out_s = out.to_str().unwrap();
    vendor
        .issue_run(&[
            "--account",
            "acct-42",
            "--licensee",
            "Zhōu & Partners 株式会社",
            "--region",
            "cn-shanghai",
            "--edition",
            "basic_rnd",
            "--engine",
            "maxcompute",
            "--plan",
            "pay_as_you_go",
            "--settlement",
            "aliyun_marketplace",
            "--package",
            "data_service=api.s1.medium",
            "--package",
            "asset_quality=standard",
            "--quota",
            "processing_units=60",
            "--not-before",
            "2026-01-01",
            "--until",
            "2030-06-30T12:00:00Z",
            "--out",
            out_s,
        ])
        .ok();
    let inspect = license_tests::run(
        {
            let mut c = std::process::Command::new(license_tests::bin("issuer"));
            c.args(["inspect", out_s, "--pub", vendor.public.to_str().unwrap(), "--json"]);
            c
        },
        None,
    )
    .json();
    let l = &inspect["license"];
    assert_eq!(l["format"], 1);
    assert_eq!(l["product"], "data-platform");
    assert_eq!(l["account"], "acct-42");
    assert_eq!(l["licensee"], "Zhōu & Partners 株式会社");
    assert_eq!(l["region"], "cn-shanghai");
    assert_eq!(l["edition"], "basic_rnd");
    assert_eq!(l["engine"], "maxcompute");
    assert_eq!(l["plan"], "pay_as_you_go");
    assert_eq!(l["settlement"], "aliyun_marketplace");
    assert_eq!(l["not_before"], "2026-01-01T00:00:00Z");
    assert_eq!(l["expires_at"], "2030-06-30T12:00:00Z");
    assert_eq!(l["grace_days"], 14);
    assert_eq!(l["notice_days"], 30);
    assert_eq!(l["sequence"], 1);
    assert_eq!(l["supersedes"], Value::Null);
    assert_eq!(l["packages"]["data_service"]["tier"], "api.s1.medium");
    assert_eq!(l["packages"]["data_service"]["limits"]["qps"], 5000);
    assert_eq!(
        l["packages"]["data_service"]["includes"],
        serde_json::json!(["api.base", "api.s1.small", "api.s1.medium"])
    );
    assert_eq!(l["packages"]["asset_quality"]["tier"], "standard");
    assert_eq!(l["quotas"]["processing_units"], 60);
    let issued_at = Timestamp::parse_wire(l["issued_at"].as_str().unwrap()).unwrap();
    let activate_by = Timestamp::parse_wire(l["activate_by"].as_str().unwrap()).unwrap();
    assert_eq!(activate_by.since(issued_at).num_days(), 7, "pay-as-you-go: 7-day activation window");
    assert!(uuid_like(l["id"].as_str().unwrap()));

    let done = install.run(&["activate", out_s, "--json"], None).json();
    assert_eq!(done["activated"], true);
    let status = install.run(&["status", "--json"], None).json();
    let s = &status["license"];
    for field in [
        "id",
        "account",
        "licensee",
        "region",
        "edition",
        "engine",
        "plan",
        "settlement",
        "sequence",
        "expires_at",
        "packages",
        "quotas",
        "grace_days",
    ] {
        assert_eq!(s[field], l[field], "status field {field}");
    }
    assert_eq!(status["phase"], "active");
    assert_eq!(status["usable"], true);
    assert_eq!(status["edition"], "basic_rnd");
    assert_eq!(s["release_at"], "2030-07-14T12:00:00Z", "release = expiry + 14 days");
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[test]
fn each_refusal_has_its_own_exit_code_and_changes_nothing() {
    let vendor = Vendor::new();
    let stranger = Vendor::new();
    let install = Install::new(&vendor);
    let good = vendor.issue(&[]);
    install.activate(&good).ok();
    let before = install.snapshot();

    let mut payload_changed = good.clone().into_bytes();
    let i = good.find('.').unwrap() + 18 + 10; // inside the payload
    payload_changed[i] = if payload_changed[i] == b'A' { b'B' } else { b'A' };
    let payload_changed = String::from_utf8(payload_changed).unwrap();

    let other_product = vendor.sign_custom(|l| l.product = "observability".into());
    let expired = vendor.sign_custom(|l| {
        l.not_before = Timestamp::parse("2024-01-01").unwrap();
        l.expires_at = Some(Timestamp::parse("2025-01-01").unwrap());
    });
    let window_closed = vendor.sign_custom(|l| {
        l.plan = license_common::Plan::PayAsYouGo;
        l.activate_by = Some(Timestamp::parse("2025-06-01").unwrap());
    });
    let older = vendor.sign_custom(|l| {
        l.id = "older".into();
        l.sequence = 0; // refused by the shape rules, exit 10
    });

    let cases: Vec<(&str, String, i32, &str)> = vec![
        ("untrusted key", stranger.issue(&[]), 12, "not a trusted key"),
        ("one byte changed", payload_changed, 11, "changed after it was signed"),
        ("truncated", good[..good.len() - 20].to_owned(), 10, "cut short"),
        (
            "not yet valid",
            vendor.issue(&["--not-before", "2031-01-01", "--until", "2032-01-01"]),
            14,
            "not valid before 2031-01-01",
        ),
        ("expired", expired, 13, "expired on 2025-01-01"),
        ("other product", other_product, 16, "for product `observability`"),
        ("receipt given as license", good.replacen("lic1.", "rct1.", 1), 10, "not a license"),
        ("invalid content", older, 10, "sequence number starts at 1"),
        ("empty", String::new(), 10, "empty"),
    ];
    for (what, text, code, message) in cases {
        let run = install.activate(&text);
        let err = run.fails_with(code);
        assert!(err.contains(message), "{what}: {err}");
        assert_eq!(install.snapshot(), before, "{what}: the state directory changed");
    }
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["license"]["id"], license_id(&good), "the good license is still in force");

    // The activation window applies to an account's first activation.
    let fresh = Install::new(&vendor);
    let before = fresh.snapshot();
    let err = fresh.activate(&window_closed).fails_with(15).to_owned();
    assert!(err.contains("activated by 2025-06-01") && err.contains("reissue"), "{err}");
    assert_eq!(fresh.snapshot(), before);
    assert_eq!(fresh.run(&["status", "--json"], None).json()["edition"], "community");
}

#[test]
fn an_older_license_of_the_account_cannot_replace_a_newer_one() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let newer = vendor.sign_custom(|l| l.sequence = 5);
    let older = vendor.sign_custom(|l| l.sequence = 4);
    install.activate(&newer).ok();
    let before = install.snapshot();
    let err = install.activate(&older).fails_with(17).to_owned();
    assert!(err.contains("sequence 4") && err.contains("sequence 5"), "{err}");
    assert_eq!(install.snapshot(), before);
}

#[test]
fn the_same_license_twice_is_not_an_error_and_writes_nothing() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let token = vendor.issue(&[]);
    install.activate(&token).ok();
    let before = install.snapshot();
    let again = install.activate(&token);
    assert!(again.ok().contains("already active; nothing changed"), "{}", again.stdout);
    assert_eq!(install.snapshot(), before);
}

#[test]
fn license_sources_file_armored_stdin_and_environment() {
    let vendor = Vendor::new();
    let armored_path = vendor.dir.path().join("license.txt");
    vendor.issue_run(&["--out", armored_path.to_str().unwrap()]).ok();
    let armored = std::fs::read_to_string(&armored_path).unwrap();
    assert!(armored.starts_with("-----BEGIN LICENSE-----\n"));

    let install = Install::new(&vendor);
    install.run(&["activate", armored_path.to_str().unwrap()], None).ok();

    let install = Install::new(&vendor);
    install.activate(&armored).ok();

    let token = vendor.issue(&[]);
    let install = Install::new(&vendor);
    let status = std::process::Command::new(license_tests::bin("activator"))
        .arg("--state")
        .arg(&install.state)
        .arg("activate")
        .env("ACTIVATOR_LICENSE", &token)
        .env_remove("ACTIVATOR_LICENSE_FILE")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));

    let install = Install::new(&vendor);
    let file = write(vendor.dir.path(), "secret-mount-license", &token);
    let status = std::process::Command::new(license_tests::bin("activator"))
        .arg("--state")
        .arg(&install.state)
        .arg("activate")
        .env("ACTIVATOR_LICENSE_FILE", &file)
        .env_remove("ACTIVATOR_LICENSE")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
}

#[test]
fn check_answers_with_exit_codes() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("community edition"), "{err}");
    install.activate(&vendor.issue(&["--package", "data_service=api.s1.small"])).ok();
    let ok = install.run(&["check", "data_service", "--tier", "api.base"], None);
    assert!(ok.ok().contains("entitled at tier api.s1.small (qps 2500)"), "{}", ok.stdout);
    install.run(&["check", "data_service", "--tier", "api.s1.small"], None).ok();
    let err = install.run(&["check", "data_service", "--tier", "api.s1.medium"], None).fails_with(20).to_owned();
    assert!(err.contains("does not include tier `api.s1.medium`"), "{err}");
    let err = install.run(&["check", "asset_quality"], None).fails_with(20).to_owned();
    assert!(err.contains("does not include package `asset_quality`"), "{err}");
    let json = install.run(&["check", "asset_quality", "--json"], None);
    assert_eq!(json.code, 20);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["entitled"], false);
}

#[test]
fn signed_text_is_printed_with_control_characters_escaped() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let evil = vendor.sign_custom(|l| l.licensee = "Acme\u{1b}[2J\u{202e}gpj.exe".into());
    install.activate(&evil).ok();
    let status = install.run(&["status"], None);
    let out = status.ok();
    assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'), "{out:?}");
    assert!(out.contains("Acme\\u{1b}[2J\\u{202e}gpj.exe"), "{out}");
    let json = install.run(&["status", "--json"], None).json();
    assert_eq!(json["license"]["licensee"], "Acme\u{1b}[2J\u{202e}gpj.exe", "JSON carries the signed text exactly");
}

#[test]
fn an_install_with_a_region_refuses_a_license_for_another() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut init = std::process::Command::new(license_tests::bin("activator"));
    init.arg("--state").arg(&state).args(["init", "--product", "data-platform", "--region", "cn-shanghai", "--trust"]);
    init.arg(&vendor.public);
    license_tests::run(init, None).ok();
    let before = license_tests::snapshot(&state);
    let mut activate = std::process::Command::new(license_tests::bin("activator"));
    activate.arg("--state").arg(&state).args(["activate", "-"]);
    let r = license_tests::run(activate, Some(vendor.issue(&["--region", "cn-hangzhou"]).as_bytes()));
    let err = r.fails_with(16);
    assert!(err.contains("region `cn-hangzhou`") && err.contains("region `cn-shanghai`"), "{err}");
    assert_eq!(license_tests::snapshot(&state), before);
    let mut ok = std::process::Command::new(license_tests::bin("activator"));
    ok.arg("--state").arg(&state).args(["activate", "-"]);
    license_tests::run(ok, Some(vendor.issue(&["--region", "cn-shanghai"]).as_bytes())).ok();
}
