//! `activator serve` end to end: the real binary on a free loopback port,
//! a real HTTP client, every response checked against docs/openapi.json
//! (in `license_tests::service`): every route, every scope refusal, the
//! error shape, activation through the API against `activator status`
//! through the CLI, changes by the CLI seen at once, the address rule,
//! rate limiting, metrics and graceful shutdown.

use std::process::Command;

use license_tests::service::{Served, token};
use license_tests::{Install, Vendor, bin, run};
use serde_json::{Value, json};

const SECRET: &str = "sk-never-shown-7f3a9c";

struct World {
    vendor: Vendor,
    install: Install,
    admin: String,
    launcher: String,
    collector: String,
}

fn world() -> World {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let admin = token(&install.state, "admin");
    let launcher = token(&install.state, "launcher");
    let collector = token(&install.state, "collector");
    World { vendor, install, admin, launcher, collector }
}

/// The routes, with the scope each needs.
const ROUTES: [(&str, &str, &str); 19] = [
    ("GET", "/v1/overview", "launcher"),
    ("POST", "/v1/gateway/check", "launcher"),
    ("GET", "/metrics", "launcher"),
    ("GET", "/v1/status", "launcher"),
    ("GET", "/v1/check?package=data_service", "launcher"),
    ("GET", "/v1/quotas/processing_units", "launcher"),
    ("GET", "/v1/history", "launcher"),
    ("GET", "/v1/usage", "launcher"),
    ("GET", "/v1/collectors", "launcher"),
    ("POST", "/v1/gateway/render", "launcher"),
    ("POST", "/v1/collectors/dk-1/checkin", "collector"),
    ("POST", "/v1/activate", "admin"),
    ("PUT", "/v1/gateway", "admin"),
    ("PUT", "/v1/credentials", "admin"),
    ("POST", "/v1/revocations", "admin"),
    ("POST", "/v1/files/activation-request", "admin"),
    ("POST", "/v1/files/activation-receipt", "admin"),
    ("POST", "/v1/files/usage-report?from=2026-12-01&to=2026-12-01", "admin"),
    ("POST", "/v1/files/deactivation-receipt", "admin"),
];

fn call(s: &Served, method: &str, path: &str, token: Option<&str>) -> license_tests::service::Reply {
    match method {
        "GET" => s.get(path, token),
        m => s.send(m, path, token, Some(&json!({}))),
    }
}

