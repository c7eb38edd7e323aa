//! Reading a file or standard input, bounded before anything is decoded.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::exit::{ExitClass, Explain};

/// Reads `path` (or standard input when `path` is `-`) as UTF-8 text of at
/// most `max` bytes. Never reads more than `max + 1` bytes into memory. A
/// UTF-8 byte-order mark at the start (Windows editors and PowerShell write
/// one) is dropped: it is never part of a license, key, catalog or order.
pub fn read_text(path: &Path, max: usize) -> Result<String, InputError> {
    let mut text = read_text_as_is(path, max)?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// [`read_text`], keeping a byte-order mark at the start: for a secret that
/// may have been made with one (a key encrypted under a passphrase file's
/// whole text before marks were dropped).
pub fn read_text_as_is(path: &Path, max: usize) -> Result<String, InputError> {
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
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum InputError {
    /// The operating system refused.
    #[error("cannot read {}: {source}", display(path))]
    Io {
        /// The path (`-` for standard input).
        #[serde(serialize_with = "crate::exit::serialize_path")]
        path: PathBuf,
        /// The cause.
        #[source]
        #[serde(serialize_with = "crate::exit::serialize_display")]
        source: std::io::Error,
    },
    /// A directory was given.
    #[error("{} is a directory, not a file", display(path))]
    Directory {
        /// The path.
        #[serde(serialize_with = "crate::exit::serialize_path")]
        path: PathBuf,
    },
    /// More than the limit.
    #[error("{} is larger than {max} bytes, more than any valid file of this kind", display(path))]
    TooLarge {
        /// The path.
        #[serde(serialize_with = "crate::exit::serialize_path")]
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// Not UTF-8 text.
    #[error("{} is not text (it is not valid UTF-8)", display(path))]
    NotText {
        /// The path.
        #[serde(serialize_with = "crate::exit::serialize_path")]
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

    fn case(&self) -> String {
        crate::exit::case_of("InputError", self)
    }

    fn fields(&self) -> serde_json::Value {
        crate::exit::fields_of(self)
    }
}

impl crate::exit::Examples for InputError {
    fn examples() -> Vec<crate::exit::Example<Self>> {
        use crate::exit::{Example, placeholders};
        let path = || PathBuf::from("<path>");
        vec![
            Example {
                error: InputError::Io {
                    path: path(),
                    source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "<cause>"),
                },
                when: "The file cannot be opened or read because of its permissions (`<path>` is `standard input` for `-`).",
            },
            Example {
                error: InputError::Io {
                    path: path(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "<cause>"),
                },
                when: "The file does not exist, or cannot be read for another reason.",
            },
            Example {
                error: InputError::Directory { path: path() },
                when: "A directory was given where a file is read.",
            },
            Example {
                error: InputError::TooLarge { path: path(), max: placeholders::NUMBER as usize },
                when: "The file is larger than any file of its kind can be (2 MiB for licenses and install files, 4 MiB for a catalog, 1 MiB for an order file, 64 KiB for a public key, 4096 bytes for a secret key). Nothing beyond the limit is read.",
            },
            Example { error: InputError::NotText { path: path() }, when: "The file is binary or in another encoding." },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped_and_nothing_else_is_changed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("order.json");
        std::fs::write(&file, b"\xef\xbb\xbf{\"account\": \"a\"}\r\n").unwrap();
        assert_eq!(read_text(&file, 1024).unwrap(), "{\"account\": \"a\"}\r\n");
        // Only at the start, and only once.
        std::fs::write(&file, "\u{feff}\u{feff}x\u{feff}").unwrap();
        assert_eq!(read_text(&file, 1024).unwrap(), "\u{feff}x\u{feff}");
        // The limit counts the file as it is on disk.
        std::fs::write(&file, b"\xef\xbb\xbfabcd").unwrap();
        assert!(matches!(read_text(&file, 6), Err(InputError::TooLarge { .. })));
        assert_eq!(read_text(&file, 7).unwrap(), "abcd");
        assert_eq!(read_text_as_is(&file, 7).unwrap(), "\u{feff}abcd");
    }
}
