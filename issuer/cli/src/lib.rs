//! The `issuer` command line: clap arguments in, one library call, output
//! out. Everything it decides is decided by `license-issuer`; what is here
//! is parsing ([`args`]), prompting for the passphrase, printing, the demo,
//! and the hints that name this tool's flags ([`error`]).
//!
//! ```
//! use clap::Parser;
//! let cli = issuer_cli::args::Cli::try_parse_from(["issuer", "--json", "ledger", "list"]).unwrap();
//! assert!(cli.json);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod args;
mod commands;
mod demo;
pub mod error;
mod ledger_cmds;
mod passphrase;
mod serve;

pub use error::Error;

/// Runs `issuer` with the process's arguments and returns its exit status.
pub fn main() -> std::process::ExitCode {
    license_cli::main("issuer", |cli: args::Cli, _json| commands::run(cli))
}