#[test]
fn every_route_refuses_a_missing_token_and_the_wrong_scope() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    s.get("/healthz", None).expect(200);
    s.get("/readyz", None).expect(200);
    for (n, (method, path, scope)) in ROUTES.into_iter().enumerate() {
        let reply = call(&s, method, path, None);
        let e = reply.error(401, "usage");
        assert_eq!(e["case"], "ApiError::Unauthorized", "{method} {path}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        // A wrong token (fewer than ten: more are rate-limited, see below).
        if n % 3 == 0 {
            call(&s, method, path, Some("lst1_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
                .error(401, "usage");
        }
        let wrong = match scope {
            "launcher" => vec![&w.collector],
            "collector" => vec![&w.launcher],
            _ => vec![&w.launcher, &w.collector],
        };
        for t in wrong {
            let e = call(&s, method, path, Some(t)).error(403, "usage");
            assert_eq!(e["case"], "ApiError::WrongScope", "{method} {path}");
            assert_eq!(e["fields"]["needed"], scope);
        }
    }
    // Unknown routes get the same error shape.
    s.get("/v1/nothing", Some(&w.admin)).error(404, "usage");
    // The scheme is case-insensitive (RFC 9110 §11.1); another scheme is no token.
    for scheme in ["bearer", "BEARER", "bEaReR "] {
        let value = format!("{scheme} {}", w.launcher);
        s.with_headers("GET", "/v1/status", &[("Authorization", &value)], None).expect(200);
    }
    let basic = format!("Basic {}", w.launcher);
    s.with_headers("GET", "/v1/status", &[("Authorization", &basic)], None).error(401, "usage");
}

#[test]
fn activation_through_the_api_agrees_with_the_cli_and_every_route_answers() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    let license = w.vendor.issue(&[]);
    let before = s.get("/v1/status", Some(&w.launcher)).expect(200);
    assert_eq!(before["license"], Value::Null);

    let files_before = w.install.snapshot();
    // A gateway with a real token in it is refused, and nothing is stored.
    let bad = json!({"license": license, "gateway": "https://gw.example.com/v1/write?token=tkn_0123456789abcdef",
                     "access_key_id": "AKID-1", "secret_key": SECRET});
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&bad)).error(400, "usage");
    assert_eq!(s.get("/v1/status", Some(&w.launcher)).expect(200)["license"], Value::Null, "nothing changed");
    // Only one half of the key pair.
    let half = json!({"license": license, "access_key_id": "AKID-1"});
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&half)).error(400, "usage");
    // Not JSON, unknown fields, too large.
    s.send_text("POST", "/v1/revocations", Some(&w.admin), "garbage").error(400, "malformed");
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&json!({"licence": license}))).error(400, "usage");
    let huge = json!({"license": "x".repeat(300 * 1024)});
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&huge)).error(413, "usage");

    // An expired license, a license for another product, one signed by a stranger.
    let expired = w.vendor.sign_custom(|l| {
        l.not_before = license_common::Timestamp::parse("2024-01-01").unwrap();
        l.expires_at = Some(license_common::Timestamp::parse("2024-06-01").unwrap());
    });
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&json!({"license": expired}))).error(422, "expired");
    let other = w.vendor.sign_custom(|l| l.product = "observability".into());
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&json!({"license": other}))).error(422, "mismatch");
    let stranger = Vendor::new().issue(&[]);
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&json!({"license": stranger}))).error(422, "untrusted_key");
    assert_eq!(files_before, w.install.snapshot(), "no refused request changed a byte of the state directory");

    let good = json!({"license": license, "gateway": "https://gw.example.com/v1/write?token={}",
                      "access_key_id": "AKID-1", "secret_key": SECRET});
    let activated = s.send("POST", "/v1/activate", Some(&w.admin), Some(&good)).expect(200);
    assert_eq!(activated["activated"], true);
    assert_eq!(activated["status"]["phase"], "active");

    // What the API says is what the CLI says.
    let api = s.get("/v1/status", Some(&w.launcher)).expect(200);
    let cli = w.install.run(&["status", "--json"], None).json();
    let strip = |mut v: Value| {
        v["checked_at"] = Value::Null;
        v["license"]["remaining_seconds"] = Value::Null;
        v
    };
    assert_eq!(strip(api.clone()), strip(cli), "the API and the CLI agree");
    assert_eq!(api["credentials"]["access_key"], "AKID-1");

    let mut bodies = vec![activated.to_string(), api.to_string()];
    let check = s.get("/v1/check?package=data_service&tier=api.base", Some(&w.launcher)).expect(200);
    assert_eq!((check["entitled"].as_bool(), check["tier"].as_str()), (Some(true), Some("api.s1.small")));
    let denied =
        s.get("/v1/check?package=data_service&tier=api.s2.large", Some(&w.launcher)).error(403, "not_entitled");
    assert!(denied["message"].as_str().unwrap().contains("api.s2.large"), "{denied}");
    s.get("/v1/check?package=asset_quality", Some(&w.launcher)).error(403, "not_entitled");
    s.get("/v1/check", Some(&w.launcher)).error(400, "usage");
    assert_eq!(s.get("/v1/quotas/processing_units", Some(&w.launcher)).expect(200)["value"], 40);
    s.get("/v1/quotas/collectors", Some(&w.launcher)).error(404, "usage");
    let history = s.get("/v1/history", Some(&w.launcher)).expect(200);
    assert_eq!(history["history"].as_array().unwrap().len(), 1);
    let rendered = s
        .send("POST", "/v1/gateway/render", Some(&w.launcher), Some(&json!({"workspace_token": "ws 1/x"})))
        .expect(200);
    assert_eq!(rendered["url"], "https://gw.example.com/v1/write?token=ws%201%2Fx");
    s.get("/v1/usage?from=2026-12-02&to=2026-12-01", Some(&w.launcher)).error(400, "usage");
    s.get("/v1/usage", Some(&w.launcher)).expect(200);
    s.get("/v1/collectors", Some(&w.launcher)).expect(200);
    s.send("PUT", "/v1/gateway", Some(&w.admin), Some(&json!({"url": "https://gw2.example.com/w?token=abc"})))
        .error(400, "usage");
    let gw = s
        .send("PUT", "/v1/gateway", Some(&w.admin), Some(&json!({"url": "https://gw2.example.com/w?token={}"})))
        .expect(200);
    assert_eq!(gw["gateway"], "https://gw2.example.com/w?token={}");
    let creds = s
        .send("PUT", "/v1/credentials", Some(&w.admin), Some(&json!({"access_key_id": "AKID-2", "secret_key": SECRET})))
        .expect(200);
    assert_eq!(creds["credentials"]["secret_key"].as_str().unwrap().len(), 8, "{creds}");
    bodies.push(creds.to_string());

    // The air-gap files, as files.
    for (path, begin) in [
        ("/v1/files/activation-request", "ACTIVATION REQUEST"),
        ("/v1/files/activation-receipt", "ACTIVATION RECEIPT"),
        ("/v1/files/usage-report?from=2026-12-01&to=2026-12-02", "USAGE REPORT"),
    ] {
        let reply = s.send("POST", path, Some(&w.admin), None);
        let text = reply.expect(200);
        assert!(text.as_str().unwrap().contains(begin), "{path}: {text}");
        assert!(reply.header("content-disposition").unwrap().starts_with("attachment; filename="), "{path}");
    }
    s.send("POST", "/v1/files/usage-report", Some(&w.admin), None).error(400, "usage");
    let receipt = s.send("POST", "/v1/files/deactivation-receipt", Some(&w.admin), None).expect(200);
    assert!(receipt.as_str().unwrap().contains("DEACTIVATION RECEIPT"));
    assert_eq!(s.get("/v1/status", Some(&w.launcher)).expect(200)["phase"], "unlicensed");
    s.get("/v1/check?package=data_service", Some(&w.launcher)).error(403, "not_entitled");
    s.send("POST", "/v1/files/activation-receipt", Some(&w.admin), None).error(409, "state");
    // The vendor's revocation list, through the API.
    let mut cmd = w.vendor.issuer();
    let list = w.vendor.dir.path().join("revocations.txt");
    cmd.args(["revocations", "export", "--key"])
        .arg(&w.vendor.key)
        .arg("--passphrase-file")
        .arg(&w.vendor.pass_file)
        .arg("--out")
        .arg(&list);
    run(cmd, None).ok();
    let imported =
        s.send_text("POST", "/v1/revocations", Some(&w.admin), &std::fs::read_to_string(&list).unwrap()).expect(200);
    assert_eq!(imported["revoked"], 0);

    // The secret key is in no response and no log line.
    for b in bodies {
        assert!(!b.contains(SECRET), "the secret key leaked: {b}");
    }
    let log = s.log_text();
    assert!(!log.contains(SECRET) && !log.contains(&w.admin) && !log.contains(&w.launcher), "{log}");
}

