//! Each command: read its inputs, call the library, say what happened.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use license_activator::history::{HistoryEntry, HistoryTable};
use license_activator::{Activation, Activator, CheckOutcome, Init, Setup, Status, Timestamp};
use license_cli::{Failure, Output};
use license_common::armor;
use license_common::envelope::{Kind, MAX_INPUT_LEN};
use license_common::fsio;
use license_common::input;
use license_common::keys::PublicKey;
use license_common::text::escape;
use serde::Serialize;

use crate::args::{
    Cli, Command, CredentialsCommand, GatewayCommand, RevocationsCommand, TimeCommand, TrustCommand, UsageCommand,
};
use crate::error::Error;
use crate::sources::{self, LicenseSource};

/// The result of a command.
pub type Outcome = Result<Output, Failure<Error>>;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Outcome {
    let now = Timestamp::now();
    match cli.command {
        Command::Check { feature, tier } => {
            let mut activator = Activator::open(&state_dir(cli.state)?).map_err(Error::from)?;
            activator.observe_clock(now).map_err(Error::from)?;
            match activator.check(&feature, tier.as_deref(), now) {
                Ok(grant) => Ok(Output::new(&CheckOutcome::granted(&grant), grant.to_string())),
                Err(denied) => {
                    let output = Output::new(&CheckOutcome::denied(&feature), String::new());
                    Err(Failure::with_output(Error::Denied(denied), output))
                }
            }
        }
        command => run_command(command, cli.state, now).map_err(Failure::from),
    }
}

/// The state directory: `--state`, else the library's default location.
fn state_dir(explicit: Option<PathBuf>) -> Result<PathBuf, Error> {
    license_activator::location::state_dir(explicit).ok_or(Error::NoStateDir)
}

/// Opens the state directory.
fn open(state: Option<PathBuf>) -> Result<Activator, Error> {
    Ok(Activator::open(&state_dir(state)?)?)
}

/// Records the time once a command has done its work (a failure to record
/// is an error, never swallowed; a refused command writes nothing).
fn observed(activator: &mut Activator, now: Timestamp, output: Output) -> Result<Output, Error> {
    activator.observe_clock(now)?;
    Ok(output)
}

