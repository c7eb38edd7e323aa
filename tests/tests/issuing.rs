//! `issuer keygen`, `issue` and `inspect` as a vendor uses them: orders from
//! flags or files, refusals that name the catalog rule, key files that
//! OpenSSL reads, and secrets that stay secret.

use std::process::Command;

use license_tests::{PASSPHRASE, Vendor, bin, run};

fn issuer(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("issuer"));
    cmd.args(args);
    cmd
}

#[test]
fn openssl_reads_the_encrypted_key_and_agrees_on_the_public_key() {
    let vendor = Vendor::new();
    let pem = std::fs::read_to_string(&vendor.key).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&vendor.key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let out = Command::new("openssl")
        .args(["pkey", "-in"])
        .arg(&vendor.key)
        .arg("-passin")
        .arg(format!("file:{}", vendor.pass_file.display()))
        .arg("-pubout")
        .output()
        .expect("openssl must be installed (.ci/run installs it)");
    assert!(out.status.success(), "openssl pkey refused the key: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), std::fs::read_to_string(&vendor.public).unwrap());

    let wrong = Command::new("openssl")
        .args(["pkey", "-in"])
        .arg(&vendor.key)
        .args(["-passin", "pass:wrong", "-noout"])
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "the key must really be encrypted");
}

#[test]
fn keygen_never_overwrites_and_never_echoes_the_passphrase() {
    let vendor = Vendor::new();
    let before = std::fs::read(&vendor.key).unwrap();
    let mut cmd = issuer(&["keygen", "--out"]);
    cmd.arg(vendor.key.parent().unwrap()).arg("--passphrase-file").arg(&vendor.pass_file);
    let r = run(cmd, None);
    let err = r.fails_with(3);
    assert!(err.contains("already exists") && err.contains("move the old key away"), "{err}");
    assert_eq!(std::fs::read(&vendor.key).unwrap(), before);
    assert!(!r.stdout.contains(PASSPHRASE) && !err.contains(PASSPHRASE));
}

#[test]
fn wrong_passphrase_is_a_key_error_and_is_not_echoed() {
    let vendor = Vendor::new();
    let mut cmd = issuer(&["issue", "--key"]);
    cmd.arg(&vendor.key).args(["--catalog"]).arg(&vendor.catalog);
    cmd.args(["--account", "a", "--licensee", "b", "--region", "cn-hangzhou", "--edition", "basic_rnd"]);
    cmd.args(["--engine", "hadoop", "--plan", "subscription", "--quota", "processing_units=20"]);
    cmd.env("ISSUER_PASSPHRASE", "not-the-passphrase-xyzzy");
    let out = cmd.output().unwrap();
    let r = (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert_eq!(r.0, Some(50), "{}", r.1);
    assert!(r.1.contains("passphrase does not open"), "{}", r.1);
    assert!(!r.1.contains("xyzzy"));
}

#[test]
fn refusals_name_the_catalog_rule_and_sign_nothing() {
    let vendor = Vendor::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--edition", "platinum"], "edition `platinum` is not in the catalog"),
        (&["--plan", "perpetual"], "is not sold on plan `perpetual`"),
        (&["--package", "data_service=api.s9.huge"], "has no tier `api.s9.huge`"),
        (&["--package", "coffee=large"], "package `coffee` is not in the catalog"),
        (
            &["--edition", "basic_rnd", "--engine", "adb_pg", "--package", "asset_quality=standard"],
            "edition `basic_rnd` on engine `adb_pg` does not take package `asset_quality`",
        ),
        (
            &["--edition", "offline_integration", "--package", "data_service=api.base"],
            "does not take package `data_service`",
        ),
        (&["--engine", "spark"], "engine `spark` is not in the catalog"),
        (&["--region", "mars-1"], "region `mars-1` is not in the catalog"),
        (&["--settlement", "cash"], "settlement account `cash` is not in the catalog"),
        (&["--quota", "processing_units=41"], "sold in steps of 20, 40"),
        (&["--until", "2020-01-01"], "expire"),
    ];
    for (flags, message) in cases {
        let out = vendor.dir.path().join("refused.lic");
        let mut all = flags.to_vec();
        all.extend(["--out", out.to_str().unwrap()]);
        let r = vendor.issue_run(&all);
        let err = r.fails_with(40);
        assert!(err.contains(message), "{flags:?}: {err}");
        assert!(!out.exists(), "{flags:?}: a refused order wrote a license");
    }
}

