//! `--json` on every command of both binaries: a success prints one
//! documented JSON document (format 1); a failure prints one JSON object
//! with the error's class, status, case, message, hint and fields, on
//! standard output, with the same exit status as without `--json`, and
//! nothing on standard error.

use std::path::Path;
use std::process::Command;

use license_tests::{Install, Run, Vendor, bin, run};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts that `r` failed with `code` and printed exactly one JSON error.
#[track_caller]
fn json_error(what: &str, r: &Run, code: i32) -> Value {
    assert_eq!(r.code, code, "{what}: wrong exit status\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.is_empty(), "{what}: --json printed on standard error: {}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.stdout));
    assert!(v["format"].as_u64().is_some_and(|f| f >= 1), "{what}: {v}");
    let e = &v["error"];
    assert_eq!(e["status"], code, "{what}: {v}");
    for field in ["class", "case", "message", "hint"] {
        assert!(e[field].as_str().is_some_and(|t| !t.is_empty()), "{what}: no `{field}`: {v}");
    }
    assert!(e["fields"].is_object(), "{what}: `fields` is not an object: {v}");
    // The same failure without --json has the same status and the same words.
    v
}

/// Asserts that `r` succeeded with one JSON document of format 1 (or of
/// the `format` given for the shapes that changed).
#[track_caller]
fn json_ok(what: &str, r: &Run) -> Value {
    json_ok_format(what, r, 1)
}

