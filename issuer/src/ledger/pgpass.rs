//! The password of a PostgreSQL ledger from a password file, as libpq and
//! PostgreSQL's own tools read it: the file `PGPASSFILE` names, else
//! `~/.pgpass`, consulted only when `PGPASSWORD` gives none.
//!
//! Each line is `host:port:database:user:password`; `*` in any of the
//! first four fields matches anything, `\:` and `\\` stand for `:` and `\`
//! (an unescaped colon ends the password too),
//! lines that start with `#` are comments, and the first line that matches
//! wins. `localhost` also matches a Unix socket. Where libpq ignores a file
//! that its owner's group or others may read, with a warning, the ledger
//! refuses it and says how to mend it: a password file is a secret file.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Where the connection goes, as a password file's lines name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The host name or address, or the socket directory.
    pub host: String,
    /// Whether `host` is a Unix socket's directory.
    pub socket: bool,
    /// The TCP port (5432 unless the URL says otherwise).
    pub port: u16,
    /// The database.
    pub database: String,
    /// The user.
    pub user: String,
}

/// The password file to read: `PGPASSFILE` (which must then exist), else
/// `~/.pgpass` when there is one; `None` when neither is.
pub(crate) fn file_from_env() -> Result<Option<PathBuf>, String> {
    if let Some(named) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(named);
        if !path.exists() {
            return Err(format!("PGPASSFILE names {}, which does not exist", path.display()));
        }
        return Ok(Some(path));
    }
    Ok(std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass")).filter(|p| p.exists()))
}

/// The largest password file or client key read (1 MiB): a bigger one is
/// refused, never read in part.
const MAX_SECRET_FILE: usize = 1 << 20;

/// Reads the secret file `path` (the URL parameter or file kind `what`),
/// refusing it unless only its owner may read it: 0600 or less, or, when
/// `root_group` and root owns it, 0640 or less (libpq's rules for the
/// password file and the client key). The text is wiped when dropped.
pub(crate) fn read_private(what: &str, path: &Path, root_group: bool) -> Result<Zeroizing<String>, String> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|e| format!("{what} {shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{what} {shown} is not a file"));
        }
        let others = if root_group && meta.uid() == 0 { 0o037 } else { 0o077 };
        if meta.mode() & others != 0 {
            return Err(format!(
                "{what} {shown} can be read or written by others (mode {:04o}): `chmod 600` it, as \
                 PostgreSQL's own clients require",
                meta.mode() & 0o7777
            ));
        }
    }
    let text = license_common::input::read_text(path, MAX_SECRET_FILE).map_err(|e| format!("{what}: {e}"))?;
    Ok(Zeroizing::new(text))
}

/// The password the password file gives for the first host of `config`,
/// when there is a file ([`file_from_env`]) and a line of it matches.
pub(crate) fn password_for(config: &postgres::Config) -> Result<Option<Zeroizing<String>>, String> {
    let Some(file) = file_from_env()? else { return Ok(None) };
    let (host, socket) = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(name)) => (name.clone(), false),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(dir)) => (dir.display().to_string(), true),
        None => ("localhost".to_owned(), true),
    };
    let user = config.get_user().unwrap_or_default().to_owned();
    let target = Target {
        host,
        socket,
        port: config.get_ports().first().copied().unwrap_or(5432),
        database: config.get_dbname().map_or_else(|| user.clone(), str::to_owned),
        user,
    };
    lookup(&file, &target)
}

/// The password `file` gives for `target`, if a line matches. The file's
/// text is wiped once read; a file others may read is refused.
pub(crate) fn lookup(file: &Path, target: &Target) -> Result<Option<Zeroizing<String>>, String> {
    let text = read_private("password file", file, false)?;
    Ok(text.lines().find_map(|line| matching(line, target)))
}