#[test]
fn a_change_made_by_the_cli_is_seen_at_once_and_neither_side_overwrites_the_other() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    w.install.activate(&w.vendor.issue(&[])).ok();
    assert_eq!(s.get("/v1/status", Some(&w.launcher)).expect(200)["phase"], "active", "no restart needed");
    w.install.run(&["gateway", "set", "https://gw.example.com/a?token={}"], None).ok();
    s.send("PUT", "/v1/credentials", Some(&w.admin), Some(&json!({"access_key_id": "AKID-9", "secret_key": SECRET})))
        .expect(200);
    let cli = w.install.run(&["status", "--json"], None).json();
    assert_eq!(cli["gateway"], "https://gw.example.com/a?token={}", "the service kept the CLI's gateway");
    assert_eq!(cli["credentials"]["access_key"], "AKID-9", "the CLI sees the service's credentials");
    // A revoked token is refused at once.
    let list = w.install.run(&["serve", "token", "list", "--json"], None).json();
    let id = list["tokens"].as_array().unwrap().iter().find(|t| t["scope"] == "launcher").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!list.to_string().contains(&w.launcher), "the list never shows a token");
    w.install.run(&["serve", "token", "revoke", &id], None).ok();
    s.get("/v1/status", Some(&w.launcher)).error(401, "usage");
    s.get("/v1/status", Some(&w.admin)).expect(200);
}

