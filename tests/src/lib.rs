//! Helpers for the end-to-end tests in `tests/tests/`: they drive the real
//! `issuer` and `activator` binaries through real files in temporary
//! directories, as a vendor and an operator would.
//!
//! The binaries are the ones `cargo test --workspace` builds next to the test
//! executables (`target/<profile>/issuer` and `.../activator`).
//!
//! ```no_run
//! let vendor = license_tests::Vendor::new();
//! let license = vendor.issue(&["--edition", "basic_rnd"]);
//! ```

#![forbid(unsafe_code)]

pub mod catalogue;
pub mod certs;
pub mod errors_doc;
pub mod postgres;

pub use license_issuer::ledger::Store;
pub mod service;
pub mod terminal;
pub mod vectors;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The fixed passphrase of test vendors.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// Path of a workspace binary built by cargo beside the test executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds the binaries",
        path.display()
    );
    path
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    /// Exit status code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        &self.stdout
    }

    /// Asserts the exit code and returns stderr.
    #[track_caller]
    pub fn fails_with(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "wrong exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.stderr.starts_with("error: "), "stderr does not start with `error: `: {}", self.stderr);
        assert!(self.stderr.contains("\nhint: "), "stderr has no hint: {}", self.stderr);
        &self.stderr
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// A data directory for this test process, so that no command run by a test
/// ever writes below the real `$HOME` (the issuer's default ledger lives
/// under `$XDG_DATA_HOME`).
fn scratch_data_home() -> &'static Path {
    static DIR: std::sync::OnceLock<TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir")).path()
}

/// Runs a command with `stdin` and collects its output.
pub fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
    use std::io::Write;
    if !cmd.get_envs().any(|(k, _)| k == "XDG_DATA_HOME") {
        cmd.env("XDG_DATA_HOME", scratch_data_home());
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env_remove("ISSUER_PASSPHRASE")
        .env_remove("ACTIVATOR_STATE")
        .env_remove("ACTIVATOR_LICENSE")
        .env_remove("ACTIVATOR_LICENSE_FILE");
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(input);
    }
    let out: Output = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Today as a usage day of a pay-as-you-go license of either example
/// catalog (their days begin at midnight UTC+8): the one day such a license
/// issued now can carry usage for. A subscription counts UTC days.
pub fn billing_today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive().to_string()
}

/// The id of the license in a compact token, read without verifying it.
pub fn license_id(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.trim().split('.').nth(2).expect("a compact token");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice::<serde_json::Value>(&json).expect("JSON")["id"].as_str().expect("an id").to_owned()
}

/// A vendor with a fresh key in a temporary directory.
pub struct Vendor {
    /// The temporary directory holding everything.
    pub dir: TempDir,
    /// `issuer.key`.
    pub key: PathBuf,
    /// `issuer.pub`.
    pub public: PathBuf,
    /// The passphrase file.
    pub pass_file: PathBuf,
    /// The data-platform catalog.
    pub catalog: PathBuf,
    /// This vendor's ledger.
    pub ledger: PathBuf,
    /// Environment variables every `issuer` command of this vendor gets
    /// (e.g. `SOFTHSM2_CONF` for a key in a hardware module).
    pub env: Vec<(String, PathBuf)>,
    /// The PostgreSQL server holding [`Vendor::ledger`], when it is a
    /// database rather than a file.
    pub postgres: Option<postgres::Server>,
    /// How many licenses [`Vendor::issue_run`] made with the default account.
    defaults_used: std::cell::Cell<u32>,
}

impl Vendor {
    /// Runs `issuer keygen` into a new temporary directory; the ledger is a
    /// SQLite file, or a PostgreSQL database when the run says so
    /// ([`postgres::STORE_ENV`]).
    pub fn new() -> Vendor {
        Vendor::on(if postgres::default_is_postgres() { Store::Postgres } else { Store::Sqlite })
    }

    /// A vendor whose ledger is a SQLite file in every run: for what only a
    /// file has (its bytes, its mode, its journal).
    pub fn sqlite() -> Vendor {
        Vendor::on(Store::Sqlite)
    }

    /// A vendor whose ledger is in `store`: a file in its directory, or a
    /// new database on its own PostgreSQL server.
    pub fn on(store: Store) -> Vendor {
        let mut vendor = Vendor::keygen();
        if store == Store::Postgres {
            let server = postgres::Server::start();
            vendor.ledger = PathBuf::from(server.database());
            vendor.env.push(("PGPASSWORD".into(), PathBuf::from(postgres::PASSWORD)));
            vendor.postgres = Some(server);
        }
        vendor
    }