#[test]
fn an_invalid_catalog_names_the_line() {
    let vendor = Vendor::new();
    let text = std::fs::read_to_string(&vendor.catalog).unwrap();
    let broken = text.replacen("adb_pg = [\"data_service\"]", "adb_pg = [\"data_extracton\"]", 1);
    assert_ne!(broken, text, "the catalog changed shape; update this test");
    let path = vendor.dir.path().join("broken.toml");
    std::fs::write(&path, &broken).unwrap();
    let line = broken.lines().position(|l| l.contains("data_extracton")).unwrap() + 1;
    let mut cmd = issuer(&["issue", "--key"]);
    cmd.arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file).arg("--catalog").arg(&path);
    cmd.args([
        "--account",
        "a",
        "--licensee",
        "b",
        "--region",
        "cn-hangzhou",
        "--edition",
        "basic_rnd",
        "--plan",
        "subscription",
    ]);
    let r = run(cmd, None);
    let err = r.fails_with(41);
    assert!(err.contains(&format!("line {line}:")) && err.contains("data_extracton"), "{err}");
}

#[test]
fn orders_from_toml_and_json_files() {
    let vendor = Vendor::new();
    let toml = "account = \"acct-7\"\nlicensee = \"Files Inc\"\nregion = \"cn-beijing\"\nedition = \"basic_rnd\"\n\
                engine = \"hadoop\"\nplan = \"subscription\"\nmonths = 24\n[packages]\ndata_service = \"api.base\"\n\
                [quotas]\nprocessing_units = 100\n";
    let json = r#"{"account": "acct-8", "licensee": "Json Ltd", "region": "cn-beijing", "edition": "intelligent_rnd",
                   "engine": "maxcompute", "plan": "pay_as_you_go", "quotas": {"processing_units": 20},
                   "until": "2031-01-01"}"#;
    for (name, text, account) in [("order.toml", toml, "acct-7"), ("order.json", json, "acct-8")] {
        let path = vendor.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut cmd = issuer(&["issue", "--key"]);
        cmd.arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file).arg("--catalog").arg(&vendor.catalog);
        cmd.arg("--order").arg(&path).arg("--json");
        let v = run(cmd, None).json();
        assert_eq!(v["license"]["account"], account, "{name}");
        if name == "order.json" {
            assert_eq!(v["license"]["expires_at"], "2031-01-01T00:00:00Z", "a date in an order is its midnight UTC");
        }
        assert!(v["token"].as_str().unwrap().starts_with("lic1."));
    }
    let path = vendor.dir.path().join("bad.toml");
    std::fs::write(&path, format!("{toml}discount = 50\n")).unwrap();
    let mut cmd = issuer(&["issue", "--key"]);
    cmd.arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file).arg("--catalog").arg(&vendor.catalog);
    cmd.arg("--order").arg(&path);
    let r = run(cmd, None);
    assert!(r.fails_with(40).contains("discount"), "{}", r.stderr);
    // A package or quota named twice in a JSON order: refused, not the last one kept.
    for twice in [
        json.replace(
            r#""quotas": {"processing_units": 20}"#,
            r#""quotas": {"processing_units": 20, "processing_units": 40}"#,
        ),
        json.replace(
            r#""quotas""#,
            r#""packages": {"data_service": "api.base", "data_service": "api.s1.small"}, "quotas""#,
        ),
    ] {
        let path = vendor.dir.path().join("twice.json");
        std::fs::write(&path, &twice).unwrap();
        let mut cmd = issuer(&["issue", "--key"]);
        cmd.arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file).arg("--catalog").arg(&vendor.catalog);
        cmd.arg("--order").arg(&path);
        let r = run(cmd, None);
        assert!(r.fails_with(40).contains("duplicate key"), "{twice}: {}", r.stderr);
    }
}