#[test]
fn off_loopback_the_service_needs_tls_or_an_explicit_insecure_flag() {
    let w = world();
    let mut cmd = Command::new(bin("activator"));
    cmd.arg("--state").arg(&w.install.state).args(["serve", "--listen", "0.0.0.0:0"]);
    let err = run(cmd, None).fails_with(2).to_owned();
    assert!(err.contains("not a loopback address") && err.contains("--tls-cert"), "{err}");

    let mut insecure = Served::start(&w.install.state, &["--listen", "0.0.0.0:0", "--insecure-listen"]);
    insecure.get("/healthz", None).expect(200);
    assert!(insecure.log_text().contains("WITHOUT TLS"), "{}", insecure.log_text());
    assert_eq!(insecure.terminate(), Some(0));

    // With TLS (a certificate made by OpenSSL), a real client verifies it.
    let dir = w.vendor.dir.path();
    let (cert, key) = license_tests::certs::self_signed(dir, "cert");
    let tls =
        Served::start(&w.install.state, &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(tls.base.starts_with("https://"), "{}", tls.base);
    let out = Command::new("curl")
        .args(["-sS", "--cacert", cert.to_str().unwrap(), "-H", &format!("Authorization: Bearer {}", w.launcher)])
        .arg(format!("{}/v1/status", tls.base))
        .output()
        .expect("curl");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"product\":\"data-platform\""), "{body} {}", String::from_utf8_lossy(&out.stderr));
    let mut cmd = Command::new(bin("activator"));
    cmd.arg("--state")
        .arg(&w.install.state)
        .args(["serve", "--tls-cert", cert.to_str().unwrap(), "--tls-key"])
        .arg(dir.join("missing.pem"));
    let err = run(cmd, None).fails_with(50).to_owned();
    assert!(err.contains("missing.pem"), "{err}");
}

#[test]
fn wrong_tokens_are_rate_limited_per_address() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    for _ in 0..10 {
        s.get("/v1/status", Some("lst1_0123456789abcdef_wrongwrongwrongwrongwrongwrongwrongwrongwro"))
            .error(401, "usage");
    }
    let limited = s.get("/v1/status", Some(&w.launcher));
    let e = limited.error(429, "usage");
    assert_eq!(e["case"], "ApiError::RateLimited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    s.get("/healthz", None).expect(200);
}

/// A state edited by hand under a running service: every call with a valid
/// token says the state is damaged (409, what to do), none is taken for a
/// wrong token (no 401, no lockout), and `/readyz` answers 503.
#[test]
fn a_damaged_state_is_reported_to_valid_tokens_and_not_counted_as_guessing() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    w.install.activate(&w.vendor.issue(&[])).ok();
    s.get("/v1/status", Some(&w.launcher)).expect(200);
    let path = w.install.state.join("state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["high_water"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    for _ in 0..15 {
        let e = s.get("/v1/status", Some(&w.launcher)).error(409, "state");
        assert_eq!(e["case"], "ActivatorError::DamagedState", "{e}");
    }
    let e = s.get("/readyz", None).error(503, "state");
    assert_eq!(e["case"], "ApiError::NotReady", "{e}");
    assert!(e["message"].as_str().unwrap().contains("is damaged"), "{e}");
    s.get("/healthz", None).expect(200);
}

