//! Each command: read its inputs, call the library, say what happened.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use license_cli::{Failure, Output};
use license_common::catalog::Catalog;
use license_common::fsio;
use license_common::input;
use license_common::license::License;
use license_common::text::escape;
use license_common::time::Timestamp;
use license_issuer::ledger::{self, BatchOutput, Ledger};
use license_issuer::order::Order;
use license_issuer::upgrade::{self, CommunityUpgrade, RenewTerm, UpgradeRequest};
use license_issuer::{Issued, catalogs, keyfile};
use serde::Serialize;

use crate::args::{
    CatalogCommand, ChangeArgs, Cli, Command, ImportCommand, IssueArgs, RevocationsCommand, UpgradeArgs,
};
use crate::error::Error;
use crate::passphrase::get_passphrase;
use crate::{demo, ledger_cmds};

/// The result of a command.
pub type Outcome = Result<Output, Failure<Error>>;

/// The most bytes of a license, request or other envelope file.
const MAX_ENVELOPE_FILE: usize = 2 * license_common::envelope::MAX_INPUT_LEN;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Outcome {
    let now = Timestamp::now();
    match cli.command {
        Command::Ledger(command) => ledger_cmds::ledger(command, cli.ledger.as_deref(), now),
        command => run_command(command, cli.ledger, now).map_err(Failure::from),
    }
}

