//! A private PostgreSQL server for the tests, from Debian's `postgresql`
//! package (`scripts/test` installs it): its own data directory in a
//! temporary directory, a free port on 127.0.0.1, password authentication
//! over TCP (so the issuer's `PGPASSWORD` path is what every test uses),
//! and one fresh database per ledger.
//!
//! A server lives as long as its [`Server`] (a vendor of the tests holds
//! one), and is stopped when it is dropped. A test that needs PostgreSQL
//! and cannot start it fails with the reason; it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The superuser's password on the test server.
pub const PASSWORD: &str = "test-ledger-password";

/// The user of a TLS server ([`Server::start_tls`]) that signs in with a
/// client certificate alone ([`Server::create_certificate_user`]).
pub const CERT_USER: &str = "ledger_client";

/// The environment variable that moves every [`crate::Vendor`] of a test
/// run onto PostgreSQL (`LICENSE_TESTS_STORE=postgres`).
pub const STORE_ENV: &str = "LICENSE_TESTS_STORE";

/// Whether this run keeps its ledgers on PostgreSQL ([`STORE_ENV`]).
pub fn default_is_postgres() -> bool {
    std::env::var(STORE_ENV).is_ok_and(|v| v == "postgres")
}

/// The running server.
pub struct Server {
    /// Holds the data directory and the log.
    dir: tempfile::TempDir,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
    /// What `pg_ctl start` passes the server.
    options: String,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/test, or apt-get install postgresql")
    })
}

impl Server {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            // PostgreSQL refuses to run as root: the tests run it as Debian's `postgres` user.
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Makes a new cluster (about a second) and starts it.
    pub fn start() -> Server {
        Server::start_with(false)
    }

    /// [`Server::start`] with TLS on: a certificate for `localhost` (and no
    /// other name) signed by an authority of its own, [`Server::ca`].
    pub fn start_tls() -> Server {
        Server::start_with(true)
    }

    /// The PEM certificate of the authority that signed a TLS server's
    /// certificate ([`Server::start_tls`]).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn start_with(tls: bool) -> Server {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("pg-test-").tempdir().expect("tempdir");
        let as_postgres = running_as_root();
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c max_connections=200",
            dir.path().display()
        );
        if tls {
            crate::certs::authority(dir.path(), "ca");
            let (cert, key) = crate::certs::server(dir.path(), "ca", "server", "localhost");
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c ssl_ca_file={}",
                cert.display(),
                key.display(),
                dir.path().join("ca.pem").display()
            ));
        }
        let server = Server { dir, port, bin, as_postgres, options };
        let pwfile = server.dir.path().join("pw");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();
        if as_postgres {
            let ok = Command::new("chown").arg("-R").arg("postgres:postgres").arg(server.dir.path()).status();
            assert!(ok.is_ok_and(|s| s.success()), "chown the test server's directory to postgres");
        }
        let out = server
            .command("initdb")
            .arg("-D")
            .arg(server.data())
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--locale=C", "-E", "UTF8"])
            .args(["--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("initdb runs");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        if tls {
            // CERT_USER signs in with a certificate, over TLS, or not at all.
            let hba = server.data().join("pg_hba.conf");
            let old = std::fs::read_to_string(&hba).expect("pg_hba.conf");
            let lines = format!("hostssl all {CERT_USER} 127.0.0.1/32 cert\nhost all {CERT_USER} all reject\n");
            std::fs::write(&hba, format!("{lines}{old}")).expect("write pg_hba.conf");
        }
        server.start_again();
        server
    }

    /// Starts the server again after [`Server::stop`] (same port, same data).
    pub fn start_again(&self) {
        let log = self.log();
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .args(["-o", &self.options, "-w", "-t", "60", "start"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "PostgreSQL did not start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Makes a new, empty database and returns its URL (no password in it:
    /// give [`PASSWORD`] as `PGPASSWORD`).
    pub fn database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("ledger_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", &name])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .expect("createdb runs");
        assert!(out.status.success(), "createdb failed: {}", String::from_utf8_lossy(&out.stderr));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Makes [`CERT_USER`], a superuser who signs in to a server made by
    /// [`Server::start_tls`] with a client certificate signed by
    /// [`Server::ca`] whose common name is [`CERT_USER`], and in no other
    /// way.
    pub fn create_certificate_user(&self) {
        let any = self.database();
        self.psql(&any, &format!("CREATE ROLE {CERT_USER} LOGIN SUPERUSER"));
    }

    /// Runs `sql` with `psql` on database `url`, returning what it printed
    /// (unaligned, tuples only).
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Shuts the server down as an administrator would (`-m fast`: every
    /// session is ended, what was committed is kept).
    pub fn shut_down(&self) {
        let out = self.command("pg_ctl").arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]).output();
        assert!(out.is_ok_and(|o| o.status.success()), "pg_ctl stop -m fast");
    }

    /// Stops the server now (as a crash would: `-m immediate`; the test
    /// server does not wait for commits to reach the disk, so the last ones
    /// may be lost).
    pub fn stop(&self) {
        let _ = self.command("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]).output();
    }

    /// The server's log.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether `ledger` is a PostgreSQL URL rather than a file.
pub fn is_url(ledger: &Path) -> bool {
    ledger.to_str().is_some_and(license_issuer::ledger::is_postgres_url)
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