#[test]
fn metrics_give_expiry_remaining_time_entitlements_and_phase() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    w.install.activate(&w.vendor.issue(&[])).ok();
    let status = s.get("/v1/status", Some(&w.launcher)).expect(200);
    let reply = s.get("/metrics", Some(&w.launcher));
    let text = reply.expect(200);
    let text = text.as_str().unwrap();
    let expiry = license_common::Timestamp::parse(status["license"]["expires_at"].as_str().unwrap()).unwrap().unix();
    assert!(text.contains(&format!("activator_license_expiry_timestamp_seconds {expiry}")), "{text}");
    assert!(text.contains("activator_license_phase{phase=\"active\"} 1"), "{text}");
    assert!(text.contains("activator_entitlement{package=\"data_service\",tier=\"api.s1.small\"} 1"), "{text}");
    let remaining: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("activator_license_remaining_seconds "))
        .expect("remaining seconds")
        .parse()
        .unwrap();
    assert!(remaining > 300 * 86_400, "{remaining}");
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let w = world();
    let mut s = Served::start(&w.install.state, &[]);
    s.get("/v1/status", Some(&w.launcher)).expect(200);
    assert_eq!(s.terminate(), Some(0));
    assert!(s.log_text().contains("shutting down"), "{}", s.log_text());
}

#[test]
fn the_openapi_schemas_refuse_what_they_do_not_describe() {
    use license_tests::service::{openapi, schema_errors};
    let status = json!({"$ref": "#/components/schemas/Status"});
    let w = world();
    let good = w.install.run(&["status", "--json"], None).json();
    assert_eq!(schema_errors(&status, &good), Vec::<String>::new(), "the CLI's status is the documented shape");
    let mut bad = good.clone();
    bad["phase"] = json!("happy");
    assert!(!schema_errors(&status, &bad).is_empty());
    bad = good.clone();
    bad["secret_key"] = json!("x");
    assert!(!schema_errors(&status, &bad).is_empty(), "no undocumented field");
    let error = json!({"$ref": "#/components/schemas/Error"});
    assert!(!schema_errors(&error, &json!({"format": 1, "error": {"message": "x"}})).is_empty());
    assert!(openapi()["paths"].as_object().unwrap().len() >= 19);
}

#[test]
fn the_python_client_example_activates_checks_and_checks_in() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    let license = w.vendor.dir.path().join("python.lic");
    std::fs::write(&license, w.vendor.issue(&[])).unwrap();
    let secret = w.vendor.dir.path().join("sk.txt");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let script = license_tests::workspace().join("docs/examples/client.py");
    let run_client = |gateway: &str| {
        Command::new("python3")
            .arg(&script)
            .args([license.to_str().unwrap(), "data_service", gateway, "AKID-PY"])
            .env("ACTIVATOR_URL", &s.base)
            .env("ACTIVATOR_ADMIN_TOKEN", &w.admin)
            .env("ACTIVATOR_COLLECTOR_TOKEN", &w.collector)
            .env("ACTIVATOR_SECRET_KEY_FILE", &secret)
            .output()
            .expect("python3")
    };
    // A gateway with a real token: the service's error, exit 1, nothing stored.
    let out = run_client("https://gw.example.com/w?token=abc123");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error (400, usage)"));
    let out = run_client("https://gw.example.com/w?token={}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("intelligent_rnd (active)"), "{stdout}");
    assert!(stdout.contains("data_service: entitled at tier api.s1.small"), "{stdout}");
    assert!(stdout.contains("collector dk-python-1 checked in"), "{stdout}");
    let status = w.install.run(&["status", "--json"], None).json();
    assert_eq!(status["credentials"]["access_key"], "AKID-PY");
    assert_eq!(status["gateway"], "https://gw.example.com/w?token={}");
}