fn run_command(command: Command, state: Option<PathBuf>, now: Timestamp) -> Result<Output, Error> {
    match command {
        Command::Serve(args) => crate::serve::run(args, state, now),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "activator", &mut buf);
            let script = String::from_utf8_lossy(&buf).into_owned();
            Ok(Output::new(&Completions { format: 1, shell: shell.to_string(), script: script.clone() }, script))
        }
        Command::Init { product, region, trust, no_free_edition } => {
            let dir = state_dir(state)?;
            let keys = trust.iter().map(|p| read_public_key(p)).collect::<Result<Vec<_>, _>>()?;
            let init =
                Init { product: &product, keys: &keys, region: region.as_deref(), free_edition: !no_free_edition };
            let (_, done) = Activator::init(&dir, &init)?;
            let kids: Vec<String> = done.trusted_keys.iter().map(ToString::to_string).collect();
            let edition =
                if no_free_edition { "no license yet: this product has no free edition" } else { "community edition" };
            let text = format!(
                "initialised {} for product {} ({edition}), trusting key {}\ninstall id {}\n",
                dir.display(),
                escape(&done.product),
                kids.join(", "),
                done.install_id
            );
            Ok(Output::new(&done, text))
        }
        Command::Activate { file, gateway, credentials, replace } => {
            let dir = state_dir(state)?;
            let source = sources::license_source(
                file,
                std::env::var(sources::LICENSE_ENV).ok(),
                std::env::var(sources::LICENSE_FILE_ENV).ok(),
            )?;
            let stdin_taken = source == LicenseSource::File(PathBuf::from("-"));
            let text = match source {
                LicenseSource::File(path) => input::read_text(&path, 2 * MAX_INPUT_LEN)?,
                LicenseSource::Text(text) => text,
            };
            let mut activator = Activator::open(&dir)?;
            let credentials = sources::read_credentials(&credentials, stdin_taken)?;
            let setup = Setup { gateway: gateway.as_deref(), credentials, replace_account: replace };
            let done = activator.activate_with(&text, setup, now)?;
            let status = activator.status(now);
            let text = format!("{done}{status}");
            Ok(Output::new(&Activated { activation: &done, status: &status }, text))
        }
        Command::Request { out, qr } => {
            let output = out.as_ref().map(|p| checked(p)).transpose()?;
            let mut activator = open(state)?;
            let token = activator.request(now)?;
            let install_id = activator.install_id()?;
            let value =
                Written { format: 1, install_id: &install_id, license_id: None, token: &token, out: out.as_deref() };
            let qr_text = if qr { qr_code(&token) } else { String::new() };
            let printed = match output {
                None => Output::new(&value, format!("{qr_text}{token}\n")),
                Some(output) => {
                    let text = armor::armor(
                        Kind::ActivationRequest,
                        &token,
                        &[("Install", install_id.clone()), ("Product", activator.product().to_owned())],
                    );
                    output.write(text.as_bytes())?;
                    let said = format!(
                        "{qr_text}wrote the activation request of install {install_id} to {}\nsend it to the vendor; the license that comes back is bound to this install\n",
                        output.path().display()
                    );
                    Output::new(&value, said)
                }
            };
            observed(&mut activator, now, printed)
        }
        Command::Receipt { out } => {
            let output = checked(&out)?;
            let mut activator = open(state)?;
            let token = activator.receipt(now)?;
            output.write(armor::armor(Kind::ActivationReceipt, &token, &[]).as_bytes())?;
            let install_id = activator.install_id()?;
            let license_id = activator.current().map(|c| c.license.id.clone());
            let value = Written { format: 1, install_id: &install_id, license_id, token: &token, out: Some(&out) };
            let printed = Output::new(&value, format!("wrote the activation receipt to {}\n", out.display()));
            observed(&mut activator, now, printed)
        }
        Command::Usage(UsageCommand::Record { count, day }) => {
            let mut activator = open(state)?;
            let terms = activator.usage_terms().cloned();
            let day = day.unwrap_or_else(|| activator.usage_day(now));
            let collectors = activator.record_usage(day, count, now)?;
            let units = terms.as_ref().map_or("units", |t| t.units.as_str()).to_owned();
            let meter = terms.map(|t| t.meter);
            let text = format!("{day}: {collectors} {}\n", escape(&units));
            let printed = Output::new(&Recorded { format: 1, day, collectors, meter, units }, text);
            observed(&mut activator, now, printed)
        }
        Command::Usage(UsageCommand::Report { from, to, out }) => {
            let output = checked(&out)?;
            let mut activator = open(state)?;
            let token = activator.usage_report(from, to, now)?;
            let days = activator.usage(from, to)?.len();
            output.write(armor::armor(Kind::UsageReport, &token, &[]).as_bytes())?;
            let text =
                format!("wrote the usage report for {from} to {to} ({days} days with a record) to {}\n", out.display());
            observed(
                &mut activator,
                now,
                Output::new(&Reported { format: 1, from, to, days_with_a_record: days, out }, text),
            )
        }
        Command::Deactivate { out } => {
            // The receipt cannot be made twice: refuse a taken path before releasing anything.
            let output = checked(&out)?;
            let mut activator = Activator::open(&state_dir(state)?)?;
            let released = activator.deactivate(now)?;
            output.write(armor::armor(Kind::DeactivationReceipt, &released.receipt, &[]).as_bytes())?;
            let text = if released.now {
                format!(
                    "released license {}; {}\nwrote the deactivation receipt to {}; send it to the vendor (it is kept: run this again to write it once more)\n",
                    escape(&released.license_id),
                    activator.without_license(),
                    out.display()
                )
            } else {
                format!(
                    "no license is in force: license {} was released on {}\nwrote its deactivation receipt again to {}\n",
                    escape(&released.license_id),
                    released.released_at,
                    out.display()
                )
            };
            let value = Deactivated { format: 1, license_id: released.license_id, again: !released.now, out };
            Ok(Output::new(&value, text))
        }
        Command::Trust(command) => {
            let mut activator = Activator::open(&state_dir(state)?)?;
            match command {
                TrustCommand::Add { public, not_after, usage, yes } => {
                    let key = read_public_key(&public)?;
                    let what = match usage {
                        license_common::keys::KeyUse::All => "licenses, revocation lists and time attestations",
                        license_common::keys::KeyUse::Licenses => "licenses and time attestations",
                        license_common::keys::KeyUse::Revocations => "revocation lists",
                    };
                    let until = not_after.map(|t| format!(", for what it signed until {t}")).unwrap_or_default();
                    let explained = format!(
                        "key {}\nfingerprint (SHA-256 of its SPKI DER) {}\nTrusting it means: whatever it signs — {what}{until} — this install accepts as the vendor's word, and a license it signs can turn commercial features on. Compare the fingerprint with the one the vendor published before you trust it.\n",
                        key.kid(),
                        key.fingerprint()
                    );
                    confirm_trust(&explained, key.kid(), yes)?;
                    activator.trust_add(key, not_after, usage)?;
                    let text = format!("{explained}trusting key {} to sign {}{until}\n", key.kid(), usage.as_str());
                    let value = Trusted { format: 1, kid: key.kid(), fingerprint: key.fingerprint(), usage, not_after };
                    Ok(Output::new(&value, text))
                }
                TrustCommand::Remove { kid } => {
                    let kid: license_common::KeyId =
                        kid.parse().map_err(|()| Error::NotAKeyId { text: kid.clone() })?;
                    activator.trust_remove(kid)?;
                    let warnings = activator.status(now).warnings;
                    let mut text = format!("no longer trusting key {kid}\n");
                    for problem in &warnings {
                        text.push_str(&format!("warning: {}\n", escape(problem)));
                    }
                    Ok(Output::new(&Untrusted { format: 1, kid, warnings }, text))
                }
                TrustCommand::List => {
                    let keys = activator.trusted_keys();
                    Ok(Output::new(&keys, keys.to_string()))
                }
            }
        }
        Command::Revocations(RevocationsCommand::Import { file }) => {
            let mut activator = Activator::open(&state_dir(state)?)?;
            let text = input::read_text(&file, 2 * MAX_INPUT_LEN)?;
            let done = activator.import_revocations(&text, now)?;
            let mut said = format!(
                "imported revocation list {} ({} revoked licenses, {} chain floors, {} key retirements, {} distrusted keys)\n",
                done.sequence, done.revoked, done.floors, done.retired_keys, done.distrusted_keys
            );
            if let Some(id) = &done.revokes_current {
                said.push_str(&format!(
                    "license {} in force is revoked: {}\n",
                    escape(id),
                    activator.without_license()
                ));
            }
            Ok(Output::new(&done, said))
        }
        Command::Time(TimeCommand::Import { file }) => {
            let mut activator = Activator::open(&state_dir(state)?)?;
            let text = input::read_text(&file, 2 * MAX_INPUT_LEN)?;
            let mark = activator.import_time(&text)?;
            let mut said = format!("the vendor attests the time {mark}; this install's clock mark is now {mark}\n");
            if activator.clock_set_back(now).is_some() {
                said.push_str(&format!(
                    "warning: this machine's clock reads {now}, still earlier than that: set it right (UTC)\n"
                ));
            }
            Ok(Output::new(&Attested { format: 1, mark }, said))
        }
        Command::History => {
            let activator = Activator::open(&state_dir(state)?)?;
            let history = activator.history();
            Ok(Output::new(&History { format: 1, history }, HistoryTable(history).to_string()))
        }
        Command::Gateway(command) => {
            let dir = state_dir(state)?;
            match command {
                GatewayCommand::Set { url } => {
                    let mut activator = Activator::open(&dir)?;
                    let notes = activator.set_gateway(&url)?;
                    let stored = activator.gateway().map(|g| g.as_str().to_owned()).unwrap_or_default();
                    let mut text = format!("stored gateway address {}\n", escape(&stored));
                    for note in &notes {
                        text.push_str(&format!("note: {}\n", escape(note)));
                    }
                    Ok(Output::new(&Gateway { format: 1, gateway: &stored, notes: Some(&notes) }, text))
                }
                GatewayCommand::Show => {
                    let activator = Activator::open(&dir)?;
                    let stored =
                        activator.gateway().ok_or(license_activator::ActivatorError::NoGateway)?.as_str().to_owned();
                    Ok(Output::new(&Gateway { format: 1, gateway: &stored, notes: None }, format!("{stored}\n")))
                }
                GatewayCommand::Render { token } => {
                    let activator = Activator::open(&dir)?;
                    let url = activator.render_gateway(&token)?;
                    Ok(Output::new(&Rendered { format: 1, url: &url }, format!("{url}\n")))
                }
            }
        }
        Command::Credentials(command) => {
            let dir = state_dir(state)?;
            match command {
                CredentialsCommand::Set { credentials } => {
                    let mut activator = Activator::open(&dir)?;
                    let credentials =
                        sources::read_credentials(&credentials, false)?.ok_or(Error::AccessKeyRequired)?;
                    let masked = activator.set_credentials(credentials)?;
                    let text = format!(
                        "stored access key {} with secret key {} (sealed)\n",
                        escape(&masked.access_key),
                        masked.secret_key
                    );
                    Ok(Output::new(&Masked { format: 1, credentials: Some(&masked) }, text))
                }
                CredentialsCommand::Show => {
                    let activator = Activator::open(&dir)?;
                    let masked = activator.credentials();
                    let text = match &masked {
                        Some(m) => {
                            format!("access key {}\nsecret key {} (sealed)\n", escape(&m.access_key), m.secret_key)
                        }
                        None => "no access key pair is set\n".to_owned(),
                    };
                    Ok(Output::new(&Masked { format: 1, credentials: masked.as_ref() }, text))
                }
            }
        }
        Command::Status => {
            let mut activator = Activator::open(&state_dir(state)?)?;
            let status = activator.report(now);
            Ok(Output::new(&status, status.to_string()))
        }
        // `run` answers checks itself, keeping what they print with a denial.
        Command::Check { feature, tier } => {
            let mut activator = open(state)?;
            activator.observe_clock(now)?;
            let grant = activator.check(&feature, tier.as_deref(), now)?;
            Ok(Output::new(&CheckOutcome::granted(&grant), grant.to_string()))
        }
    }
}