#[track_caller]
fn json_ok_format(what: &str, r: &Run, format: u64) -> Value {
    assert_eq!(r.code, 0, "{what}: failed\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.stdout));
    assert_eq!(v["format"], format, "{what}: no format {format}: {v}");
    v
}

/// Runs `issuer` with this vendor's ledger, `--json` first.
fn issuer(vendor: &Vendor, args: &[&str]) -> Run {
    let mut cmd = vendor.issuer();
    cmd.arg("--json").args(args);
    run(cmd, None)
}

#[test]
fn every_issuer_command_fails_as_one_json_object() {
    let vendor = Vendor::new();
    let dir = vendor.dir.path();
    let key = s(&vendor.key);
    let pass = s(&vendor.pass_file);
    let catalog = s(&vendor.catalog);
    let garbage = dir.join("garbage.txt");
    std::fs::write(&garbage, "not a license at all").unwrap();
    let bad_catalog = dir.join("bad.toml");
    std::fs::write(&bad_catalog, "format = 1\n[product]\nid = 3\n").unwrap();
    let wrong = dir.join("wrong.txt");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let license = dir.join("l.lic");
    vendor.issue_run(&["--out", s(&license)]).ok();
    let stranger = Vendor::new();
    let (missing, rev_out) = (dir.join("missing.lic"), dir.join("r.txt"));

    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "keygen",
            vec!["keygen", "--out", s(vendor.key.parent().unwrap()), "--passphrase-file", pass],
            3,
            "OutputError::Exists",
        ),
        (
            "issue",
            vec![
                "issue",
                "--key",
                key,
                "--passphrase-file",
                pass,
                "--catalog",
                catalog,
                "--account",
                "a",
                "--licensee",
                "L",
                "--region",
                "cn-hangzhou",
                "--edition",
                "platinum",
                "--plan",
                "subscription",
            ],
            40,
            "OrderError::UnknownEdition",
        ),
        (
            "upgrade",
            vec![
                "upgrade",
                "--from",
                s(&garbage),
                "--key",
                key,
                "--catalog",
                catalog,
                "--package",
                "data_service=api.base",
            ],
            10,
            "EnvelopeError::Malformed",
        ),
        (
            "renew",
            vec!["renew", "--from", s(&missing), "--key", key, "--catalog", catalog, "--months", "1"],
            3,
            "InputError::Io",
        ),
        (
            "quote",
            vec![
                "quote",
                "--from",
                s(&license),
                "--pub",
                s(&stranger.public),
                "--catalog",
                catalog,
                "--package",
                "data_service=api.s2.large",
            ],
            12,
            "EnvelopeError::UntrustedKey",
        ),
        ("catalog check", vec!["catalog", "check", s(&bad_catalog)], 41, "IssuerError::Catalog"),
        ("revoke", vec!["revoke", "", "--reason", "x"], 40, "OrderError::Field"),
        (
            "retire-key",
            vec!["retire-key", "NOT-A-KID", "--not-after", "2026-01-01", "--reason", "x"],
            2,
            "issuer::NotAKeyId",
        ),
        (
            "revocations export",
            vec!["revocations", "export", "--key", key, "--passphrase-file", s(&wrong), "--out", s(&rev_out)],
            50,
            "KeyError::WrongPassphrase",
        ),
        ("ledger show", vec!["ledger", "show", "no-such-license"], 30, "IssuerError::NotInLedger"),
        ("receipts import", vec!["receipts", "import", s(&garbage)], 10, "EnvelopeError::Malformed"),
        ("usage import", vec!["usage", "import", s(&garbage)], 10, "EnvelopeError::Malformed"),
        (
            "bill",
            vec!["bill", "--account", "a", "--catalog", catalog, "--from", "2026-02-01", "--to", "2026-01-01"],
            2,
            "IssuerError::Period",
        ),
        ("inspect", vec!["inspect", s(&garbage)], 10, "EnvelopeError::Malformed"),
        ("demo", vec!["demo", s(vendor.key.parent().unwrap())], 3, "issuer::DemoDirTaken"),
        ("completions", vec!["completions", "no-such-shell"], 2, "Usage::InvalidValue"),
        ("an unknown flag", vec!["issue", "--no-such-flag"], 2, "Usage::UnknownArgument"),
    ];
    for (what, args, code, case) in &cases {
        let v = json_error(what, &issuer(&vendor, args), *code);
        assert_eq!(v["error"]["case"], *case, "{what}: {v}");
        // Without --json: the same status, and the same message on stderr.
        let mut plain = vendor.issuer();
        plain.args(args);
        let r = run(plain, None);
        assert_eq!(r.code, *code, "{what} without --json: {}", r.stderr);
        if !case.starts_with("Usage::") {
            let message = v["error"]["message"].as_str().unwrap();
            assert!(r.stderr.starts_with("error: "), "{what}: {}", r.stderr);
            assert!(r.stderr.contains(message.lines().next().unwrap()), "{what}: {} vs {message}", r.stderr);
        }
    }
    // The structured fields are the values of the message.
    let v = json_error("issue", &issuer(&vendor, &cases[1].1), 40);
    assert_eq!(v["error"]["fields"]["edition"], "platinum", "{v}");

    // `ledger verify` with a problem: its report, and the error beside it.
    vendor.sql("UPDATE licenses SET account = 'acct-forged' WHERE rowid = (SELECT MIN(rowid) FROM licenses)");
    let v = json_error("ledger verify", &issuer(&vendor, &["ledger", "verify", "--pub", s(&vendor.public)]), 11);
    assert_eq!(v["format"], 2, "{v}");
    assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["problems"][0]["column"], "account", "{v}");
    assert_eq!(v["error"]["case"], "issuer::AuditFailed");
    // A ledger that cannot be opened: every ledger command says so in JSON.
    let not_a_ledger = dir.join("not-a-ledger");
    std::fs::create_dir(&not_a_ledger).unwrap();
    let public = s(&vendor.public);
    for sub in
        [&["ledger", "list"][..], &["ledger", "lapsed"], &["ledger", "export"], &["ledger", "verify", "--pub", public]]
    {
        let mut cmd = Command::new(bin("issuer"));
        cmd.arg("--json").arg("--ledger").arg(&not_a_ledger).args(sub);
        let v = json_error(&format!("{sub:?}"), &run(cmd, None), 30);
        assert_eq!(v["error"]["case"], "IssuerError::Ledger", "{v}");
    }
}

