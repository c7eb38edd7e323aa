//! What an install keeps true after revocation, deactivation, hand edits,
//! restores and wrong clocks — through the real binaries. Each test is one
//! of the cases issue 14 reproduced on the earlier main, with the
//! neighbours of its rule.

use std::path::{Path, PathBuf};
use std::process::Command;

use license_common::Timestamp;
use license_tests::{Install, Run, Vendor, bin, run};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn issuer(v: &Vendor, args: &[&str]) -> Run {
    let mut cmd = v.issuer();
    cmd.args(args);
    run(cmd, None)
}

fn signing(v: &Vendor, args: &[&str]) -> Run {
    let mut cmd = v.issuer();
    cmd.args(args).arg("--key").arg(&v.key).arg("--passphrase-file").arg(&v.pass_file);
    run(cmd, None)
}

fn export_list(v: &Vendor, out: &Path) {
    signing(v, &["revocations", "export", "--out", p(out)]).ok();
}

fn id_of(v: &Vendor, file: &Path) -> String {
    issuer(v, &["inspect", p(file), "--pub", p(&v.public), "--json"]).json()["license"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn an_older_license_never_returns_after_a_revocation_or_a_deactivation() {
    let v = Vendor::new();
    let (l1, l2) = (v.dir.path().join("l1.lic"), v.dir.path().join("l2.lic"));
    v.issue_run(&["--out", p(&l1)]).ok();
    let mut up = v.issuer();
    up.args(["upgrade", "--from", p(&l1), "--package", "data_service=api.s1.medium", "--out", p(&l2)]);
    up.arg("--key").arg(&v.key).arg("--passphrase-file").arg(&v.pass_file).arg("--catalog").arg(&v.catalog);
    run(up, None).ok();

    // The newest is revoked by id only (no floor reaches l1 in this list's
    // eyes: the vendor revoked l2 alone); the install drops to community.
    let install = Install::new(&v);
    install.run(&["activate", p(&l1)], None).ok();
    install.run(&["activate", p(&l2)], None).ok();
    issuer(&v, &["revoke", &id_of(&v, &l2), "--reason", "chargeback"]).ok();
    let list = v.dir.path().join("rev.txt");
    export_list(&v, &list);
    install.run(&["revocations", "import", p(&list)], None).ok();
    assert!(install.run(&["status", "--json"], None).json()["license"].is_null());
    let before = install.snapshot();
    let err = install.run(&["activate", p(&l1)], None).fails_with(18).to_owned();
    assert!(err.contains("revoked up to sequence 2"), "{err}");
    assert_eq!(install.snapshot(), before);

    // Deactivation: the released license and anything older stay out.
    let other = Install::new(&v);
    other.run(&["activate", p(&l2)], None).ok();
    other.run(&["deactivate", "--out", p(&other.dir.path().join("released.txt"))], None).ok();
    for old in [&l1, &l2] {
        let err = other.run(&["activate", p(old)], None).fails_with(17).to_owned();
        assert!(err.contains("never comes back") || err.contains("released from this install"), "{err}");
    }
}

/// Edits `state.json` of `install` as `edit` says.
fn edit_state(install: &Install, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = install.state.join("state.json");
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut state);
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

#[test]
fn every_hand_edit_of_the_state_is_reported_damaged_with_what_to_do() {
    let v = Vendor::new();
    let other_install = Install::new(&v);
    let (req, bound) = (v.dir.path().join("req.txt"), v.dir.path().join("bound.lic"));
    other_install.run(&["request", "--out", p(&req)], None).ok();
    v.issue_run(&["--account", "acct-bound", "--bind", p(&req), "--out", p(&bound)]).ok();
    let bound_token = std::fs::read_to_string(&bound).unwrap();
    let bound_token = license_common::armor::read(&bound_token, license_common::Kind::License).unwrap();

    let template = Install::new(&v);
    let token = v.issue(&[]);
    template.activate(&token).ok();
    let revoked = v.issue_run(&["--json"]).json()["id"].as_str().unwrap().to_owned();
    issuer(&v, &["revoke", &revoked, "--reason", "closed"]).ok();
    let list = v.dir.path().join("rev.txt");
    export_list(&v, &list);
    template.run(&["revocations", "import", p(&list)], None).ok();
    let mut lib = license_activator::Activator::open(&template.state).unwrap();
    lib.observe_clock(Timestamp::now().plus(chrono::Duration::days(2))).unwrap();

    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("the revocation list removed", Box::new(|s| s["revocation_list"] = serde_json::Value::Null)),
        ("the floors removed", Box::new(|s| s["chains"] = serde_json::json!([]))),
        ("the clock mark lowered", Box::new(|s| s["high_water"] = "2020-01-01T00:00:00Z".into())),
        ("the clock mark deleted", Box::new(|s| s["high_water"] = serde_json::Value::Null)),
        (
            "a license bound to another install put in",
            Box::new(move |s| s["license"]["token"] = bound_token.clone().into()),
        ),
        ("the product changed", Box::new(|s| s["product"] = "observability".into())),
        ("the region changed", Box::new(|s| s["region"] = "cn-beijing".into())),
        ("the usage counts changed", Box::new(|s| s["usage"] = serde_json::json!({"2026-01-01": 1}))),
        ("the MAC removed", Box::new(|s| s["mac"] = serde_json::Value::Null)),
        ("downgraded to format 2", Box::new(|s| s["format"] = 2.into())),
    ];
    for (i, (what, edit)) in cases.into_iter().enumerate() {
        let install = Install::new(&v);
        copy_dir(&template.state, &install.state);
        edit_state(&install, edit);
        let err = install.run(&["status"], None).fails_with(30).to_owned();
        assert!(err.contains("is damaged") && err.contains("restore the whole directory"), "{i} {what}: {err}");
        install.run(&["check", "data_service"], None).fails_with(30);
        install.activate(&token).fails_with(30);
    }

    // An older state.json put back beside newer files.
    let install = Install::new(&v);
    copy_dir(&template.state, &install.state);
    let old = std::fs::read(install.state.join("state.json")).unwrap();
    install.run(&["usage", "record", "--datakits", "5"], None).ok();
    std::fs::write(install.state.join("state.json"), old).unwrap();
    let err = install.run(&["status"], None).fails_with(30).to_owned();
    assert!(err.contains("older copy"), "{err}");
    // A missing MAC key.
    let install = Install::new(&v);
    copy_dir(&template.state, &install.state);
    std::fs::remove_file(install.state.join("state.key")).unwrap();
    let err = install.run(&["status"], None).fails_with(30).to_owned();
    assert!(err.contains("state.key"), "{err}");
    // The untouched copy works: the refusals were about the edits.
    let install = Install::new(&v);
    copy_dir(&template.state, &install.state);
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["clock_set_back"], true, "{status}");
}