fn run_command(command: Command, ledger: Option<PathBuf>, now: Timestamp) -> Result<Output, Error> {
    match command {
        Command::Keygen { out: dir, pkcs11: Some(given), passphrase } => {
            let uri = crate::passphrase::pkcs11_uri(&given)?;
            let pin = crate::passphrase::get_pin(&uri, &passphrase)?;
            let files = keyfile::keygen_pkcs11(&dir, &uri, pin.expose())?;
            let text = format!(
                "made key {} inside token `{}` (it never leaves the module); wrote {}\nsign with --key '{}'\n",
                files.kid,
                uri.token,
                files.public.display(),
                given
            );
            Ok(Output::new(&files, text))
        }
        Command::Keygen { out: dir, pkcs11: None, passphrase } => {
            let passphrase = get_passphrase(&passphrase, true)?;
            let files = keyfile::keygen(&dir, &passphrase)?;
            let text = format!(
                "wrote {} (encrypted PKCS#8, mode 0600) and {}\nkey id {}\n",
                files.key.display(),
                files.public.display(),
                files.kid
            );
            Ok(Output::new(&files, text))
        }
        Command::Issue(args) => issue(*args, ledger.as_deref(), now),
        Command::Upgrade(args) => upgrade(*args, ledger.as_deref(), now),
        Command::Renew(args) => {
            let catalog = catalogs::load(&args.catalog)?;
            let current = read_current(&args.from, &keyfile::keys_for_current(&args.key, &args.trust)?)?;
            let term = match (args.until, args.months) {
                (Some(until), _) => RenewTerm::Until(until),
                (None, months) => RenewTerm::Months(months.unwrap_or_default()),
            };
            // Check the renewal before asking for the passphrase.
            let successor = upgrade::renew(&catalog, &current, term, args.account.as_deref(), now)?;
            let out = out_file(args.out.as_deref(), args.force)?;
            let key = crate::passphrase::open_key(&args.key, &args.passphrase)?;
            let issued = open_ledger(ledger.as_deref())?.sign_successor(&key, successor, false, now)?;
            issued_output(&issued, out)
        }
        Command::Quote(args) => {
            let catalog = catalogs::load(&args.catalog)?;
            let keys = args.public.iter().map(|p| keyfile::read_public(p)).collect::<Result<Vec<_>, _>>()?;
            let current = read_current(&args.from, &license_common::Keyring::from_keys(keys))?;
            let at = args.at.unwrap_or(now);
            let renewal = match (args.renew_months, args.renew_until) {
                (Some(months), _) => Some(RenewTerm::Months(months)),
                (None, Some(until)) => Some(RenewTerm::Until(until)),
                (None, None) => None,
            };
            let quote = match renewal {
                Some(term) => license_issuer::quote_renewal(&catalog, &current, term, at)?,
                None => license_issuer::quote_upgrade(&catalog, &current, &change_request(&args.change)?, at)?,
            };
            Ok(Output::new(&quote, quote.to_string()))
        }
        Command::Bill { account, catalog, from, to } => {
            let catalog = catalogs::load(&catalog)?;
            let bill = open_existing_ledger(ledger.as_deref())?.bill(&catalog, &account, from, to, now)?;
            Ok(Output::new(&bill, bill.to_string()))
        }
        Command::Catalog(CatalogCommand::Check { file }) => {
            let catalog = catalogs::load(&file)?;
            let summary = catalogs::Summary::of(&catalog);
            let text = format!(
                "{} is valid: product {}, {} editions ({}), {} packages, {} quotas\n",
                file.display(),
                catalog.product.id,
                catalog.editions.len(),
                summary.editions.join(" < "),
                catalog.packages.len(),
                catalog.quotas.len()
            );
            Ok(Output::new(&summary, text))
        }
        Command::Inspect { file, public } => {
            let text = input::read_text(&file, MAX_ENVELOPE_FILE)?;
            match public {
                Some(public) => {
                    let public = keyfile::read_public(&public)?;
                    let inspection = license_issuer::inspect(&text, public, now)?;
                    Ok(Output::new(&inspection, inspection.to_string()))
                }
                None => {
                    let file = license_issuer::inspect_install_file(&text)?;
                    Ok(Output::new(&file, file.to_string()))
                }
            }
        }
        Command::Revoke { license_id, reason } => {
            let mut l = open_existing_ledger(ledger.as_deref())?;
            let recorded = l.revoke(&license_id, &reason, now)?;
            let what = if recorded { "recorded" } else { "was already recorded" };
            let text = format!(
                "revocation of license {} {what} in {}; export a revocation list to send it\n",
                escape(&license_id),
                l.path().display()
            );
            let value = Revocation { format: 1, license_id, recorded, ledger: l.path().to_path_buf() };
            Ok(Output::new(&value, text))
        }
        Command::RetireKey { kid, not_after, reason } => {
            let kid: license_common::KeyId = kid.parse().map_err(|()| Error::NotAKeyId { text: kid.clone() })?;
            open_existing_ledger(ledger.as_deref())?.retire_key(kid, not_after, &reason)?;
            let text = format!("key {kid} retires at {not_after}; export a revocation list to send the notice\n");
            Ok(Output::new(&Retirement { format: 1, kid, not_after, reason }, text))
        }
        Command::AttestTime { bind, key, passphrase, out } => {
            let request = input::read_text(&bind, MAX_ENVELOPE_FILE)?;
            let output = out_file(out.as_deref(), false)?;
            let mut l = open_ledger(ledger.as_deref())?;
            let key = crate::passphrase::open_key(&key, &passphrase)?;
            let done = l.attest_time(&key, &request, now)?;
            let text = match &output {
                Some(output) => {
                    let armored = license_common::armor::armor(
                        license_common::Kind::TimeAttestation,
                        &done.token,
                        &[("Install", done.install_id.clone()), ("Time", done.time.to_string())],
                    );
                    output.write(armored.as_bytes())?;
                    format!(
                        "wrote the time attestation {} for install {} to {}\nthe install imports it with `activator time import`\n",
                        done.time,
                        done.install_id,
                        output.path().display()
                    )
                }
                None => format!("{}\n", done.token),
            };
            Ok(Output::new(&done, text))
        }
        Command::DistrustKey { kid, key, passphrase, reason, out_dir } => {
            distrust_key(&kid, &key, &passphrase, &reason, out_dir.as_deref(), ledger.as_deref(), now)
        }
        Command::Revocations(RevocationsCommand::Export { key, passphrase, out }) => {
            let mut l = open_ledger(ledger.as_deref())?;
            let output = fsio::Output::new(&out, false);
            output.check()?;
            let key = crate::passphrase::open_key(&key, &passphrase)?;
            let (list, token) = l.export_revocations(&key, now)?;
            let text = license_common::armor::armor(
                license_common::Kind::RevocationList,
                &token,
                &[("Sequence", list.sequence.to_string()), ("Revoked", list.revoked.len().to_string())],
            );
            output.write(text.as_bytes())?;
            let said = format!(
                "wrote revocation list {} ({} revoked, {} chain floors, {} key retirements, {} distrusted keys) to {}\n",
                list.sequence,
                list.revoked.len(),
                list.floors.len(),
                list.retired_keys.len(),
                list.distrusted_keys.len(),
                out.display()
            );
            let value = ListExported {
                format: 1,
                sequence: list.sequence,
                revoked: list.revoked.len(),
                floors: list.floors.len(),
                retired_keys: list.retired_keys.len(),
                distrusted_keys: list.distrusted_keys.len(),
                out,
            };
            Ok(Output::new(&value, said))
        }
        // `run` sends these to `ledger_cmds` itself, keeping what they print with a failure.
        Command::Ledger(command) => ledger_cmds::ledger(command, ledger.as_deref(), now).map_err(|f| f.error),
        Command::Receipts(ImportCommand::Import { files }) => {
            ledger_cmds::import(files, ledger_cmds::Import::Receipts, ledger.as_deref(), now)
        }
        Command::Usage(ImportCommand::Import { files }) => {
            ledger_cmds::import(files, ledger_cmds::Import::Usage, ledger.as_deref(), now)
        }
        Command::Deactivations(ImportCommand::Import { files }) => {
            ledger_cmds::import(files, ledger_cmds::Import::Deactivations, ledger.as_deref(), now)
        }
        Command::Serve(args) => crate::serve::run(*args, ledger.as_deref(), now),
        Command::Demo { dir } => {
            let dir = dir.unwrap_or_else(|| demo::default_dir(now));
            let transcript = demo::run(&dir, now)?;
            let value = DemoRun { format: 1, dir, transcript: transcript.clone() };
            Ok(Output::new(&value, transcript))
        }
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "issuer", &mut buf);
            let script = String::from_utf8_lossy(&buf).into_owned();
            Ok(Output::new(&Completions { format: 1, shell: shell.to_string(), script: script.clone() }, script))
        }
    }
}

