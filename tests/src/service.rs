//! Both services as their users run them (`activator serve`, `issuer
//! serve`): the real binary on a free loopback port, driven by a real HTTP
//! client (`ureq`), every JSON response checked against its OpenAPI file
//! (`docs/openapi.json`, `docs/issuer-openapi.json`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Vendor, bin, run, workspace};

/// A running `activator serve` (or `issuer serve`); killed when dropped.
pub struct Served {
    child: Option<Child>,
    /// The OpenAPI file its answers are checked against.
    spec: &'static Value,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The state directory it serves.
    pub state: PathBuf,
    /// Where its log goes.
    pub log: PathBuf,
}

impl Served {
    /// Starts the service on `state` (port 0: a free one) with `extra` flags,
    /// and waits until it says where it listens.
    pub fn start(state: &Path, extra: &[&str]) -> Served {
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(state).arg("serve").args(extra);
        Served::spawn(cmd, state, extra, openapi())
    }

    /// Starts `issuer serve` on the ledger `ledger` with `extra` flags (the
    /// key, catalogs, passphrase) and the environment of `env`.
    pub fn start_issuer(ledger: &Path, extra: &[&str], env: &[(String, PathBuf)]) -> Served {
        let mut cmd = Command::new(bin("issuer"));
        cmd.arg("--ledger").arg(ledger).arg("serve").args(extra);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        Served::spawn(cmd, ledger, extra, issuer_openapi())
    }

    /// Starts `cmd`, an `issuer serve` command line made by the caller
    /// (`args` its arguments, `ledger` the ledger it serves), and waits
    /// until it says where it listens.
    pub fn start_issuer_command(cmd: Command, ledger: &Path, args: &[&str]) -> Served {
        Served::spawn(cmd, ledger, args, issuer_openapi())
    }

