//! Certificates for the tests' TLS servers, made with OpenSSL's command
//! line (a tool we did not write): ECDSA P-256, valid for two days.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `openssl` in `dir` with the words of `args` (none holds a space)
/// and `extra` after them.
fn openssl(dir: &Path, args: &str, extra: &[&str]) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl {args} {extra:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2";

/// A certificate authority in `dir`: `NAME.pem`, returned, and its key
/// `NAME.key`.
pub fn authority(dir: &Path, name: &str) -> PathBuf {
    let (key, pem, subject) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN=test {name}"));
    openssl(
        dir,
        &format!(
            "req -x509 {NEW_KEY} -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
        &["-keyout", &key, "-out", &pem, "-subj", &subject],
    );
    dir.join(pem)
}

/// `NAME.pem` and `NAME.key` (mode 0600, as PostgreSQL wants) in `dir`: a
/// server certificate for `host` alone, signed by authority `ca`
/// ([`authority`]).
pub fn server(dir: &Path, ca: &str, name: &str, host: &str) -> (PathBuf, PathBuf) {
    signed(dir, ca, name, host, &format!("subjectAltName=DNS:{host}\nextendedKeyUsage=serverAuth\n"))
}

/// `NAME.pem` and `NAME.key` (mode 0600, as libpq wants) in `dir`: a client
/// certificate whose common name is `user`, signed by authority `ca`
/// ([`authority`]); PostgreSQL's `cert` authentication takes the common
/// name for the user.
pub fn client(dir: &Path, ca: &str, name: &str, user: &str) -> (PathBuf, PathBuf) {
    signed(dir, ca, name, user, "extendedKeyUsage=clientAuth\n")
}

fn signed(dir: &Path, ca: &str, name: &str, cn: &str, extensions: &str) -> (PathBuf, PathBuf) {
    let (key, csr, pem, ext) =
        (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
    openssl(dir, &format!("req {NEW_KEY}"), &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={cn}")]);
    let extensions = format!("{extensions}basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n");
    std::fs::write(dir.join(&ext), extensions).unwrap();
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        "x509 -req -CAcreateserial -days 2",
        &["-in", &csr, "-CA", &ca_pem, "-CAkey", &ca_key, "-out", &pem, "-extfile", &ext],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(&key), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (dir.join(pem), dir.join(key))
}

/// `NAME.pem` and `NAME.key` in `dir`: a self-signed certificate for
/// `localhost` and `127.0.0.1` (a client trusts it as its own authority).
pub fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &format!("req -x509 {NEW_KEY} -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"),
        &["-keyout", &key, "-out", &pem],
    );
    (dir.join(pem), dir.join(key))
}