#[test]
fn a_restored_backup_forks_the_chain_the_vendor_sees() {
    let v = Vendor::new();
    let install = Install::new(&v);
    let l1 = v.dir.path().join("l1.lic");
    v.issue_run(&["--out", p(&l1)]).ok();
    install.run(&["activate", p(&l1)], None).ok();
    let f = |name: &str| install.dir.path().join(name);
    install.run(&["receipt", "--out", p(&f("receipt.txt"))], None).ok();
    issuer(&v, &["receipts", "import", p(&f("receipt.txt"))]).ok();
    // The backup, before the revocation.
    let backup = install.dir.path().join("backup");
    copy_dir(&install.state, &backup);
    let today = chrono::Utc::now().date_naive().to_string();
    install.run(&["usage", "record", "--datakits", "30"], None).ok();
    install.run(&["usage", "report", "--from", &today, "--to", &today, "--out", p(&f("usage-1.txt"))], None).ok();
    issuer(&v, &["usage", "import", p(&f("usage-1.txt"))]).ok();
    assert!(issuer(&v, &["ledger", "forks", "--json"]).json()["flags"].as_array().unwrap().is_empty());
    issuer(&v, &["revoke", &id_of(&v, &l1), "--reason", "chargeback"]).ok();
    let list = v.dir.path().join("rev.txt");
    export_list(&v, &list);
    install.run(&["revocations", "import", p(&list)], None).ok();
    assert!(install.run(&["status", "--json"], None).json()["license"].is_null(), "revoked");

    // The operator restores the whole directory: offline, it cannot be told
    // from the real one, and the license runs again.
    std::fs::remove_dir_all(&install.state).unwrap();
    copy_dir(&backup, &install.state);
    assert!(install.run(&["status", "--json"], None).json()["license"]["id"].is_string());
    install.run(&["usage", "record", "--datakits", "45"], None).ok();
    install.run(&["usage", "report", "--from", &today, "--to", &today, "--out", p(&f("usage-2.txt"))], None).ok();
    // The vendor sees it as soon as anything from the restored install comes in.
    let imported = issuer(&v, &["--json", "usage", "import", p(&f("usage-2.txt"))]).json();
    assert_eq!(imported["imported"][0]["flag"]["problem"], "fork", "{imported}");
    let text = issuer(&v, &["usage", "import", p(&f("usage-2.txt"))]).ok().to_owned();
    assert!(text.contains("imported before"), "{text}");
    let forks = issuer(&v, &["ledger", "forks", "--json"]).json();
    let flag = &forks["flags"][0];
    assert_eq!(flag["problem"], "fork");
    assert_eq!(flag["license_id"], id_of(&v, &l1).as_str());
    assert_eq!(flag["counter"], 2);
    let sha = |file: &Path| {
        let token =
            license_common::armor::read(&std::fs::read_to_string(file).unwrap(), license_common::Kind::UsageReport)
                .unwrap();
        license_common::exchange::chain_hash(&token)
    };
    assert_eq!(flag["first"], sha(&f("usage-1.txt")).as_str(), "the file on record");
    assert_eq!(flag["second"], sha(&f("usage-2.txt")).as_str(), "the file of the restored install");
    let text = issuer(&v, &["ledger", "forks"]).ok().to_owned();
    assert!(text.contains("restored from a backup"), "{text}");
}