/// `activator activate --json` (format 1): the [`Activation`] fields, and
/// `"status"`, the [`Status`] after it.
#[derive(Serialize)]
struct Activated<'a> {
    #[serde(flatten)]
    activation: &'a Activation,
    status: &'a Status,
}

/// `activator request`, `receipt --json` (format 1): `{"format": 1,
/// "install_id": "...", "license_id": "..." | null, "token": "req1.…",
/// "out": "PATH" | null}`; `license_id` is the receipt's license.
#[derive(Serialize)]
struct Written<'a> {
    format: u32,
    install_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_id: Option<String>,
    token: &'a str,
    out: Option<&'a Path>,
}

/// `activator usage record --json` (format 1): `{"format": 1, "day":
/// "YYYY-MM-DD", "collectors": N, "meter": "datakit" | null, "units":
/// "DataKits"}`: the day's largest count so far (`collectors` is the count
/// of whatever the license meters), and the meter's words.
#[derive(Serialize)]
struct Recorded {
    format: u32,
    day: chrono::NaiveDate,
    collectors: u64,
    meter: Option<String>,
    units: String,
}

/// `activator usage report --json` (format 1): `{"format": 1, "from",
/// "to", "days_with_a_record": N, "out": "PATH"}`.
#[derive(Serialize)]
struct Reported {
    format: u32,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    days_with_a_record: usize,
    out: PathBuf,
}

