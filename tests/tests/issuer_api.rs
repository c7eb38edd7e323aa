//! `issuer serve` end to end: the real binary on free loopback ports, a
//! real HTTP client, every answer checked against docs/issuer-openapi.json
//! (in `license_tests::service`): scopes, idempotency (also across two
//! processes on one ledger), the audit log, the CLI on the same ledger, and
//! the example a billing system would copy from docs/VENDOR.md; each on
//! both stores, a SQLite file and a PostgreSQL database.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use license_tests::service::{Served, api_order as order, api_token as token, serve_vendor as serve};
use license_tests::{Store, Vendor, run, workspace};
use serde_json::{Value, json};

struct World {
    vendor: Vendor,
    admin: String,
    issue: String,
    read: String,
}

fn world(store: Store) -> World {
    let vendor = Vendor::on(store);
    let (admin, issue, read) = (token(&vendor, "admin"), token(&vendor, "issue"), token(&vendor, "read"));
    World { vendor, admin, issue, read }
}

/// Every route, with a body, and the scope it needs.
/// Each test runs on both stores: `name::sqlite` and `name::postgres`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Store::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(super::Store::Postgres)
            }
        }
    )*};
}

on_both_stores!(
    every_route_refuses_a_missing_token_and_the_wrong_scope_and_every_call_is_audited,
    a_retried_call_returns_the_same_license_and_another_body_with_the_same_key_is_refused,
    two_processes_hammered_by_sixteen_clients_make_one_license_per_key_and_never_share_a_sequence,
    upgrade_renew_quote_revoke_and_lists_through_the_api_agree_with_the_cli_on_the_same_ledger,
    the_billing_example_in_the_vendor_guide_creates_a_license_and_retries_safely,
    receipts_come_in_and_a_leaked_key_is_retired_and_distrusted_through_the_api,
    off_loopback_the_api_needs_tls_and_sigterm_drains_it,
    the_systemd_unit_in_the_vendor_guide_serves_as_written,
    what_the_http_stack_refuses_itself_gets_the_error_shape_and_an_oversized_body_is_audited
);

fn routes(id: &str, kid: &str) -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("POST", "/v1/licenses".into(), "issue"),
        ("GET", "/v1/licenses".into(), "read"),
        ("GET", format!("/v1/licenses/{id}"), "read"),
        ("GET", format!("/v1/licenses/{id}/token"), "read"),
        ("POST", format!("/v1/licenses/{id}/upgrade"), "issue"),
        ("POST", format!("/v1/licenses/{id}/renew"), "issue"),
        ("POST", format!("/v1/licenses/{id}/quote"), "read"),
        ("POST", format!("/v1/licenses/{id}/revoke"), "admin"),
        ("POST", "/v1/revocations".into(), "admin"),
        ("POST", format!("/v1/keys/{kid}/retire"), "admin"),
        ("POST", format!("/v1/keys/{kid}/distrust"), "admin"),
        ("POST", "/v1/imports/receipts".into(), "issue"),
        ("GET", "/v1/bills?account=a&from=2026-12-01&to=2026-12-01".into(), "read"),
        ("GET", "/v1/audit".into(), "admin"),
    ]
}

fn call(s: &Served, method: &str, path: &str, token: Option<&str>) -> license_tests::service::Reply {
    match method {
        "GET" => s.get(path, token),
        _ => {
            let mut headers = vec![("Idempotency-Key", "scope-probe")];
            let bearer = token.map(|t| format!("Bearer {t}"));
            if let Some(b) = &bearer {
                headers.push(("Authorization", b.as_str()));
            }
            s.with_headers(method, path, &headers, Some(&json!({})))
        }
    }
}

