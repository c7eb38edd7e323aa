//! Durable file writes: temp file, fsync, rename, fsync the directory; the
//! one primitive every output file goes through ([`Output`]); and the locks
//! that serialise writers of one directory. Shared by the activator's state
//! directory and the issuer's files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::exit::{ExitClass, Explain};

/// Prefix of temporary files; a crash may leave one behind, and the next
/// writer (holding the lock) removes it.
pub const TEMP_PREFIX: &str = ".tmp-license-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `dir/name` so that a crash at any moment leaves either
/// the old file or the new one, never a mix. The new file gets `mode`.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
    let (tmp, mut file) = create_temp(dir, name, mode)?;
    let result = (|| {
        file.write_all(&bytes[..bytes.len() / 2])?;
        fault_point("half-written");
        file.write_all(&bytes[bytes.len() / 2..])?;
        file.sync_all()?;
        drop(file);
        fault_point("before-rename");
        fs::rename(&tmp, dir.join(name))?;
        fault_point("after-rename");
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn create_temp(dir: &Path, name: &str, mode: u32) -> io::Result<(PathBuf, File)> {
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TEMP_PREFIX}{name}-{}-{n}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        set_mode(&mut options, mode);
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
fn set_mode(options: &mut OpenOptions, mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(mode);
}

#[cfg(not(unix))]
fn set_mode(_: &mut OpenOptions, _: u32) {}

/// With the `fault-injection` feature only (the end-to-end tests turn it
/// on): pauses at a named point (of [`write_atomic`], or of another crate's
/// protocol) when `LICENSE_FAULT_PAUSE` is `<point>:<milliseconds>`, so that
/// a crash test can kill the process exactly there. Without the feature it
/// is empty and reads nothing.
#[doc(hidden)]
#[cfg(feature = "fault-injection")]
pub fn fault_point(point: &str) {
    if let Ok(spec) = std::env::var("LICENSE_FAULT_PAUSE")
        && let Some((at, ms)) = spec.split_once(':')
        && at == point
        && let Ok(ms) = ms.parse::<u64>()
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

#[doc(hidden)]
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn fault_point(_: &str) {}

/// A file the tools write for their user (a license, a receipt, a list, a
/// key): the one way output files are written.
///
/// * [`Output::check`] refuses, before anything is signed or changed, a path
///   that cannot be written: one that exists (unless it may be replaced), a
///   directory, or one whose directory is missing.
/// * [`Output::write`] writes a temporary file beside it, fsyncs it, then
///   links it to the name (a new file: an existing one is never touched,
///   even one that appeared since the check) or renames it over the name
///   (when replacing), and fsyncs the directory. A crash leaves the old file
///   or the new one, never a part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    path: PathBuf,
    replace: bool,
    mode: u32,
}

impl Output {
    /// A new file at `path` (mode 0644); it may replace an existing file
    /// only when `replace`.
    pub fn new(path: impl Into<PathBuf>, replace: bool) -> Self {
        Output { path: path.into(), replace, mode: 0o644 }
    }

    /// A new secret file (mode 0600) that never replaces anything.
    pub fn secret(path: impl Into<PathBuf>) -> Self {
        Output { path: path.into(), replace: false, mode: 0o600 }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether an existing file may be replaced.
    pub fn replaces(&self) -> bool {
        self.replace
    }

    fn dir(&self) -> &Path {
        self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
    }

    /// Refuses an output that cannot be written; changes nothing.
    pub fn check(&self) -> Result<(), OutputError> {
        let path = || self.path.clone();
        match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.is_dir() => return Err(OutputError::IsADirectory { path: path() }),
            Ok(_) if !self.replace => return Err(OutputError::Exists { path: path() }),
            _ => {}
        }
        if self.path.file_name().is_none() {
            return Err(OutputError::IsADirectory { path: path() });
        }
        let dir = self.dir();
        if !dir.is_dir() {
            return Err(OutputError::NoDirectory { path: path(), dir: dir.to_path_buf() });
        }
        Ok(())
    }

    /// Writes `bytes` as described on the type.
    pub fn write(&self, bytes: &[u8]) -> Result<(), OutputError> {
        self.check()?;
        let io = |action: &'static str| {
            let path = self.path.clone();
            move |source| OutputError::Io { action, path, source }
        };
        let dir = self.dir();
        let name = self.path.file_name().expect("checked").to_string_lossy().into_owned();
        let (tmp, mut file) = create_temp(dir, &name, self.mode).map_err(io("create a temporary file for"))?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        drop(file);
        let placed = written.map_err(io("write")).and_then(|()| {
            if self.replace {
                fs::rename(&tmp, &self.path).map_err(io("replace"))
            } else {
                match fs::hard_link(&tmp, &self.path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        Err(OutputError::Exists { path: self.path.clone() })
                    }
                    // A file system without hard links: create the name itself.
                    Err(_) => {
                        let mut options = OpenOptions::new();
                        options.write(true).create_new(true);
                        set_mode(&mut options, self.mode);
                        let mut file = options.open(&self.path).map_err(|e| match e.kind() {
                            io::ErrorKind::AlreadyExists => OutputError::Exists { path: self.path.clone() },
                            _ => OutputError::Io { action: "create", path: self.path.clone(), source: e },
                        })?;
                        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io("write"))
                    }
                }
            }
        });
        let _ = fs::remove_file(&tmp);
        placed?;
        sync_dir(dir).map_err(io("sync the directory of"))
    }
}

