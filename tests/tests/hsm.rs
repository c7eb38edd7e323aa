//! Signing keys in a hardware module: the real `issuer` binary against
//! SoftHSM2 (Debian's `softhsm2`), a PKCS#11 module we did not write, with
//! OpenSC's `pkcs11-tool` to look inside the token and the FORMAT.md
//! OpenSSL recipe to verify what it signed.
//!
//! Each test makes its own token directory (`SOFTHSM2_CONF`), so the tests
//! run in parallel without sharing a token.

use std::path::{Path, PathBuf};
use std::process::Command;

use license_tests::{Install, Run, Vendor, run, workspace};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "246810";

/// A SoftHSM2 token of its own, in `vendor`'s directory.
struct Token {
    conf: PathBuf,
    pin_file: PathBuf,
    label: String,
}

fn token(vendor: &mut Vendor, label: &str) -> Token {
    let dir = vendor.dir.path().join("softhsm");
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    let mut init = Command::new("softhsm2-util");
    init.env("SOFTHSM2_CONF", &conf);
    init.args(["--init-token", "--free", "--label", label, "--so-pin", "13579", "--pin", PIN]);
    let out = init.output().expect("softhsm2-util (Debian's softhsm2 package; scripts/test installs it)");
    assert!(out.status.success(), "softhsm2-util: {}", String::from_utf8_lossy(&out.stderr));
    let pin_file = dir.join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    vendor.env.push(("SOFTHSM2_CONF".into(), conf.clone()));
    Token { conf, pin_file, label: label.to_owned() }
}

fn uri(token: &Token, object: &str) -> String {
    format!("pkcs11:token={};object={object}?module-path={MODULE}", token.label)
}

/// `issuer keygen --pkcs11`, then the vendor signs with that key.
fn keygen(vendor: &mut Vendor, token: &Token, object: &str) -> Run {
    let keys = vendor.dir.path().join(format!("hsm-{object}"));
    let mut cmd = vendor.issuer();
    cmd.args(["keygen", "--json", "--out"]).arg(&keys).args(["--pkcs11", &uri(token, object)]);
    cmd.arg("--passphrase-file").arg(&token.pin_file);
    let made = run(cmd, None);
    if made.code == 0 {
        vendor.key = PathBuf::from(uri(token, object));
        vendor.public = keys.join("issuer.pub");
        vendor.pass_file = token.pin_file.clone();
    }
    made
}

/// What `pkcs11-tool` says of the token's objects.
fn objects(token: &Token) -> String {
    let mut cmd = Command::new("pkcs11-tool");
    cmd.env("SOFTHSM2_CONF", &token.conf);
    cmd.args(["--module", MODULE, "--login", "--pin", PIN, "--list-objects"]);
    let out = cmd.output().expect("pkcs11-tool (Debian's opensc package; scripts/test installs it)");
    assert!(out.status.success(), "pkcs11-tool: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl_verifies(public: &Path, license: &str, dir: &Path) -> serde_json::Value {
    let file = dir.join("hsm-license.txt");
    std::fs::write(&file, format!("{license}\n")).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(workspace().join("docs/recipes/verify-openssl.sh")).arg(public).arg(&file);
    run(cmd, None).json()
}

#[test]
fn a_key_made_inside_the_module_signs_licenses_that_openssl_and_the_activator_verify() {
    let mut vendor = Vendor::new();
    let t = token(&mut vendor, "vendor-ca");
    let made = keygen(&mut vendor, &t, "issuer-2026").json();
    let kid = made["kid"].as_str().unwrap().to_owned();
    assert_eq!(made["key"], format!("pkcs11:token={};object=issuer-2026", t.label));
    // Only the public key is written; the private key is in the token, and
    // the token says it is sensitive and was never extractable.
    let keys = vendor.public.parent().unwrap();
    let files: Vec<_> = std::fs::read_dir(keys).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files, ["issuer.pub"]);
    let listing = objects(&t);
    assert!(
        listing.contains("Private Key Object; EC_EDWARDS") || listing.contains("Private Key Object; EDDSA"),
        "{listing}"
    );
    assert!(listing.contains("never extractable") && listing.contains("sensitive"), "{listing}");
    assert!(listing.contains("label:      issuer-2026"), "{listing}");

    // A license signed through the module, verified by OpenSSL alone.
    let license = vendor.issue(&[]);
    let payload = openssl_verifies(&vendor.public, &license, vendor.dir.path());
    assert_eq!(payload["account"], "acct-1001");
    assert!(license.contains(&kid), "the license names the module's key {kid}: {license}");
    // The ledger's own check verifies what the module signed.
    ledger_verifies(&vendor);

    // An install that trusts the module's public key activates it.
    let install = Install::new(&vendor);
    install.activate(&license).ok();
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["license"]["id"], payload["id"]);

    // Upgrades and revocation lists sign through the module too.
    let from = vendor.dir.path().join("current.lic");
    std::fs::write(&from, format!("{license}\n")).unwrap();
    let mut cmd = vendor.issuer();
    cmd.args(["upgrade", "--from"]).arg(&from).arg("--key").arg(&vendor.key);
    cmd.arg("--trust").arg(&vendor.public).arg("--passphrase-file").arg(&vendor.pass_file);
    cmd.arg("--catalog").arg(&vendor.catalog).args(["--quota", "processing_units=80"]);
    let upgraded = run(cmd, None).ok().trim().to_owned();
    assert_eq!(openssl_verifies(&vendor.public, &upgraded, vendor.dir.path())["quotas"]["processing_units"], 80);
    let list = vendor.dir.path().join("revocations.txt");
    let mut cmd = vendor.issuer();
    cmd.args(["revocations", "export", "--key", vendor.key.to_str().unwrap(), "--passphrase-file"]);
    cmd.arg(&vendor.pass_file).arg("--out").arg(&list);
    run(cmd, None).ok();
    install.run(&["revocations", "import", list.to_str().unwrap()], None).ok();
}

