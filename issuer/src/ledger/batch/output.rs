//! A batch's output: each license's JSON Lines record, and moving the
//! staged output into place once the batch is recorded.

use std::path::Path;

use super::io;
use crate::error::IssuerError;

/// Appends the JSON Lines record of one license (a [`super::BatchRecord`],
/// its fields in that order) and a newline to `out`.
///
/// Written by hand rather than through serde: a batch writes 100,000 of
/// them, and the token, most of each record, never needs escaping (it is
/// base64url and dots), so it is copied as it is.
pub(super) fn write_record(out: &mut Vec<u8>, line: usize, id: &str, account: &str, licensee: &str, token: &str) {
    use std::io::Write;
    let string = |out: &mut Vec<u8>, s: &str| {
        if !s.bytes().any(|b| ESCAPED[usize::from(b)]) {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        } else {
            serde_json::to_writer(&mut *out, s).expect("a string serialises");
        }
    };
    write!(out, "{{\"line\":{line},\"id\":").expect("writing to memory");
    string(out, id);
    out.extend_from_slice(b",\"account\":");
    string(out, account);
    out.extend_from_slice(b",\"licensee\":");
    string(out, licensee);
    out.extend_from_slice(b",\"token\":");
    string(out, token);
    out.extend_from_slice(b"}\n");
}

/// The bytes JSON strings escape, as serde_json does: the quote, the
/// backslash and the control characters below 0x20. Everything else,
/// UTF-8 included, is copied as it is.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Moves the staged JSON Lines file to its name: renamed over an old file
/// when `replace`, otherwise linked (so that a file that appeared there
/// meanwhile is never replaced; recovery then leaves the staged file) and
/// the staged name removed.
pub(super) fn place_file(staging: &Path, out_file: &Path, replace: bool) -> Result<(), IssuerError> {
    let dir = out_file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let kept = |e: std::io::Error| IssuerError::Io {
        action: "move the recorded batch to",
        path: out_file.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!("{e}; the licenses are recorded and kept in {}", staging.display()),
        ),
    };
    if replace {
        std::fs::rename(staging, out_file).map_err(kept)?;
    } else {
        match std::fs::hard_link(staging, out_file) {
            Ok(()) => {
                license_common::fsio::fault_point("batch-linked");
                std::fs::remove_file(staging).map_err(io("remove", staging))?;
            }
            // Linked before a crash, not yet unlinked: finish that.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && same_file(staging, out_file) => {
                std::fs::remove_file(staging).map_err(io("remove", staging))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(kept(std::io::Error::new(e.kind(), "a file appeared there while the batch ran")));
            }
            // A file system without hard links: rename, after looking once more.
            Err(_) if std::fs::symlink_metadata(out_file).is_err() => {
                std::fs::rename(staging, out_file).map_err(kept)?;
            }
            Err(e) => return Err(kept(e)),
        }
    }
    license_common::fsio::sync_dir(dir).map_err(io("sync", dir))?;
    Ok(())
}

/// Whether two paths name the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Moves every license file of `staging` into `out_dir`, then removes
/// `staging`. A file already in place is left as it is.
pub(super) fn move_into_place(staging: &Path, out_dir: &Path) -> Result<(), IssuerError> {
    for entry in std::fs::read_dir(staging).map_err(io("read", staging))?.flatten() {
        let name = entry.file_name();
        if name == ".lock" {
            continue;
        }
        let target = out_dir.join(&name);
        if !target.exists() {
            std::fs::rename(entry.path(), &target).map_err(io("move", &target))?;
        }
    }
    license_common::fsio::sync_dir(out_dir).map_err(io("sync", out_dir))?;
    std::fs::remove_dir_all(staging).map_err(io("remove", staging))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::BatchRecord;
    use super::write_record;

    #[test]
    fn records_are_the_json_serde_writes() {
        let accounts = [
            "acct-1",
            "ACME Corp",
            "quote\" and \\ back",
            "tab\there",
            "控制台",
            "\u{1}",
            "\u{1f}",
            "\u{7f} del",
            "line\nbreak",
            "",
            " ",
        ];
        for (n, account) in accounts.iter().enumerate() {
            let record = BatchRecord {
                line: n * 1000 + 1,
                id: "0192d1a0-7c1e-7000-8000-000000000001".into(),
                account: (*account).into(),
                licensee: format!("{account} licensee"),
                token: "lic1.0123456789abcdef.eyJhIjoxfQ.c2ln-_".into(),
            };
            let mut out = Vec::new();
            write_record(&mut out, record.line, &record.id, &record.account, &record.licensee, &record.token);
            let mut expected = serde_json::to_vec(&record).unwrap();
            expected.push(b'\n');
            assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(expected).unwrap());
        }
    }
}
