//! Connecting to a ledger in PostgreSQL: the URL, its password, TLS, and
//! connecting again after the server went away.
//!
//! A server on this machine (a socket, `localhost` or a loopback address)
//! may be spoken to in the clear. Any other needs
//! `sslmode=verify-full&sslrootcert=FILE`: TLS (rustls), with the server's
//! certificate checked against the authorities in `FILE` and its name
//! against the URL's host. The weaker modes libpq knows (`prefer`,
//! `require`, `verify-ca`) are refused rather than quietly made stronger
//! or weaker: a URL says what it gets.
//!
//! A server that authenticates its clients by certificate (`hostssl …
//! cert` in `pg_hba.conf`) gets one with `&sslcert=FILE&sslkey=FILE`, as
//! libpq names them: the client's PEM certificate (its chain may follow)
//! and its PEM private key, which, as libpq requires, no one but its owner
//! may read (mode 0600; 0640 when root owns it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::db::{Db, PgTls};
use super::{BUSY_TIMEOUT, Ledger};
use crate::error::IssuerError;

/// What the URL asks of TLS.
#[derive(Debug, PartialEq, Eq)]
enum Tls {
    /// No TLS (`sslmode` absent or `disable`): local servers only.
    Off,
    /// `sslmode=verify-full`, with the authorities' certificates in `root`,
    /// and the client's own certificate and key when the server asks for one.
    VerifyFull {
        /// `sslrootcert`.
        root: PathBuf,
        /// `sslcert` and `sslkey`.
        client: Option<(PathBuf, PathBuf)>,
    },
}

/// Query parameters, as names and values.
type Pairs = Vec<(String, String)>;

/// `url` without the query parameters named in `keys`, and those it had.
fn take_params(url: &url::Url, keys: &[&str]) -> (url::Url, Pairs) {
    let (taken, kept): (Pairs, Pairs) =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).partition(|(k, _)| keys.contains(&k.as_str()));
    let mut rest = url.clone();
    rest.set_query(None);
    if !kept.is_empty() {
        rest.query_pairs_mut().extend_pairs(kept);
    }
    (rest, taken)
}

/// The URL as errors show it: without a password, should it hold one.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            take_params(&parsed, &["password"]).0.to_string()
        }
        Err(_) => url.split('@').next_back().map_or_else(String::new, |rest| format!("postgres://…@{rest}")),
    }
}

/// Splits the TLS parameters (`sslmode`, `sslrootcert`, `sslcert`,
/// `sslkey`) off `url`: the URL PostgreSQL's client reads, and what they
/// ask for.
fn split_tls(url: &url::Url) -> Result<(String, Tls), String> {
    let (client, taken) = take_params(url, &["sslmode", "sslrootcert", "sslcert", "sslkey"]);
    let (mut mode, mut root, mut cert, mut key) = (None, None, None, None);
    for (k, v) in taken {
        let slot = match k.as_str() {
            "sslmode" => &mut mode,
            "sslrootcert" => &mut root,
            "sslcert" => &mut cert,
            _ => &mut key,
        };
        if slot.replace(v).is_some() {
            return Err(format!("{k} is given twice"));
        }
    }
    let own = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (Some(_), None) => {
            return Err("sslcert is given without sslkey=FILE, the private key of that certificate".into());
        }
        (None, Some(_)) => return Err("sslkey is given without sslcert=FILE, the certificate of that key".into()),
    };
    let tls = match (mode.as_deref(), root) {
        (None | Some("disable"), None) if own.is_some() => {
            return Err("sslcert and sslkey are given without sslmode=verify-full".into());
        }
        (None | Some("disable"), None) => Tls::Off,
        (None | Some("disable"), Some(_)) => return Err("sslrootcert is given without sslmode=verify-full".into()),
        (Some("verify-full"), Some(root)) => Tls::VerifyFull { root: PathBuf::from(root), client: own },
        (Some("verify-full"), None) => {
            return Err("sslmode=verify-full needs sslrootcert=FILE, the PEM certificate of the authority \
                        that signed the server's"
                .into());
        }
        (Some(other @ ("allow" | "prefer" | "require" | "verify-ca")), _) => {
            return Err(format!(
                "sslmode={other} is not offered: the ledger either checks the server's certificate and name \
                 (sslmode=verify-full) or, for a server on this machine, speaks without TLS (no sslmode)"
            ));
        }
        (Some(other), _) => return Err(format!("sslmode={other} is not a mode (use verify-full)")),
    };
    Ok((client.to_string(), tls))
}

/// The scheme of `location` when it is the URL of a store no ledger can be
/// in (`mysql://…`, `sqlite://…`, `postgress://…`, `POSTGRES://…`), which
/// would otherwise be taken for a relative path and made a SQLite file.
pub(super) fn foreign_scheme(location: &str) -> Option<&str> {
    let (scheme, _) = location.split_once("://")?;
    let mut chars = scheme.chars();
    let is_scheme = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (is_scheme && !super::is_postgres_url(location)).then_some(scheme)
}