#[test]
fn a_batch_signs_through_one_module_session_and_every_license_verifies() {
    let mut vendor = Vendor::new();
    let t = token(&mut vendor, "batch");
    keygen(&mut vendor, &t, "bulk").ok();
    let orders: String = (1..=40)
        .map(|i| format!(
            "{{\"account\":\"acct-hsm{i}\",\"licensee\":\"Customer {i}\",\"region\":\"cn-hangzhou\",\"edition\":\"basic_rnd\",\"engine\":\"maxcompute\",\"plan\":\"subscription\",\"quotas\":{{\"processing_units\":20}}}}\n"
        ))
        .collect();
    let file = vendor.dir.path().join("orders.jsonl");
    std::fs::write(&file, orders).unwrap();
    let out = vendor.dir.path().join("licenses.jsonl");
    let mut cmd = vendor.issuer();
    cmd.arg("issue").arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
    cmd.arg("--catalog").arg(&vendor.catalog).arg("--batch").arg(&file).arg("--out").arg(&out);
    run(cmd, None).ok();
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 40);
    let install = Install::new(&vendor);
    for line in lines.iter().step_by(13) {
        let payload = openssl_verifies(&vendor.public, line["token"].as_str().unwrap(), vendor.dir.path());
        assert!(payload["account"].as_str().unwrap().starts_with("acct-hsm"));
    }
    install.activate(lines[7]["token"].as_str().unwrap()).ok();
    let verified = ledger_verifies(&vendor);
    assert!(verified.contains("40"), "{verified}");
}

/// `issuer ledger verify` with the module's public key: every signature holds.
fn ledger_verifies(vendor: &Vendor) -> String {
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "verify", "--pub"]).arg(&vendor.public);
    run(cmd, None).ok().to_owned()
}

#[test]
fn wrong_pins_missing_tokens_keys_and_modules_are_refused_and_nothing_is_signed() {
    let mut vendor = Vendor::new();
    let t = token(&mut vendor, "refusals");
    keygen(&mut vendor, &t, "k1").ok();
    // The same label again (into a fresh directory): refused, and the first
    // key stays; into the same directory, its issuer.pub is not overwritten.
    assert_eq!(keygen(&mut vendor, &t, "k1").code, 3, "issuer.pub exists");
    let mut cmd = vendor.issuer();
    cmd.args(["keygen", "--out"]).arg(vendor.dir.path().join("elsewhere")).args(["--pkcs11", &uri(&t, "k1")]);
    cmd.arg("--passphrase-file").arg(&t.pin_file);
    let again = run(cmd, None);
    assert_eq!(again.code, 50, "{}", again.stderr);
    assert!(again.stderr.contains("already holds a key labelled `k1`"), "{}", again.stderr);
    assert!(!vendor.dir.path().join("elsewhere/issuer.pub").exists(), "nothing written on a refusal");

    let issue_with = |key: &str, pin_file: &Path| {
        let mut cmd = vendor.issuer();
        cmd.arg("issue").arg("--key").arg(key).arg("--passphrase-file").arg(pin_file);
        cmd.arg("--catalog").arg(&vendor.catalog);
        cmd.args(["--account", "acct-x", "--licensee", "X", "--region", "cn-hangzhou", "--edition", "basic_rnd"]);
        cmd.args(["--engine", "maxcompute", "--plan", "subscription", "--quota", "processing_units=20"]);
        run(cmd, None)
    };
    let wrong = vendor.dir.path().join("wrong-pin");
    std::fs::write(&wrong, "000000\n").unwrap();
    let base = format!("pkcs11:token={};object=k1", t.label);
    let cases: [(String, &Path, i32, &str); 8] = [
        (format!("{base}?module-path={MODULE}"), &wrong, 50, "refused the PIN"),
        (format!("pkcs11:token=absent;object=k1?module-path={MODULE}"), &t.pin_file, 50, "no token labelled `absent`"),
        (
            format!("pkcs11:token={};object=k9?module-path={MODULE}", t.label),
            &t.pin_file,
            50,
            "no Ed25519 private key labelled `k9`",
        ),
        (format!("{base}?module-path=/nonexistent/pkcs11.so"), &t.pin_file, 3, "/nonexistent/pkcs11.so"),
        (base.clone(), &t.pin_file, 2, "no PKCS#11 module is named"),
        (format!("{base};pin-value={PIN}?module-path={MODULE}"), &t.pin_file, 2, "carries the PIN"),
        // A second label must not quietly pick another key; nor a broken escape.
        (format!("{base};object=k9?module-path={MODULE}"), &t.pin_file, 2, "`object` is given twice"),
        (format!("pkcs11:token=%zz;object=k1?module-path={MODULE}"), &t.pin_file, 2, "not followed by two hex digits"),
    ];
    for (key, pin, status, says) in cases {
        let r = issue_with(&key, pin);
        assert_eq!(r.code, status, "{key}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{key}: {}", r.stderr);
        assert!(!r.stderr.contains(PIN), "the PIN is never printed: {}", r.stderr);
    }
    // The module named by the environment, the PIN from the environment.
    let env_pin = vendor.dir.path().join("empty");
    std::fs::write(&env_pin, "").unwrap();
    let mut cmd = vendor.issuer();
    cmd.arg("issue").arg("--key").arg(&base).arg("--catalog").arg(&vendor.catalog);
    cmd.args(["--account", "acct-env", "--licensee", "X", "--region", "cn-hangzhou", "--edition", "basic_rnd"]);
    cmd.args(["--engine", "maxcompute", "--plan", "subscription", "--quota", "processing_units=20"]);
    cmd.env("ISSUER_PKCS11_MODULE", MODULE).env("ISSUER_PKCS11_PIN", PIN);
    let ok = run(cmd, None).ok().trim().to_owned();
    openssl_verifies(&vendor.public, &ok, vendor.dir.path());
    // Nothing but that one license reached the ledger.
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "list", "--json"]);
    let listed = run(cmd, None).json();
    assert_eq!(listed["licenses"].as_array().unwrap().len(), 1, "{listed}");
}

