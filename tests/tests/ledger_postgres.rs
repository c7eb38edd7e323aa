//! A ledger in PostgreSQL beyond one machine: TLS to the server, checked
//! against the vendor's own certificate authority and the server's name,
//! and `issuer serve` living through a restart of its database. Each test
//! runs its own server from Debian's `postgresql` package.

use std::path::PathBuf;
use std::process::Command;

use license_tests::certs;
use license_tests::postgres::{CERT_USER, PASSWORD, Server};
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
    // While the service holds its connections, the server says they are encrypted.
    let sessions = server.psql(
        &plain,
        "SELECT string_agg(s.ssl::text || ':' || s.version, ',') FROM pg_stat_ssl s
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'license-issuer'",
    );
    assert!(sessions.trim().starts_with("true:TLSv1."), "the service's sessions are TLS: {sessions:?}");
    assert_eq!(sessions.trim().split(',').count(), 2, "one for changes, one for reads: {sessions:?}");
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
fn a_server_that_asks_for_a_client_certificate_gets_the_vendors_and_no_password() {
    let server = Server::start_tls();
    server.create_certificate_user();
    let plain = server.database();
    let (port, name) = (server.port, plain.rsplit('/').next().unwrap().to_owned());
    let ca = server.ca();
    let mut vendor = Vendor::on(Store::Sqlite);
    let dir = vendor.dir.path().to_path_buf();
    let dir = dir.as_path();
    // The vendor's client certificate, signed by the authority the server trusts.
    std::fs::copy(&ca, dir.join("ca.pem")).unwrap();
    std::fs::copy(ca.with_extension("key"), dir.join("ca.key")).unwrap();
    let (cert, key) = certs::client(dir, "ca", "client", CERT_USER);
    let base =
        format!("postgres://{CERT_USER}@localhost:{port}/{name}?sslmode=verify-full&sslrootcert={}", ca.display());
    let with = |cert: &std::path::Path, key: &std::path::Path| {
        format!("{base}&sslcert={}&sslkey={}", cert.display(), key.display())
    };
    let good = with(&cert, &key);

    // The CLI and the service sign in with the certificate; no password is asked or given.
    vendor.ledger = PathBuf::from(&good);
    let token = vendor.issue(&["--account", "acct-client-cert"]);
    assert!(token.starts_with("lic1."));
    let issue = api_token(&vendor, "issue");
    let s = serve_vendor(&vendor);
    s.post_once("/v1/licenses", &issue, "order-cert-1", &api_order("acct-client-cert-api")).expect(201);
    let sessions = server.psql(
        &plain,
        "SELECT string_agg(s.ssl::text || ':' || s.client_dn, ',') FROM pg_stat_ssl s
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'license-issuer'",
    );
    // Two sessions: the service's connection for changes and its one for reads.
    let each = format!("true:/CN={CERT_USER}");
    assert_eq!(sessions.trim(), format!("{each},{each}"), "the service signed in with its certificate, twice");
    drop(s);
    let report = verify_env(&vendor, &good, None, &[]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert_eq!(report.json()["licenses"], 2, "{}", report.stdout);

    // Without a certificate, the server turns the user away (and a password would not help).
    let e = verify(&vendor, &base).fails_with(30).to_owned();
    assert!(e.contains("requires a valid client certificate"), "{e}");
    // The authority's certificate, but for another user.
    let (someone, someone_key) = certs::client(dir, "ca", "someone", "postgres");
    let e = verify(&vendor, &with(&someone, &someone_key)).fails_with(30).to_owned();
    assert!(e.contains(&format!("certificate authentication failed for user \"{CERT_USER}\"")), "{e}");
    // A certificate from an authority the server does not trust.
    certs::authority(dir, "other");
    let (stranger, stranger_key) = certs::client(dir, "other", "stranger", CERT_USER);
    let e = verify(&vendor, &with(&stranger, &stranger_key)).fails_with(30).to_owned();
    assert!(e.contains("UnknownCA"), "{e}");
    // A certificate with the key of another: refused before any connection.
    let e = verify(&vendor, &with(&cert, &stranger_key)).fails_with(30).to_owned();
    assert!(e.contains("do not go together"), "{e}");
    // A key others can read is refused, as libpq refuses it, and its bytes are not shown.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = dir.join("open.key");
        std::fs::copy(&key, &open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = verify(&vendor, &with(&cert, &open)).fails_with(30).to_owned();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
    }
    // An encrypted key: libpq would ask for its passphrase; the ledger says what to do instead.
    let locked = dir.join("locked.key");
    let out = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:locked", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&locked)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    #[cfg(unix)]
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let e = verify(&vendor, &with(&cert, &locked)).fails_with(30).to_owned();
    assert!(e.contains("is encrypted") && e.contains("openssl pkey"), "{e}");
    // Not a key, a missing file, and one half of the pair.
    let not_a_key = dir.join("not-a.key");
    std::fs::copy(&cert, &not_a_key).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&not_a_key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let e = verify(&vendor, &with(&cert, &not_a_key)).fails_with(30).to_owned();
    assert!(e.contains("holds no PEM private key"), "{e}");
    let e = verify(&vendor, &with(&cert, &dir.join("missing.key"))).fails_with(30).to_owned();
    assert!(e.contains("missing.key"), "{e}");
    let e = verify(&vendor, &format!("{base}&sslcert={}", cert.display())).fails_with(30).to_owned();
    assert!(e.contains("without sslkey=FILE"), "{e}");
    assert!(!std::fs::read_to_string(&key).unwrap().lines().skip(1).any(|l| e.contains(l)));
    // Nothing the refused attempts did reached the ledger.
    assert_eq!(server.psql(&plain, "SELECT count(*) FROM licenses").trim(), "2");
}

/// `issuer --ledger URL ledger verify --json --pub …` with `PGPASSWORD` set
/// to `password` (or unset) and the environment `env`.
fn verify_env(
    vendor: &Vendor,
    url: &str,
    password: Option<&str>,
    env: &[(&str, &std::path::Path)],
) -> license_tests::Run {
    let mut cmd = Command::new(license_tests::bin("issuer"));
    cmd.arg("--ledger").arg(url).args(["ledger", "verify", "--json", "--pub"]).arg(&vendor.public);
    cmd.env_remove("PGPASSWORD").env_remove("PGPASSFILE").current_dir(vendor.dir.path());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.envs(env.iter().copied());
    run(cmd, None)
}

/// The message and hint of a ledger that could not be reached (status 30),
/// from the JSON report on standard output.
fn refused(r: license_tests::Run) -> String {
    assert_eq!(r.code, 30, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).expect("a JSON report");
    assert_eq!(report["error"]["class"], "state", "{report}");
    format!("{}\nhint: {}", report["error"]["message"].as_str().unwrap(), report["error"]["hint"].as_str().unwrap())
}

#[test]
fn the_password_may_come_from_a_password_file_as_for_postgresqls_own_tools() {
    let vendor = Vendor::on(Store::Postgres);
    vendor.issue(&["--account", "acct-pgpass"]);
    let url = vendor.ledger.to_str().unwrap().to_owned();
    // postgres://postgres@127.0.0.1:PORT/DATABASE
    let (address, database) = url.rsplit_once('/').unwrap();
    let port = address.rsplit_once(':').unwrap().1.to_owned();
    let dir = vendor.dir.path();
    let write = |name: &str, text: &str, mode: u32| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        path
    };
    let lines = format!(
        "# the vendor's ledgers\n127.0.0.1:{port}:other_database:postgres:wrong\n127.0.0.1:{port}:{database}:postgres:{PASSWORD}\n*:*:*:*:wrong\n"
    );
    let file = write("pgpass", &lines, 0o600);
    let counted = |r: &license_tests::Run| {
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()["licenses"].as_u64().unwrap()
    };
    // PGPASSFILE, with no PGPASSWORD: the line for this database is used, not the ones around it.
    assert_eq!(counted(&verify_env(&vendor, &url, None, &[("PGPASSFILE", &file)])), 1);
    // ~/.pgpass when PGPASSFILE is not set.
    let home = dir.join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::copy(&file, home.join(".pgpass")).unwrap();
    assert_eq!(counted(&verify_env(&vendor, &url, None, &[("HOME", &home)])), 1);
    // PGPASSWORD comes first, as in libpq: a file with a wrong password does not matter then.
    let wrong = write("wrong", "*:*:*:*:wrong\n", 0o600);
    assert_eq!(counted(&verify_env(&vendor, &url, Some(PASSWORD), &[("PGPASSFILE", &wrong)])), 1);
    let e = refused(verify_env(&vendor, &url, None, &[("PGPASSFILE", &wrong)]));
    assert!(e.contains("password authentication failed"), "{e}");
    // A file that others may read is refused, without a word of what it holds.
    let open = write("open", &lines, 0o644);
    let e = refused(verify_env(&vendor, &url, None, &[("PGPASSFILE", &open)]));
    assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
    assert!(!e.contains(PASSWORD), "{e}");
    // A PGPASSFILE that is not there, and a file without a line for this database.
    let e = refused(verify_env(&vendor, &url, None, &[("PGPASSFILE", &dir.join("nowhere"))]));
    assert!(e.contains("PGPASSFILE names") && e.contains("does not exist"), "{e}");
    let none = write("none", &format!("127.0.0.1:{port}:other_database:postgres:{PASSWORD}\n"), 0o600);
    let e = refused(verify_env(&vendor, &url, None, &[("PGPASSFILE", &none)]));
    assert!(e.contains("password missing") || e.contains("password authentication failed"), "{e}");
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