/// `--package` or `--quota` twice for one name: which value was meant is
/// not guessed, for an order, an upgrade or a quote; nothing is signed.
#[test]
fn a_package_or_quota_given_twice_is_refused() {
    let vendor = Vendor::new();
    let out = vendor.dir.path().join("twice.lic");
    let twice: &[(&[&str], &str)] = &[
        (
            &["--quota", "processing_units=20", "--quota", "processing_units=40"],
            "--quota processing_units is given twice (20, then 40)",
        ),
        (
            &["--package", "data_service=api.base", "--package", "data_service=api.s1.small"],
            "--package data_service is given twice (api.base, then api.s1.small)",
        ),
    ];
    for (flags, message) in twice {
        let mut all = flags.to_vec();
        all.extend(["--out", out.to_str().unwrap()]);
        let r = vendor.issue_run(&all);
        assert!(r.fails_with(2).contains(message), "{flags:?}: {}", r.stderr);
        assert!(!out.exists(), "{flags:?}: nothing is signed");
    }
    let current = vendor.dir.path().join("current.lic");
    vendor.issue_run(&["--account", "acct-twice", "--out", current.to_str().unwrap()]).ok();
    for command in ["upgrade", "quote"] {
        let mut cmd = vendor.issuer();
        cmd.args([command, "--from"]).arg(&current).arg("--catalog").arg(&vendor.catalog);
        if command == "upgrade" {
            cmd.arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file).arg("--out").arg(&out);
        } else {
            cmd.arg("--pub").arg(&vendor.public);
        }
        cmd.args(["--quota", "processing_units=40", "--quota", "processing_units=60"]);
        let r = run(cmd, None);
        assert!(r.fails_with(2).contains("--quota processing_units is given twice"), "{command}: {}", r.stderr);
        assert!(!out.exists(), "{command}: nothing is signed");
    }
}

#[test]
fn inspect_reads_stdin_and_refuses_another_key() {
    let vendor = Vendor::new();
    let stranger = Vendor::new();
    let token = vendor.issue(&[]);
    let mut cmd = issuer(&["inspect", "-", "--pub"]);
    cmd.arg(&vendor.public);
    let r = run(cmd, Some(token.as_bytes()));
    let out = r.ok();
    assert!(
        out.contains("Signature:    valid") && out.contains("Packages:     data_service = api.s1.small (qps 2500)"),
        "{out}"
    );
    assert!(out.contains("remaining"), "{out}");
    let mut cmd = issuer(&["inspect", "-", "--pub"]);
    cmd.arg(&stranger.public);
    run(cmd, Some(token.as_bytes())).fails_with(12);
}

#[test]
fn the_demo_keeps_its_artifacts_and_they_work_with_the_binaries() {
    let parent = tempfile::tempdir().unwrap();
    let mut cmd = issuer(&["demo"]);
    cmd.current_dir(parent.path());
    let r = run(cmd, None);
    let out = r.ok();
    let dir = std::fs::read_dir(parent.path()).unwrap().next().unwrap().unwrap().path();
    assert!(dir.file_name().unwrap().to_str().unwrap().starts_with("license-demo-"));
    assert!(out.contains("$ issuer keygen") && out.contains("$ activator --state"), "{out}");
    // The commands the demo printed work for real on what it left behind.
    let mut status = Command::new(bin("activator"));
    status.arg("--state").arg(dir.join("state")).args(["check", "data_service", "--tier", "api.s1.small"]);
    run(status, None).ok();
    let mut inspect = issuer(&["inspect"]);
    inspect.arg(dir.join("license.txt")).arg("--pub").arg(dir.join("keys/issuer.pub"));
    run(inspect, None).ok();
}

#[test]
fn an_existing_out_file_is_refused_before_anything_is_signed_or_recorded() {
    let vendor = Vendor::new();
    let out = vendor.dir.path().join("taken.lic");
    std::fs::write(&out, "keep me").unwrap();
    let err = vendor.issue_run(&["--out", out.to_str().unwrap()]).fails_with(3).to_owned();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    // Nothing was recorded: a ledger file was not even made.
    if vendor.postgres.is_none() {
        assert!(!vendor.ledger.exists(), "no ledger was made");
    } else {
        let mut list = vendor.issuer();
        list.args(["ledger", "list", "--json"]);
        assert_eq!(run(list, None).json()["licenses"].as_array().unwrap().len(), 0, "nothing was recorded");
    }

    let export = |path: &std::path::Path| {
        let mut cmd = vendor.issuer();
        cmd.args(["revocations", "export", "--key"]).arg(&vendor.key);
        cmd.arg("--passphrase-file").arg(&vendor.pass_file).arg("--out").arg(path);
        run(cmd, None)
    };
    export(&out).fails_with(3);
    let fresh = vendor.dir.path().join("rev.txt");
    assert!(export(&fresh).ok().contains("wrote revocation list 1 "), "the refused export used no sequence number");
}