/// `issuer revoke --json` (format 1): `{"format": 1, "license_id": "...",
/// "recorded": true, "ledger": "PATH"}`; `recorded` is false when the
/// revocation was already on record.
#[derive(Serialize)]
struct Revocation {
    format: u32,
    license_id: String,
    recorded: bool,
    ledger: PathBuf,
}

/// `issuer retire-key --json` (format 1): `{"format": 1, "kid": "...",
/// "not_after": "TIME", "reason": "..."}`.
#[derive(Serialize)]
struct Retirement {
    format: u32,
    kid: license_common::KeyId,
    not_after: Timestamp,
    reason: String,
}

/// `issuer revocations export --json` (format 1): `{"format": 1,
/// "sequence": N, "revoked": N, "floors": N, "retired_keys": N,
/// "distrusted_keys": N, "out": "PATH"}`.
#[derive(Serialize)]
struct ListExported {
    format: u32,
    sequence: u64,
    revoked: usize,
    floors: usize,
    retired_keys: usize,
    distrusted_keys: usize,
    out: PathBuf,
}

/// `issuer distrust-key --json` (format 1): `{"format": 1, "kid": "...",
/// "resigned": [Issued, …], "out_dir": "PATH" | null}`.
#[derive(Serialize)]
struct DistrustOutput<'a> {
    #[serde(flatten)]
    done: &'a license_issuer::ledger::Distrusted,
    out_dir: Option<&'a Path>,
}

fn distrust_key(
    kid: &str,
    key: &Path,
    passphrase: &crate::args::PassphraseArgs,
    reason: &str,
    out_dir: Option<&Path>,
    ledger: Option<&Path>,
    now: Timestamp,
) -> Result<Output, Error> {
    let kid: license_common::KeyId = kid.parse().map_err(|()| Error::NotAKeyId { text: kid.to_owned() })?;
    if let Some(dir) = out_dir
        && std::fs::symlink_metadata(dir).is_ok()
        && !dir.is_dir()
    {
        return Err(license_issuer::IssuerError::io("write into", dir)(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it is a file, not a directory",
        ))
        .into());
    }
    let mut l = open_existing_ledger(ledger)?;
    let key = crate::passphrase::open_key(key, passphrase)?;
    let done = l.distrust_key(kid, &key, reason, now)?;
    let mut text =
        format!("key {kid} is distrusted; {} license(s) signed again with key {}:\n", done.resigned.len(), key.kid());
    for issued in &done.resigned {
        let l = &issued.license;
        text.push_str(&format!(
            "  {} (account {}, sequence {}, replaces {})\n",
            l.id,
            escape(&l.account),
            l.sequence,
            l.supersedes.as_deref().unwrap_or("-")
        ));
    }
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).map_err(license_issuer::IssuerError::io("create", dir))?;
        for issued in &done.resigned {
            fsio::Output::new(dir.join(format!("{}.lic", issued.license.id)), false)
                .write(issued.armored().as_bytes())?;
        }
        text.push_str(&format!("wrote them to {}\n", dir.display()));
    }
    text.push_str("export a revocation list and send it with the new licenses to every install\n");
    Ok(Output::new(&DistrustOutput { done: &done, out_dir }, text))
}

