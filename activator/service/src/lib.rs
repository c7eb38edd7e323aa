//! `activator serve`: the install's local license service.
//!
//! One process beside the product, on the same state directory as the
//! `activator` command line, reachable from any language over HTTP on
//! loopback (or, with TLS, from the customer's network), with no route to
//! the internet. It answers launchers (status, checks, quotas, gateway
//! addresses), takes collectors' check-ins (distinct collectors per billing
//! day, seats under the license's cap), lets an operator activate and make
//! the air-gap files, and exports Prometheus metrics. `docs/API.md` and
//! `docs/openapi.json` describe every route.
//!
//! Every route but `/healthz` and `/readyz` needs a bearer token made with
//! `activator serve token create --scope admin|launcher|collector`. The
//! state directory is shared: the service reads it again whenever another
//! process replaced it, and every change goes through the library's locked,
//! atomic transaction, so neither side overwrites the other.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use license_activator::{Activator, Init};
//! use license_activator::tokens::Scope;
//! use license_activator_service::{Config, Service};
//! use license_common::Timestamp;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let vendor = license_common::signing::IssuerKey::from_seed(&[7; 32]);
//! let (mut install, _) = Activator::init(dir.path(), &Init::new("observability", &[*vendor.public()]))?;
//! let token = install.token_create(Scope::Launcher, "example", Timestamp::now())?;
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! let service = runtime.block_on(Service::bind(Config::new(dir.path(), "127.0.0.1:0".parse()?)))?;
//! let addr = service.local_addr();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = runtime.spawn(service.run(async { let _ = stopped.await; }));
//!
//! let mut http = std::net::TcpStream::connect(addr)?;
//! write!(http, "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", *token.text)?;
//! let mut answer = String::new();
//! http.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200"));
//! assert!(answer.contains("\"phase\":\"community\""));
//!
//! stop.send(()).ok();
//! runtime.block_on(running)?;
//! # Ok(())
//! # }
//! ```

mod app;
mod checkins;
mod console;
pub mod error;
pub mod i18n;
mod metrics;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
// The longest a request may take, end to end (both services alike).
pub use error::ApiError;
use license_activator::Activator;
use license_http::refusal::REQUEST_TIMEOUT;
use tokio::net::TcpListener;

/// The largest request body taken, in bytes (a license or a revocation
/// list is far smaller).
pub const MAX_BODY: usize = 256 * 1024;

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8737";

/// The default seat lease: a collector that has not checked in for this
/// long frees its seat.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);

pub use license_http::TlsFiles;

/// How the service runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The state directory (initialised).
    pub state: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// TLS, required off loopback unless `insecure_listen`.
    pub tls: Option<TlsFiles>,
    /// Listen off loopback without TLS (warned about).
    pub insecure_listen: bool,
    /// How long a seat is held after a collector's last check-in.
    pub seat_lease: Duration,
}

impl Config {
    /// Loopback-only defaults for `state` on `listen`.
    pub fn new(state: &Path, listen: SocketAddr) -> Config {
        Config { state: state.to_path_buf(), listen, tls: None, insecure_listen: false, seat_lease: DEFAULT_LEASE }
    }
}

/// The stack's own refusals (405, 408, 413, an unreadable path) in the
/// API's error shape.
async fn shape_refusals(method: axum::http::Method, response: axum::response::Response) -> axum::response::Response {
    license_http::refusal::shaped(method.as_str(), response, ApiError::from).await
}

/// A bound service, not yet serving.
pub struct Service {
    listener: TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<app::App>,
}

impl Service {
    /// Checks the address rule and the TLS files, opens the state and the
    /// check-in store, and binds.
    pub async fn bind(config: Config) -> Result<Service, ApiError> {
        let listen =
            license_http::Listen { addr: config.listen, tls: config.tls.clone(), insecure: config.insecure_listen };
        license_http::check_address(&listen)?;
        let tls = config.tls.as_ref().map(license_http::tls).transpose()?;
        let activator = Activator::open(&config.state)?;
        let lease = i64::try_from(config.seat_lease.as_secs()).unwrap_or(i64::MAX).max(1);
        let writer = checkins::Writer::start(&config.state, lease)?;
        let app = Arc::new(app::App::new(activator, writer, tls.is_some()));
        let router = app::router(app.clone())
            .layer(axum::middleware::from_fn(console::security_headers))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            // Outermost: whatever the stack refuses by itself gets the error shape.
            .layer(axum::middleware::map_response(shape_refusals));
        let listener = license_http::bind(config.listen).await?;
        Ok(Service { listener, router, tls, app })
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
        let app = self.app.clone();
        let clock = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let app = app.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let mut a = app.activator.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = a.refresh().and_then(|_| a.observe_clock(license_common::Timestamp::now())) {
                        tracing::warn!(error = %e, "cannot record the time");
                    }
                })
                .await;
            }
        });
        license_http::serve(self.listener, self.router, self.tls, shutdown).await;
        clock.abort();
    }
}

/// Structured logs on standard error (`tracing`): `info` and above, or
/// `debug` with `ACTIVATOR_LOG=debug`. Tokens, secret keys and licenses are
/// never logged.
pub fn init_logging() {
    license_http::init_logging("ACTIVATOR_LOG");
}

/// Runs the service until SIGTERM or SIGINT: binds, calls `ready` with the
/// address, serves, drains.
pub fn run_until_signal(config: Config, ready: impl FnOnce(SocketAddr, bool)) -> Result<(), ApiError> {
    let runtime = license_http::runtime(config.listen)?;
    runtime.block_on(async move {
        let service = Service::bind(config).await?;
        ready(service.local_addr(), service.is_tls());
        service.run(license_http::signal()).await;
        Ok(())
    })
}
