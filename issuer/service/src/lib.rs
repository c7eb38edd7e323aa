//! `issuer serve`: the vendor's license API, for a billing system.
//!
//! A billing system that takes a payment calls `POST /v1/licenses` with the
//! order and the payment's id as `Idempotency-Key`, and shows the customer
//! the license to copy. The API signs with the service's key (a key file or
//! a key in a hardware module), records everything in the ledger the
//! `issuer` command line uses, and answers in the CLI's JSON shapes; every
//! error is the CLI's report with an HTTP status. Calls that sign are
//! idempotent: a retried webhook returns the license made the first time.
//! API tokens (`issuer serve token create --scope issue|read|admin`) are
//! stored hashed in the ledger, and every call is written to its audit log.
//! `docs/VENDOR.md` and `docs/issuer-openapi.json` describe every route.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use license_common::Timestamp;
//! use license_issuer::keyfile::SigningKey;
//! use license_issuer::ledger::{ApiScope, Ledger};
//! use license_issuer_service::{Config, Service};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let ledger = dir.path().join("ledger.sqlite3");
//! let token = Ledger::open(&ledger)?.api_token_create(ApiScope::Read, "example", Timestamp::now())?;
//! let key = SigningKey::File(license_common::signing::IssuerKey::from_seed(&[7; 32]));
//! let config = Config::new(&ledger, "127.0.0.1:0".parse()?, key, vec![license_issuer::catalogs::data_platform()]);
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! let service = runtime.block_on(Service::bind(config))?;
//! let addr = service.local_addr();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = runtime.spawn(service.run(async { let _ = stopped.await; }));
//!
//! let mut http = std::net::TcpStream::connect(addr)?;
//! write!(http, "GET /v1/licenses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", *token.text)?;
//! let mut answer = String::new();
//! http.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
//! assert!(answer.contains("\"total\":0"));
//!
//! stop.send(()).ok();
//! runtime.block_on(running)?;
//! # Ok(())
//! # }
//! ```

mod app;
pub mod error;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::DefaultBodyLimit;
// The longest a request may take, end to end (both services alike).
pub use error::ServiceError;
use license_common::catalog::Catalog;
use license_http::refusal::REQUEST_TIMEOUT;
use license_issuer::keyfile::SigningKey;
use license_issuer::ledger::Ledger;
use tokio::net::TcpListener;

/// The largest request body taken, in bytes (an order or a usage report is
/// far smaller).
pub const MAX_BODY: usize = 1024 * 1024;

/// The stack's own refusals (405, 408, 413, an unreadable path) in the
/// API's error shape.
async fn shape_refusals(method: axum::http::Method, response: axum::response::Response) -> axum::response::Response {
    license_http::refusal::shaped(method.as_str(), response, ServiceError::from).await
}

/// Refuses, before any route, a path or query whose decoded text holds a
/// control character (`%00`, `%1B`, …): no id, account, product or region
/// has one, PostgreSQL cannot even look a NUL up (where SQLite would find
/// nothing), and the audit log's route stays plain text.
async fn refuse_control_characters(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let control = {
        let uri = request.uri();
        let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
        let mut values = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).flat_map(|(k, v)| [k, v]);
        path.chars().any(char::is_control) || values.any(|v| v.chars().any(char::is_control))
    };
    if control {
        let detail = "the path or query holds a control character (such as %00 or %1B); no id or name has one".into();
        return ServiceError::BadRequest { detail }.into_response();
    }
    next.run(request).await
}

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8738";

pub use license_http::TlsFiles;

/// How the service runs.
pub struct Config {
    /// The ledger (SQLite file).
    pub ledger: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// TLS, required off loopback unless `insecure_listen`.
    pub tls: Option<TlsFiles>,
    /// Listen off loopback without TLS (warned about).
    pub insecure_listen: bool,
    /// The signing key.
    pub key: SigningKey,
    /// The product catalogs orders are checked against.
    pub catalogs: Vec<Catalog>,
}

impl Config {
    /// Loopback-only defaults.
    pub fn new(ledger: &Path, listen: SocketAddr, key: SigningKey, catalogs: Vec<Catalog>) -> Config {
        Config { ledger: ledger.to_path_buf(), listen, tls: None, insecure_listen: false, key, catalogs }
    }
}

/// A bound service, not yet serving.
pub struct Service {
    listener: TcpListener,
    router: axum::Router,
    tls: Option<license_http::TlsAcceptor>,
}

impl Service {
    /// Checks the address rule and the TLS files, opens (and migrates) the
    /// ledger, and binds.
    pub async fn bind(config: Config) -> Result<Service, ServiceError> {
        let listen =
            license_http::Listen { addr: config.listen, tls: config.tls.clone(), insecure: config.insecure_listen };
        license_http::check_address(&listen)?;
        let tls = config.tls.as_ref().map(license_http::tls).transpose()?;
        let mut catalogs: BTreeMap<String, Catalog> = BTreeMap::new();
        for catalog in config.catalogs {
            let product = catalog.product.id.clone();
            if catalogs.insert(product.clone(), catalog).is_some() {
                return Err(ServiceError::DuplicateCatalog { product });
            }
        }
        // A PostgreSQL ledger's client blocks on its own runtime: opened off
        // the async threads, as every call on it is (`spawn_blocking`).
        // Two connections: one for changes, one for reads (`App::reader`).
        let path = config.ledger.clone();
        let (ledger, reader) =
            tokio::task::spawn_blocking(move || Ok::<_, ServiceError>((Ledger::open(&path)?, Ledger::open(&path)?)))
                .await
                .map_err(|_| ServiceError::Internal)??;
        let app =
            Arc::new(app::App { ledger: Mutex::new(ledger), reader: Mutex::new(reader), key: config.key, catalogs });
        let router = app::router(app)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            .layer(axum::middleware::from_fn(refuse_control_characters))
            // Outermost: whatever the stack refuses by itself gets the error shape.
            .layer(axum::middleware::map_response(shape_refusals));
        let listener = license_http::bind(config.listen).await?;
        Ok(Service { listener, router, tls })
    }

    /// The address it listens on (the port chosen when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound socket has an address")
    }

    /// Whether it speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        license_http::serve(self.listener, self.router, self.tls, shutdown).await;
    }
}

/// Structured logs on standard error: `info` and above, or `debug` with
/// `ISSUER_LOG=debug`. Tokens, licenses and keys are never logged.
pub fn init_logging() {
    license_http::init_logging("ISSUER_LOG");
}

/// Runs the service until SIGTERM or SIGINT: binds, calls `ready` with the
/// address, serves, drains.
pub fn run_until_signal(config: Config, ready: impl FnOnce(SocketAddr, bool)) -> Result<(), ServiceError> {
    let runtime = license_http::runtime(config.listen)?;
    runtime.block_on(async move {
        let service = Service::bind(config).await?;
        ready(service.local_addr(), service.is_tls());
        service.run(license_http::signal()).await;
        Ok(())
    })
}
