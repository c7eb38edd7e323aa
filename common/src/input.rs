//! Reading a file or standard input, bounded before anything is decoded.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::exit::{ExitClass, Explain};

/// Reads `path` (or standard input when `path` is `-`) as UTF-8 text of at
/// most `max` bytes. Never reads more than `max + 1` bytes into memory.
pub fn read_text(path: &Path, max: usize) -> Result<String, InputError> {
    let name = path.to_path_buf();
    let mut bytes = Vec::new();
    let limit = (max as u64).saturating_add(1);
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|source| InputError::Io { path: name.clone(), source })?;
    } else {
        let meta = std::fs::metadata(path).map_err(|source| InputError::Io { path: name.clone(), source })?;
        if meta.is_dir() {
            return Err(InputError::Directory { path: name });
        }
        let file = std::fs::File::open(path).map_err(|source| InputError::Io { path: name.clone(), source })?;
        file.take(limit).read_to_end(&mut bytes).map_err(|source| InputError::Io { path: name.clone(), source })?;
    }
    if bytes.len() > max {
        return Err(InputError::TooLarge { path: name, max });
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotText { path: name })
}

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The operating system refused.
    #[error("cannot read {}: {source}", display(path))]
    Io {
        /// The path (`-` for standard input).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A directory was given.
    #[error("{} is a directory, not a file", display(path))]
    Directory {
        /// The path.
        path: PathBuf,
    },
    /// More than the limit.
    #[error("{} is larger than {max} bytes, more than any valid file of this kind", display(path))]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// Not UTF-8 text.
    #[error("{} is not text (it is not valid UTF-8)", display(path))]
    NotText {
        /// The path.
        path: PathBuf,
    },
}

fn display(path: &Path) -> String {
    if path == Path::new("-") { "standard input".to_owned() } else { path.display().to_string() }
}

impl Explain for InputError {
    fn class(&self) -> ExitClass {
        match self {
            InputError::Io { .. } | InputError::Directory { .. } => ExitClass::Io,
            InputError::TooLarge { .. } | InputError::NotText { .. } => ExitClass::Malformed,
        }
    }

    fn hint(&self) -> String {
        match self {
            InputError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                "check the file's permissions, or run as a user who may read it".into()
            }
            InputError::Io { .. } => "check the path".into(),
            InputError::Directory { .. } => "give the file inside it".into(),
            InputError::TooLarge { .. } | InputError::NotText { .. } => "check that the right file was given".into(),
        }
    }
}