/// Whether a TCP host is this machine.
fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The TLS client for `sslmode=verify-full`: rustls with ring, trusting the
/// certificates of `root` and nothing else, and showing the server the
/// certificate of `client`, when given, signed with its key.
fn tls_client(root: &Path, client: Option<&(PathBuf, PathBuf)>) -> Result<PgTls, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates("sslrootcert", root)? {
        roots.add(cert).map_err(|e| format!("sslrootcert {}: {e}", root.display()))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates("sslcert", cert)?;
            let key_der = private_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                format!("sslcert {} and sslkey {} do not go together: {e}", cert.display(), key.display())
            })?
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The PEM certificates in `path`, the file of URL parameter `param`: at
/// least one.
fn certificates(param: &str, path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let shown = path.display();
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{param} {shown}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{param} {shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{param} {shown} holds no PEM certificate"));
    }
    Ok(certs)
}

/// The client's private key (`sslkey`), from a file only its owner can
/// read (libpq's rule: 0600 or less, or 0640 or less when root owns it).
/// The file's text is wiped once the key is parsed.
fn private_key(path: &Path) -> Result<rustls::pki_types::PrivateKeyDer<'static>, String> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let shown = path.display();
    let pem = super::pgpass::read_private("sslkey", path, true)?;
    if pem.contains("ENCRYPTED") {
        return Err(format!(
            "sslkey {shown} is encrypted, and the ledger takes no passphrase for it: keep it unencrypted with \
             mode 0600 (`openssl pkey -in KEY -out PLAIN`), or sign in with a password"
        ));
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            format!("sslkey {shown} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")
        }
        e => format!("sslkey {shown}: {e}"),
    })
}

impl Ledger {
    /// Connects to the PostgreSQL database at `url` (`postgres://user@host:port/db`,
    /// or `postgresql:///db?host=/run/postgresql` over a socket) and migrates
    /// its schema. A password is never part of the URL (it would show in
    /// process listings and logs): it comes as `password`, which
    /// [`Ledger::open`] takes from `PGPASSWORD`, as PostgreSQL's own tools do;
    /// without one, from the password file (`PGPASSFILE`, else `~/.pgpass`)
    /// when there is one.
    /// A server on another machine needs TLS,
    /// `?sslmode=verify-full&sslrootcert=FILE`, and one that asks for a
    /// client certificate `&sslcert=FILE&sslkey=FILE` (see the module docs).
    /// The database should be the ledger's alone: the ledger's tables are
    /// made in its default schema.
    pub fn open_postgres(url: &str, password: Option<String>) -> Result<Ledger, IssuerError> {
        let password = password.map(zeroize::Zeroizing::new);
        let redacted = redact(url);
        let shown = PathBuf::from(&redacted);
        let bad = |detail: String| IssuerError::LedgerServer { url: redacted.clone(), detail };
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a PostgreSQL URL ({e})")))?;
        if parsed.password().is_some() || parsed.query_pairs().any(|(k, _)| k == "password") {
            return Err(bad("the URL holds a password; give it in PGPASSWORD instead".into()));
        }
        let (client_url, tls) = split_tls(&parsed).map_err(bad)?;
        let mut config: postgres::Config =
            client_url.parse().map_err(|e: postgres::Error| bad(format!("not a PostgreSQL URL ({e})")))?;
        let password = match password {
            Some(given) => Some(given),
            None => super::pgpass::password_for(&config).map_err(bad)?,
        };
        if let Some(password) = &password {
            config.password(password.as_bytes());
        }
        // In the clear, the server must be on this machine (a socket or a
        // loopback address), or behind a tunnel.
        if tls == Tls::Off {
            for host in config.get_hosts() {
                if let postgres::config::Host::Tcp(name) = host
                    && !is_local(name)
                {
                    return Err(bad(format!(
                        "the server `{name}` is not on this machine, so the connection needs TLS: add \
                         ?sslmode=verify-full&sslrootcert=FILE with the certificate of the authority that signed \
                         the server's"
                    )));
                }
            }
        }
        let tls = match tls {
            Tls::Off => None,
            Tls::VerifyFull { root, client } => {
                config.ssl_mode(postgres::config::SslMode::Require);
                Some(tls_client(&root, client.as_ref()).map_err(bad)?)
            }
        };
        if config.get_application_name().is_none() {
            config.application_name("license-issuer");
        }
        config.connect_timeout(std::time::Duration::from_secs(10));
        let conn = Db::connect_pg(config, tls, BUSY_TIMEOUT).map_err(|e| bad(e.to_string()))?;
        Ledger::migrate(conn, shown)
    }

