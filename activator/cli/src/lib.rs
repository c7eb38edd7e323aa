//! The `activator` command line: clap arguments in, one library call,
//! output out. Everything it decides is decided by `license-activator`;
//! what is here is parsing ([`args`]), where inputs come from (files, the
//! environment, a no-echo prompt), printing, and the hints that name this
//! tool's flags ([`error`]).
//!
//! ```
//! use clap::Parser;
//! let cli = activator_cli::args::Cli::try_parse_from(["activator", "status", "--json"]).unwrap();
//! assert!(cli.json);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod args;
mod commands;
pub mod error;
mod serve;
mod sources;

pub use error::Error;

/// Runs `activator` with the process's arguments and returns its exit status.
pub fn main() -> std::process::ExitCode {
    license_cli::main("activator", |cli: args::Cli, _json| commands::run(cli))
}