/// Why an output file was not written. Nothing was written when one is
/// returned.
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum OutputError {
    /// The file exists and may not be replaced.
    #[error("{} already exists", path.display())]
    Exists {
        /// The file.
        #[serde(serialize_with = "crate::exit::serialize_path")]
        path: PathBuf,
    },
    /// The path names a directory.
    #[error("cannot write {}: it is a directory; name a file", path.display())]
    IsADirectory {
        /// The path.
        #[serde(serialize_with = "crate::exit::serialize_path")]
        path: PathBuf,
    },
    /// The directory the file would go into is missing.
    #[error("cannot write {}: {} is not a directory", path.display(), dir.display())]
    NoDirectory {
        /// The file.
        #[serde(serialize_with = "crate::exit::serialize_path")]
        path: PathBuf,
        /// Its directory.
        #[serde(serialize_with = "crate::exit::serialize_path")]
        dir: PathBuf,
    },
    /// The operating system refused.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        #[serde(serialize_with = "crate::exit::serialize_path")]
        path: PathBuf,
        /// The cause.
        #[source]
        #[serde(serialize_with = "crate::exit::serialize_display")]
        source: io::Error,
    },
}

impl Explain for OutputError {
    fn class(&self) -> ExitClass {
        ExitClass::Io
    }

    fn hint(&self) -> String {
        match self {
            OutputError::Exists { .. } => "choose another path, or allow the file to be replaced".into(),
            OutputError::IsADirectory { .. } => "name a file to write, not a directory".into(),
            OutputError::NoDirectory { .. } => "create the directory first, or choose another path".into(),
            OutputError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
                "check the directory's permissions, or write somewhere this user may".into()
            }
            OutputError::Io { .. } => "check the path, free disk space and permissions".into(),
        }
    }

    fn case(&self) -> String {
        crate::exit::case_of("OutputError", self)
    }

    fn fields(&self) -> serde_json::Value {
        crate::exit::fields_of(self)
    }
}

impl crate::exit::Examples for OutputError {
    fn examples() -> Vec<crate::exit::Example<Self>> {
        use crate::exit::Example;
        let path = || PathBuf::from("<path>");
        vec![
            Example {
                error: OutputError::Exists { path: path() },
                when: "The output file exists and may not be replaced: key files never are, receipts and reports never are, licenses and lists only when asked. Nothing was signed or changed.",
            },
            Example { error: OutputError::IsADirectory { path: path() }, when: "The output path names a directory." },
            Example {
                error: OutputError::NoDirectory { path: path(), dir: PathBuf::from("<dir>") },
                when: "The directory the output file would go into does not exist. Nothing was signed or changed.",
            },
            Example {
                error: OutputError::Io {
                    action: "<action>",
                    path: path(),
                    source: io::Error::new(io::ErrorKind::PermissionDenied, "<cause>"),
                },
                when: "The operating system refused to write the file, and says permission denied.",
            },
            Example {
                error: OutputError::Io {
                    action: "<action>",
                    path: path(),
                    source: io::Error::new(io::ErrorKind::StorageFull, "<cause>"),
                },
                when: "The operating system refused to write the file for another reason (no space, a read-only disk).",
            },
        ]
    }
}

