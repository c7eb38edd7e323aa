//! What both services (`activator serve`, `issuer serve`) share below their
//! routes: the address rule (loopback, or TLS, or an explicit insecure
//! flag), the TLS acceptor, the accept loop with its limits and timeouts,
//! and graceful shutdown on SIGTERM or SIGINT; and, in [`refusal`], the
//! stack's own refusals (405, 408, 413, an unreadable path) in each
//! service's error shape.
//!
//! Each service maps a [`ListenError`] into its own error type (and so its
//! own documented cases).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listen = license_http::Listen { addr: "127.0.0.1:0".parse()?, tls: None, insecure: false };
//! assert!(license_http::check_address(&listen).is_ok());
//! let outside = license_http::Listen { addr: "192.0.2.7:8443".parse()?, tls: None, insecure: false };
//! assert!(matches!(license_http::check_address(&outside), Err(license_http::ListenError::Insecure { .. })));
//! # Ok(())
//! # }
//! ```

pub mod refusal;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use license_common::exit::{Example, Examples, ExitClass, Explain};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
pub use tokio_rustls::TlsAcceptor;

/// A TLS certificate chain and its private key, PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Where and how a service listens.
#[derive(Clone, Debug)]
pub struct Listen {
    /// The address.
    pub addr: SocketAddr,
    /// TLS, required off loopback unless `insecure`.
    pub tls: Option<TlsFiles>,
    /// Listen off loopback without TLS (warned about).
    pub insecure: bool,
}

/// Why a service cannot listen.
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
pub enum ListenError {
    /// An address other than loopback without TLS.
    #[error("{addr} is not a loopback address: the service would be reachable from the network without TLS")]
    Insecure {
        /// The address.
        addr: String,
    },
    /// A certificate or key file that cannot be used.
    #[error("the TLS {what} {} cannot be used: {detail}", path.display())]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {detail}")]
    Bind {
        /// The address.
        addr: String,
        /// What the system said.
        detail: String,
    },
}

impl Explain for ListenError {
    fn class(&self) -> ExitClass {
        match self {
            ListenError::Insecure { .. } => ExitClass::Usage,
            ListenError::Tls { .. } => ExitClass::Key,
            ListenError::Bind { .. } => ExitClass::Io,
        }
    }

    fn hint(&self) -> String {
        match self {
            ListenError::Insecure { .. } => {
                "give a TLS certificate and key, listen on loopback, or say explicitly that the network is trusted"
                    .into()
            }
            ListenError::Tls { .. } => "give a PEM certificate chain and its PKCS#8 (or RSA/SEC1) private key".into(),
            ListenError::Bind { .. } => "choose a free port, or stop what listens there".into(),
        }
    }

    fn case(&self) -> String {
        license_common::exit::case_of("ListenError", self)
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}

impl Examples for ListenError {
    fn examples() -> Vec<Example<Self>> {
        vec![
            Example {
                error: ListenError::Insecure { addr: "<address>".into() },
                when: "A service (`activator serve`, `issuer serve`) on an address other than loopback without TLS and without the explicit insecure flag.",
            },
            Example {
                error: ListenError::Tls { what: "certificate", path: "<file>".into(), detail: "<detail>".into() },
                when: "A service's TLS certificate or key file that cannot be read or used.",
            },
            Example {
                error: ListenError::Bind { addr: "<address>".into(), detail: "<detail>".into() },
                when: "A service cannot listen on the address (in use, not this machine's), or cannot start its runtime.",
            },
        ]
    }
}

/// Structured logs on standard error (`tracing`): `info` and above, or
/// `debug` (or `warn`) when the environment variable `var` says so.
pub fn init_logging(var: &str) {
    let level = match std::env::var(var).as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("warn") => tracing::Level::WARN,
        _ => tracing::Level::INFO,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

/// A multi-threaded runtime for a service on `addr`.
pub fn runtime(addr: SocketAddr) -> Result<tokio::runtime::Runtime, ListenError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ListenError::Bind { addr: addr.to_string(), detail: e.to_string() })
}

/// The most connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// Refuses a non-loopback address without TLS, unless the operator said
/// the network is trusted (then it warns).
pub fn check_address(listen: &Listen) -> Result<(), ListenError> {
    if listen.addr.ip().is_loopback() || listen.tls.is_some() {
        return Ok(());
    }
    if listen.insecure {
        tracing::warn!(
            addr = %listen.addr,
            "listening on a non-loopback address WITHOUT TLS (--insecure-listen): tokens and licenses cross the network in clear text"
        );
        return Ok(());
    }
    Err(ListenError::Insecure { addr: listen.addr.to_string() })
}

/// The TLS acceptor of `files`.
pub fn tls(files: &TlsFiles) -> Result<TlsAcceptor, ListenError> {
    let bad =
        |what: &'static str, path: &Path, detail: String| ListenError::Tls { what, path: path.to_path_buf(), detail };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad("certificate", &files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", &files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("certificate", &files.cert, "no CERTIFICATE block in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad("key", &files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("certificate", &files.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("key", &files.key, e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = tower::ServiceExt::map_request(router.clone(), move |mut r: hyper::Request<Incoming>| {
            r.extensions_mut().insert(ConnectInfo(peer));
            r
        });
        let service = TowerToHyperService::new(service);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).keep_alive(true);
        match &tls {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = conn.await;
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Ok(Ok(stream)) = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await else {
                        tracing::debug!(%peer, "TLS handshake failed or timed out");
                        return;
                    };
                    let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN) => tracing::warn!("connections still open after {DRAIN:?}; closing them"),
    }
}

/// SIGTERM or SIGINT.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).await.map_err(|e| ListenError::Bind { addr: addr.to_string(), detail: e.to_string() })
}