#[test]
fn a_license_signed_ahead_of_the_clock_is_refused_and_never_bricks_the_install() {
    let v = Vendor::new();
    let install = Install::new(&v);
    let ahead = Timestamp::now().plus(chrono::Duration::days(2));
    let future = v.sign_custom(|l| {
        l.issued_at = ahead;
        l.not_before = Timestamp::now().plus(-chrono::Duration::days(1));
        l.expires_at = Some(ahead.plus_days(365));
    });
    let before = install.snapshot();
    let err = install.activate(&future).fails_with(14).to_owned();
    assert!(err.contains(&ahead.to_string()) && err.contains("later than this machine's clock"), "{err}");
    assert_eq!(install.snapshot(), before, "nothing changed, the clock mark included");
    // The install goes on as before: a license signed now activates.
    install.activate(&v.issue(&[])).ok();
    install.run(&["check", "data_service"], None).ok();
}

#[test]
fn a_clock_mark_pushed_forward_comes_back_with_the_vendors_time_attestation() {
    let v = Vendor::new();
    let install = Install::new(&v);
    install.activate(&v.issue(&[])).ok();
    // A wrong clock, two days ahead, ran the install once.
    let mut lib = license_activator::Activator::open(&install.state).unwrap();
    lib.observe_clock(Timestamp::now().plus(chrono::Duration::days(2))).unwrap();
    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("clock was set back"), "{err}");

    let f = |name: &str| install.dir.path().join(name);
    install.run(&["request", "--out", p(&f("req.txt"))], None).ok();
    let att = f("att.txt");
    let done = signing(&v, &["--json", "attest-time", "--bind", p(&f("req.txt")), "--out", p(&att)]).json();
    assert_eq!(done["install_id"], install.run(&["status", "--json"], None).json()["install_id"]);
    let said = install.run(&["time", "import", p(&att)], None).ok().to_owned();
    assert!(said.contains("the vendor attests the time"), "{said}");
    install.run(&["check", "data_service"], None).ok();
    // The same attestation again, or one for another install: refused.
    install.run(&["time", "import", p(&att)], None).fails_with(17);
    let other = Install::new(&v);
    let err = other.run(&["time", "import", p(&att)], None).fails_with(16).to_owned();
    assert!(err.contains("not this one"), "{err}");
}