/// Flushes a directory's entries (the rename) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates a directory (and parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// An exclusive lock on one file (created if missing), released on drop.
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Blocks until this process holds the lock on `path`.
    pub fn acquire(path: &Path) -> io::Result<FileLock> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        set_mode(&mut options, 0o600);
        let file = options.open(path)?;
        file.lock()?;
        Ok(FileLock { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Whether `name` is a temporary file of ours (`.tmp-license-<name>-<pid>-<n>`)
/// whose writer is gone: only those are removed, never another program's
/// files nor a temporary file a live process is still writing.
fn is_stale_temp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else { return false };
    let mut parts = rest.rsplitn(3, '-');
    let (Some(n), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else { return false };
    let (Ok(_), Ok(pid)) = (n.parse::<u64>(), pid.parse::<u32>()) else { return false };
    !process_alive(pid)
}

/// Whether process `pid` is running (on Linux; elsewhere, only this
/// process is known to be, so nothing else is removed).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return false; // this process holds the lock: none of its writes is in flight
    }
    #[cfg(target_os = "linux")]
    {
        Path::new("/proc").join(pid.to_string()).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

/// An exclusive lock on a state directory, released on drop.
pub struct DirLock {
    file: File,
}

impl DirLock {
    /// Blocks until this process holds the directory's lock, then removes
    /// temporary files that a crashed writer may have left.
    pub fn acquire(dir: &Path) -> io::Result<DirLock> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        set_mode(&mut options, 0o600);
        let file = options.open(dir.join(".lock"))?;
        file.lock()?;
        for entry in fs::read_dir(dir)?.flatten() {
            if is_stale_temp(&entry.file_name().to_string_lossy()) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(DirLock { file })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "f", b"one", 0o600).unwrap();
        write_atomic(dir.path(), "f", b"two", 0o600).unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("f")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_output_is_new_unless_it_may_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("license.lic");
        let new = Output::new(&path, false);
        new.check().unwrap();
        new.write(b"one").unwrap();
        assert!(matches!(new.check(), Err(OutputError::Exists { .. })));
        assert!(matches!(new.write(b"two"), Err(OutputError::Exists { .. })));
        assert_eq!(fs::read(&path).unwrap(), b"one");
        Output::new(&path, true).write(b"three").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
        let missing = Output::new(dir.path().join("no/such/dir.lic"), false);
        assert!(matches!(missing.check(), Err(OutputError::NoDirectory { .. })));
        assert!(matches!(Output::new(dir.path(), true).check(), Err(OutputError::IsADirectory { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_output_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        Output::secret(&path).write(b"k").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!Output::secret(&path).replaces());
    }

    #[test]
    fn lock_cleans_only_its_own_stale_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        // A writer that is gone (no process has this pid), one that is alive
        // (pid 1), and other programs' files.
        let dead = format!("{TEMP_PREFIX}state.json-4194999-0");
        let alive = format!("{TEMP_PREFIX}state.json-1-0");
        for name in [dead.as_str(), alive.as_str(), ".tmp-editor-swap", ".tmp-license-notours"] {
            fs::write(dir.path().join(name), b"half").unwrap();
        }
        let _lock = DirLock::acquire(dir.path()).unwrap();
        let mut names: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        let mut expected = vec![".lock".to_owned(), alive, ".tmp-editor-swap".into(), ".tmp-license-notours".into()];
        expected.sort();
        assert_eq!(names, expected);
    }
}
