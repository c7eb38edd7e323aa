//! Where `activator` reads what it is given: the license (a file, standard
//! input or the environment) and the secret key (a file, a no-echo prompt or
//! standard input; never the command line).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use license_activator::credentials::{Credentials, SecretKey};
use license_common::input;

use crate::args::CredentialArgs;
use crate::error::Error;

/// Environment variable holding the license text itself.
pub const LICENSE_ENV: &str = "ACTIVATOR_LICENSE";
/// Environment variable naming a file that holds the license.
pub const LICENSE_FILE_ENV: &str = "ACTIVATOR_LICENSE_FILE";

/// Where `activate` reads the license from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LicenseSource {
    /// A file path, or `-` for standard input.
    File(PathBuf),
    /// The text of `ACTIVATOR_LICENSE`.
    Text(String),
}

/// Picks the license source: a FILE argument, `ACTIVATOR_LICENSE` or
/// `ACTIVATOR_LICENSE_FILE`. Exactly one must be given.
pub fn license_source(
    file: Option<PathBuf>,
    env_text: Option<String>,
    env_file: Option<String>,
) -> Result<LicenseSource, Error> {
    let env_text = env_text.filter(|v| !v.is_empty());
    let env_file = env_file.filter(|v| !v.is_empty());
    let given: Vec<&str> = [
        file.as_ref().map(|_| "a FILE argument"),
        env_text.as_ref().map(|_| LICENSE_ENV),
        env_file.as_ref().map(|_| LICENSE_FILE_ENV),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        return Err(Error::LicenseSources { sources: given.join(" and ") });
    }
    match (file, env_text, env_file) {
        (Some(f), _, _) => Ok(LicenseSource::File(f)),
        (_, Some(t), _) => Ok(LicenseSource::Text(t)),
        (_, _, Some(f)) => Ok(LicenseSource::File(PathBuf::from(f))),
        _ => Err(Error::NoLicenseSource),
    }
}

/// The access key pair from `--ak` and a secret read from `--sk-file`, a
/// no-echo prompt, or standard input; never from the command line.
pub fn read_credentials(args: &CredentialArgs, stdin_taken: bool) -> Result<Option<Credentials>, Error> {
    let Some(ak) = &args.ak else { return Ok(None) };
    let secret = match &args.sk_file {
        Some(path) if path == Path::new("-") && stdin_taken => return Err(Error::StdinTwice),
        Some(path) => zeroize::Zeroizing::new(input::read_text(path, 4096)?),
        None if std::io::stdin().is_terminal() => zeroize::Zeroizing::new(
            rpassword::prompt_password("Secret key (SK): ").map_err(|source| Error::Prompt { source })?,
        ),
        None if stdin_taken => return Err(Error::NoSecretSource),
        None => zeroize::Zeroizing::new(input::read_text(Path::new("-"), 4096)?),
    };
    let secret = SecretKey::new(secret.to_string())?;
    Ok(Some(Credentials::new(ak, secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_license_source() {
        let f = || Some(PathBuf::from("lic.txt"));
        assert_eq!(license_source(f(), None, None).unwrap(), LicenseSource::File("lic.txt".into()));
        assert_eq!(license_source(None, Some("lic1.x".into()), None).unwrap(), LicenseSource::Text("lic1.x".into()));
        assert_eq!(
            license_source(None, None, Some("/run/secrets/l".into())).unwrap(),
            LicenseSource::File("/run/secrets/l".into())
        );
        assert!(license_source(f(), Some("lic1.x".into()), None).is_err());
        assert!(license_source(None, Some("a".into()), Some("b".into())).is_err());
        assert!(license_source(None, None, None).is_err());
        assert!(license_source(None, Some(String::new()), None).is_err(), "an empty variable is not a source");
    }
}