/// An attestation kept for later cannot take the clock mark back to a time
/// the install has passed since (and so revive a license that expired
/// meanwhile): it must answer the newest request, made while the mark was
/// where it still is; importing it uses the request up.
#[test]
fn a_kept_time_attestation_cannot_take_the_clock_mark_back() {
    let v = Vendor::new();
    let install = Install::new(&v);
    install.activate(&v.issue(&[])).ok();
    let f = |name: &str| install.dir.path().join(name);
    let attest = |req: &str, out: &str| {
        signing(&v, &["attest-time", "--bind", p(&f(req)), "--out", p(&f(out))]).ok();
    };
    // A request and its attestation, kept; then the install runs on: the
    // mark moves past the vendor's time (as it would over the months a
    // license runs out in).
    install.run(&["request", "--out", p(&f("req-1.txt"))], None).ok();
    attest("req-1.txt", "att-1.txt");
    let mut lib = license_activator::Activator::open(&install.state).unwrap();
    lib.observe_clock(Timestamp::now().plus(chrono::Duration::days(40))).unwrap();
    let before = install.snapshot();
    let err = install.run(&["time", "import", p(&f("att-1.txt"))], None).fails_with(17).to_owned();
    assert!(err.contains("the clock mark moved from"), "{err}");
    assert_eq!(install.snapshot(), before, "the mark stays where it is");
    // A newer request replaces the one the kept attestation answers.
    install.run(&["request", "--out", p(&f("req-2.txt"))], None).ok();
    let err = install.run(&["time", "import", p(&f("att-1.txt"))], None).fails_with(17).to_owned();
    assert!(err.contains("does not answer the newest activation request"), "{err}");
    // The answer to that newest request, at once: the mark comes back (the
    // vendor's clock is the true one), and the request is used up.
    attest("req-2.txt", "att-2.txt");
    let done = install.run(&["time", "import", p(&f("att-2.txt")), "--json"], None).json();
    assert!(done["mark"].as_str().unwrap() < Timestamp::now().plus(chrono::Duration::days(1)).to_string().as_str());
    install.run(&["check", "data_service"], None).ok();
    let after = install.snapshot();
    install.run(&["time", "import", p(&f("att-2.txt"))], None).fails_with(17);
    assert_eq!(install.snapshot(), after, "a replay changes nothing");
    // An attestation of the first format answers no request: refused.
    install.run(&["request", "--out", p(&f("req-3.txt"))], None).ok();
    let old = license_common::exchange::TimeAttestation {
        format: 1,
        request: None,
        install_id: install.run(&["status", "--json"], None).json()["install_id"].as_str().unwrap().to_owned(),
        product: "data-platform".into(),
        time: Timestamp::now().plus(chrono::Duration::hours(1)),
    };
    let token = v.signing_key().seal(license_common::Kind::TimeAttestation, &serde_json::to_vec(&old).unwrap());
    std::fs::write(f("att-old.txt"), format!("{token}\n")).unwrap();
    let err = install.run(&["time", "import", p(&f("att-old.txt"))], None).fails_with(17).to_owned();
    assert!(err.contains("does not answer the newest activation request"), "{err}");
}

