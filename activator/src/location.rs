//! Where the state directory is, when the caller does not say.
//!
//! In order: an explicit path (`--state`), the `ACTIVATOR_STATE` environment
//! variable, `$XDG_DATA_HOME/license-activator`, and
//! `$HOME/.local/share/license-activator`.

use std::path::PathBuf;

/// The environment variable naming the state directory.
pub const STATE_ENV: &str = "ACTIVATOR_STATE";

/// Resolves the state directory, or `None` when nothing names one.
pub fn state_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| non_empty_env(STATE_ENV).map(PathBuf::from))
        .or_else(|| non_empty_env("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("license-activator")))
        .or_else(|| non_empty_env("HOME").map(|h| PathBuf::from(h).join(".local/share/license-activator")))
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

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
) -> Result<LicenseSource, crate::ActivatorError> {
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
        return Err(crate::ActivatorError::InvalidArgument(format!(
            "the license is given more than once ({}); give exactly one source",
            given.join(" and ")
        )));
    }
    match (file, env_text, env_file) {
        (Some(f), _, _) => Ok(LicenseSource::File(f)),
        (_, Some(t), _) => Ok(LicenseSource::Text(t)),
        (_, _, Some(f)) => Ok(LicenseSource::File(PathBuf::from(f))),
        _ => Err(crate::ActivatorError::InvalidArgument(format!(
            "no license given: pass a FILE, `-` for standard input, or set {LICENSE_ENV} or {LICENSE_FILE_ENV}"
        ))),
    }
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