#[test]
fn the_systemd_unit_in_the_docs_starts_and_stops_the_service_as_written() {
    let w = world();
    let unit = std::fs::read_to_string(license_tests::workspace().join("docs/activator.service")).unwrap();
    let value = |key: &str| {
        unit.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}=")).to_owned()
    };
    assert_eq!(value("KillSignal"), "SIGTERM");
    let env = value("Environment");
    let state_dir = env.strip_prefix("ACTIVATOR_STATE=").expect("the state directory from the environment");
    assert!(value("ReadWritePaths").contains(state_dir), "the unit may write its state directory");
    let exec = value("ExecStart");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/activator"));
    // As written, but this test's binary, state directory and a free port.
    let args: Vec<String> = words.map(|a| a.replace("127.0.0.1:8737", "127.0.0.1:0")).collect();
    let mut child = Command::new(bin("activator"))
        .args(&args)
        .env("ACTIVATOR_STATE", &w.install.state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").expect("it listens").to_owned();
    let out = Command::new("curl").args(["-sS", &format!("{base}/healthz")]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ok\""));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "SIGTERM stops it cleanly, as systemd expects");
}

#[test]
fn a_slow_or_idle_client_is_cut_off_and_cannot_hold_the_service() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    let addr = s.base.strip_prefix("http://").unwrap().to_owned();
    let timed = |send: &'static [u8], answered: bool| {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
            c.write_all(send).unwrap();
            let mut buf = [0u8; 4096];
            if answered {
                let n = c.read(&mut buf).unwrap();
                assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&buf[..n]));
            }
            let start = std::time::Instant::now();
            let n = c.read(&mut buf).unwrap_or(0);
            (n, start.elapsed())
        })
    };
    // Headers that never end (slowloris), and a keep-alive connection left idle.
    let slow = timed(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", false);
    let idle = timed(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", true);
    // Meanwhile the service answers everyone else.
    s.get("/v1/status", Some(&w.launcher)).expect(200);
    for (what, handle) in [("slow headers", slow), ("an idle connection", idle)] {
        let (n, waited) = handle.join().unwrap();
        assert_eq!(n, 0, "{what}: the connection is closed, not answered");
        assert!(waited.as_secs() <= 15, "{what} was held {waited:?}");
    }
}

#[test]
fn the_console_session_is_an_http_only_strict_cookie_whose_requests_need_the_csrf_token() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    // Only an admin token signs in.
    let e = s.with_headers("POST", "/console/session", &[], Some(&json!({"token": w.launcher}))).error(403, "usage");
    assert_eq!(e["case"], "ApiError::WrongScope");
    s.with_headers("POST", "/console/session", &[], Some(&json!({"token": "lst1_x"}))).error(401, "usage");
    let signed = s.with_headers("POST", "/console/session", &[], Some(&json!({"token": w.admin})));
    let body = signed.expect(200);
    let cookie = signed.header("set-cookie").unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains(&w.admin), "the cookie is not the token");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let csrf = body["csrf"].as_str().unwrap().to_owned();
    // The cookie alone (another site's request) is refused; with the CSRF token it works.
    let e = s.with_headers("GET", "/v1/overview", &[("Cookie", &pair)], None).error(403, "usage");
    assert_eq!(e["case"], "ApiError::Csrf");
    s.with_headers("GET", "/v1/overview", &[("Cookie", &pair), ("X-CSRF-Token", "wrong")], None).error(403, "usage");
    let o = s.with_headers("GET", "/v1/overview", &[("Cookie", &pair), ("X-CSRF-Token", &csrf)], None).expect(200);
    assert_eq!(o["status"]["product"], "data-platform");
    let checked = s
        .with_headers(
            "POST",
            "/v1/gateway/check",
            &[("Cookie", &pair), ("X-CSRF-Token", &csrf)],
            Some(&json!({"url": "https://g.example.com/w?token=%7B%7D"})),
        )
        .expect(200);
    assert_eq!(checked["gateway"], "https://g.example.com/w?token={}");
    assert!(!checked["notes"].as_array().unwrap().is_empty(), "%7B%7D is explained: {checked}");
    s.with_headers(
        "POST",
        "/v1/gateway/check",
        &[("Cookie", &pair), ("X-CSRF-Token", &csrf)],
        Some(&json!({"url": "https://g.example.com/w?token=real"})),
    )
    .error(400, "usage");
    // Security headers on pages and API alike; the assets are served from the binary.
    for path in ["/console/", "/console/app.js", "/console/app.css", "/v1/overview"] {
        let r = s.with_headers("GET", path, &[], None);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let page = s.with_headers("GET", "/console/", &[], None);
    assert!(
        page.body.contains("<script src=\"app.js\" defer></script>") && !page.body.contains("<script>"),
        "no inline script"
    );
    // Signing out ends the session.
    s.with_headers("DELETE", "/console/session", &[("Cookie", &pair), ("X-CSRF-Token", &csrf)], None).expect(200);
    s.with_headers("GET", "/v1/overview", &[("Cookie", &pair), ("X-CSRF-Token", &csrf)], None).error(401, "usage");
}