#[test]
fn every_issuer_command_that_prints_succeeds_with_json() {
    let vendor = Vendor::new();
    let dir = vendor.dir.path();
    let key = s(&vendor.key);
    let pass = s(&vendor.pass_file);
    let catalog = s(&vendor.catalog);
    let v = json_ok("keygen", &issuer(&vendor, &["keygen", "--out", s(&dir.join("k2")), "--passphrase-file", pass]));
    assert_eq!(v["kid"].as_str().unwrap().len(), 16);
    let out = dir.join("l.lic");
    let v = json_ok("issue", &{
        let mut r = vendor.issue_run(&["--json", "--out", s(&out)]);
        r.stdout = r.stdout.trim().to_owned();
        r
    });
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["license"]["id"], id.as_str());
    assert_eq!(v["out"], s(&out));
    let v = json_ok("catalog check", &issuer(&vendor, &["catalog", "check", catalog]));
    assert_eq!(v["product"], "data-platform");
    let v = json_ok("revoke", &issuer(&vendor, &["revoke", &id, "--reason", "test"]));
    assert_eq!(v["recorded"], true);
    let list = dir.join("rev.txt");
    let v = json_ok(
        "revocations export",
        &issuer(&vendor, &["revocations", "export", "--key", key, "--passphrase-file", pass, "--out", s(&list)]),
    );
    assert_eq!((v["sequence"].as_u64(), v["revoked"].as_u64()), (Some(1), Some(1)));
    let kid = v.get("kid").cloned();
    assert!(kid.is_none());
    let v = json_ok("ledger list", &issuer(&vendor, &["ledger", "list"]));
    assert_eq!(v["licenses"][0]["status"], "revoked");
    json_ok("ledger show", &issuer(&vendor, &["ledger", "show", &id]));
    json_ok("ledger lapsed", &issuer(&vendor, &["ledger", "lapsed"]));
    json_ok("ledger export", &issuer(&vendor, &["ledger", "export"]));
    json_ok_format("ledger verify", &issuer(&vendor, &["ledger", "verify", "--pub", s(&vendor.public)]), 2);
    json_ok("ledger overuse", &issuer(&vendor, &["ledger", "overuse"]));
    let v = json_ok("ledger forks", &issuer(&vendor, &["ledger", "forks"]));
    assert!(v["flags"].as_array().unwrap().is_empty());
    let v = json_ok("ledger show --token", &issuer(&vendor, &["ledger", "show", &id, "--token"]));
    assert_eq!(v["id"], id.as_str());
    json_ok("inspect", &issuer(&vendor, &["inspect", s(&out), "--pub", s(&vendor.public)]));
    let kid = std::fs::read_to_string(&out).unwrap();
    let kid =
        license_common::armor::read(&kid, license_common::Kind::License).unwrap().split('.').nth(1).unwrap().to_owned();
    let v =
        json_ok("retire-key", &issuer(&vendor, &["retire-key", &kid, "--not-after", "2030-01-01", "--reason", "x"]));
    assert_eq!(v["kid"], kid.as_str());
    let v = json_ok("completions", &issuer(&vendor, &["completions", "bash"]));
    assert!(v["script"].as_str().unwrap().contains("_issuer()"));
}

/// Runs `activator --json --state STATE ARGS`.
fn activator(state: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(bin("activator"));
    cmd.arg("--json").arg("--state").arg(state).args(args);
    run(cmd, stdin)
}

