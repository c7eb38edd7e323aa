//! Where the passphrase comes from: a file, the environment, or a no-echo
//! prompt on the terminal; never the command line itself.

use std::io::IsTerminal;
use std::path::Path;

use license_common::input;
use license_common::signing::Passphrase;

use crate::args::PassphraseArgs;
use crate::error::Error;

/// The environment variable holding the passphrase.
pub const PASSPHRASE_ENV: &str = "ISSUER_PASSPHRASE";

/// The passphrase from `file` or `env`, in that order; `None` when neither
/// is given (the caller may then prompt).
pub fn passphrase_from(file: Option<&Path>, env: Option<String>) -> Result<Option<Passphrase>, Error> {
    if let Some(file) = file {
        let text = input::read_text(file, license_issuer::keyfile::MAX_KEY_FILE)?;
        return Ok(Some(Passphrase::new(text)?));
    }
    match env {
        Some(text) => Ok(Some(Passphrase::new(text)?)),
        None => Ok(None),
    }
}

/// `--passphrase-file`, else `ISSUER_PASSPHRASE`, else a prompt (twice when
/// `confirm`) when standard input is a terminal.
pub fn get_passphrase(args: &PassphraseArgs, confirm: bool) -> Result<Passphrase, Error> {
    let env = std::env::var(PASSPHRASE_ENV).ok();
    if let Some(p) = passphrase_from(args.passphrase_file.as_deref(), env)? {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NoPassphrase);
    }
    let ask = |prompt: &str| rpassword::prompt_password(prompt).map_err(|source| Error::Prompt { source });
    let first = zeroize::Zeroizing::new(ask("Passphrase: ")?);
    if confirm {
        let second = zeroize::Zeroizing::new(ask("Passphrase again: ")?);
        if *first != *second {
            return Err(Error::PassphraseMismatch);
        }
    }
    Ok(Passphrase::new(first.to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