#[test]
fn revocation_lists_cannot_be_dated_ahead_signed_by_a_retired_key_or_block_later_lists() {
    let v = Vendor::new();
    let install = Install::new(&v);
    install.activate(&v.issue(&[])).ok();
    let key = v.signing_key();
    let now = Timestamp::now();
    let list = |sequence: u64, issued_at: Timestamp, retired: Vec<license_common::revocation::RetiredKey>| {
        let list = license_common::revocation::RevocationList {
            format: 2,
            sequence,
            issued_at,
            revoked: Vec::new(),
            retired_keys: retired,
            floors: Vec::new(),
            distrusted_keys: Vec::new(),
        };
        key.seal(license_common::Kind::RevocationList, &serde_json::to_vec(&list).unwrap())
    };
    let import = |token: &str| install.run(&["revocations", "import", "-"], Some(token.as_bytes()));
    // Dated two days ahead of this machine's clock.
    let err = import(&list(5, now.plus_days(2), Vec::new())).fails_with(18).to_owned();
    assert!(err.contains("later than this machine's clock"), "{err}");
    // An absurd sequence does not block the vendor's next list.
    import(&list(u64::MAX, now.plus(-chrono::Duration::hours(2)), Vec::new())).ok();
    let next = v.dir.path().join("rev.txt");
    export_list(&v, &next);
    install.run(&["revocations", "import", p(&next)], None).ok();
    // Signed by a key the list itself retired before its date.
    let retired = vec![license_common::revocation::RetiredKey {
        kid: key.kid(),
        not_after: now.plus(-chrono::Duration::days(1)),
        reason: "rotated".into(),
    }];
    let err = import(&list(9, now.plus(chrono::Duration::minutes(1)), retired)).fails_with(12).to_owned();
    assert!(err.contains("which was retired"), "{err}");
}

/// A secret key file of the directory that others can read is named in
/// `status`, until its mode is private again.
#[test]
fn status_warns_of_a_key_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let v = Vendor::new();
    let install = Install::new(&v);
    install.activate(&v.issue(&[])).ok();
    let warnings = || install.run(&["status", "--json"], None).json()["warnings"].to_string();
    assert!(!warnings().contains("can be read by other users"), "{}", warnings());
    for name in ["install.key", "state.key"] {
        let path = install.state.join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let said = warnings();
        assert!(said.contains(&format!("{name} can be read by other users (mode 0644)")), "{name}: {said}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!warnings().contains("can be read by other users"));
    }
}