#[test]
fn the_license_api_signs_through_the_module_too() {
    let mut vendor = Vendor::new();
    let t = token(&mut vendor, "api");
    keygen(&mut vendor, &t, "api-key").ok();
    let mut cmd = vendor.issuer();
    cmd.args(["serve", "token", "create", "--scope", "issue", "--json"]);
    let api_token = run(cmd, None).json()["token"].as_str().unwrap().to_owned();
    let args = [
        "--key",
        vendor.key.to_str().unwrap(),
        "--passphrase-file",
        t.pin_file.to_str().unwrap(),
        "--catalog",
        vendor.catalog.to_str().unwrap(),
    ];
    let served = license_tests::service::Served::start_issuer(&vendor.ledger, &args, &vendor.env);
    let order = serde_json::json!({"account": "acct-hsm-api", "licensee": "Acme", "region": "cn-hangzhou",
        "edition": "basic_rnd", "engine": "maxcompute", "plan": "subscription", "quotas": {"processing_units": 20}});
    let made = served.post_once("/v1/licenses", &api_token, "pay-hsm-1", &order).expect(201);
    let payload = openssl_verifies(&vendor.public, made["token"].as_str().unwrap(), vendor.dir.path());
    assert_eq!(payload["account"], "acct-hsm-api");
    // The PIN is in no log.
    assert!(!served.log_text().contains(PIN));
}

/// A person at a terminal types the PIN at the prompt: never echoed, and a
/// wrong one signs nothing.
#[test]
fn the_pin_may_be_typed_at_a_terminal_prompt() {
    use license_tests::terminal::on_terminal;
    let mut vendor = Vendor::new();
    let t = token(&mut vendor, "tty-ca");
    keygen(&mut vendor, &t, "tty-key").ok();
    let out = vendor.dir.path().join("tty.lic");
    let mut cmd = vendor.issuer();
    cmd.arg("issue").arg("--key").arg(&vendor.key).arg("--catalog").arg(&vendor.catalog);
    cmd.args(["--account", "acct-tty", "--licensee", "X", "--region", "cn-hangzhou", "--edition", "basic_rnd"]);
    cmd.args(["--engine", "maxcompute", "--plan", "subscription", "--quota", "processing_units=20"]);
    cmd.arg("--out").arg(&out).env_remove("ISSUER_PKCS11_PIN");
    let wrong = on_terminal(&cmd, &["135791"]);
    assert_eq!(wrong.code, 50, "{}", wrong.stdout);
    assert!(wrong.stdout.contains(&format!("PIN for token `{}`: ", t.label)), "{}", wrong.stdout);
    assert!(wrong.stdout.contains("refused the PIN") && !out.exists(), "{}", wrong.stdout);
    let signed = on_terminal(&cmd, &[PIN]);
    assert_eq!(signed.code, 0, "{}", signed.stdout);
    assert!(!signed.stdout.contains(PIN) && !wrong.stdout.contains("135791"), "echoed: {}", signed.stdout);
    let armored = std::fs::read_to_string(&out).unwrap();
    // The compact token: the lines after the armor's headers, joined.
    let body = armored.split("\n\n").nth(1).expect("headers, then the token");
    let compact: String = body.lines().take_while(|l| !l.starts_with("-----END")).collect();
    openssl_verifies(&vendor.public, &compact, vendor.dir.path());
    ledger_verifies(&vendor);
}