/// `activator deactivate --json` (format 1): `{"format": 1, "license_id":
/// "...", "again": false, "out": "PATH"}`; `again` is true when no license
/// was in force and the kept receipt of the last one released was written.
#[derive(Serialize)]
struct Deactivated {
    format: u32,
    license_id: String,
    again: bool,
    out: PathBuf,
}

/// `activator time import --json` (format 1): `{"format": 1, "mark": "TIME"}`.
#[derive(Serialize)]
struct Attested {
    format: u32,
    mark: Timestamp,
}

/// `activator trust add --json` (format 1): `{"format": 1, "kid": "...",
/// "fingerprint": "ab:cd:…", "use": "all", "not_after": "TIME" | null}`.
#[derive(Serialize)]
struct Trusted {
    format: u32,
    kid: license_common::KeyId,
    fingerprint: String,
    #[serde(rename = "use")]
    usage: license_common::keys::KeyUse,
    not_after: Option<Timestamp>,
}

/// `activator trust remove --json` (format 1): `{"format": 1, "kid": "...",
/// "warnings": ["..."]}`; the warnings say when the license in force is no
/// longer accepted.
#[derive(Serialize)]
struct Untrusted {
    format: u32,
    kid: license_common::KeyId,
    warnings: Vec<String>,
}