    /// Opens this vendor's ledger through the library (with the test
    /// server's password for a database).
    pub fn open_ledger(&self) -> license_issuer::ledger::Ledger {
        use license_issuer::ledger::Ledger;
        let opened = match &self.postgres {
            Some(_) => Ledger::open_postgres(self.ledger.to_str().unwrap(), Some(postgres::PASSWORD.to_owned())),
            None => Ledger::open(&self.ledger),
        };
        opened.unwrap_or_else(|e| panic!("the ledger opens: {e}"))
    }

    /// Runs `sql` on the ledger behind the issuer's back, with a client we
    /// did not write: Python's sqlite3 for a file, `psql` for a database.
    #[track_caller]
    pub fn sql(&self, sql: &str) {
        match &self.postgres {
            Some(server) => {
                server.psql(self.ledger.to_str().unwrap(), sql);
            }
            None => {
                let out = Command::new("python3")
                    .arg("-c")
                    .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()")
                    .arg(&self.ledger)
                    .arg(sql)
                    .output()
                    .expect("python3");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }

    /// Which store holds the ledger.
    pub fn store(&self) -> Store {
        if self.postgres.is_some() { Store::Postgres } else { Store::Sqlite }
    }

    fn keygen() -> Vendor {
        let dir = tempfile::tempdir().expect("tempdir");
        let pass_file = dir.path().join("pass.txt");
        std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
        let keys = dir.path().join("keys");
        let mut cmd = Command::new(bin("issuer"));
        cmd.args(["keygen", "--out"]).arg(&keys).arg("--passphrase-file").arg(&pass_file);
        run(cmd, None).ok();
        Vendor {
            ledger: dir.path().join("ledger.sqlite3"),
            key: keys.join("issuer.key"),
            public: keys.join("issuer.pub"),
            pass_file,
            catalog: workspace().join("catalogs/data-platform.toml"),
            dir,
            env: Vec::new(),
            postgres: None,
            defaults_used: std::cell::Cell::new(0),
        }
    }

    /// `issuer issue` with the default demo-like order, `overrides` appended
    /// (later flags win for single-valued options). Returns the compact token.
    ///
    /// Without `--account`, the first license is for `acct-1001` and each
    /// later one for a new account (`acct-1001-2`, …): the ledger refuses a
    /// second order for an instance whose license is in force.
    pub fn issue(&self, overrides: &[&str]) -> String {
        self.issue_run(overrides).ok().trim().to_owned()
    }

    /// `issuer issue` as above, returning what happened.
    pub fn issue_run(&self, overrides: &[&str]) -> Run {
        let mut cmd = self.issuer();
        cmd.arg("issue").arg("--key").arg(&self.key).arg("--passphrase-file").arg(&self.pass_file);
        cmd.arg("--catalog").arg(&self.catalog);
        let n = self.defaults_used.get();
        let account = if n == 0 { "acct-1001".to_owned() } else { format!("acct-1001-{}", n + 1) };
        if !overrides.contains(&"--account") {
            self.defaults_used.set(n + 1);
        }
        let defaults: [(&str, &str); 6] = [
            ("--account", &account),
            ("--licensee", "Acme Analytics"),
            ("--region", "cn-hangzhou"),
            ("--edition", "intelligent_rnd"),
            ("--engine", "maxcompute"),
            ("--plan", "subscription"),
        ];
        for (flag, value) in defaults {
            if !overrides.contains(&flag) {
                cmd.args([flag, value]);
            }
        }
        if !overrides.iter().any(|o| o.starts_with("--quota")) {
            cmd.args(["--quota", "processing_units=40"]);
        }
        if !overrides.iter().any(|o| o.starts_with("--package")) && !overrides.contains(&"--no-default-package") {
            cmd.args(["--package", "data_service=api.s1.small"]);
        }
        cmd.args(overrides.iter().filter(|o| **o != "--no-default-package"));
        run(cmd, None)
    }

    /// `issuer renew` of `token` by 12 months: the next license of its
    /// chain. Returns the compact token.
    pub fn renew(&self, token: &str) -> String {
        let current = self.dir.path().join(format!("current-{}.txt", self.defaults_used.get()));
        std::fs::write(&current, format!("{token}\n")).unwrap();
        let mut cmd = self.issuer();
        cmd.arg("renew").arg("--from").arg(&current).arg("--months").arg("12");
        cmd.arg("--key")
            .arg(&self.key)
            .arg("--passphrase-file")
            .arg(&self.pass_file)
            .arg("--catalog")
            .arg(&self.catalog);
        let token = run(cmd, None).ok().trim().to_owned();
        std::fs::remove_file(&current).unwrap();
        token
    }

    /// Switches this vendor to a copy of the data-platform catalog with a
    /// free community edition below the others. The data platform has none
    /// (so `issuer upgrade` without `--from` is refused for it); tests of
    /// the community → commercial path use this copy.
    pub fn with_community_edition(&mut self) {
        let text = std::fs::read_to_string(&self.catalog).expect("the catalog");
        let text = text.replace("free_edition = false\n", "").replacen(
            "\n[[editions]]\n",
            "\n[[editions]]\nid = \"community\"\nname = \"Community Edition\"\nfree = true\n\n[[editions]]\n",
            1,
        );
        let path = self.dir.path().join("data-platform-with-community.toml");
        std::fs::write(&path, text).expect("write the catalog copy");
        self.catalog = path;
    }

    /// An `issuer` command that uses this vendor's ledger.
    pub fn issuer(&self) -> Command {
        let mut cmd = Command::new(bin("issuer"));
        cmd.env("ISSUER_LEDGER", &self.ledger);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// A license the CLI rightly refuses to make (already expired, odd
    /// text, another product, a second one for an instance), signed with
    /// this vendor's real key: a normal license is issued and then edited
    /// (for account `acct-1001` unless `edit` says otherwise) before signing.
    pub fn sign_custom(&self, edit: impl FnOnce(&mut license_common::License)) -> String {
        use license_common::envelope::{self, Kind};
        let token = self.issue(&[]);
        let key = self.signing_key();
        let ring = license_common::Keyring::from_keys([*key.public()]);
        let mut license = envelope::open::<license_common::License>(&token, Kind::License, &ring).unwrap().content;
        license.account = "acct-1001".into();
        edit(&mut license);
        sign(&key, &license)
    }

    /// The signing key, opened through the library (for licenses the CLI
    /// rightly refuses to make, such as already-expired ones).
    pub fn signing_key(&self) -> license_common::signing::IssuerKey {
        let pass = license_common::signing::Passphrase::new(PASSPHRASE.to_owned()).unwrap();
        license_issuer::keyfile::read_key(&self.key, &pass).unwrap()
    }
}

/// Signs `license` as it is, with no catalog and no ledger: for licenses
/// the issuer rightly refuses to make (already expired, another product).
pub fn sign(key: &license_common::signing::IssuerKey, license: &license_common::License) -> String {
    key.seal(license_common::Kind::License, &serde_json::to_vec(license).expect("a license serialises"))
}

impl Default for Vendor {
    fn default() -> Self {
        Self::new()
    }
}

/// An install: a state directory driven through the `activator` binary.
pub struct Install {
    /// The temporary directory.
    pub dir: TempDir,
    /// The state directory inside it.
    pub state: PathBuf,
}

impl Install {
    /// `activator init` for the data platform, trusting `vendor`.
    pub fn new(vendor: &Vendor) -> Install {
        Install::of_product(vendor, "data-platform")
    }

    /// `activator init` for `product`, trusting `vendor`.
    pub fn of_product(vendor: &Vendor, product: &str) -> Install {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let install = Install { dir, state };
        let public = vendor.public.to_str().unwrap().to_owned();
        install.run(&["init", "--product", product, "--trust", &public], None).ok();
        install
    }

    /// `activator init` as [`Install::new`], on a machine whose id is
    /// `machine` (`ACTIVATOR_MACHINE_ID`, as in a container).
    pub fn on_machine(vendor: &Vendor, machine: &str) -> Install {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let install = Install { dir, state };
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(&install.state).env("ACTIVATOR_MACHINE_ID", machine);
        cmd.args(["init", "--product", "data-platform", "--trust"]).arg(&vendor.public);
        run(cmd, None).ok();
        install
    }

    /// Runs `activator --state STATE ARGS...` with optional stdin.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(&self.state).args(args);
        run(cmd, stdin)
    }

    /// Activates a license given on standard input.
    pub fn activate(&self, license: &str) -> Run {
        self.run(&["activate", "-"], Some(license.as_bytes()))
    }

    /// Every file of the state directory with its bytes (the lock file excepted).
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot(&self.state)
    }
}

/// Every regular file under `dir` (but `.lock`) with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read state dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != ".lock" && entry.path().is_file() {
            files.insert(name, std::fs::read(entry.path()).unwrap());
        }
    }
    files
}