fn every_route_refuses_a_missing_token_and_the_wrong_scope_and_every_call_is_audited(store: Store) {
    let w = world(store);
    let s = serve(&w.vendor);
    let made = s.post_once("/v1/licenses", &w.issue, "pay-0", &order("acct-scope")).expect(201);
    let id = made["id"].as_str().unwrap().to_owned();
    let kid = made["license"]["kid"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| made["token"].as_str().unwrap()[5..21].to_owned());
    let scopes = [("read", &w.read), ("issue", &w.issue)];
    for (method, path, needed) in routes(&id, &kid) {
        let e = call(&s, method, &path, None).error(401, "usage");
        assert_eq!(e["case"], "ServiceError::Unauthorized", "{method} {path}");
        call(&s, method, &path, Some("ist1_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
            .error(401, "usage");
        for (scope, token) in scopes {
            let allowed = match needed {
                "read" => true,
                "issue" => scope == "issue",
                _ => false,
            };
            if !allowed {
                let e = call(&s, method, &path, Some(token)).error(403, "usage");
                assert_eq!(e["fields"]["needed"], needed, "{method} {path}");
            }
        }
    }
    // The scheme is case-insensitive (RFC 9110 §11.1); another scheme is no token.
    for scheme in ["bearer", "BEARER", "bEaReR "] {
        let value = format!("{scheme} {}", w.read);
        s.with_headers("GET", &format!("/v1/licenses/{id}"), &[("Authorization", &value)], None).expect(200);
    }
    let basic = format!("Basic {}", w.read);
    s.with_headers("GET", &format!("/v1/licenses/{id}"), &[("Authorization", &basic)], None).error(401, "usage");
    // A call that signs without a key is refused before anything is signed.
    let no_key = s.send("POST", "/v1/licenses", Some(&w.issue), Some(&order("acct-nokey"))).error(400, "usage");
    assert_eq!(no_key["case"], "ServiceError::NoIdempotencyKey");
    // The audit log names each call's token, route and status.
    let audit = s.get("/v1/audit?limit=1000", Some(&w.admin)).expect(200);
    let rows = audit["audit"].as_array().unwrap();
    let created = rows.iter().find(|r| r["status"] == 201).expect("the creation is audited");
    assert_eq!(created["route"], "POST /v1/licenses");
    assert_eq!(created["scope"], "issue");
    assert_eq!(created["idempotency_key"], "pay-0");
    assert_eq!(created["license_id"], id.as_str());
    assert!(rows.iter().filter(|r| r["status"] == 401).all(|r| r["token_id"] == "-"));
    assert!(rows.iter().any(|r| r["status"] == 403 && r["scope"] == "read"));
    // Tokens are hashed in the ledger: the text appears nowhere in its files.
    for file in ["ledger.sqlite3", "ledger.sqlite3-wal"] {
        let bytes = std::fs::read(w.vendor.dir.path().join(file)).unwrap_or_default();
        for t in [&w.admin, &w.issue, &w.read] {
            assert!(!bytes.windows(t.len()).any(|x| x == t.as_bytes()), "a token is stored in {file}");
        }
    }
    // A revoked token is refused at once.
    let mut cmd = w.vendor.issuer();
    cmd.args(["serve", "token", "revoke", &w.read[5..21]]);
    run(cmd, None).ok();
    s.get("/v1/licenses", Some(&w.read)).error(401, "usage");
}

fn a_retried_call_returns_the_same_license_and_another_body_with_the_same_key_is_refused(store: Store) {
    let w = world(store);
    let mut s = serve(&w.vendor);
    let first = s.post_once("/v1/licenses", &w.issue, "pay-1001", &order("acct-1001")).expect(201);
    let again = s.post_once("/v1/licenses", &w.issue, "pay-1001", &order("acct-1001")).expect(200);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["token"], first["token"]);
    // The same order serialised again by another client, its keys in the
    // reverse order and spaced out, is the same request.
    let fields = order("acct-1001").as_object().unwrap().clone();
    let text = fields.iter().rev().map(|(k, v)| format!("\n  {} : {v}", json!(k))).collect::<Vec<_>>().join(" ,");
    let headers = [("Authorization", format!("Bearer {}", w.issue)), ("Idempotency-Key", "pay-1001".into())];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let respaced = s.post_raw_json("/v1/licenses", &headers, &format!("{{{text}\n}}\n")).expect(200);
    assert_eq!((respaced["id"].clone(), respaced["replayed"].clone()), (first["id"].clone(), json!(true)));
    // Another body with the same key: 409, and nothing is signed.
    let e = s.post_once("/v1/licenses", &w.issue, "pay-1001", &order("acct-2002")).error(409, "state");
    assert_eq!(e["case"], "IssuerError::IdempotencyConflict");
    // The key is bound to its route too.
    let id = first["id"].as_str().unwrap();
    s.post_once(&format!("/v1/licenses/{id}/renew"), &w.issue, "pay-1001", &json!({})).error(409, "state");
    // A refused order records no key: the same key works once the order is right.
    let mut bad = order("acct-3003");
    bad["edition"] = json!("platinum");
    s.post_once("/v1/licenses", &w.issue, "pay-3003", &bad).error(422, "order_refused");
    s.post_once("/v1/licenses", &w.issue, "pay-3003", &order("acct-3003")).expect(201);
    // Two keys on one call: which one the billing system meant is not guessed.
    let bearer = format!("Bearer {}", w.issue);
    for keys in [["pay-4004", "pay-4005"], ["pay-4004", "pay-4004"]] {
        let headers = [("Authorization", bearer.as_str()), ("Idempotency-Key", keys[0]), ("Idempotency-Key", keys[1])];
        let e = s.with_headers("POST", "/v1/licenses", &headers, Some(&order("acct-4004"))).error(400, "usage");
        assert!(e["message"].as_str().unwrap().contains("sent 2 times"), "{e}");
    }
    // A second order for an instance in force is refused, as in the CLI.
    let e = s.post_once("/v1/licenses", &w.issue, "pay-1001-b", &order("acct-1001")).error(409, "order_refused");
    assert!(e["message"].as_str().unwrap().contains("already holds license"), "{e}");
    assert_eq!(e["case"], "IssuerError::InstanceInForce", "{e}");
    // The replay survives a restart: the key is in the ledger.
    s.terminate();
    let s = serve(&w.vendor);
    let after = s.post_once("/v1/licenses", &w.issue, "pay-1001", &order("acct-1001")).expect(200);
    assert_eq!(after["id"], first["id"]);
    let listed = s.get("/v1/licenses", Some(&w.read)).expect(200);
    assert_eq!(listed["total"], 2, "{listed}");
    // Keys are one namespace for the ledger, whoever sends them: a second
    // billing system's token replays the same order and is refused another.
    let other = token(&w.vendor, "issue");
    let replay = s.post_once("/v1/licenses", &other, "pay-1001", &order("acct-1001")).expect(200);
    assert_eq!((replay["id"].clone(), replay["replayed"].clone()), (first["id"].clone(), json!(true)));
    s.post_once("/v1/licenses", &other, "pay-1001", &order("acct-4004")).error(409, "state");
    assert_eq!(s.get("/v1/licenses", Some(&w.read)).expect(200)["total"], 2);
}

fn two_processes_hammered_by_sixteen_clients_make_one_license_per_key_and_never_share_a_sequence(store: Store) {
    let w = world(store);
    let (a, b) = (serve(&w.vendor), serve(&w.vendor));
    let servers = [&a, &b];
    // 48 payments, each delivered three times (a webhook retried), spread
    // over 16 clients and both processes, all at once.
    let deliveries: Vec<(usize, usize)> = (0..48).flat_map(|p| [(p, 0), (p, 1), (p, 2)]).collect();
    let answers: Vec<(usize, u16, Value)> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<(usize, usize)>> =
            (0..16).map(|c| deliveries.iter().copied().skip(c).step_by(16).collect()).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(c, chunk)| {
                let (servers, token) = (&servers, &w.issue);
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(p, attempt)| {
                            let s = servers[(c + attempt) % 2];
                            let r =
                                s.post_once("/v1/licenses", token, &format!("pay-{p}"), &order(&format!("acct-{p}")));
                            (p, r.status, r.json())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut ids: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (p, status, body) in &answers {
        assert!(*status == 201 || *status == 200, "payment {p}: {status} {body}");
        ids.entry(*p).or_default().insert(body["id"].as_str().unwrap().to_owned());
    }
    assert!(ids.values().all(|set| set.len() == 1), "a payment made two licenses: {ids:?}");
    assert_eq!(answers.iter().filter(|(_, s, _)| *s == 201).count(), 48, "exactly one creation per payment");
    // The ledger has exactly one license per payment, each first of its chain.
    let mut cmd = w.vendor.issuer();
    cmd.args(["ledger", "list", "--limit", "1000", "--json"]);
    let listed = run(cmd, None).json();
    let licenses = listed["licenses"].as_array().unwrap();
    assert_eq!(licenses.len(), 48);
    assert!(licenses.iter().all(|l| l["sequence"] == 1));
    let mut cmd = w.vendor.issuer();
    cmd.args(["ledger", "verify", "--pub"]).arg(&w.vendor.public);
    run(cmd, None).ok();
    // The audit log has each creation once, with the license it made, and
    // each of the 96 retries as a replay.
    let audit = a.get("/v1/audit?limit=1000", Some(&w.admin)).expect(200);
    let rows = audit["audit"].as_array().unwrap();
    let created: Vec<&Value> = rows.iter().filter(|r| r["status"] == 201).collect();
    assert_eq!(created.len(), 48);
    assert!(created.iter().all(|r| r["license_id"].is_string() && r["route"] == "POST /v1/licenses"));
    assert_eq!(rows.iter().filter(|r| r["status"] == 200 && r["route"] == "POST /v1/licenses").count(), 96);
    // Upgrades of one license from both processes at once: one wins the
    // chain's next sequence, the other is refused, never a fork.
    let id = answers.iter().find(|(p, s, _)| *p == 0 && *s == 201).unwrap().2["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/licenses/{id}/upgrade");
    let raced: Vec<u16> = std::thread::scope(|scope| {
        let hs: Vec<_> = [&a, &b]
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let (path, token) = (&path, &w.issue);
                scope.spawn(move || {
                    s.post_once(path, token, &format!("up-{i}"), &json!({"quotas": {"processing_units": 80}})).status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(raced.iter().filter(|s| **s == 201).count(), 1, "{raced:?}");
    assert!(raced.iter().all(|s| *s == 201 || *s == 409), "{raced:?}");
    if let Some(server) = &w.vendor.postgres {
        // The licenses are in the database, read by a client we did not write.
        let url = w.vendor.ledger.to_str().unwrap();
        let rows = server.psql(url, "SELECT count(*), count(DISTINCT (account, region, sequence)) FROM licenses");
        assert_eq!(rows.trim(), "49|49");
    }
}

fn upgrade_renew_quote_revoke_and_lists_through_the_api_agree_with_the_cli_on_the_same_ledger(store: Store) {
    let w = world(store);
    let s = serve(&w.vendor);
    let made = s.post_once("/v1/licenses", &w.issue, "pay-77", &order("acct-77")).expect(201);
    let id = made["id"].as_str().unwrap().to_owned();
    // What the API made, the CLI sees at once, and the other way round.
    let mut cmd = w.vendor.issuer();
    cmd.args(["ledger", "show", &id, "--token"]);
    let shown = run(cmd, None);
    let unwrapped: String = shown.ok().lines().map(str::trim).collect();
    assert!(unwrapped.contains(made["token"].as_str().unwrap()), "{}", shown.stdout);
    let cli = w.vendor.issue(&["--account", "acct-cli"]);
    let listed = s.get("/v1/licenses?account=acct-cli", Some(&w.read)).expect(200);
    assert_eq!(listed["total"], 1);
    assert!(cli.contains(listed["licenses"][0]["id"].as_str().unwrap()) || !cli.is_empty());
    // Quote, then upgrade: the quote prices the change the upgrade makes.
    let change = json!({"quotas": {"processing_units": 80}});
    let quote = s.send("POST", &format!("/v1/licenses/{id}/quote"), Some(&w.read), Some(&change)).expect(200);
    assert!(quote["quote"]["price"].as_i64().unwrap() > 0, "{quote}");
    // A misspelt field is refused, not priced as no change at all.
    let typo = json!({"quota": {"processing_units": 80}});
    s.send("POST", &format!("/v1/licenses/{id}/quote"), Some(&w.read), Some(&typo)).error(400, "usage");
    s.post_once(&format!("/v1/licenses/{id}/upgrade"), &w.issue, "up-typo", &typo).error(400, "usage");
    let up = s.post_once(&format!("/v1/licenses/{id}/upgrade"), &w.issue, "up-77", &change).expect(201);
    assert_eq!(up["license"]["supersedes"], id.as_str());
    assert_eq!(up["license"]["quotas"]["processing_units"], 80);
    assert_eq!(up["license"]["sequence"], 2);
    // The old license cannot be upgraded again: the chain moved on; nor priced.
    s.post_once(&format!("/v1/licenses/{id}/upgrade"), &w.issue, "up-77-b", &change).error(409, "superseded");
    let e = s.send("POST", &format!("/v1/licenses/{id}/quote"), Some(&w.read), Some(&change)).error(409, "superseded");
    assert_eq!(e["case"], "IssuerError::AlreadySuperseded", "{e}");
    // A quote is of an upgrade or of a renewal, never both at once.
    let up_id = up["id"].as_str().unwrap();
    let mixed = json!({"renew_months": 12, "quotas": {"processing_units": 100}});
    let e = s.send("POST", &format!("/v1/licenses/{up_id}/quote"), Some(&w.read), Some(&mixed)).error(400, "usage");
    assert!(e["message"].as_str().unwrap().contains("not both"), "{e}");
    // A quota named twice in a body is refused, not the last one kept.
    let twice = r#"{"quotas": {"processing_units": 100, "processing_units": 120}}"#;
    let bearer = format!("Bearer {}", w.issue);
    for (route, key) in [("quote", "-"), ("upgrade", "up-twice")] {
        let headers = [("Authorization", bearer.as_str()), ("Idempotency-Key", key)];
        let e = s.post_raw_json(&format!("/v1/licenses/{up_id}/{route}"), &headers, twice).error(400, "usage");
        assert!(e["message"].as_str().unwrap().contains("duplicate key `processing_units`"), "{route}: {e}");
    }
    let twice = r#"{"account": "acct-78", "licensee": "Twice", "region": "cn-hangzhou", "edition": "basic_rnd",
                    "engine": "maxcompute", "plan": "subscription",
                    "quotas": {"processing_units": 20, "processing_units": 40}}"#;
    let headers = [("Authorization", bearer.as_str()), ("Idempotency-Key", "pay-78")];
    let e = s.post_raw_json("/v1/licenses", &headers, twice).error(400, "usage");
    assert!(e["message"].as_str().unwrap().contains("duplicate key `processing_units`"), "{e}");
    let new_id = up["id"].as_str().unwrap().to_owned();
    let renewed =
        s.post_once(&format!("/v1/licenses/{new_id}/renew"), &w.issue, "renew-77", &json!({"months": 12})).expect(201);
    assert_eq!(renewed["license"]["sequence"], 3);
    // Times in a body may be dates, as on the command line.
    let rid = renewed["id"].as_str().unwrap();
    let dated = json!({"renew_until": "2031-01-01", "at": "2027-06-01"});
    let q = s.send("POST", &format!("/v1/licenses/{rid}/quote"), Some(&w.read), Some(&dated)).expect(200);
    assert!(q["quote"].is_object(), "{q}");
    let e = s.send("POST", &format!("/v1/licenses/{rid}/quote"), Some(&w.read), Some(&json!({"at": "2027-13-01"})));
    assert!(e.error(400, "usage")["message"].as_str().unwrap().contains("or as a date"));
    let again = s.get(&format!("/v1/licenses/{}/token", renewed["id"].as_str().unwrap()), Some(&w.read)).expect(200);
    assert_eq!(again["token"], renewed["token"]);
    let chain = s.get(&format!("/v1/licenses/{id}"), Some(&w.read)).expect(200);
    assert_eq!(chain["licenses"].as_array().map(Vec::len), Some(3), "{chain}");
    // Revoke, and the next revocation list carries it; the export is idempotent.
    let rid = renewed["id"].as_str().unwrap();
    let r =
        s.send("POST", &format!("/v1/licenses/{rid}/revoke"), Some(&w.admin), Some(&json!({"reason": "chargeback"})));
    assert_eq!(r.expect(200)["new"], true);
    let e = s.send("POST", &format!("/v1/licenses/{rid}/quote"), Some(&w.read), Some(&change)).error(422, "revoked");
    assert_eq!(e["case"], "IssuerError::RevokedChain", "a revoked license is not priced: {e}");
    let list = s.post_once("/v1/revocations", &w.admin, "rev-1", &json!({})).expect(201);
    let same = s.post_once("/v1/revocations", &w.admin, "rev-1", &json!({})).expect(200);
    assert_eq!(list["token"], same["token"]);
    assert_eq!(same["replayed"], true);
    // An install imports the list (its signature holds), and it names the license.
    let file = w.vendor.dir.path().join("revocations.txt");
    std::fs::write(&file, format!("{}\n", list["token"].as_str().unwrap())).unwrap();
    let install = license_tests::Install::new(&w.vendor);
    install.run(&["revocations", "import", file.to_str().unwrap()], None).ok();
    let payload = list["token"].as_str().unwrap().split('.').nth(2).unwrap();
    let payload = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    assert!(String::from_utf8_lossy(&payload).contains(rid));
    // Not found, bad input.
    s.get("/v1/licenses/01a00000-0000-7000-8000-000000000000", Some(&w.read)).error(404, "state");
    s.get("/v1/licenses?status=sleeping", Some(&w.read)).error(400, "usage");
    s.get("/v1/nothing", Some(&w.read)).error(404, "usage");
    // A licensee is found by any part of its name, ignoring case beyond
    // ASCII too, the same on either store (and through the CLI).
    for (account, licensee) in
        [("acct-u1", "Ärzte Zürich GmbH"), ("acct-u2", "ÉCOLE Lyon"), ("acct-u3", "上海数据有限公司")]
    {
        let mut o = order(account);
        o["licensee"] = json!(licensee);
        s.post_once("/v1/licenses", &w.issue, &format!("pay-{account}"), &o).expect(201);
    }
    for (needle, want) in
        [("ärzte zürich", "acct-u1"), ("École", "acct-u2"), ("数据", "acct-u3"), ("ZÜRICH", "acct-u1")]
    {
        let path = format!("/v1/licenses?licensee={}", url_escape(needle));
        let found = s.get(&path, Some(&w.read)).expect(200);
        let accounts: Vec<_> = found["licenses"].as_array().unwrap().iter().map(|l| l["account"].clone()).collect();
        assert_eq!(accounts, [want], "{needle}: {found}");
        let mut cli = w.vendor.issuer();
        cli.args(["ledger", "list", "--json", "--licensee", needle]);
        assert_eq!(run(cli, None).json()["total"], 1, "{needle} through the CLI");
    }
    // A page is 1 to 1,000 rows: more is refused, not quietly cut (a client
    // paging by `offset += limit` would skip what a cut page left out).
    let all = s.get("/v1/licenses?limit=1000", Some(&w.read)).expect(200);
    assert_eq!(all["licenses"].as_array().unwrap().len() as u64, all["total"].as_u64().unwrap());
    let one = s.get("/v1/licenses?limit=1&offset=1", Some(&w.read)).expect(200);
    assert_eq!(one["licenses"].as_array().unwrap().len(), 1);
    assert_eq!(one["licenses"][0]["id"], all["licenses"][1]["id"]);
    for path in ["/v1/licenses?limit=1001", "/v1/licenses?limit=0", "/v1/audit?limit=5000"] {
        let token = if path.starts_with("/v1/audit") { &w.admin } else { &w.read };
        let e = s.get(path, Some(token)).error(400, "usage");
        assert!(e["message"].as_str().unwrap().contains("a page holds 1 to 1000 rows"), "{path}: {e}");
    }
    let mut other = order("acct-obs");
    other["product"] = json!("telescope");
    s.post_once("/v1/licenses", &w.issue, "pay-tel", &other).error(400, "catalog");
    // A bill priced with the catalog of a product the account has no license of: 422.
    let wrong = "/v1/bills?product=observability&account=acct-u1&from=2026-12-01&to=2026-12-02";
    let e = s.get(wrong, Some(&w.read)).error(422, "mismatch");
    assert_eq!(e["case"], "IssuerError::WrongCatalog", "{e}");
}

fn the_billing_example_in_the_vendor_guide_creates_a_license_and_retries_safely(store: Store) {
    let w = world(store);
    let s = serve(&w.vendor);
    let script = workspace().join("docs/examples/billing.py");
    let doc = std::fs::read_to_string(workspace().join("docs/VENDOR.md")).unwrap();
    let code = std::fs::read_to_string(&script).unwrap();
    assert!(doc.contains(&format!("```python\n{code}```")), "docs/VENDOR.md shows docs/examples/billing.py verbatim");
    let out = Command::new("python3")
        .arg(&script)
        .env("ISSUER_API", &s.base)
        .env("ISSUER_API_TOKEN", &w.issue)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("-----BEGIN LICENSE-----") && stdout.contains("same license on retry: True"), "{stdout}");
    let listed = s.get("/v1/licenses?account=acct-20261202", Some(&w.read)).expect(200);
    assert_eq!(listed["total"], 1, "one license however often the webhook runs");
}

fn receipts_come_in_and_a_leaked_key_is_retired_and_distrusted_through_the_api(store: Store) {
    let w = world(store);
    // A license signed by the CLI with the old key; the service signs with a new one.
    let license = w.vendor.issue(&["--account", "acct-keys"]);
    let old_kid = license.split('.').nth(1).unwrap().to_owned();
    let new_keys = w.vendor.dir.path().join("new-keys");
    let mut cmd = w.vendor.issuer();
    cmd.args(["keygen", "--out"]).arg(&new_keys).arg("--passphrase-file").arg(&w.vendor.pass_file);
    run(cmd, None).ok();
    let new_key = new_keys.join("issuer.key");
    let args = [
        "--key",
        new_key.to_str().unwrap(),
        "--passphrase-file",
        w.vendor.pass_file.to_str().unwrap(),
        "--catalog",
        w.vendor.catalog.to_str().unwrap(),
    ];
    let s = Served::start_issuer(&w.vendor.ledger, &args, &w.vendor.env);
    // The install's activation receipt, imported through the API.
    let install = license_tests::Install::new(&w.vendor);
    install.activate(&license).ok();
    let receipt = w.vendor.dir.path().join("receipt.txt");
    install.run(&["receipt", "--out", receipt.to_str().unwrap()], None).ok();
    let text = std::fs::read_to_string(&receipt).unwrap();
    let imported = s.send_text("POST", "/v1/imports/receipts", Some(&w.issue), &text).expect(200);
    assert_eq!(imported["imported"]["new"], true, "{imported}");
    assert_eq!(
        s.send_text("POST", "/v1/imports/receipts", Some(&w.issue), &text).expect(200)["imported"]["new"],
        false
    );
    s.send_text("POST", "/v1/imports/receipts", Some(&w.issue), "garbage").error(400, "malformed");
    s.send_text("POST", "/v1/imports/sightings", Some(&w.issue), &text).error(404, "usage");
    // Rotation, then compromise: the old key's live chain is signed again with the new key.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({"not_after": tomorrow, "reason": "rotation"});
    s.send("POST", &format!("/v1/keys/{old_kid}/retire"), Some(&w.admin), Some(&body)).expect(200);
    s.send("POST", "/v1/keys/zz/retire", Some(&w.admin), Some(&body)).error(400, "usage");
    // A well-formed key id the ledger never signed with names nothing: 404.
    let e = s.send("POST", "/v1/keys/0123456789abcdef/retire", Some(&w.admin), Some(&body)).error(404, "key");
    assert_eq!(e["case"], "IssuerError::UnknownKey", "{e}");
    let e = s.post_once("/v1/keys/0123456789abcdef/distrust", &w.admin, "incident-0", &json!({"reason": "x"}));
    assert_eq!(e.error(404, "key")["case"], "IssuerError::UnknownKey");
    let leaked = json!({"reason": "leaked"});
    let path = format!("/v1/keys/{old_kid}/distrust");
    let done = s.post_once(&path, &w.admin, "incident-1", &leaked).expect(201);
    let resigned = done["resigned"].as_array().unwrap();
    assert_eq!(resigned.len(), 1, "{done}");
    assert_eq!(resigned[0]["license"]["account"], "acct-keys");
    assert!(!resigned[0]["token"].as_str().unwrap().contains(&old_kid));
    assert_eq!(done["replayed"], false);
    let again = s.post_once(&path, &w.admin, "incident-1", &leaked).expect(200);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["resigned"], done["resigned"], "a replay answers with the licenses signed the first time");
    // A distrusted key cannot be retired (or distrusted again with a new key): 409.
    let e = s.send("POST", &format!("/v1/keys/{old_kid}/retire"), Some(&w.admin), Some(&body)).error(409, "key");
    assert_eq!(e["case"], "IssuerError::KeyDistrusted", "{e}");
    // Bills for an account the ledger has no license of: 404.
    let e = s.get("/v1/bills?account=acct-nobody&from=2026-12-01&to=2026-12-02", Some(&w.read)).error(404, "state");
    assert_eq!(e["case"], "IssuerError::UnknownAccount", "{e}");
    // A bill over days before the account's first license: nothing owed.
    let bill = s.get("/v1/bills?account=acct-keys&from=2026-12-01&to=2026-12-02", Some(&w.read)).expect(200);
    assert_eq!(bill["total"], 0, "{bill}");
    let days = bill["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{bill}");
    assert!(days.iter().all(|d| d["state"] == "before_order" && d["amount"] == 0), "{bill}");
}

fn off_loopback_the_api_needs_tls_and_sigterm_drains_it(store: Store) {
    let w = world(store);
    let (key, pass) = (w.vendor.key.to_str().unwrap(), w.vendor.pass_file.to_str().unwrap());
    let mut cmd = w.vendor.issuer();
    cmd.args(["serve", "--key", key, "--passphrase-file", pass, "--catalog"]).arg(&w.vendor.catalog);
    cmd.args(["--listen", "0.0.0.0:0"]);
    let refused = run(cmd, None);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("without TLS") && refused.stderr.contains("--tls-cert"), "{}", refused.stderr);
    // Two catalogs of one product: refused before the ledger is touched.
    let fresh = w.vendor.dir.path().join("never.sqlite3");
    let mut cmd = w.vendor.issuer();
    cmd.arg("--ledger").arg(&fresh).args(["serve", "--key", key, "--passphrase-file", pass]);
    cmd.arg("--catalog").arg(&w.vendor.catalog).arg("--catalog").arg(&w.vendor.catalog);
    let twice = run(cmd, None);
    assert_eq!(twice.code, 41, "{}", twice.stderr);
    assert!(twice.stderr.contains("two catalogs are given for product `data-platform`"), "{}", twice.stderr);
    assert!(!fresh.exists(), "no ledger made for a refused start");
    // Without a key or a catalog, a usage error before anything starts.
    let mut cmd = w.vendor.issuer();
    cmd.args(["serve", "--catalog"]).arg(&w.vendor.catalog);
    assert_eq!(run(cmd, None).code, 2);
    let mut s = serve(&w.vendor);
    s.get("/healthz", None).expect(200);
    assert_eq!(s.terminate(), Some(0));
    let log = s.log_text();
    assert!(!log.contains(&w.issue) && !log.contains(&w.admin), "{log}");
}

fn the_systemd_unit_in_the_vendor_guide_serves_as_written(store: Store) {
    let w = world(store);
    let unit = std::fs::read_to_string(workspace().join("docs/issuer.service")).unwrap();
    let value = |key: &str| {
        unit.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}=")).to_owned()
    };
    assert_eq!(value("KillSignal"), "SIGTERM");
    let stop: u64 = value("TimeoutStopSec").parse().unwrap();
    assert!(stop > 30, "systemd waits longer than a request may take (30 s) before it kills: {stop}");
    assert_eq!(value("UMask"), "0077", "the ledger and its journal are the vendor's alone");
    let ledger =
        value("Environment").strip_prefix("ISSUER_LEDGER=").expect("the ledger from the environment").to_owned();
    let dir = std::path::Path::new(&ledger).parent().unwrap().to_str().unwrap().to_owned();
    assert_eq!(value("ReadWritePaths"), dir, "the unit may write its ledger's directory, and only that");
    assert!(value("EnvironmentFile").starts_with('-'), "the environment file is optional");
    // The command line as written, with this test's binary, files and a free port.
    let exec = value("ExecStart");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/issuer"));
    let ours = [
        ("/etc/license-issuer/keys/issuer.key", w.vendor.key.to_str().unwrap()),
        ("/etc/license-issuer/passphrase", w.vendor.pass_file.to_str().unwrap()),
        ("/etc/license-issuer/data-platform.toml", w.vendor.catalog.to_str().unwrap()),
        ("127.0.0.1:8738", "127.0.0.1:0"),
    ];
    let args: Vec<&str> =
        words.map(|a| ours.iter().find(|(theirs, _)| *theirs == a).map_or(a, |(_, mine)| mine)).collect();
    assert!(!args.iter().any(|a| a.starts_with("/etc/")), "every file of the unit is one of the test's: {args:?}");
    let mut cmd = Command::new(license_tests::bin("issuer"));
    cmd.args(&args).env("ISSUER_LEDGER", &w.vendor.ledger).envs(w.vendor.env.iter().map(|(k, v)| (k, v)));
    let mut s = Served::start_issuer_command(cmd, &w.vendor.ledger, &args);
    let made = s.post_once("/v1/licenses", &w.issue, "order-unit-1", &order("acct-unit")).expect(201);
    let listed = s.get(&format!("/v1/licenses/{}", made["id"].as_str().unwrap()), Some(&w.read)).expect(200);
    assert_eq!(listed["licenses"][0]["account"], "acct-unit", "{listed}");
    assert_eq!(s.terminate(), Some(0), "SIGTERM stops it cleanly, as systemd expects");
}

fn what_the_http_stack_refuses_itself_gets_the_error_shape_and_an_oversized_body_is_audited(store: Store) {
    let w = world(store);
    let s = serve(&w.vendor);
    let bearer = format!("Bearer {}", w.admin);
    // A method a path does not have: 405, with `Allow` naming the methods
    // its OpenAPI entry documents (checked for every path by the client).
    let spec = license_tests::service::issuer_openapi();
    let mut calls = 0;
    for (template, item) in spec["paths"].as_object().unwrap() {
        let path = template.replace("{id}", "x").replace("{kid}", "x").replace("{kind}", "receipts");
        for method in ["GET", "POST", "PUT", "DELETE"].into_iter().filter(|m| !item[m.to_ascii_lowercase()].is_object())
        {
            let headers = [("Authorization", bearer.as_str()), ("Idempotency-Key", "wrong-method")];
            let e = s.with_headers(method, &path, &headers, Some(&json!({}))).error(405, "usage");
            assert_eq!(e["case"], "Refused::MethodNotAllowed", "{method} {path}");
            calls += 1;
        }
    }
    assert!(calls >= 40, "{calls}");
    // A body over 1 MiB: 401 without a token, 413 with one, and audited;
    // nothing is made.
    let mut big = order("acct-big");
    big["licensee"] = json!("a".repeat(1024 * 1024));
    let headers = [("Idempotency-Key", "pay-big")];
    s.with_headers("POST", "/v1/licenses", &headers, Some(&big)).error(401, "usage");
    let issue = format!("Bearer {}", w.issue);
    let headers = [("Authorization", issue.as_str()), ("Idempotency-Key", "pay-big")];
    let e = s.with_headers("POST", "/v1/licenses", &headers, Some(&big)).error(413, "usage");
    assert_eq!(e["case"], "ServiceError::TooLarge");
    assert_eq!(e["fields"]["limit"], 1024 * 1024);
    let read = format!("Bearer {}", w.read);
    let e = s.with_headers("POST", "/v1/licenses", &[("Authorization", read.as_str())], Some(&big)).error(403, "usage");
    assert_eq!(e["case"], "ServiceError::WrongScope", "the scope is checked before the body: {e}");
    assert_eq!(s.get("/v1/licenses", Some(&w.read)).expect(200)["total"], 0);
    // The same key with the order at its right size makes the license.
    s.post_once("/v1/licenses", &w.issue, "pay-big", &order("acct-big")).expect(201);
    let audit = s.get("/v1/audit?limit=1000", Some(&w.admin)).expect(200);
    let rows = audit["audit"].as_array().unwrap();
    let refused: Vec<_> = rows.iter().filter(|r| r["status"] == 413).collect();
    assert_eq!(refused.len(), 1, "{rows:?}");
    assert_eq!(refused[0]["route"], "POST /v1/licenses");
    assert_eq!(refused[0]["scope"], "issue");
    assert!(refused[0]["license_id"].is_null(), "{:?}", refused[0]);
    // The rule, on every route that takes a body: refused after the token
    // check, in the error shape, audited under its own route.
    let admin = format!("Bearer {}", w.admin);
    let mut posts = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        if item["post"].is_object() {
            let path = template.replace("{id}", "x").replace("{kid}", "0123456789abcdef").replace("{kind}", "receipts");
            let headers = [("Authorization", admin.as_str()), ("Idempotency-Key", "big-everywhere")];
            let e = s.with_headers("POST", &path, &headers, Some(&big)).error(413, "usage");
            assert_eq!(e["case"], "ServiceError::TooLarge", "{path}");
            posts.push(format!("POST {path}"));
        }
    }
    assert!(posts.len() >= 9, "{posts:?}");
    let audit = s.get("/v1/audit?limit=1000", Some(&w.admin)).expect(200);
    for route in &posts {
        let rows = audit["audit"].as_array().unwrap();
        assert!(rows.iter().any(|r| r["status"] == 413 && r["route"] == route.as_str()), "{route} is not audited");
    }
    // A control character in a path segment or a query value (a NUL, which
    // PostgreSQL cannot even look up; an escape sequence): 400 on either
    // store, before any route.
    for path in [
        "/v1/licenses/a%00b/token",
        "/v1/licenses?account=a%00",
        "/v1/bills?account=%1B[31m&from=2026-12-01&to=2026-12-01",
    ] {
        let e = s.get(path, Some(&w.read)).error(400, "usage");
        assert!(e["message"].as_str().unwrap().contains("control character"), "{path}: {e}");
    }
    let headers = [("Authorization", issue.as_str()), ("Idempotency-Key", "pay-nul")];
    s.with_headers("POST", "/v1/licenses/a%00/renew", &headers, Some(&json!({"months": 1}))).error(400, "usage");
    // In a body, the same: a field's own check refuses it, on either store.
    let id = s.get("/v1/licenses?account=acct-big", Some(&w.read)).expect(200)["licenses"][0]["id"].clone();
    let id = id.as_str().unwrap();
    for (n, (route, body)) in [
        ("renew", json!({"months": 1, "account": "acct-\u{0}"})),
        ("upgrade", json!({"account": "acct-\u{0}", "quotas": {"processing_units": 80}})),
        ("upgrade", json!({"edition": "x\u{0}"})),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("pay-nul-{n}");
        let headers = [("Authorization", issue.as_str()), ("Idempotency-Key", key.as_str())];
        let reply = s.with_headers("POST", &format!("/v1/licenses/{id}/{route}"), &headers, Some(&body));
        assert!(matches!(reply.status, 400 | 422), "{route} {body}: {}", reply.body);
        assert!(!reply.body.contains("restore the ledger"), "{route} {body}: {}", reply.body);
    }
    // A path segment that is not UTF-8: 400 in the error shape.
    let e = s.get("/v1/licenses/%FF/token", Some(&w.read)).error(400, "usage");
    assert_eq!(e["case"], "ServiceError::BadRequest");
    assert!(e["message"].as_str().unwrap().contains("UTF-8"), "{e}");
}

/// `text` as a query value: every byte but letters and digits escaped.
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
