//! Durable file writes: temp file, fsync, rename, fsync the directory; and
//! the lock that serialises writers of one directory. Shared by the
//! activator's state directory and the issuer's files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of temporary files; a crash may leave one behind, and the next
/// writer (holding the lock) removes it.
/// Prefix of temporary files.
pub const TEMP_PREFIX: &str = ".tmp-";

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

/// Test builds only: pauses at a named point (of [`write_atomic`], or of
/// another crate's protocol) when `LICENSE_FAULT_PAUSE` is
/// `<point>:<milliseconds>`, so that a crash test can kill the process
/// exactly there. Compiled out of release builds.
#[doc(hidden)]
#[cfg(debug_assertions)]
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
#[cfg(not(debug_assertions))]
pub fn fault_point(_: &str) {}

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
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
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
    fn lock_cleans_stale_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(format!("{TEMP_PREFIX}state.json-1-0")), b"half").unwrap();
        let _lock = DirLock::acquire(dir.path()).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(".lock")]);
    }
}
