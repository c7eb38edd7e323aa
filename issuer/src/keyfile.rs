//! The issuer's key files: `issuer.key` (encrypted PKCS#8 PEM, mode 0600)
//! and `issuer.pub` (SPKI PEM).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use license_common::input;
use license_common::keys::{KeyId, PublicKey};
use license_common::signing::{IssuerKey, Passphrase};

use crate::error::IssuerError;

/// The private key file's name inside the key directory.
pub const KEY_FILE: &str = "issuer.key";
/// The public key file's name inside the key directory.
pub const PUB_FILE: &str = "issuer.pub";
/// The environment variable holding the passphrase.
pub const PASSPHRASE_ENV: &str = "ISSUER_PASSPHRASE";
const MAX_KEY_FILE: usize = 64 * 1024;

/// The files `keygen` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFiles {
    /// The encrypted private key.
    pub key: PathBuf,
    /// The public key.
    pub public: PathBuf,
    /// The key id.
    pub kid: KeyId,
}

/// Generates a key pair into `dir` (created if needed). Refuses to overwrite
/// either file; on any failure nothing is left behind.
pub fn keygen(dir: &Path, passphrase: &Passphrase) -> Result<KeyFiles, IssuerError> {
    let key_path = dir.join(KEY_FILE);
    let pub_path = dir.join(PUB_FILE);
    for path in [&key_path, &pub_path] {
        if path.exists() {
            return Err(IssuerError::Exists { path: path.clone() });
        }
    }
    std::fs::create_dir_all(dir).map_err(IssuerError::io("create", dir))?;
    let key = IssuerKey::generate();
    let pem = key.to_encrypted_pem(passphrase)?;
    write_new(&key_path, pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&pub_path, key.public().to_pem().as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    Ok(KeyFiles { key: key_path, public: pub_path, kid: key.kid() })
}

/// Opens an encrypted private key file.
pub fn read_key(path: &Path, passphrase: &Passphrase) -> Result<IssuerKey, IssuerError> {
    let text = zeroize::Zeroizing::new(input::read_text(path, MAX_KEY_FILE)?);
    Ok(IssuerKey::from_encrypted_pem(&text, passphrase)?)
}

/// Reads a public key file.
pub fn read_public(path: &Path) -> Result<PublicKey, IssuerError> {
    let text = input::read_text(path, MAX_KEY_FILE)?;
    Ok(PublicKey::from_pem(&text)?)
}

/// The passphrase from `--passphrase-file` or `ISSUER_PASSPHRASE`, in that
/// order; `None` when neither is set (the caller may then prompt).
pub fn passphrase_from(file: Option<&Path>, env: Option<String>) -> Result<Option<Passphrase>, IssuerError> {
    if let Some(file) = file {
        let text = input::read_text(file, MAX_KEY_FILE)?;
        return Ok(Some(Passphrase::new(text)?));
    }
    match env {
        Some(text) => Ok(Some(Passphrase::new(text)?)),
        None => Ok(None),
    }
}

/// Writes a new file (never overwriting) with `mode`, flushed to disk along
/// with its directory entry.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), IssuerError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            IssuerError::Exists { path: path.to_path_buf() }
        } else {
            IssuerError::Io { action: "create", path: path.to_path_buf(), source: e }
        }
    })?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(IssuerError::Io { action: "write", path: path.to_path_buf(), source: e });
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        #[cfg(unix)]
        std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(IssuerError::io("sync", parent))?;
    }
    Ok(())
}

/// Refuses, before anything is signed or recorded, an output path that
/// exists (unless `force`): a bad `--out` must change nothing.
pub fn check_out_free(path: Option<&Path>, force: bool) -> Result<(), IssuerError> {
    match path {
        Some(p) if !force && p.exists() => Err(IssuerError::Exists { path: p.to_path_buf() }),
        _ => Ok(()),
    }
}

/// Writes a file that may replace an existing one (with `force`), atomically.
pub fn write_replacing(path: &Path, bytes: &[u8], force: bool) -> Result<(), IssuerError> {
    if !force {
        return write_new(path, bytes, 0o644);
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| IssuerError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, bytes, 0o644)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        IssuerError::Io { action: "write", path: path.to_path_buf(), source: e }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_0600_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("pw".into()).unwrap();
        let files = keygen(dir.path(), &pass).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let before = std::fs::read(&files.key).unwrap();
        assert!(matches!(keygen(dir.path(), &pass), Err(IssuerError::Exists { .. })));
        assert_eq!(std::fs::read(&files.key).unwrap(), before);
        let key = read_key(&files.key, &pass).unwrap();
        assert_eq!(key.kid(), files.kid);
        assert_eq!(read_public(&files.public).unwrap().kid(), files.kid);
    }

    #[test]
    fn passphrase_file_wins_over_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let p = passphrase_from(Some(&file), Some("from-env".into())).unwrap().unwrap();
        assert_eq!(p.expose(), "from-file");
        assert_eq!(passphrase_from(None, Some("from-env".into())).unwrap().unwrap().expose(), "from-env");
        assert!(passphrase_from(None, None).unwrap().is_none());
    }
}