    /// For a ledger in PostgreSQL whose connection was lost (the server
    /// restarted, or a network cut it): connects again, and says so. A
    /// SQLite ledger, or a connection that is up, is left as it is. What a
    /// lost connection was doing was rolled back by the server, or committed
    /// just before it went: an idempotency key tells a retry which.
    pub fn reconnect(&mut self) -> Result<bool, IssuerError> {
        let path = self.path.clone();
        self.conn
            .reconnect()
            .map_err(|e| IssuerError::LedgerServer { url: path.display().to_string(), detail: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> Result<(String, Tls), String> {
        split_tls(&url::Url::parse(url).unwrap())
    }

    #[test]
    fn tls_parameters_are_taken_off_the_url_and_weak_modes_refused() {
        let (url, tls) = split(
            "postgres://issuer@db.example:5432/ledger?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=a",
        )
        .unwrap();
        assert_eq!(url, "postgres://issuer@db.example:5432/ledger?application_name=a");
        assert_eq!(tls, Tls::VerifyFull { root: "/etc/ca.pem".into(), client: None });
        let (url, tls) =
            split("postgres://issuer@db/l?sslkey=/k.pem&sslmode=verify-full&sslcert=/c.pem&sslrootcert=/ca.pem")
                .unwrap();
        assert_eq!(url, "postgres://issuer@db/l");
        assert_eq!(tls, Tls::VerifyFull { root: "/ca.pem".into(), client: Some(("/c.pem".into(), "/k.pem".into())) });
        let full = "postgres://u@h/l?sslmode=verify-full&sslrootcert=/ca.pem";
        assert!(split(&format!("{full}&sslcert=/c.pem")).unwrap_err().contains("without sslkey=FILE"));
        assert!(split(&format!("{full}&sslkey=/k.pem")).unwrap_err().contains("without sslcert=FILE"));
        assert!(split(&format!("{full}&sslmode=disable")).unwrap_err().contains("sslmode is given twice"));
        let e = split("postgres://u@127.0.0.1/l?sslcert=/c.pem&sslkey=/k.pem").unwrap_err();
        assert!(e.contains("without sslmode=verify-full"), "{e}");
        assert_eq!(split("postgres://u@127.0.0.1/l").unwrap(), ("postgres://u@127.0.0.1/l".into(), Tls::Off));
        assert_eq!(split("postgres://u@127.0.0.1/l?sslmode=disable").unwrap().1, Tls::Off);
        for weak in ["allow", "prefer", "require", "verify-ca"] {
            let e = split(&format!("postgres://u@h/l?sslmode={weak}&sslrootcert=/ca.pem")).unwrap_err();
            assert!(e.contains(&format!("sslmode={weak} is not offered")), "{e}");
        }
        assert!(split("postgres://u@h/l?sslmode=verify-full").unwrap_err().contains("needs sslrootcert=FILE"));
        assert!(split("postgres://u@h/l?sslrootcert=/ca.pem").unwrap_err().contains("without sslmode=verify-full"));
        assert!(split("postgres://u@h/l?sslmode=on").unwrap_err().contains("not a mode"));
    }

    #[test]
    fn a_url_of_another_store_is_not_taken_for_a_file() {
        for url in ["mysql://u@h/l", "sqlite:///var/lib/l.sqlite3", "postgress://u@h/l", "POSTGRES://u@h/l", "file://l"]
        {
            assert_eq!(foreign_scheme(url), url.split_once("://").map(|(s, _)| s), "{url}");
        }
        for path in
            ["postgres://u@h/l", "postgresql:///l?host=/run", "ledger.sqlite3", "/var/lib/l", "./a://b", "a b://c"]
        {
            assert_eq!(foreign_scheme(path), None, "{path}");
        }
    }

    #[test]
    fn only_this_machine_is_local() {
        for local in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_local(local), "{local}");
        }
        for remote in ["db.example", "10.0.0.5", "localhost.example", "::ffff:10.0.0.1", "0.0.0.0"] {
            assert!(!is_local(remote), "{remote}");
        }
    }

    #[test]
    fn refusals_come_before_any_connection() {
        let open = |url: &str| Ledger::open_postgres(url, None).unwrap_err().to_string();
        let e = open("postgres://issuer@db.example:5432/ledger");
        assert!(e.contains("not on this machine, so the connection needs TLS"), "{e}");
        let e = open("postgres://issuer:hunter2@127.0.0.1/ledger");
        assert!(e.contains("holds a password") && !e.contains("hunter2"), "{e}");
        let e = open("postgres://issuer@127.0.0.1/ledger?password=hunter2");
        assert!(e.contains("holds a password") && !e.contains("hunter2"), "{e}");
        let e = open("postgres://issuer@db.example/ledger?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
        assert!(e.contains("sslrootcert /nonexistent/ca.pem"), "{e}");
        let empty = tempfile::NamedTempFile::new().unwrap();
        let e = open(&format!("postgres://i@db.example/l?sslmode=verify-full&sslrootcert={}", empty.path().display()));
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }
}