/// `issuer demo --json` (format 1): `{"format": 1, "dir": "PATH",
/// "transcript": "..."}`, the transcript being what the text form prints.
#[derive(Serialize)]
struct DemoRun {
    format: u32,
    dir: PathBuf,
    transcript: String,
}

/// `issuer completions SHELL --json` (format 1): `{"format": 1, "shell":
/// "bash", "script": "..."}`.
#[derive(Serialize)]
struct Completions {
    format: u32,
    shell: String,
    script: String,
}

/// `issuer issue`, `upgrade` and `renew --json` (format 1): `{"format": 1,
/// "id": "...", "token": "lic1.…", "license": {every signed field},
/// "out": "PATH" | null}`; `out` is where the armored file was written.
#[derive(Serialize)]
struct IssuedOutput<'a> {
    format: u32,
    #[serde(flatten)]
    issued: &'a Issued,
    out: Option<&'a Path>,
}

/// Opens the ledger named by `--ledger`, `ISSUER_LEDGER` or the default.
/// Where the ledger is: `--ledger`, else `ISSUER_LEDGER`, else the default.
pub(crate) fn ledger_location(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    Ok(ledger::ledger_path(explicit.map(Path::to_path_buf)).ok_or_else(|| license_issuer::IssuerError::Ledger {
        path: PathBuf::from("(none)"),
        detail: "no ledger location: pass --ledger FILE or set ISSUER_LEDGER".into(),
    })?)
}

/// The ledger, made when it does not exist yet: for the commands that sign
/// or record something a new ledger can begin with.
pub(crate) fn open_ledger(explicit: Option<&Path>) -> Result<Ledger, Error> {
    Ok(Ledger::open(&ledger_location(explicit)?)?)
}

/// The ledger, which must exist: for the commands that read it or change
/// what it already holds, so that a mistyped path is refused rather than
/// audited, listed or billed as a new, empty ledger.
pub(crate) fn open_existing_ledger(explicit: Option<&Path>) -> Result<Ledger, Error> {
    Ok(Ledger::open_existing(&ledger_location(explicit)?)?)
}

fn read_current(path: &Path, trusted: &license_common::Keyring) -> Result<License, Error> {
    let text = input::read_text(path, MAX_ENVELOPE_FILE)?;
    Ok(license_issuer::read_current(&text, trusted)?)
}

fn change_request(change: &ChangeArgs) -> Result<UpgradeRequest, Error> {
    Ok(UpgradeRequest {
        edition: change.edition.clone(),
        plan: change.plan,
        packages: unique("package", &change.packages)?,
        quotas: unique("quota", &change.quotas)?,
        bind: None,
        account: None,
        engine: None,
    })
}

/// The `NAME=VALUE` pairs of a repeatable flag as a map, refusing a name
/// given twice: keeping the last would sign or price what was not meant.
fn unique<V: Clone + std::fmt::Display>(
    flag: &'static str,
    pairs: &[(String, V)],
) -> Result<std::collections::BTreeMap<String, V>, Error> {
    let mut map = std::collections::BTreeMap::new();
    for (name, value) in pairs {
        if let Some(first) = map.insert(name.clone(), value.clone()) {
            return Err(Error::RepeatedFlag {
                flag,
                name: name.clone(),
                first: first.to_string(),
                second: value.to_string(),
            });
        }
    }
    Ok(map)
}

/// The install id of a verified activation request file.
fn bound_install(request: Option<&Path>, catalog: &Catalog) -> Result<Option<String>, Error> {
    let Some(path) = request else { return Ok(None) };
    let text = input::read_text(path, MAX_ENVELOPE_FILE)?;
    Ok(Some(license_issuer::read_request(&text, catalog)?.install_id))
}

/// `--out`, checked before anything is signed: a bad path changes nothing.
fn out_file(path: Option<&Path>, force: bool) -> Result<Option<fsio::Output>, Error> {
    let Some(path) = path else { return Ok(None) };
    let out = fsio::Output::new(path, force);
    out.check()?;
    Ok(Some(out))
}

