//! `issuer serve` when its ledger fails under it: held by another process
//! (503 `LedgerBusy`, within the request timeout) or broken (503, with the
//! detail in the service's log and not in the answer), or read for long
//! (no change waits for it). The first two act on a SQLite file behind the
//! service's back; the last runs on either store.

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
    world_of(Vendor::on(Store::Sqlite))
}

fn world_of(vendor: Vendor) -> World {
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

/// A listing still being answered (held for 5 seconds at a pause point
/// after it has read the ledger) holds up no create: the create's 201
/// arrives first, and the listing then answers too. Both calls are in the
/// audit log.
#[test]
fn a_long_read_holds_up_no_create() {
    let mut w = world_of(Vendor::new());
    w.vendor.env.push(("LICENSE_FAULT_PAUSE".into(), "api-listed:5000".into()));
    let s = serve(&w.vendor);
    let (done, listed) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let lister = scope.spawn(|| {
            let page = s.get("/v1/licenses", Some(&w.read)).expect(200);
            done.send(()).unwrap();
            page
        });
        // Time for the listing to reach its pause; were it slower, the
        // create would simply go first and prove nothing either way.
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let made = s.post_once("/v1/licenses", &w.issue, "pay-while-listing", &order("acct-while")).expect(201);
        assert_eq!(listed.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty), "the create waited for the listing");
        assert_eq!(lister.join().unwrap()["total"], 0, "the listing read the ledger before the create");
        let shown = s.get(&format!("/v1/licenses/{}", made["id"].as_str().unwrap()), Some(&w.read)).expect(200);
        assert_eq!(shown["licenses"][0]["account"], "acct-while", "{shown}");
    });
    let audit = s.get("/v1/audit?limit=1000", Some(&w.admin)).expect(200);
    let routes: Vec<&str> = audit["audit"].as_array().unwrap().iter().filter_map(|r| r["route"].as_str()).collect();
    assert!(routes.contains(&"GET /v1/licenses") && routes.contains(&"POST /v1/licenses"), "{routes:?}");
}
