//! Where the state directory is, when the caller does not say: the default
//! the `activator` command line uses, so that a launcher can agree with it.
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