#[test]
fn every_activator_command_fails_as_one_json_object() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let state = install.state.clone();
    let missing = install.dir.path().join("no-state");
    let taken = install.dir.path().join("taken.txt");
    std::fs::write(&taken, "keep").unwrap();
    let garbage = install.dir.path().join("garbage.txt");
    std::fs::write(&garbage, "not a list").unwrap();
    let out = |name: &str| install.dir.path().join(name).to_str().unwrap().to_owned();
    let (r1, r2, r3) = (out("r1.txt"), out("r2.txt"), out("r3.txt"));
    let public = s(&vendor.public).to_owned();

    let cases: Vec<(&str, &Path, Vec<&str>, i32, &str)> = vec![
        (
            "init",
            &state,
            vec!["init", "--product", "data-platform", "--trust", &public],
            30,
            "ActivatorError::AlreadyInitialised",
        ),
        ("activate", &state, vec!["activate"], 2, "activator::NoLicenseSource"),
        ("request", &state, vec!["request", "--out", s(&taken)], 3, "OutputError::Exists"),
        ("receipt", &state, vec!["receipt", "--out", &r1], 30, "ActivatorError::NoLicense"),
        ("usage record", &missing, vec!["usage", "record", "--datakits", "3"], 30, "ActivatorError::NotInitialised"),
        (
            "usage report",
            &state,
            vec!["usage", "report", "--from", "2026-02-01", "--to", "2026-01-01", "--out", &r2],
            2,
            "ActivatorError::ReversedPeriod",
        ),
        ("deactivate", &state, vec!["deactivate", "--out", &r3], 30, "ActivatorError::NoLicense"),
        ("trust add", &state, vec!["trust", "add", s(&vendor.key)], 50, "KeyError::NotAPublicKey"),
        ("trust remove", &state, vec!["trust", "remove", "nope"], 2, "activator::NotAKeyId"),
        ("trust list", &missing, vec!["trust", "list"], 30, "ActivatorError::NotInitialised"),
        ("revocations import", &state, vec!["revocations", "import", s(&garbage)], 10, "EnvelopeError::Malformed"),
        ("history", &missing, vec!["history"], 30, "ActivatorError::NotInitialised"),
        (
            "gateway set",
            &state,
            vec!["gateway", "set", "gw.example.com/v1/write?token={}"],
            2,
            "GatewayError::MissingScheme",
        ),
        ("gateway show", &state, vec!["gateway", "show"], 30, "ActivatorError::NoGateway"),
        ("gateway render", &state, vec!["gateway", "render", "--token", "t"], 30, "ActivatorError::NoGateway"),
        ("credentials set", &state, vec!["credentials", "set"], 2, "activator::AccessKeyRequired"),
        ("credentials show", &missing, vec!["credentials", "show"], 30, "ActivatorError::NotInitialised"),
        ("status", &missing, vec!["status"], 30, "ActivatorError::NotInitialised"),
        ("completions", &state, vec!["completions", "no-such-shell"], 2, "Usage::InvalidValue"),
    ];
    let before = install.snapshot();
    for (what, dir, args, code, case) in &cases {
        let v = json_error(what, &activator(dir, args, None), *code);
        assert_eq!(v["error"]["case"], *case, "{what}: {v}");
    }
    assert_eq!(install.snapshot(), before, "no refusal changed the state directory");
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep");
    // `check` (which records the time: the product's heartbeat) says what
    // it checked, beside the error.
    let v = json_error("check", &activator(&state, &["check", "data_service"], None), 20);
    assert_eq!(v["error"]["case"], "Denied::Community");
    assert_eq!((v["feature"].as_str(), v["entitled"].as_bool()), (Some("data_service"), Some(false)), "{v}");
    assert_eq!(v["error"]["fields"]["feature"], "data_service");
}