/// The password of `line` when its first four fields match `target`.
fn matching(line: &str, target: &Target) -> Option<Zeroizing<String>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let fields = split(line)?;
    let [host, port, database, user, password] = <[Zeroizing<String>; 5]>::try_from(fields).ok()?;
    let host_matches =
        host.as_str() == "*" || host.as_str() == target.host || (target.socket && host.as_str() == "localhost");
    let port_matches = port.as_str() == "*" || port.parse::<u16>().is_ok_and(|p| p == target.port);
    let database_matches = database.as_str() == "*" || database.as_str() == target.database;
    let user_matches = user.as_str() == "*" || user.as_str() == target.user;
    (host_matches && port_matches && database_matches && user_matches).then_some(password)
}

/// A line's first five fields, split at the colons that are not escaped,
/// with `\:` and `\\` unescaped; `None` for a line of fewer than five.
fn split(line: &str) -> Option<Vec<Zeroizing<String>>> {
    let mut fields = vec![Zeroizing::new(String::new())];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => fields.last_mut()?.push(next),
                None => fields.last_mut()?.push('\\'),
            },
            // As libpq reads it, the password too ends at a colon.
            ':' => fields.push(Zeroizing::new(String::new())),
            c => fields.last_mut()?.push(c),
        }
    }
    fields.truncate(5);
    (fields.len() == 5).then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            host: "db.example".into(),
            socket: false,
            port: 5432,
            database: "ledger".into(),
            user: "issuer".into(),
        }
    }

    fn find(lines: &str, target: &Target) -> Option<String> {
        lines.lines().find_map(|l| matching(l, target)).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn the_first_matching_line_gives_the_password() {
        let t = target();
        let file = "# comment:*:*:*:no\n\
                    other.example:5432:ledger:issuer:wrong-host\n\
                    db.example:5433:ledger:issuer:wrong-port\n\
                    db.example:5432:other:issuer:wrong-database\n\
                    db.example:5432:ledger:someone:wrong-user\n\
                    db.example:5432:ledger:issuer:right\n\
                    *:*:*:*:too-late\n";
        assert_eq!(find(file, &t).as_deref(), Some("right"));
        assert_eq!(find("*:*:*:*:any\n", &t).as_deref(), Some("any"));
        assert_eq!(find("db.example:*:ledger:*:wild\r\n", &t).as_deref(), Some("wild"));
        assert_eq!(find("db.example:5432:ledger:issuer\n", &t), None, "four fields: no password");
        assert_eq!(find("\n   \n", &t), None);
        assert_eq!(find("db.example:notaport:ledger:issuer:x\n", &t), None);
    }

    #[test]
    fn escapes_and_colons_in_the_password() {
        let mut t = target();
        t.database = "led:ger".into();
        assert_eq!(find(r"db.example:5432:led\:ger:issuer:a\:b\\c", &t).as_deref(), Some(r"a:b\c"));
        assert_eq!(
            find("db.example:5432:led\\:ger:issuer:ends:here", &t).as_deref(),
            Some("ends"),
            "as libpq reads it"
        );
        assert_eq!(find("db.example:5432:led:ger:issuer:x", &t), None, "an unescaped colon splits the field");
    }

    #[test]
    fn localhost_matches_a_socket() {
        let socket = Target { host: "/run/postgresql".into(), socket: true, ..target() };
        assert_eq!(find("localhost:5432:ledger:issuer:local\n", &socket).as_deref(), Some("local"));
        assert_eq!(find("/run/postgresql:5432:ledger:issuer:dir\n", &socket).as_deref(), Some("dir"));
        assert_eq!(find("localhost:5432:ledger:issuer:local\n", &target()), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:secret-password\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = lookup(&file, &target()).unwrap_err();
        assert!(e.contains("mode 0644") && e.contains("chmod 600") && !e.contains("secret-password"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&file, &target()).unwrap().as_deref().map(String::as_str), Some("secret-password"));
        let e = lookup(dir.path(), &target()).unwrap_err();
        assert!(e.contains("not a file"), "{e}");
        // A file too big to be one is refused, not read in part.
        let mut big = "#".repeat(MAX_SECRET_FILE);
        big.push_str("\n*:*:*:*:beyond\n");
        std::fs::write(&file, big).unwrap();
        let e = lookup(&file, &target()).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
    }
}