fn issued_output(issued: &Issued, out: Option<fsio::Output>) -> Result<Output, Error> {
    if let Some(out) = &out {
        out.write(issued.armored().as_bytes())?;
    }
    let path = out.as_ref().map(fsio::Output::path);
    let text = match path {
        Some(path) => {
            let l = &issued.license;
            let chain = l.supersedes.as_ref().map(|s| format!(", supersedes {s}")).unwrap_or_default();
            format!("wrote license {} (sequence {}{chain}) to {}\n", l.id, l.sequence, path.display())
        }
        None => format!("{}\n", issued.token),
    };
    Ok(Output::new(&IssuedOutput { format: 1, issued, out: path }, text))
}

fn upgrade(args: UpgradeArgs, ledger: Option<&Path>, now: Timestamp) -> Result<Output, Error> {
    let catalog = catalogs::load(&args.catalog)?;
    let mut request = change_request(&args.change)?;
    let bind = bound_install(args.bind.as_deref(), &catalog)?;
    let Some(from) = &args.from else {
        // Community → commercial: a first license, checked like any order.
        let first = CommunityUpgrade {
            product: args.product.clone(),
            account: args.account.clone().unwrap_or_default(),
            licensee: args.licensee.clone().unwrap_or_default(),
            region: args.region.clone().unwrap_or_default(),
            engine: args.engine.clone(),
            settlement: args.settlement.clone(),
            months: args.months,
            change: request,
            install: bind,
        };
        let checked = first.validate(&catalog, now)?;
        let out = out_file(args.out.as_deref(), args.force)?;
        let key = crate::passphrase::open_key(&args.key, &args.passphrase)?;
        let issued = open_ledger(ledger)?.issue(&key, checked, now)?;
        return issued_output(&issued, out);
    };
    let current = read_current(from, &keyfile::keys_for_current(&args.key, &args.trust)?)?;
    request.bind = bind;
    request.account = args.account.clone();
    request.engine = args.engine.clone();
    // Check the upgrade before asking for the passphrase: a typo costs nothing.
    let successor = upgrade::upgrade(&catalog, &current, &request, now)?;
    let out = out_file(args.out.as_deref(), args.force)?;
    let key = crate::passphrase::open_key(&args.key, &args.passphrase)?;
    let issued = open_ledger(ledger)?.sign_successor(&key, successor, args.revoke_old_binding, now)?;
    issued_output(&issued, out)
}

fn issue(args: IssueArgs, ledger: Option<&Path>, now: Timestamp) -> Result<Output, Error> {
    let catalog = catalogs::load(&args.catalog)?;
    if let Some(batch) = &args.batch {
        let output = match (&args.out_dir, &args.out) {
            (Some(dir), _) => BatchOutput::Files(dir.clone()),
            (None, out) => BatchOutput::JsonLines {
                path: out.clone().expect("clap requires --out or --out-dir with --batch"),
                replace: args.force,
            },
        };
        return ledger_cmds::batch(&args, batch, &output, &catalog, ledger, now);
    }
    let bind = bound_install(args.bind.as_deref(), &catalog)?;
    let mut order = match &args.order {
        Some(path) => {
            let text = input::read_text(path, 1 << 20)?;
            Order::parse(&text)
                .map_err(|detail| license_issuer::IssuerError::OrderFile { path: path.clone(), detail })?
        }
        None => Order {
            product: None,
            account: args.account.clone().unwrap_or_default(),
            licensee: args.licensee.clone().unwrap_or_default(),
            region: args.region.clone().unwrap_or_default(),
            edition: args.edition.clone().unwrap_or_default(),
            engine: args.engine.clone(),
            plan: args.plan,
            settlement: args.settlement.clone(),
            packages: unique("package", &args.packages)?,
            quotas: unique("quota", &args.quotas)?,
            not_before: args.not_before,
            until: args.until,
            months: args.months,
            max_installs: args.max_installs,
            install: None,
        },
    };
    order.install = bind;
    // Check the order before asking for the passphrase: a typo costs nothing.
    let checked = order.validate(&catalog, now)?;
    let out = out_file(args.out.as_deref(), args.force)?;
    let key = crate::passphrase::open_key(&args.key, &args.passphrase)?;
    let issued = open_ledger(ledger)?.issue(&key, checked, now)?;
    issued_output(&issued, out)
}