#[test]
fn every_activator_command_that_prints_succeeds_with_json() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let f = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let public = s(&vendor.public).to_owned();
    let v = json_ok(
        "init",
        &activator(
            &state,
            &["init", "--product", "data-platform", "--region", "cn-hangzhou", "--trust", &public],
            None,
        ),
    );
    assert_eq!((v["edition"].as_str(), v["region"].as_str()), (Some("community"), Some("cn-hangzhou")));
    let install_id = v["install_id"].as_str().unwrap().to_owned();
    let v = json_ok("request", &activator(&state, &["request", "--out", &f("req.txt")], None));
    assert_eq!(v["install_id"], install_id.as_str());
    let license = vendor.issue(&[]);
    let v = json_ok("activate", &activator(&state, &["activate", "-"], Some(license.as_bytes())));
    assert_eq!((v["activated"].as_bool(), v["status"]["phase"].as_str()), (Some(true), Some("active")));
    let v = json_ok("receipt", &activator(&state, &["receipt", "--out", &f("rct.txt")], None));
    assert_eq!(v["install_id"], install_id.as_str());
    // Today, as the license counts its days.
    let v = json_ok("usage record", &activator(&state, &["usage", "record", "--datakits", "7"], None));
    assert_eq!(v["collectors"], 7);
    let today = v["day"].as_str().unwrap().to_owned();
    let v = json_ok(
        "usage report",
        &activator(&state, &["usage", "report", "--from", &today, "--to", &today, "--out", &f("use.txt")], None),
    );
    assert_eq!(v["days_with_a_record"], 1);
    let other = Vendor::new();
    let v = json_ok(
        "trust add",
        &activator(&state, &["trust", "add", s(&other.public), "--use", "licenses", "--yes"], None),
    );
    assert_eq!(v["use"], "licenses");
    let v = json_ok("trust list", &activator(&state, &["trust", "list"], None));
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    let kid = v["keys"][1]["kid"].as_str().unwrap().to_owned();
    json_ok("trust remove", &activator(&state, &["trust", "remove", &kid], None));
    json_ok("gateway set", &activator(&state, &["gateway", "set", "https://gw.example.com/v1/write?token={}"], None));
    json_ok("gateway show", &activator(&state, &["gateway", "show"], None));
    let v = json_ok("gateway render", &activator(&state, &["gateway", "render", "--token", "a b"], None));
    assert_eq!(v["url"], "https://gw.example.com/v1/write?token=a%20b");
    let sk = dir.path().join("sk");
    std::fs::write(&sk, "sk-secret-value\n").unwrap();
    let v = json_ok(
        "credentials set",
        &activator(&state, &["credentials", "set", "--ak", "AK1", "--sk-file", s(&sk)], None),
    );
    assert_eq!(v["credentials"]["secret_key"], "****alue");
    json_ok("credentials show", &activator(&state, &["credentials", "show"], None));
    json_ok("history", &activator(&state, &["history"], None));
    json_ok("status", &activator(&state, &["status"], None));
    let v = json_ok("check", &activator(&state, &["check", "data_service"], None));
    assert_eq!(v["entitled"], true);
    let v = json_ok("deactivate", &activator(&state, &["deactivate", "--out", &f("dea.txt")], None));
    assert!(v["license_id"].as_str().is_some());
    assert_eq!(v["again"], false);
    let v = json_ok("deactivate again", &activator(&state, &["deactivate", "--out", &f("dea-again.txt")], None));
    assert_eq!(v["again"], true);
    // A time attestation answers the newest request, made just before.
    json_ok("request", &activator(&state, &["request", "--out", &f("req-time.txt")], None));
    let mut attest = vendor.issuer();
    attest.args(["--json", "attest-time", "--bind", &f("req-time.txt"), "--out", &f("att.txt"), "--key"]);
    attest.arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
    let v = json_ok("issuer attest-time", &run(attest, None));
    assert_eq!(v["install_id"], install_id.as_str());
    let v = json_ok("time import", &activator(&state, &["time", "import", &f("att.txt")], None));
    assert!(v["mark"].is_string());
    let v = json_ok("completions", &activator(&state, &["completions", "bash"], None));
    assert!(v["script"].as_str().unwrap().contains("_activator()"));
    let list = {
        let mut ledger = vendor.open_ledger();
        ledger.export_revocations(&vendor.signing_key(), license_common::Timestamp::now()).unwrap().1
    };
    let file = dir.path().join("rev.txt");
    std::fs::write(&file, list).unwrap();
    let v = json_ok("revocations import", &activator(&state, &["revocations", "import", s(&file)], None));
    assert_eq!(v["sequence"], 1);
}