/// Whether `text` has Chinese characters.
fn chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Checks that an error has its Chinese message and hint, which carry the
/// same values (ids, times, names) as the English ones.
fn bilingual(error: &Value) -> String {
    let zh = &error["translations"]["zh-CN"];
    let (message, hint) = (zh["message"].as_str().unwrap(), zh["hint"].as_str().unwrap());
    assert!(chinese(message) && chinese(hint), "{error}");
    assert_ne!(message, error["message"].as_str().unwrap());
    // Ids, times, paths and addresses stay as they are (plain words such as
    // a file's kind are translated).
    let literal = |v: &&str| v.chars().any(|c| c.is_ascii_digit() || "/-_.:`".contains(c));
    for value in error["fields"].as_object().unwrap().values().filter_map(Value::as_str).filter(literal) {
        if error["message"].as_str().unwrap().contains(value) {
            assert!(message.contains(value), "`{value}` is lost in {message}");
        }
    }
    format!("{}: {message} / {hint}", error["case"].as_str().unwrap())
}

#[test]
fn every_message_the_api_returns_comes_in_english_and_chinese() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    let license = w.vendor.issue(&["--account", "acct-old"]);
    // Refusals of every kind, each from a real request.
    let mut seen = vec![
        bilingual(&s.get("/v1/status", None).error(401, "usage")),
        bilingual(&s.get("/v1/status", Some(&w.collector)).error(403, "usage")),
        bilingual(&s.get("/v1/nothing-here", Some(&w.admin)).error(404, "usage")),
        bilingual(&s.get("/v1/quotas/processing_units", Some(&w.launcher)).error(404, "usage")),
        bilingual(&s.get("/v1/check?package=data_service", Some(&w.launcher)).error(403, "not_entitled")),
        bilingual(&s.send_text("POST", "/v1/revocations", Some(&w.admin), "garbage").error(400, "malformed")),
    ];
    let bad = json!({"license": license, "gateway": "https://gw.example.com/v1/write?token=tkn_0123456789abcdef"});
    seen.push(bilingual(&s.send("POST", "/v1/activate", Some(&w.admin), Some(&bad)).error(400, "usage")));
    let expired = w.vendor.sign_custom(|l| {
        l.not_before = license_common::Timestamp::parse("2024-01-01").unwrap();
        l.expires_at = Some(license_common::Timestamp::parse("2024-06-01").unwrap());
    });
    let e = s.send("POST", "/v1/activate", Some(&w.admin), Some(&json!({"license": expired}))).error(422, "expired");
    assert!(e["translations"]["zh-CN"]["message"].as_str().unwrap().contains("2024-06-01T00:00:00Z"), "{e}");
    seen.push(bilingual(&e));
    let stranger = Vendor::new().issue(&[]);
    let e =
        s.send("POST", "/v1/activate", Some(&w.admin), Some(&json!({"license": stranger}))).error(422, "untrusted_key");
    seen.push(bilingual(&e));
    let renders = json!({"workspace_token": "ws-1"});
    seen.push(bilingual(&s.send("POST", "/v1/gateway/render", Some(&w.launcher), Some(&renders)).error(409, "state")));

    // Notes: how a gateway was read, and a license thrown away on an account change.
    let put = json!({"url": "https://gw.example.com/v1/write?token=%7B%7D"});
    let gw = s.send("PUT", "/v1/gateway", Some(&w.admin), Some(&put)).expect(200);
    let zh_notes = gw["translations"]["zh-CN"]["notes"].as_array().unwrap();
    assert_eq!(zh_notes.len(), gw["notes"].as_array().unwrap().len());
    assert!(!zh_notes.is_empty() && zh_notes.iter().all(|n| chinese(n.as_str().unwrap())), "{gw}");
    s.send("POST", "/v1/activate", Some(&w.admin), Some(&json!({"license": license}))).expect(200);
    let other = w.vendor.issue(&["--account", "acct-new"]);
    let moved = json!({"license": other, "replace_account": true});
    let a = s.send("POST", "/v1/activate", Some(&w.admin), Some(&moved)).expect(200);
    let zh = a["translations"]["zh-CN"]["notes"].as_array().unwrap();
    assert!(a["notes"][0].as_str().unwrap().starts_with("thrown away"), "{a}");
    assert!(zh[0].as_str().unwrap().starts_with("已丢弃") && zh[0].as_str().unwrap().contains("acct-old"), "{a}");
    println!("{}", seen.join("\n"));
}