#[test]
fn only_the_primary_account_may_upgrade() {
    let vendor = Vendor::new();
    let current = vendor.dir.path().join("current.lic");
    vendor.issue_run(&["--out", current.to_str().unwrap()]).ok();
    let mut cmd = vendor.issuer();
    cmd.args(["upgrade", "--from"]).arg(&current).arg("--key").arg(&vendor.key);
    cmd.arg("--passphrase-file").arg(&vendor.pass_file).arg("--catalog").arg(&vendor.catalog);
    cmd.args(["--account", "acct-someone-else", "--package", "data_service=api.s2.large"]);
    let r = run(cmd, None);
    assert!(r.fails_with(40).contains("only the primary account"), "{}", r.stderr);
}

/// A person at a terminal: `keygen` asks for the passphrase twice and
/// refuses two that differ; `issue` asks once; neither shows what was typed.
#[test]
fn the_passphrase_is_asked_at_a_terminal_without_echo() {
    use license_tests::terminal::on_terminal;
    let vendor = Vendor::new();
    let dir = vendor.dir.path();
    let typed = "tty-passphrase-4417";
    let mut keygen = issuer(&["keygen", "--out"]);
    keygen.arg(dir.join("tty-keys"));
    let differs = on_terminal(&keygen, &[typed, "another-passphrase-0"]);
    assert_eq!(differs.code, 50, "{}", differs.stdout);
    assert!(differs.stdout.contains("Passphrase: ") && differs.stdout.contains("Passphrase again: "));
    assert!(!dir.join("tty-keys/issuer.key").exists(), "nothing is written: {}", differs.stdout);
    let made = on_terminal(&keygen, &[typed, typed]);
    assert_eq!(made.code, 0, "{}", made.stdout);
    // The key is really under the typed passphrase: OpenSSL opens it with it.
    let key = dir.join("tty-keys/issuer.key");
    let out = Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&key)
        .arg("-passin")
        .arg(format!("pass:{typed}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut issue = vendor.issuer();
    issue.arg("issue").arg("--key").arg(&key).arg("--catalog").arg(&vendor.catalog);
    issue.args(["--account", "acct-tty", "--licensee", "TTY Ltd", "--region", "cn-hangzhou"]);
    issue.args(["--edition", "intelligent_rnd", "--engine", "maxcompute", "--plan", "subscription"]);
    issue.args(["--quota", "processing_units=40", "--package", "data_service=api.s1.small"]);
    issue.arg("--out").arg(dir.join("tty.lic"));
    let wrong = on_terminal(&issue, &["not-it"]);
    assert_eq!(wrong.code, 50, "{}", wrong.stdout);
    assert!(!dir.join("tty.lic").exists());
    let signed = on_terminal(&issue, &[typed]);
    assert_eq!(signed.code, 0, "{}", signed.stdout);
    assert!(std::fs::read_to_string(dir.join("tty.lic")).unwrap().contains("LICENSE"));
    for r in [&differs, &made, &wrong, &signed] {
        assert!(!r.stdout.contains(typed) && !r.stdout.contains("not-it"), "echoed: {}", r.stdout);
    }
}

/// A passphrase file saved with a byte-order mark: the mark is not part of
/// a new key's passphrase, and a key made under the file's whole text
/// (mark included, as before marks were dropped) still opens with it.
#[test]
fn a_passphrase_file_with_a_byte_order_mark_opens_new_and_old_keys() {
    use license_tests::terminal::on_terminal;
    let vendor = Vendor::new();
    let dir = vendor.dir.path();
    let words = "bom-passphrase-77";
    let marked = dir.join("marked-pass");
    std::fs::write(&marked, format!("\u{feff}{words}\r\n")).unwrap();
    let issue = |key: &std::path::Path, pass_file: Option<&std::path::Path>, n: usize| {
        let mut cmd = vendor.issuer();
        cmd.arg("issue").arg("--key").arg(key).arg("--catalog").arg(&vendor.catalog);
        if let Some(f) = pass_file {
            cmd.arg("--passphrase-file").arg(f);
        }
        cmd.args(["--account", &format!("acct-bom-{n}"), "--licensee", "BOM Ltd", "--region", "cn-hangzhou"]);
        cmd.args(["--edition", "intelligent_rnd", "--engine", "maxcompute", "--plan", "subscription"]);
        cmd.args(["--quota", "processing_units=40", "--package", "data_service=api.s1.small"]);
        cmd.arg("--out").arg(dir.join(format!("bom-{n}.lic")));
        cmd
    };
    // A new key from the marked file: its passphrase is the words alone.
    let mut keygen = issuer(&["keygen", "--out"]);
    keygen.arg(dir.join("new")).arg("--passphrase-file").arg(&marked);
    run(keygen, None).ok();
    let new_key = dir.join("new/issuer.key");
    run(issue(&new_key, Some(&marked), 1), None).ok();
    let typed = on_terminal(&issue(&new_key, None, 2), &[words]);
    assert_eq!(typed.code, 0, "{}", typed.stdout);
    // A key under the mark and the words (typed so at a terminal): the
    // marked file opens it; a file with the words alone does not.
    let mut keygen = issuer(&["keygen", "--out"]);
    keygen.arg(dir.join("old"));
    let old_pass = format!("\u{feff}{words}");
    let made = on_terminal(&keygen, &[&old_pass, &old_pass]);
    assert_eq!(made.code, 0, "{}", made.stdout);
    let old_key = dir.join("old/issuer.key");
    run(issue(&old_key, Some(&marked), 3), None).ok();
    let plain = dir.join("plain-pass");
    std::fs::write(&plain, format!("{words}\n")).unwrap();
    let e = run(issue(&old_key, Some(&plain), 4), None).fails_with(50).to_owned();
    assert!(e.contains("passphrase") && !e.contains(words), "{e}");
}

/// A mistyped ledger path: the commands that read the ledger, or change
/// what it already holds, refuse it rather than audit, list, bill or
/// import into a new, empty ledger; only a command that signs makes one.
#[test]
fn commands_that_read_the_ledger_refuse_a_path_with_no_ledger_and_make_nothing() {
    let v = Vendor::new();
    v.issue(&[]);
    let dir = v.dir.path();
    let typo = dir.join("typo").join("ledger.sqlite3");
    let rct = dir.join("r.txt");
    std::fs::write(&rct, "x").unwrap();
    let catalog = v.catalog.to_str().unwrap();
    let public = v.public.to_str().unwrap();
    for args in [
        vec!["ledger", "verify", "--pub", public],
        vec!["ledger", "list"],
        vec!["ledger", "export"],
        vec!["ledger", "forks"],
        vec!["ledger", "lapsed"],
        vec!["ledger", "show", "0192f7a0-0000-7000-8000-000000000001"],
        vec!["bill", "--account", "acct-1001", "--catalog", catalog, "--from", "2026-12-01", "--to", "2026-12-31"],
        vec!["revoke", "0192f7a0-0000-7000-8000-000000000001", "--reason", "typo"],
        vec!["receipts", "import", rct.to_str().unwrap()],
        vec!["serve", "token", "list"],
    ] {
        let mut cmd = issuer(&args);
        cmd.env("ISSUER_LEDGER", &typo);
        let out = run(cmd, None);
        assert_eq!(out.code, 30, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("there is no ledger file here"), "{args:?}: {}", out.stderr);
        assert!(!typo.exists() && !typo.parent().unwrap().exists(), "{args:?}: nothing was made");
    }
    // The real ledger still answers.
    let mut cmd = v.issuer();
    cmd.args(["ledger", "verify", "--pub", public]);
    assert!(run(cmd, None).ok().contains("verified 1 licenses"));
}
