//! `issuer serve` when its ledger fails under it: held by another process
//! (503 `LedgerBusy`, within the request timeout) or broken (503, with the
//! detail in the service's log and not in the answer). SQLite files only:
//! each test acts on the file behind the service's back.

use license_tests::service::{api_order as order, api_token as token, serve_vendor as serve};
use license_tests::{Store, Vendor};
use serde_json::json;

struct World {
    vendor: Vendor,
    admin: String,
    issue: String,
    read: String,
}

fn world() -> World {
    let vendor = Vendor::on(Store::Sqlite);
    let (admin, issue, read) = (token(&vendor, "admin"), token(&vendor, "issue"), token(&vendor, "read"));
    World { vendor, admin, issue, read }
}

/// A change that waits the whole 30 seconds for the lock of a ledger
/// another process holds is answered `503 LedgerBusy` (not cut off by the
/// 45-second request timeout while it might still finish), nothing is made,
/// its audit row says 503, and the same key works once the ledger is free.
#[test]
fn a_busy_ledger_is_answered_503_and_audited_as_such() {
    use std::io::BufRead;
    let w = world();
    let s = serve(&w.vendor);
    s.get("/v1/licenses", Some(&w.read)).expect(200);
    // Another process holds the write lock a little longer than the wait.
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(33)")
        .arg(&w.vendor.ledger)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    let e = s.post_once("/v1/licenses", &w.issue, "pay-busy", &order("acct-busy")).error(503, "state");
    assert_eq!(e["case"], "IssuerError::LedgerBusy", "{e}");
    holder.wait().unwrap();
    let listed = s.get("/v1/licenses?account=acct-busy", Some(&w.read)).expect(200);
    assert_eq!(listed["total"], 0, "nothing was made");
    let audit = s.get("/v1/audit?limit=1000", Some(&w.admin)).expect(200);
    let row = audit["audit"].as_array().unwrap().iter().find(|r| r["idempotency_key"] == "pay-busy").cloned();
    assert_eq!(row.map(|r| r["status"].clone()), Some(json!(503)), "{audit}");
    s.post_once("/v1/licenses", &w.issue, "pay-busy", &order("acct-busy")).expect(201);
}

/// A ledger that fails inside (a table gone) answers 503 `LedgerFailed`:
/// the billing system learns to retry, not the ledger's path or SQL, which
/// the service logs for its operator.
#[test]
fn a_broken_ledger_is_a_503_whose_detail_stays_in_the_log() {
    let w = world();
    let mut s = serve(&w.vendor);
    s.post_once("/v1/licenses", &w.issue, "pay-ok", &order("acct-ok")).expect(201);
    w.vendor.sql("DROP TABLE revocations");
    let e = s.post_once("/v1/licenses", &w.issue, "pay-broken", &order("acct-broken")).error(503, "io");
    assert_eq!(e["case"], "ServiceError::LedgerFailed", "{e}");
    let text = e.to_string();
    let path = w.vendor.ledger.to_str().unwrap();
    assert!(!text.contains(path) && !text.contains("revocations") && !text.contains("no such table"), "{e}");
    s.terminate();
    let log = s.log_text();
    assert!(log.contains("no such table") && log.contains("revocations"), "the operator sees the detail: {log}");
}
