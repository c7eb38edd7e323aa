//! `activator`: the thin command line over the `license-activator` library.

mod cli;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use license_activator::credentials::{Credentials, CredentialsError, SecretKey};
use license_activator::history::HistoryTable;
use license_activator::location::{self, LicenseSource};
use license_activator::{Activator, ActivatorError, Setup, Timestamp};
use license_common::envelope::MAX_INPUT_LEN;
use license_common::exit::{self, ExitClass, Explain};
use license_common::input;
use license_common::keys::PublicKey;
use license_common::text::escape;
use serde_json::json;

use cli::{
    Cli, Command, CredentialArgs, CredentialsCommand, GatewayCommand, RevocationsCommand, TrustCommand, UsageCommand,
};
use license_common::armor;
use license_common::envelope::Kind;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = std::panic::catch_unwind(|| run(cli));
    let Ok(outcome) = outcome else {
        eprintln!("error: internal error (a bug in activator)\nhint: please report it with the command you ran");
        return ExitCode::from(ExitClass::Internal.code());
    };
    match outcome {
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
        Failure { error: Box::new(e), stdout: None }
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
        Command::Init { product, region, trust, json } => {
            let dir = state_dir(cli.state)?;
            let keys = trust.iter().map(|p| read_public_key(p)).collect::<Result<Vec<_>, _>>()?;
            if let Some(r) = &region
                && (r.trim().is_empty() || r.chars().any(char::is_control))
            {
                return Err(
                    ActivatorError::InvalidArgument("the region is empty or has control characters".into()).into()
                );
            }
            let mut activator = Activator::init(&dir, &product, &keys)?;
            if let Some(region) = &region {
                activator.set_region(region)?;
            }
            let kids: Vec<String> = activator.keyring().keys().iter().map(|k| k.key.kid().to_string()).collect();
            let install_id = activator.install_id()?;
            if json {
                return Ok(to_json(
                    &json!({"state": dir, "product": activator.product(), "trusted_keys": kids, "edition": "community", "install_id": install_id}),
                ));
            }
            Ok(format!(
                "initialised {} for product {} (community edition), trusting key {}\ninstall id {install_id}\n",
                dir.display(),
                escape(activator.product()),
                kids.join(", ")
            ))
        }
        Command::Request { out, qr } => {
            if let Some(path) = &out {
                check_out_free(path)?;
            }
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let _ = activator.observe_clock(now);
            let token = activator.request(now)?;
            let qr_text = if qr { qr_code(&token) } else { String::new() };
            match out {
                None => Ok(format!("{qr_text}{token}\n")),
                Some(path) => {
                    let id = activator.install_id()?;
                    let text = armor::armor(
                        Kind::ActivationRequest,
                        &token,
                        &[("Install", id.clone()), ("Product", activator.product().to_owned())],
                    );
                    write_output(&path, &text)?;
                    Ok(format!(
                        "wrote the activation request of install {id} to {}\nsend it to the vendor; the license that comes back is bound to this install\n",
                        path.display()
                    ))
                }
            }
        }
        Command::Receipt { out } => {
            check_out_free(&out)?;
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let _ = activator.observe_clock(now);
            let token = activator.receipt(now)?;
            write_output(&out, &armor::armor(Kind::ActivationReceipt, &token, &[]))?;
            Ok(format!("wrote the activation receipt to {}\n", out.display()))
        }
        Command::Usage(UsageCommand::Record { datakits, day }) => {
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let _ = activator.observe_clock(now);
            let day = day.unwrap_or_else(|| now.as_datetime().date_naive());
            let count = activator.record_usage(day, datakits)?;
            Ok(format!("{day}: {count} collectors\n"))
        }
        Command::Usage(UsageCommand::Report { from, to, out }) => {
            check_out_free(&out)?;
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let _ = activator.observe_clock(now);
            let token = activator.usage_report(from, to, now)?;
            let days = activator.usage(from, to).len();
            write_output(&out, &armor::armor(Kind::UsageReport, &token, &[]))?;
            Ok(format!("wrote the usage report for {from} to {to} ({days} days with a record) to {}\n", out.display()))
        }
        Command::Deactivate { out } => {
            // The receipt cannot be made twice: refuse a taken path before releasing anything.
            check_out_free(&out)?;
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let token = activator.deactivate(now)?;
            write_output(&out, &armor::armor(Kind::DeactivationReceipt, &token, &[]))?;
            Ok(format!(
                "released the license; this install runs the community edition\nwrote the deactivation receipt to {}; send it to the vendor\n",
                out.display()
            ))
        }
        Command::Trust(command) => {
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            match command {
                TrustCommand::Add { public, not_after, usage } => {
                    let key = read_public_key(&public)?;
                    activator.trust_add(key, not_after, usage)?;
                    let until = not_after.map(|t| format!(", for what it signed until {t}")).unwrap_or_default();
                    Ok(format!("trusting key {} to sign {}{until}\n", key.kid(), usage.as_str()))
                }
                TrustCommand::Remove { kid } => {
                    let kid: license_common::KeyId = kid.parse().map_err(|()| {
                        ActivatorError::InvalidArgument(format!(
                            "`{}` is not a key id (16 lowercase hex digits)",
                            escape(&kid)
                        ))
                    })?;
                    activator.trust_remove(kid)?;
                    let mut out = format!("no longer trusting key {kid}\n");
                    for problem in activator.status(now).warnings {
                        out.push_str(&format!("warning: {}\n", escape(&problem)));
                    }
                    Ok(out)
                }
                TrustCommand::List { json } => {
                    let keys: Vec<serde_json::Value> = activator
                        .keyring()
                        .keys()
                        .iter()
                        .map(|k| json!({"kid": k.key.kid(), "not_after": k.not_after, "use": k.usage}))
                        .collect();
                    if json {
                        return Ok(to_json(&keys));
                    }
                    Ok(activator
                        .keyring()
                        .keys()
                        .iter()
                        .map(|k| match k.not_after {
                            Some(t) => format!("{}  {}  signed until {t}\n", k.key.kid(), k.usage.as_str()),
                            None => format!("{}  {}\n", k.key.kid(), k.usage.as_str()),
                        })
                        .collect())
                }
            }
        }
        Command::Revocations(RevocationsCommand::Import { file }) => {
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let text = input::read_text(&file, 2 * MAX_INPUT_LEN)?;
            let done = activator.import_revocations(&text)?;
            let mut out = format!(
                "imported revocation list {} ({} revoked licenses, {} key retirements)\n",
                done.sequence, done.revoked, done.retired_keys
            );
            if let Some(id) = done.revokes_current {
                out.push_str(&format!(
                    "license {} in force is revoked: this install now runs the community edition\n",
                    escape(&id)
                ));
            }
            Ok(out)
        }
        Command::History { json } => {
            let activator = Activator::open(&state_dir(cli.state)?)?;
            let history = activator.history();
            Ok(if json { to_json(&history) } else { HistoryTable(history).to_string() })
        }
        Command::Activate { file, gateway, credentials, replace, json } => {
            let dir = state_dir(cli.state)?;
            let source = location::license_source(
                file,
                std::env::var(location::LICENSE_ENV).ok(),
                std::env::var(location::LICENSE_FILE_ENV).ok(),
            )?;
            let stdin_taken = source == LicenseSource::File(PathBuf::from("-"));
            let text = match source {
                LicenseSource::File(path) => input::read_text(&path, 2 * MAX_INPUT_LEN)?,
                LicenseSource::Text(text) => text,
            };
            let mut activator = Activator::open(&dir)?;
            let credentials = read_credentials(&credentials, stdin_taken)?;
            let setup = Setup { gateway: gateway.as_deref(), credentials, replace_account: replace };
            let done = activator.activate_with(&text, setup, now)?;
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
        Command::Gateway(command) => {
            let dir = state_dir(cli.state)?;
            match command {
                GatewayCommand::Set { url, json } => {
                    let mut activator = Activator::open(&dir)?;
                    let notes = activator.set_gateway(&url)?;
                    let stored = activator.gateway().expect("just set").as_str().to_owned();
                    if json {
                        return Ok(to_json(&json!({"gateway": stored, "notes": notes})));
                    }
                    let mut out = format!("stored gateway address {}\n", escape(&stored));
                    for note in notes {
                        out.push_str(&format!("note: {}\n", escape(&note)));
                    }
                    Ok(out)
                }
                GatewayCommand::Show { json } => {
                    let activator = Activator::open(&dir)?;
                    let stored = activator.gateway().ok_or(ActivatorError::NoGateway)?.as_str().to_owned();
                    Ok(if json { to_json(&json!({"gateway": stored})) } else { format!("{stored}\n") })
                }
                GatewayCommand::Render { token, json } => {
                    let activator = Activator::open(&dir)?;
                    let url = activator.render_gateway(&token)?;
                    Ok(if json { to_json(&json!({"url": url})) } else { format!("{url}\n") })
                }
            }
        }
        Command::Credentials(command) => {
            let dir = state_dir(cli.state)?;
            match command {
                CredentialsCommand::Set { credentials, json } => {
                    if credentials.ak.is_none() {
                        return Err(ActivatorError::InvalidArgument("--ak AK is required".into()).into());
                    }
                    let mut activator = Activator::open(&dir)?;
                    let credentials = read_credentials(&credentials, false)?.expect("--ak was given");
                    let masked = activator.set_credentials(credentials)?;
                    if json {
                        return Ok(to_json(&masked));
                    }
                    Ok(format!(
                        "stored access key {} with secret key {} (sealed)\n",
                        escape(&masked.access_key),
                        masked.secret_key
                    ))
                }
                CredentialsCommand::Show { json } => {
                    let activator = Activator::open(&dir)?;
                    let masked = activator.credentials();
                    if json {
                        return Ok(to_json(&json!({"credentials": masked})));
                    }
                    Ok(match masked {
                        Some(m) => {
                            format!("access key {}\nsecret key {} (sealed)\n", escape(&m.access_key), m.secret_key)
                        }
                        None => "no access key pair is set\n".to_owned(),
                    })
                }
            }
        }
        Command::Status { json } => {
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let _ = activator.observe_clock(now);
            let status = activator.status(now);
            Ok(if json { to_json(&status) } else { status.to_string() })
        }
        Command::Check { feature, tier, json } => {
            let mut activator = Activator::open(&state_dir(cli.state)?)?;
            let _ = activator.observe_clock(now);
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
                    Err(Failure { error: Box::new(denied), stdout })
                }
            }
        }
    }
}

