//! Where the passphrase comes from: a file, the environment, or a no-echo
//! prompt on the terminal; never the command line itself.

use std::io::IsTerminal;
use std::path::Path;

use license_common::input;
use license_common::keys::KeyError;
use license_common::signing::Passphrase;

use license_issuer::IssuerError;
use license_issuer::hsm::{HsmKey, Pkcs11Uri};
use license_issuer::keyfile::{self, SigningKey};

use crate::args::PassphraseArgs;
use crate::error::Error;

/// The environment variable holding the passphrase.
pub const PASSPHRASE_ENV: &str = "ISSUER_PASSPHRASE";

/// The environment variable holding a hardware module's user PIN.
pub const PIN_ENV: &str = "ISSUER_PKCS11_PIN";

/// The environment variable naming the PKCS#11 module when the URI does not.
pub const MODULE_ENV: &str = "ISSUER_PKCS11_MODULE";

/// Parses `--key pkcs11:…` (or `keygen --pkcs11`), taking the module from
/// `ISSUER_PKCS11_MODULE` when the URI names none.
pub fn pkcs11_uri(text: &str) -> Result<Pkcs11Uri, Error> {
    let mut uri = Pkcs11Uri::parse(text).map_err(IssuerError::from)?;
    if uri.module_path.is_none() {
        uri.module_path = std::env::var_os(MODULE_ENV).map(std::path::PathBuf::from);
    }
    Ok(uri)
}

/// The PIN of the token `uri` names: the URI's `pin-source` file, else
/// `--passphrase-file`, else `ISSUER_PKCS11_PIN`, else a prompt.
pub fn get_pin(uri: &Pkcs11Uri, args: &PassphraseArgs) -> Result<Passphrase, Error> {
    let file = uri.pin_file.as_deref().or(args.passphrase_file.as_deref());
    if let Some(p) = passphrase_from(file, std::env::var(PIN_ENV).ok())? {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NoPassphrase);
    }
    let pin = rpassword::prompt_password(format!("PIN for token `{}`: ", uri.token))
        .map_err(|source| Error::Prompt { source })?;
    Ok(Passphrase::new(pin)?)
}

/// Opens the signing key `--key` names: an encrypted key file with its
/// passphrase, or a `pkcs11:` URI with its token's PIN.
pub fn open_key(key: &Path, args: &PassphraseArgs) -> Result<SigningKey, Error> {
    match key.to_str().filter(|k| Pkcs11Uri::is_uri(k)) {
        Some(text) => {
            let uri = pkcs11_uri(text)?;
            let pin = get_pin(&uri, args)?;
            Ok(SigningKey::Hsm(HsmKey::open(&uri, pin.expose()).map_err(IssuerError::from)?))
        }
        None => {
            let passphrase = get_passphrase(args, false)?;
            match keyfile::read_key(key, &passphrase) {
                Err(IssuerError::Key(KeyError::WrongPassphrase)) => match marked_passphrase(args)? {
                    Some(marked) => Ok(SigningKey::File(keyfile::read_key(key, &marked)?)),
                    None => Err(IssuerError::Key(KeyError::WrongPassphrase).into()),
                },
                opened => Ok(SigningKey::File(opened?)),
            }
        }
    }
}

/// The passphrase file's whole text, byte-order mark included, when it
/// starts with one: a key made before marks were dropped from input files,
/// with such a file, is encrypted under it. `None` otherwise.
fn marked_passphrase(args: &PassphraseArgs) -> Result<Option<Passphrase>, Error> {
    let Some(file) = args.passphrase_file.as_deref() else { return Ok(None) };
    let text = zeroize::Zeroizing::new(input::read_text_as_is(file, license_issuer::keyfile::MAX_KEY_FILE)?);
    if !text.starts_with('\u{feff}') {
        return Ok(None);
    }
    Ok(Some(Passphrase::new(text.to_string())?))
}

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
