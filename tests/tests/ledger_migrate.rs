//! `issuer ledger migrate`: a SQLite ledger with every kind of record
//! moves into a PostgreSQL database (a private server from Debian's
//! package), verifies there against the vendor's key, exports the same
//! records, keeps its rules (a chain in force refuses a second license),
//! and moves back into a file unchanged. Wrong targets change nothing.

use std::path::Path;
use std::process::Command;

use license_tests::postgres::{PASSWORD, Server};
use license_tests::{Install, Run, Vendor, bin, run};
use serde_json::Value;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `issuer` on the ledger `ledger` (a file or a URL).
fn on(vendor: &Vendor, ledger: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("issuer"));
    cmd.env("ISSUER_LEDGER", ledger).env("PGPASSWORD", PASSWORD).args(args);
    cmd.env("XDG_DATA_HOME", vendor.dir.path());
    run(cmd, None)
}

/// `ledger export --json` without the time of the export.
fn export(vendor: &Vendor, ledger: &str) -> Value {
    let mut all = on(vendor, ledger, &["ledger", "export", "--json"]).json();
    all.as_object_mut().unwrap().remove("exported_at");
    all
}

/// A ledger with licenses in chains, a revocation and its list, receipts,
/// usage, a deactivation, a retired key and an API token.
fn busy_vendor() -> Vendor {
    let v = Vendor::sqlite();
    let install = Install::new(&v);
    let dir = v.dir.path();
    let (request, bound) = (dir.join("req"), dir.join("bound.lic"));
    install.run(&["request", "--out", p(&request)], None).ok();
    v.issue_run(&["--bind", p(&request), "--out", p(&bound)]).ok();
    install.run(&["activate", p(&bound)], None).ok();
    let today = chrono::Utc::now().date_naive().to_string(); // a subscription counts UTC days
    install.run(&["receipt", "--out", p(&dir.join("receipt"))], None).ok();
    install.run(&["usage", "record", "--datakits", "30", "--day", &today], None).ok();
    install.run(&["usage", "report", "--from", &today, "--to", &today, "--out", p(&dir.join("usage"))], None).ok();
    install.run(&["deactivate", "--out", p(&dir.join("released"))], None).ok();
    let ledger = p(&v.ledger);
    for (what, file) in [("receipts", "receipt"), ("usage", "usage"), ("deactivations", "released")] {
        on(&v, ledger, &[what, "import", p(&dir.join(file))]).ok();
    }
    let second = v.issue(&[]);
    v.renew(&second);
    let third = v.issue(&[]);
    on(&v, ledger, &["revoke", &license_tests::license_id(&third), "--reason", "refunded"]).ok();
    let key = ["--key", p(&v.key), "--passphrase-file", p(&v.pass_file)];
    let list = dir.join("revocations.lrl");
    on(&v, ledger, &[&["revocations", "export"][..], &key, &["--out", p(&list)]].concat()).ok();
    on(&v, ledger, &["serve", "token", "create", "--scope", "read", "--name", "reports"]).ok();
    v
}