/// The access key pair from `--ak` and a secret read from `--sk-file`, a
/// no-echo prompt, or standard input; never from the command line.
fn read_credentials(args: &CredentialArgs, stdin_taken: bool) -> Result<Option<Credentials>, Failure> {
    let Some(ak) = &args.ak else { return Ok(None) };
    let secret = match &args.sk_file {
        Some(path) if path == Path::new("-") && stdin_taken => {
            return Err(ActivatorError::InvalidArgument(
                "the license and the secret key cannot both come from standard input".into(),
            )
            .into());
        }
        Some(path) => zeroize::Zeroizing::new(input::read_text(path, 4096)?),
        None if std::io::stdin().is_terminal() => {
            zeroize::Zeroizing::new(rpassword::prompt_password("Secret key (SK): ").map_err(|e| {
                ActivatorError::Io { action: "read the secret key from", path: "/dev/tty".into(), source: e }
            })?)
        }
        None if stdin_taken => return Err(CredentialsError::NoSecretSource.into()),
        None => zeroize::Zeroizing::new(input::read_text(Path::new("-"), 4096)?),
    };
    let secret = SecretKey::new(secret.to_string())?;
    Ok(Some(Credentials::new(ak, secret)?))
}

/// The token as a QR code drawn with Unicode half blocks, or a line saying
/// why it is not drawn (it does not fit the terminal, `$COLUMNS` or 80).
fn qr_code(token: &str) -> String {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(80);
    match qrcode::QrCode::with_error_correction_level(token.as_bytes(), qrcode::EcLevel::L) {
        Ok(code) if code.width() + 8 <= columns => {
            let drawing = code
                .render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .build();
            format!("{drawing}\n")
        }
        Ok(code) => format!(
            "note: the QR code needs {} terminal columns and this terminal has {columns}; widen it (or set COLUMNS) or carry the file instead\n",
            code.width() + 8
        ),
        Err(_) => "note: the request is too long for a QR code; carry the file instead\n".to_owned(),
    }
}

/// Refuses an output path that already exists, before anything changes.
fn check_out_free(path: &Path) -> Result<(), ActivatorError> {
    if path.exists() {
        return Err(ActivatorError::Io {
            action: "create (it already exists)",
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    Ok(())
}

/// Writes a file the operator carries to the vendor: never over an existing one.
fn write_output(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
        let action =
            if e.kind() == std::io::ErrorKind::AlreadyExists { "create (it already exists)" } else { "create" };
        ActivatorError::Io { action, path: path.to_path_buf(), source: e }
    })?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| ActivatorError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(())
}

fn read_public_key(path: &Path) -> Result<PublicKey, Failure> {
    let text = input::read_text(path, 64 * 1024)?;
    Ok(PublicKey::from_pem(&text)?)
}