/// Every documented path called with each method it does not have.
fn undocumented_methods(spec: &Value) -> Vec<(&'static str, String)> {
    let mut calls = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let path = template.replace("{id}", "x").replace("{name}", "x").replace("{kid}", "x").replace("{kind}", "x");
        for method in ["GET", "POST", "PUT", "DELETE"] {
            if !item[method.to_ascii_lowercase()].is_object() {
                calls.push((method, path.clone()));
            }
        }
    }
    calls
}

#[test]
fn what_the_http_stack_refuses_itself_comes_in_the_error_shape_in_both_languages() {
    let w = world();
    let s = Served::start(&w.install.state, &[]);
    let bearer = format!("Bearer {}", w.admin);
    // A method a path does not have: 405, with `Allow` naming the methods
    // its OpenAPI entry documents (checked for every path by the client).
    let calls = undocumented_methods(license_tests::service::openapi());
    assert!(calls.len() > 40, "{calls:?}");
    for (method, path) in &calls {
        let e = s.with_headers(method, path, &[("Authorization", &bearer)], Some(&json!({}))).error(405, "usage");
        assert_eq!(e["case"], "Refused::MethodNotAllowed", "{method} {path}");
        assert_eq!(e["fields"]["method"], *method);
    }
    let mut seen = vec![bilingual(&s.with_headers("DELETE", "/v1/status", &[], None).error(405, "usage"))];
    // A body over the limit: 413, before anything is read or changed.
    let big = json!({"url": format!("https://gw.example.com/v1/write?token={{}}&pad={}", "a".repeat(300 * 1024))});
    let e = s.send("PUT", "/v1/gateway", Some(&w.admin), Some(&big)).error(413, "usage");
    assert_eq!(e["case"], "ApiError::TooLarge");
    assert_eq!(e["fields"]["limit"], 256 * 1024);
    seen.push(bilingual(&e));
    let status = s.get("/v1/status", Some(&w.admin)).expect(200);
    assert!(status["gateway"].is_null() || !status["gateway"].to_string().contains("pad="), "{status}");
    // A path segment that is not UTF-8: 400, not the stack's bare text.
    let e = s.get("/v1/quotas/%FF", Some(&w.admin)).error(400, "usage");
    assert_eq!(e["case"], "ApiError::BadRequest");
    assert!(e["message"].as_str().unwrap().contains("UTF-8"), "{e}");
    seen.push(bilingual(&e));
    println!("{}", seen.join("\n"));
}