    fn spawn(mut cmd: Command, state: &Path, extra: &[&str], spec: &'static Value) -> Served {
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("serve-{}-{n}.log", std::process::id());
        let log =
            if crate::postgres::is_url(state) { std::env::temp_dir().join(name) } else { state.with_extension(name) };
        let err = std::fs::File::create(&log).expect("the log file");
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.stdout(Stdio::piped()).stderr(err).stdin(Stdio::null());
        let mut child = cmd.spawn().expect("the service starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let base = line.trim().strip_prefix("listening on ").map(str::to_owned).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("the service did not start: {line:?}\n{}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        Served { child: Some(child), spec, base, state: state.to_path_buf(), log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, as a crash or an OOM killer would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as systemd stops it; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the service did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path` with `token`.
    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = agent().get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Reply::of(self.spec, "GET", path, req.call())
    }

    /// `method path` with `token` and a JSON body (`None`: no body).
    pub fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "POST" => agent().post(url),
            "PUT" => agent().put(url),
            other => panic!("no {other} in the API"),
        };
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let result = match body {
            Some(v) => req.send_json(v),
            None => req.send_empty(),
        };
        Reply::of(self.spec, method, path, result)
    }

    /// `method path` with any `headers` and an optional JSON body.
    pub fn with_headers(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Reply {
        let url = format!("{}{path}", self.base);
        let result = match method {
            "GET" | "DELETE" => {
                let mut req = if method == "GET" { agent().get(url) } else { agent().delete(url) };
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
            _ => {
                let mut req = if method == "POST" { agent().post(url) } else { agent().put(url) };
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                match body {
                    Some(v) => req.send_json(v),
                    None => req.send_empty(),
                }
            }
        };
        Reply::of(self.spec, method, path, result)
    }

    /// `POST path` with `token`, an `Idempotency-Key` and a JSON body.
    pub fn post_once(&self, path: &str, token: &str, key: &str, body: &Value) -> Reply {
        let req = agent()
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Idempotency-Key", key);
        Reply::of(self.spec, "POST", path, req.send_json(body))
    }

    /// `POST path` with `headers` and `body` sent as JSON text exactly as
    /// written (for what `serde_json::Value` cannot hold, e.g. a key twice).
    pub fn post_raw_json(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut req = agent().post(format!("{}{path}", self.base)).header("Content-Type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Reply::of(self.spec, "POST", path, req.send(body))
    }

    /// `method path` with `token` and a plain-text body.
    pub fn send_text(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> Reply {
        let mut req = agent().post(format!("{}{path}", self.base));
        assert_eq!(method, "POST");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        req = req.header("Content-Type", "text/plain");
        Reply::of(self.spec, method, path, req.send(body))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into()
    })
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    spec: &'static Value,
    /// `GET`, `POST`, `PUT`.
    pub method: String,
    /// The path asked for (with its query).
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// Every header, lowercase names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    fn of(
        spec: &'static Value,
        method: &str,
        path: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Reply {
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let content_type =
            headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone()).unwrap_or_default();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let reply = Reply {
            spec,
            method: method.into(),
            path: path.into(),
            status: response.status().as_u16(),
            content_type,
            headers,
            body,
        };
        reply.conforms();
        reply
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{} {}: not JSON ({e}): {}", self.method, self.path, self.body))
    }

    /// Asserts the status and returns the JSON body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{} {}: {}", self.method, self.path, self.body);
        if self.content_type.starts_with("application/json") { self.json() } else { Value::String(self.body.clone()) }
    }

    /// Asserts an error of `status` and `class`; returns the error object.
    pub fn error(&self, status: u16, class: &str) -> Value {
        let v = self.expect(status);
        assert_eq!(v["error"]["class"], class, "{} {}: {v}", self.method, self.path);
        v["error"].clone()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Checks the response against its OpenAPI file: the route and status
    /// are documented, and a JSON body validates against its schema.
    fn conforms(&self) {
        let spec = self.spec;
        let path = self.path.split('?').next().unwrap_or("");
        let found = spec["paths"].as_object().expect("paths").iter().find(|(t, _)| matches_template(t, path));
        let Some((template, item)) = found else {
            // A route that does not exist: the error shape, with 404.
            assert_eq!(self.status, 404, "{path} is not in its OpenAPI file");
            let schema = serde_json::json!({"$ref": "#/components/schemas/Error", "components": spec["components"]});
            let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
            assert!(validator.is_valid(&self.json()), "{path}: not the error shape: {}", self.body);
            return;
        };
        let op = &item[self.method.to_ascii_lowercase()];
        if !op.is_object() {
            // A method the path does not have: 405 in the error shape, and
            // an `Allow` header naming exactly the methods it documents.
            assert_eq!(self.status, 405, "{} {template} is not in its OpenAPI file: {}", self.method, self.body);
            let schema = serde_json::json!({"$ref": "#/components/schemas/Error", "components": spec["components"]});
            let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
            assert!(validator.is_valid(&self.json()), "{template}: not the error shape: {}", self.body);
            let allowed: std::collections::BTreeSet<String> = self
                .header("allow")
                .unwrap_or_else(|| panic!("{} {template}: a 405 without an Allow header", self.method))
                .split(',')
                .map(|m| m.trim().to_ascii_lowercase())
                .filter(|m| m != "head")
                .collect();
            let documented: std::collections::BTreeSet<String> =
                item.as_object().expect("a path item").keys().filter(|k| k.as_str() != "parameters").cloned().collect();
            assert_eq!(allowed, documented, "{} {template}: Allow does not match its OpenAPI file", self.method);
            return;
        }
        let response = &op["responses"][self.status.to_string()];
        assert!(
            response.is_object(),
            "{} {template} answered {}, which its OpenAPI file does not document: {}",
            self.method,
            self.status,
            self.body
        );
        let media = self.content_type.split(';').next().unwrap_or("").trim();
        let content = &response["content"][media];
        assert!(
            content.is_object(),
            "{} {template} {}: content type {media} is not documented",
            self.method,
            self.status
        );
        if media == "application/json" {
            let instance = self.json();
            let errors = schema_errors_in(spec, &content["schema"], &instance);
            assert!(errors.is_empty(), "{} {template} {}: {errors:?}\n{instance}", self.method, self.status);
        }
    }
}

/// What is wrong with `instance` by `schema` of docs/openapi.json (whose
/// `$ref`s point into its components).
pub fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    schema_errors_in(openapi(), schema, instance)
}

/// What is wrong with `instance` by `schema` of `spec`.
pub fn schema_errors_in(spec: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut schema = schema.clone();
    schema["components"] = spec["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path)).collect()
}

fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a == b || (a.starts_with('{') && !b.is_empty()))
}

/// docs/openapi.json, parsed once.
pub fn openapi() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(workspace().join("docs/openapi.json")).expect("docs/openapi.json");
        serde_json::from_str(&text).expect("docs/openapi.json is JSON")
    })
}

/// docs/issuer-openapi.json, parsed once.
pub fn issuer_openapi() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text =
            std::fs::read_to_string(workspace().join("docs/issuer-openapi.json")).expect("docs/issuer-openapi.json");
        serde_json::from_str(&text).expect("docs/issuer-openapi.json is JSON")
    })
}

/// `activator serve token create --scope SCOPE` on `state`: the token.
pub fn token(state: &Path, scope: &str) -> String {
    let mut cmd = Command::new(bin("activator"));
    cmd.arg("--state").arg(state).args(["serve", "token", "create", "--scope", scope, "--json"]);
    run(cmd, None).json()["token"].as_str().expect("a token").to_owned()
}

/// Makes an API token of `scope` for `vendor`'s ledger with the CLI.
pub fn api_token(vendor: &Vendor, scope: &str) -> String {
    let mut cmd = vendor.issuer();
    cmd.args(["serve", "token", "create", "--scope", scope, "--name", &format!("{scope} test"), "--json"]);
    run(cmd, None).json()["token"].as_str().unwrap().to_owned()
}

/// `issuer serve` on `vendor`'s ledger and key, with both example catalogs.
pub fn serve_vendor(vendor: &Vendor) -> Served {
    let (key, pass) = (vendor.key.to_str().unwrap(), vendor.pass_file.to_str().unwrap());
    let observability = workspace().join("catalogs/observability.toml");
    let args = [
        "--key",
        key,
        "--passphrase-file",
        pass,
        "--catalog",
        vendor.catalog.to_str().unwrap(),
        "--catalog",
        observability.to_str().unwrap(),
    ];
    Served::start_issuer(&vendor.ledger, &args, &vendor.env)
}

/// A typical order of the data platform for `account`, as the API takes it.
pub fn api_order(account: &str) -> Value {
    serde_json::json!({"product": "data-platform", "account": account, "licensee": "Acme Analytics",
           "region": "cn-hangzhou", "edition": "intelligent_rnd", "engine": "maxcompute", "plan": "subscription",
           "packages": {"data_service": "api.s1.small"}, "quotas": {"processing_units": 40}})
}