/// `activator history --json` (format 1): `{"format": 1, "history":
/// [HistoryEntry, …]}`, oldest first.
#[derive(Serialize)]
struct History<'a> {
    format: u32,
    history: &'a [HistoryEntry],
}

/// `activator gateway set` and `show --json` (format 1): `{"format": 1,
/// "gateway": "https://…?token={}", "notes": ["..."]}` (`notes` for `set`).
#[derive(Serialize)]
struct Gateway<'a> {
    format: u32,
    gateway: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a [String]>,
}

/// `activator gateway render --json` (format 1): `{"format": 1, "url": "..."}`.
#[derive(Serialize)]
struct Rendered<'a> {
    format: u32,
    url: &'a str,
}

/// `activator credentials set` and `show --json` (format 1): `{"format": 1,
/// "credentials": {"access_key": "...", "secret_key": "****abcd"} | null}`.
#[derive(Serialize)]
struct Masked<'a> {
    format: u32,
    credentials: Option<&'a license_activator::credentials::MaskedCredentials>,
}

/// `activator completions SHELL --json` (format 1): `{"format": 1, "shell":
/// "bash", "script": "..."}`.
#[derive(Serialize)]
struct Completions {
    format: u32,
    shell: String,
    script: String,
}

/// An output file for the vendor, checked before anything changes: never
/// over an existing file.
fn checked(path: &Path) -> Result<fsio::Output, Error> {
    let output = fsio::Output::new(path, false);
    output.check()?;
    Ok(output)
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

/// Asks on the terminal before a key is trusted, after showing what it
/// means; `--yes` skips the question, and without a terminal it is needed.
fn confirm_trust(explained: &str, kid: license_common::KeyId, yes: bool) -> Result<(), Error> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        eprint!("{explained}");
        return Err(Error::ConfirmTrust { kid });
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{explained}Trust this key? Type yes to confirm: ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|source| Error::Prompt { source })?;
    if answer.trim() == "yes" { Ok(()) } else { Err(Error::TrustDeclined { kid }) }
}

fn read_public_key(path: &Path) -> Result<PublicKey, Error> {
    let text = input::read_text(path, 64 * 1024)?;
    Ok(PublicKey::from_pem(&text)?)
}