#[test]
fn trust_add_shows_the_fingerprint_and_asks_and_status_shows_the_install() {
    let v = Vendor::new();
    let other = Vendor::new();
    let install = Install::new(&v);
    let before = install.snapshot();
    let r = install.run(&["trust", "add", p(&other.public)], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("fingerprint") && r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(install.snapshot(), before, "nothing is trusted without a yes");
    // The fingerprint is what OpenSSL computes from the same file.
    let der =
        Command::new("openssl").args(["pkey", "-pubin", "-in", p(&other.public), "-outform", "DER"]).output().unwrap();
    assert!(der.status.success());
    use sha2::Digest;
    let expected: Vec<String> = sha2::Sha256::digest(&der.stdout).iter().map(|b| format!("{b:02x}")).collect();
    let done = install.run(&["--json", "trust", "add", p(&other.public), "--yes"], None).json();
    assert_eq!(done["fingerprint"], expected.join(":").as_str());
    let text = install.run(&["trust", "add", p(&other.public), "--yes"], None).ok().to_owned();
    assert!(text.contains("Trusting it means") && text.contains(&expected.join(":")), "{text}");
    let status = install.run(&["status"], None).ok().to_owned();
    assert!(status.contains("Install id:") && status.contains("Vendor keys:  the state's keyring"), "{status}");
}

#[test]
fn a_license_mangled_by_mail_still_activates_and_a_changed_byte_is_still_refused() {
    let v = Vendor::new();
    let file = v.dir.path().join("l.lic");
    v.issue_run(&["--out", p(&file)]).ok();
    let armored = std::fs::read_to_string(&file).unwrap();
    let token = license_common::armor::read(&armored, license_common::Kind::License).unwrap();
    let rewrapped = {
        let body: String =
            token.as_bytes().chunks(76).map(|c| format!("{}\n", std::str::from_utf8(c).unwrap())).collect();
        format!("-----BEGIN LICENSE-----\n{body}-----END LICENSE-----\n")
    };
    type Mangle = Box<dyn Fn(&str) -> String>;
    let manglings: Vec<(&str, Mangle)> = vec![
        ("quoted", Box::new(|t: &str| t.lines().map(|l| format!("> {l}\n")).collect())),
        ("quoted twice", Box::new(|t: &str| t.lines().map(|l| format!(">> {l}\n")).collect())),
        ("indented", Box::new(|t: &str| t.lines().map(|l| format!("    {l}\n")).collect())),
        ("trailing spaces", Box::new(|t: &str| t.lines().map(|l| format!("{l}  \n")).collect())),
        ("a byte-order mark", Box::new(|t: &str| format!("\u{feff}{t}"))),
        ("CRLF", Box::new(|t: &str| t.replace('\n', "\r\n"))),
        ("in a letter", Box::new(|t: &str| format!("Dear operator,\n\nhere it is:\n{t}\n-- \nSales\n"))),
    ];
    let install = Install::new(&v);
    let mut refused = 0;
    for (what, mangle) in &manglings {
        for original in [armored.as_str(), rewrapped.as_str()] {
            let text = mangle(original);
            let r = install.activate(&text);
            assert_eq!(r.code, 0, "{what}: {}", r.stderr);
            // One signed byte changed, under the same mangling: refused.
            let at = text.find(&token[40..60]).unwrap() + 5;
            let mut bytes = text.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            let r = install.activate(&changed);
            assert!([10, 11].contains(&r.code), "{what}, a byte changed: {} {}", r.code, r.stderr);
            refused += 1;
        }
    }
    assert_eq!(refused, manglings.len() * 2);
    let mut text = armored.clone();
    text.insert_str(text.find(&token[..64]).unwrap() + 64, "\nSent from my phone");
    let err = install.activate(&text).fails_with(10).to_owned();
    assert!(err.contains("`Sent from my phone` is not part of the token") && err.contains("remove it"), "{err}");
}

#[test]
fn gateway_addresses_parsers_read_differently_are_refused_and_the_stored_one_is_normalised() {
    let v = Vendor::new();
    let install = Install::new(&v);
    for bad in [
        "https://evil.example\\@gw.example.com/v1/write?token={}",
        "https://gw.example.com\\v1/write?token={}",
        "https://gw%2Eexample.com/v1/write?token={}",
        "https://user@gw.example.com/v1/write?token={}",
    ] {
        install.run(&["gateway", "set", bad], None).fails_with(2);
    }
    let said = install.run(&["gateway", "set", "https://GW.Example.com:443/v1/./x/../write?token={}"], None);
    assert!(said.ok().contains("stored as `https://gw.example.com/v1/write?token={}`"), "{}", said.stdout);
    assert_eq!(install.run(&["gateway", "show"], None).ok().trim(), "https://gw.example.com/v1/write?token={}");
}

#[test]
fn init_refuses_a_shared_directory_and_planted_keys_and_leaves_others_files_alone() {
    use std::os::unix::fs::PermissionsExt;
    let v = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let init = |state: &PathBuf| {
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(state).args(["init", "--product", "data-platform", "--trust"]).arg(&v.public);
        run(cmd, None)
    };
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = init(&shared).fails_with(30).to_owned();
    assert!(err.contains("can be written by other users") && err.contains("chmod 700"), "{err}");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0, "nothing was written");

    let planted = dir.path().join("planted");
    std::fs::create_dir(&planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(planted.join("install.key"), "not ours").unwrap();
    let err = init(&planted).fails_with(30).to_owned();
    assert!(err.contains("install.key already exists"), "{err}");

    // Another program's temporary files in the state directory survive.
    let install = Install::new(&v);
    std::fs::write(install.state.join(".tmp-editor-swap"), "mine").unwrap();
    std::fs::write(install.state.join(".tmp-license-state.json-1-7"), "a live writer's").unwrap();
    install.activate(&v.issue(&[])).ok();
    assert!(install.state.join(".tmp-editor-swap").exists());
    assert!(install.state.join(".tmp-license-state.json-1-7").exists(), "pid 1 is alive: not ours to remove");
    // The same state becomes unusable if others may write into it.
    std::fs::set_permissions(&install.state, std::fs::Permissions::from_mode(0o775)).unwrap();
    install.run(&["status"], None).fails_with(30);
}

#[test]
fn deactivate_into_a_missing_directory_releases_nothing() {
    let v = Vendor::new();
    let install = Install::new(&v);
    install.activate(&v.issue(&[])).ok();
    let before = install.snapshot();
    let missing = install.dir.path().join("no/such/dir/released.txt");
    let err = install.run(&["deactivate", "--out", p(&missing)], None).fails_with(3).to_owned();
    assert!(err.contains("no/such/dir"), "{err}");
    assert_eq!(install.snapshot(), before, "the license is still in force");
}

/// The activator on `install`'s directory, on the machine named `machine`.
fn on(install: &Install, machine: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("activator"));
    cmd.arg("--state").arg(&install.state).args(args).env("ACTIVATOR_MACHINE_ID", machine);
    run(cmd, None)
}

