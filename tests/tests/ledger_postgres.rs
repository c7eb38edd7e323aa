//! A ledger in PostgreSQL beyond one machine: TLS to the server, checked
//! against the vendor's own certificate authority and the server's name,
//! and `issuer serve` living through a restart of its database. Each test
//! runs its own server from Debian's `postgresql` package.

use std::path::PathBuf;
use std::process::Command;

use license_tests::certs;
use license_tests::postgres::{PASSWORD, Server};
use license_tests::service::{api_order, api_token, serve_vendor};
use license_tests::{Store, Vendor, run};

/// `issuer --ledger URL ledger verify` (`--json` on success, for the
/// report), with the test password.
fn verify(vendor: &Vendor, url: &str) -> license_tests::Run {
    verify_with(vendor, url, &[])
}

fn verify_with(vendor: &Vendor, url: &str, extra: &[&str]) -> license_tests::Run {
    let mut cmd = Command::new(license_tests::bin("issuer"));
    cmd.arg("--ledger").arg(url).args(["ledger", "verify"]).args(extra).arg("--pub").arg(&vendor.public);
    cmd.env("PGPASSWORD", PASSWORD);
    cmd.current_dir(vendor.dir.path());
    run(cmd, None)
}

#[test]
fn over_tls_the_ledger_checks_the_servers_certificate_and_name() {
    let server = Server::start_tls();
    let plain = server.database();
    let (port, name) = (server.port, plain.rsplit('/').next().unwrap().to_owned());
    let ca = server.ca();
    let url = |host: &str, root: &std::path::Path| {
        format!("postgres://postgres@{host}:{port}/{name}?sslmode=verify-full&sslrootcert={}", root.display())
    };
    let good = url("localhost", &ca);

    // The CLI and the service, on a ledger reached over verified TLS.
    let mut vendor = Vendor::on(Store::Sqlite);
    vendor.ledger = PathBuf::from(&good);
    vendor.env.push(("PGPASSWORD".into(), PathBuf::from(PASSWORD)));
    let token = vendor.issue(&["--account", "acct-tls"]);
    assert!(token.starts_with("lic1."));
    let issue = api_token(&vendor, "issue");
    let s = serve_vendor(&vendor);
    let made = s.post_once("/v1/licenses", &issue, "order-tls-1", &api_order("acct-tls-api")).expect(201);
    assert!(made["token"].as_str().is_some_and(|t| t.starts_with("lic1.")), "{made}");
    // While the service holds its connection, the server says it is encrypted.
    let sessions = server.psql(
        &plain,
        "SELECT string_agg(s.ssl::text || ':' || s.version, ',') FROM pg_stat_ssl s
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'license-issuer'",
    );
    assert!(sessions.trim().starts_with("true:TLSv1."), "the service's session is TLS: {sessions:?}");
    assert!(!sessions.contains("false"), "{sessions:?}");
    drop(s);
    let report = verify_with(&vendor, &good, &["--json"]);
    assert_eq!(report.json()["licenses"], 2, "{}", report.stdout);

    // An authority that did not sign the server's certificate.
    let other = certs::authority(vendor.dir.path(), "other");
    let refused = verify(&vendor, &url("localhost", &other));
    let e = refused.fails_with(30);
    assert!(e.contains("certificate") && e.contains("UnknownIssuer"), "{e}");
    // The right authority, but a name the certificate does not carry.
    let refused = verify(&vendor, &url("127.0.0.1", &ca));
    let e = refused.fails_with(30);
    assert!(e.contains("certificate") && e.contains("not valid for name"), "{e}");
    // A server on another machine is never spoken to in the clear, and the
    // weak modes are refused before any connection.
    let e = verify(&vendor, "postgres://postgres@db.example:5432/ledger").fails_with(30).to_owned();
    assert!(e.contains("not on this machine, so the connection needs TLS"), "{e}");
    let e = verify(&vendor, &format!("postgres://postgres@localhost:{port}/{name}?sslmode=require"))
        .fails_with(30)
        .to_owned();
    assert!(e.contains("sslmode=require is not offered"), "{e}");
    // Nothing the refused attempts did reached the ledger.
    assert_eq!(server.psql(&plain, "SELECT count(*) FROM licenses").trim(), "2");
}

#[test]
fn the_service_answers_503_while_its_database_is_down_and_connects_again_by_itself() {
    let vendor = Vendor::on(Store::Postgres);
    let server = vendor.postgres.as_ref().expect("a PostgreSQL vendor");
    let (issue, read) = (api_token(&vendor, "issue"), api_token(&vendor, "read"));
    let s = serve_vendor(&vendor);
    let first = s.post_once("/v1/licenses", &issue, "order-1", &api_order("acct-outage-1")).expect(201);

    // A restart for maintenance, or a fail-over: the server ends every session.
    server.shut_down();
    for _ in 0..3 {
        let e = s.post_once("/v1/licenses", &issue, "order-2", &api_order("acct-outage-2")).error(503, "state");
        assert_eq!(e["case"], "IssuerError::LedgerServer", "{e}");
        assert!(!e["message"].as_str().unwrap().contains(PASSWORD), "{e}");
        s.get("/v1/licenses", Some(&read)).error(503, "state");
    }
    assert_eq!(s.get("/healthz", None).status, 200, "the process itself stays up");

    server.start_again();
    // The call that failed is made now, once; the one before is not made again.
    let second = s.post_once("/v1/licenses", &issue, "order-2", &api_order("acct-outage-2")).expect(201);
    let again = s.post_once("/v1/licenses", &issue, "order-1", &api_order("acct-outage-1"));
    assert_eq!(again.json()["id"], first["id"], "{}", again.body);
    assert_ne!(second["id"], first["id"]);
    let listed = s.get("/v1/licenses", Some(&read)).expect(200);
    assert_eq!(listed["total"], 2, "{listed}");
    assert_eq!(server.psql(vendor.ledger.to_str().unwrap(), "SELECT count(*) FROM licenses").trim(), "2");
    assert!(s.log_text().contains("connected to the ledger's database again"), "{}", s.log_text());
}
