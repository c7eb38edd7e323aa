//! `activator`: the thin command line over the `license-activator` library.

mod cli;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use license_activator::location::{self, LicenseSource};
use license_activator::{Activator, ActivatorError, Timestamp};
use license_common::envelope::MAX_INPUT_LEN;
use license_common::exit::{self, ExitClass, Explain};
use license_common::input;
use license_common::keys::PublicKey;
use license_common::text::escape;
use serde_json::json;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            if let Err(e) = std::io::stdout().lock().write_all(out.as_bytes())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                eprintln!("error: cannot write to standard output: {e}");
                return ExitCode::from(ExitClass::Io.code());
            }
            ExitCode::SUCCESS
        }
        Err(Failure { error, stdout }) => {
            if let Some(stdout) = stdout {
                let _ = std::io::stdout().lock().write_all(stdout.as_bytes());
            }
            eprint!("{}", exit::render(error.as_ref()));
            ExitCode::from(error.class().code())
        }
    }
}

struct Failure {
    error: Box<dyn Explain>,
    stdout: Option<String>,
}

impl<E: Explain + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            error: Box::new(e),
            stdout: None,
        }
    }
}

fn state_dir(explicit: Option<PathBuf>) -> Result<PathBuf, ActivatorError> {
    location::state_dir(explicit).ok_or_else(|| {
        ActivatorError::InvalidArgument("no state directory: pass --state DIR or set ACTIVATOR_STATE".into())
    })
}

fn to_json(value: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("JSON output serialises");
    s.push('\n');
    s
}

fn run(cli: Cli) -> Result<String, Failure> {
    let now = Timestamp::now();
    match cli.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "activator", &mut buf);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        Command::Init { product, trust, json } => {
            let dir = state_dir(cli.state)?;
            let keys = trust
                .iter()
                .map(|p| read_public_key(p))
                .collect::<Result<Vec<_>, _>>()?;
            let activator = Activator::init(&dir, &product, &keys)?;
            let kids: Vec<String> = activator
                .keyring()
                .keys()
                .iter()
                .map(|k| k.key.kid().to_string())
                .collect();
            if json {
                return Ok(to_json(
                    &json!({"state": dir, "product": activator.product(), "trusted_keys": kids, "edition": "community"}),
                ));
            }
            Ok(format!(
                "initialised {} for product {} (community edition), trusting key {}\n",
                dir.display(),
                escape(activator.product()),
                kids.join(", ")
            ))
        }
        Command::Activate { file, json } => {
            let dir = state_dir(cli.state)?;
            let source = location::license_source(
                file,
                std::env::var(location::LICENSE_ENV).ok(),
                std::env::var(location::LICENSE_FILE_ENV).ok(),
            )?;
            let text = match source {
                LicenseSource::File(path) => input::read_text(&path, 2 * MAX_INPUT_LEN)?,
                LicenseSource::Text(text) => text,
            };
            let mut activator = Activator::open(&dir)?;
            let done = activator.activate(&text, now)?;
            if json {
                return Ok(to_json(&json!({
                    "activated": !done.already_active,
                    "already_active": done.already_active,
                    "replaced": done.replaced,
                    "status": activator.status(now),
                })));
            }
            let mut out = done.to_string();
            out.push_str(&activator.status(now).to_string());
            Ok(out)
        }
        Command::Status { json } => {
            let activator = Activator::open(&state_dir(cli.state)?)?;
            let status = activator.status(now);
            Ok(if json { to_json(&status) } else { status.to_string() })
        }
        Command::Check { feature, tier, json } => {
            let activator = Activator::open(&state_dir(cli.state)?)?;
            match activator.check(&feature, tier.as_deref(), now) {
                Ok(grant) => {
                    if json {
                        return Ok(to_json(&json!({
                            "feature": grant.feature, "entitled": true, "tier": grant.tier,
                            "limits": grant.limits, "until": grant.until,
                        })));
                    }
                    Ok(grant.to_string())
                }
                Err(denied) => {
                    let stdout = json.then(|| {
                        to_json(&json!({
                            "feature": feature, "entitled": false, "reason": denied.to_string(), "hint": denied.hint(),
                        }))
                    });
                    Err(Failure {
                        error: Box::new(denied),
                        stdout,
                    })
                }
            }
        }
    }
}

fn read_public_key(path: &Path) -> Result<PublicKey, Failure> {
    let text = input::read_text(path, 64 * 1024)?;
    Ok(PublicKey::from_pem(&text)?)
}