/// An install made on machine-one and a license bound to it (not activated).
fn bound_on_machine_one(v: &Vendor) -> (Install, PathBuf) {
    let install = Install::on_machine(v, "machine-one");
    let (req, lic) = (install.dir.path().join("req.txt"), install.dir.path().join("l.lic"));
    on(&install, "machine-one", &["request", "--out", p(&req)]).ok();
    v.issue_run(&["--bind", p(&req), "--out", p(&lic)]).ok();
    (install, lic)
}

#[test]
fn a_state_directory_copied_to_another_machine_does_not_run_its_bound_license() {
    let v = Vendor::new();
    let (install, lic) = bound_on_machine_one(&v);
    on(&install, "machine-one", &["activate", p(&lic)]).ok();
    on(&install, "machine-one", &["check", "data_service"]).ok();
    // The same directory on another machine: the bound license is not accepted there.
    let status = on(&install, "machine-two", &["status", "--json"]).json();
    assert!(status["license"].is_null(), "{status}");
    assert!(status["warnings"].to_string().contains("made on another machine"), "{status}");
    on(&install, "machine-two", &["check", "data_service"]).fails_with(20);
    on(&install, "machine-one", &["check", "data_service"]).ok();
}

#[test]
fn a_bound_license_is_refused_on_another_machine_and_nothing_is_stored() {
    let v = Vendor::new();
    let (install, lic) = bound_on_machine_one(&v);
    let before = install.snapshot();
    // The directory copied to another machine before the license came: the
    // license is bound to this install id, but not on this machine.
    let refused = on(&install, "machine-two", &["activate", p(&lic)]);
    refused.fails_with(16);
    assert!(refused.stderr.contains("on another machine than it was made on"), "{}", refused.stderr);
    assert_eq!(install.snapshot(), before, "a refused license changes nothing");
    assert_eq!(on(&install, "machine-two", &["history", "--json"]).json()["history"], serde_json::json!([]));
    // Where it was made, the same license is accepted.
    on(&install, "machine-one", &["activate", p(&lic)]).ok();
    on(&install, "machine-one", &["check", "data_service"]).ok();
}