#[test]
fn a_sqlite_ledger_moves_into_postgres_with_everything_and_back_into_a_file_unchanged() {
    let v = busy_vendor();
    let file = p(&v.ledger).to_owned();
    let before = export(&v, &file);
    assert_eq!(before["licenses"].as_array().unwrap().len(), 4, "{before}");

    let server = Server::start();
    let url = server.database();
    let moved = on(&v, &file, &["ledger", "migrate", "--from", &file, "--to", &url, "--json"]).json();
    assert_eq!(moved["tables"]["licenses"], 4, "{moved}");
    assert_eq!(moved["tables"]["api_tokens"], 1, "{moved}");
    assert_eq!(moved["tables"]["receipts"], 1, "{moved}");
    assert_eq!(moved["tables"]["revocation_lists"], 1, "{moved}");
    // The rows are in PostgreSQL, as psql reads them.
    assert_eq!(server.psql(&url, "SELECT count(*) FROM licenses").trim(), "4");

    // Verified there against the vendor's key, and the same records.
    let verified = on(&v, &url, &["ledger", "verify", "--pub", p(&v.public)]).ok().to_owned();
    assert!(
        verified.contains(
            "verified 4 licenses, 1 receipts, 1 usage reports, 1 deactivation receipts, 1 revocation lists: 0 problems"
        ),
        "{verified}"
    );
    assert_eq!(export(&v, &url), before);
    let tokens = on(&v, &url, &["serve", "token", "list", "--json"]).json();
    assert_eq!(tokens["tokens"][0]["name"], "reports", "{tokens}");

    // The rules hold on the new ledger: a second order for a chain in force
    // is refused; a new account starts its own chain.
    let again = {
        let mut cmd = v.issuer();
        cmd.env("ISSUER_LEDGER", &url).env("PGPASSWORD", PASSWORD);
        cmd.args(["issue", "--key", p(&v.key), "--passphrase-file", p(&v.pass_file), "--catalog", p(&v.catalog)]);
        cmd.args(["--account", "acct-1001-2", "--licensee", "Acme Analytics", "--region", "cn-hangzhou"]);
        cmd.args(["--edition", "intelligent_rnd", "--engine", "maxcompute", "--plan", "subscription"]);
        cmd.args(["--quota", "processing_units=40", "--package", "data_service=api.s1.small"]);
        run(cmd, None)
    };
    assert_eq!(again.code, 40, "{}", again.stderr);
    assert!(again.stderr.contains("a new order cannot replace it"), "{}", again.stderr);

    // Into the same database again: refused, nothing added.
    let twice = on(&v, &file, &["ledger", "migrate", "--from", &file, "--to", &url]);
    assert_eq!(twice.code, 30, "{}", twice.stderr);
    assert!(twice.stderr.contains("already holds 1 row(s) in `keys`"), "{}", twice.stderr);
    assert_eq!(server.psql(&url, "SELECT count(*) FROM licenses").trim(), "4");

    // And back into a new file: the same records again.
    let back = v.dir.path().join("back.sqlite3");
    on(&v, &file, &["ledger", "migrate", "--from", &url, "--to", p(&back)]).ok();
    assert_eq!(export(&v, p(&back)), before);
    assert!(on(&v, p(&back), &["ledger", "verify", "--pub", p(&v.public)]).ok().contains(": 0 problems"));
}

#[test]
fn a_missing_source_a_password_in_the_url_and_a_server_that_is_not_there_are_refused() {
    let v = Vendor::sqlite();
    let server = Server::start();
    let url = server.database();
    let file = p(&v.ledger).to_owned();
    // No ledger at --from: refused, and no empty one made there.
    let missing = v.dir.path().join("missing.sqlite3");
    let r = on(&v, &file, &["ledger", "migrate", "--from", p(&missing), "--to", &url]);
    assert_eq!(r.code, 30, "{}", r.stderr);
    assert!(r.stderr.contains("there is no ledger file here"), "{}", r.stderr);
    assert!(!missing.exists());
    // A password in the URL would show in process listings: refused.
    v.issue(&[]);
    let with_password = url.replacen("postgres@", "postgres:secret@", 1);
    let r = on(&v, &file, &["ledger", "migrate", "--from", &file, "--to", &with_password]);
    assert_eq!(r.code, 30, "{}", r.stderr);
    assert!(r.stderr.contains("the URL holds a password; give it in PGPASSWORD instead"), "{}", r.stderr);
    assert!(!r.stderr.contains("secret"), "{}", r.stderr);
    let in_query = format!("{url}?password=secret&application_name=x");
    let r = on(&v, &file, &["ledger", "migrate", "--from", &file, "--to", &in_query]);
    assert_eq!(r.code, 30, "{}", r.stderr);
    assert!(r.stderr.contains("give it in PGPASSWORD") && !r.stderr.contains("secret"), "{}", r.stderr);
    // The wrong password, and a server that is not running.
    let mut cmd = Command::new(bin("issuer"));
    cmd.env("ISSUER_LEDGER", &url).env("PGPASSWORD", "wrong").args(["ledger", "list"]);
    let r = run(cmd, None);
    assert_eq!(r.code, 30, "{}", r.stderr);
    assert!(r.stderr.contains("password authentication failed"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: check that the PostgreSQL server runs"), "{}", r.stderr);
    // Off this machine without TLS: refused before connecting.
    let far = url.replacen("127.0.0.1", "192.0.2.1", 1);
    let r = on(&v, &far, &["ledger", "list"]);
    assert_eq!(r.code, 30, "{}", r.stderr);
    assert!(r.stderr.contains("not on this machine, so the connection needs TLS"), "{}", r.stderr);
    server.stop();
    let r = on(&v, &url, &["ledger", "list"]);
    assert_eq!(r.code, 30, "{}", r.stderr);
    assert!(r.stderr.contains("ledger database postgres://postgres@127.0.0.1"), "{}", r.stderr);
    // Nothing was written to the database before it stopped.
    drop(server);
    assert_eq!(on(&v, &file, &["ledger", "list", "--json"]).json()["total"], 1);
}
