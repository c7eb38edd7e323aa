//! `issuer`: the thin command line over the `license-issuer` library.

mod cli;
mod ledger_cmds;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use license_common::exit::{self, ExitClass, Explain};
use license_common::input;
use license_common::signing::Passphrase;
use license_common::text::escape;
use license_common::time::Timestamp;
use license_issuer::ledger::{self, BatchOutput, Ledger};
use license_issuer::order::Order;
use license_issuer::{IssuerError, demo, keyfile};
use serde_json::json;

use cli::{CatalogCommand, Cli, Command, ImportCommand, IssueArgs, PassphraseArgs, RevocationsCommand, UpgradeArgs};
use license_common::catalog::Catalog;
use license_common::license::License;
use license_issuer::Issued;
use license_issuer::order::OrderError;
use license_issuer::upgrade::{RenewTerm, UpgradeRequest};
use std::path::PathBuf;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli, &mut stdout)));
    let Ok(outcome) = outcome else {
        eprintln!("error: internal error (a bug in issuer)\nhint: please report it with the command you ran");
        return ExitCode::from(ExitClass::Internal.code());
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Error(e)) => {
            let _ = stdout.flush();
            eprint!("{}", exit::render(e.as_ref()));
            ExitCode::from(e.class().code())
        }
        Err(Failure::Exit(class)) => ExitCode::from(class.code()),
        Err(Failure::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Stdout(e)) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::from(ExitClass::Io.code())
        }
    }
}

enum Failure {
    Error(Box<dyn Explain>),
    Stdout(std::io::Error),
    /// Output was printed; exit with this class and no further message.
    Exit(ExitClass),
}

impl<E: Explain + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Error(Box::new(e))
    }
}

fn emit(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    out.write_all(text.as_bytes()).map_err(Failure::Stdout)
}

fn run(cli: Cli, out: &mut dyn Write) -> Result<(), Failure> {
    let now = Timestamp::now();
    let ledger = cli.ledger;
    match cli.command {
        Command::Keygen { out: dir, passphrase } => {
            let passphrase = get_passphrase(&passphrase, true)?;
            let files = keyfile::keygen(&dir, &passphrase)?;
            emit(
                out,
                &format!(
                    "wrote {} (encrypted PKCS#8, mode 0600) and {}\nkey id {}\n",
                    files.key.display(),
                    files.public.display(),
                    files.kid
                ),
            )
        }
        Command::Issue(args) => issue(*args, ledger.as_deref(), now, out),
        Command::Upgrade(args) => upgrade(*args, ledger.as_deref(), now, out),
        Command::Ledger(command) => ledger_cmds::ledger(command, ledger.as_deref(), now, out),
        Command::Receipts(ImportCommand::Import { files }) => {
            ledger_cmds::import(files, true, ledger.as_deref(), now, out)
        }
        Command::Usage(ImportCommand::Import { files }) => {
            ledger_cmds::import(files, false, ledger.as_deref(), now, out)
        }
        Command::Bill { account, catalog: catalog_path, from, to, json } => {
            let catalog = read_catalog(&catalog_path)?;
            if catalog.pay_as_you_go.is_none() {
                return Err(IssuerError::Catalog {
                    path: catalog_path,
                    source: license_common::catalog::CatalogError {
                        line: None,
                        message: "it has no [pay_as_you_go] table to bill from".into(),
                    },
                }
                .into());
            }
            let bill = open_ledger(ledger.as_deref())?.bill(&catalog, &account, from, to)?;
            if json {
                emit(out, &format!("{}\n", serde_json::to_string_pretty(&bill).expect("serialises")))
            } else {
                emit(out, &bill.to_string())
            }
        }
        Command::Renew(args) => {
            let catalog = read_catalog(&args.catalog)?;
            let current = read_current(&args.from, &current_keys(&args.key, &args.trust)?)?;
            let term = match (args.until, args.months) {
                (Some(until), _) => RenewTerm::Until(until),
                (None, Some(months)) => RenewTerm::Months(months),
                (None, None) => {
                    return Err(IssuerError::from(OrderError::Term("give --until DATE or --months N".into())).into());
                }
            };
            // Check the renewal before asking for the passphrase.
            license_issuer::upgrade::renew(&catalog, &current, term, String::from("check"), now)
                .map_err(IssuerError::from)?;
            keyfile::check_out_free(args.out.as_deref(), args.force)?;
            let key = keyfile::read_key(&args.key, &get_passphrase(&args.passphrase, false)?)?;
            let issued = open_ledger(ledger.as_deref())?.renew(&key, &catalog, &current, term, now)?;
            emit_issued(out, &issued, args.out.as_deref(), args.force, args.json)
        }
        Command::Quote(args) => {
            let catalog = read_catalog(&args.catalog)?;
            let keys = args.public.iter().map(|p| keyfile::read_public(p)).collect::<Result<Vec<_>, _>>()?;
            let current = read_current(&args.from, &license_common::Keyring::from_keys(keys))?;
            let quote = license_issuer::quote_upgrade(
                &catalog,
                &current,
                &change_request(&args.change),
                args.at.unwrap_or(now),
            )?;
            if args.json {
                emit(out, &format!("{}\n", serde_json::to_string_pretty(&quote).expect("serialises")))
            } else {
                emit(out, &quote.to_string())
            }
        }
        Command::Catalog(CatalogCommand::Check { file, json }) => {
            let catalog = read_catalog(&file)?;
            if json {
                let value = json!({
                    "valid": true, "product": catalog.product.id,
                    "editions": catalog.editions.iter().map(|e| &e.id).collect::<Vec<_>>(),
                    "packages": catalog.packages.iter().map(|p| &p.id).collect::<Vec<_>>(),
                    "quotas": catalog.quotas.iter().map(|q| &q.id).collect::<Vec<_>>(),
                });
                return emit(out, &format!("{}\n", serde_json::to_string_pretty(&value).expect("serialises")));
            }
            emit(
                out,
                &format!(
                    "{} is valid: product {}, {} editions ({}), {} packages, {} quotas\n",
                    file.display(),
                    catalog.product.id,
                    catalog.editions.len(),
                    catalog.editions.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(" < "),
                    catalog.packages.len(),
                    catalog.quotas.len()
                ),
            )
        }
        Command::Inspect { file, public, json } => {
            let text = input::read_text(&file, 2 * license_common::envelope::MAX_INPUT_LEN)?;
            let (value, human) = match public {
                Some(public) => {
                    let inspection = license_issuer::inspect(&text, keyfile::read_public(&public)?, now)?;
                    (serde_json::to_value(&inspection).expect("serialises"), inspection.to_string())
                }
                None => {
                    let (kind, content) = license_issuer::inspect_install_file(&text)?;
                    let pretty = serde_json::to_string_pretty(&content).expect("serialises");
                    let human = format!(
                        "Signature:    valid, install {}\nKind:         {kind}\n{pretty}\n",
                        content["install_id"].as_str().unwrap_or("?")
                    );
                    (json!({"kind": kind.to_string(), "content": content}), human)
                }
            };
            if json {
                emit(out, &format!("{}\n", serde_json::to_string_pretty(&value).expect("serialises")))
            } else {
                emit(out, &human)
            }
        }
        Command::Revoke { license_id, reason } => {
            let mut l = open_ledger(ledger.as_deref())?;
            let recorded = l.revoke(&license_id, &reason, now)?;
            let path = l.path().to_path_buf();
            let what = if recorded { "recorded" } else { "was already recorded" };
            emit(
                out,
                &format!(
                    "revocation of license {license_id} {what} in {}; export a revocation list to send it\n",
                    path.display()
                ),
            )
        }
        Command::RetireKey { kid, not_after, reason } => {
            let kid: license_common::KeyId = kid.parse().map_err(|()| {
                IssuerError::Usage(format!("`{}` is not a key id (16 lowercase hex digits)", escape(&kid)))
            })?;
            open_ledger(ledger.as_deref())?.retire_key(kid, not_after, &reason)?;
            emit(out, &format!("key {kid} retires at {not_after}; export a revocation list to send the notice\n"))
        }
        Command::Revocations(RevocationsCommand::Export { key, passphrase, out: file }) => {
            let mut l = open_ledger(ledger.as_deref())?;
            keyfile::check_out_free(Some(&file), false)?;
            let key = keyfile::read_key(&key, &get_passphrase(&passphrase, false)?)?;
            let (list, token) = l.export_revocations(&key, now)?;
            let text = license_common::armor::armor(
                license_common::Kind::RevocationList,
                &token,
                &[("Sequence", list.sequence.to_string()), ("Revoked", list.revoked.len().to_string())],
            );
            keyfile::write_new(&file, text.as_bytes(), 0o644)?;
            emit(
                out,
                &format!(
                    "wrote revocation list {} ({} revoked, {} key retirements) to {}\n",
                    list.sequence,
                    list.revoked.len(),
                    list.retired_keys.len(),
                    file.display()
                ),
            )
        }
        Command::Demo { dir } => {
            let dir = dir.unwrap_or_else(|| demo::default_dir(now));
            demo::run(&dir, now, out).map_err(Failure::from)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "issuer", out);
            Ok(())
        }
    }
}

fn open_ledger(explicit: Option<&Path>) -> Result<Ledger, Failure> {
    let path = ledger::ledger_path(explicit.map(Path::to_path_buf)).ok_or_else(|| IssuerError::Ledger {
        path: PathBuf::from("(none)"),
        detail: "no ledger location: pass --ledger FILE or set ISSUER_LEDGER".into(),
    })?;
    Ok(Ledger::open(&path)?)
}

fn read_catalog(path: &Path) -> Result<Catalog, Failure> {
    let text = input::read_text(path, 4 << 20)?;
    Ok(Catalog::from_toml(&text).map_err(|source| IssuerError::Catalog { path: path.to_path_buf(), source })?)
}

fn read_current(path: &Path, trusted: &license_common::Keyring) -> Result<License, Failure> {
    let text = input::read_text(path, 2 * license_common::envelope::MAX_INPUT_LEN)?;
    Ok(license_issuer::read_current(&text, trusted)?)
}

/// The keys that may have signed CURRENT: the `.pub` beside `--key`, and `--trust` keys.
fn current_keys(key: &Path, trust: &[PathBuf]) -> Result<license_common::Keyring, Failure> {
    let mut keys = trust.iter().map(|p| keyfile::read_public(p)).collect::<Result<Vec<_>, _>>()?;
    let beside = key.with_extension("pub");
    if beside.exists() {
        keys.push(keyfile::read_public(&beside)?);
    }
    Ok(license_common::Keyring::from_keys(keys))
}

fn change_request(change: &cli::ChangeArgs) -> UpgradeRequest {
    UpgradeRequest {
        edition: change.edition.clone(),
        plan: change.plan,
        packages: change.packages.iter().cloned().collect(),
        quotas: change.quotas.iter().cloned().collect(),
        bind: None,
        account: None,
    }
}

/// The install id of a verified activation request file.
fn bound_install(request: Option<&Path>, catalog: &Catalog) -> Result<Option<String>, Failure> {
    let Some(path) = request else { return Ok(None) };
    let text = input::read_text(path, 2 * license_common::envelope::MAX_INPUT_LEN)?;
    Ok(Some(license_issuer::read_request(&text, catalog)?.install_id))
}

fn upgrade(args: UpgradeArgs, ledger: Option<&Path>, now: Timestamp, out: &mut dyn Write) -> Result<(), Failure> {
    let catalog = read_catalog(&args.catalog)?;
    let mut request = change_request(&args.change);
    let bind = bound_install(args.bind.as_deref(), &catalog)?;
    let Some(from) = &args.from else {
        // Community → commercial: a first license, checked like any order
        // (its product included).
        let order = Order {
            product: args.product.clone(),
            account: args.account.clone().unwrap_or_default(),
            licensee: args.licensee.clone().unwrap_or_default(),
            region: args.region.clone().unwrap_or_default(),
            edition: request.edition.clone().unwrap_or_default(),
            engine: args.engine.clone(),
            plan: request.plan,
            settlement: args.settlement.clone(),
            packages: request.packages.clone(),
            quotas: request.quotas.clone(),
            not_before: None,
            until: None,
            months: args.months,
            install: bind.clone(),
        };
        order.to_license(&catalog, String::from("check"), now).map_err(IssuerError::from)?;
        keyfile::check_out_free(args.out.as_deref(), args.force)?;
        let key = keyfile::read_key(&args.key, &get_passphrase(&args.passphrase, false)?)?;
        let issued = open_ledger(ledger)?.issue(&key, &catalog, &order, now)?;
        return emit_issued(out, &issued, args.out.as_deref(), args.force, args.json);
    };
    let current = read_current(from, &current_keys(&args.key, &args.trust)?)?;
    request.bind = bind;
    request.account = args.account.clone();
    // Check the upgrade before asking for the passphrase: a typo costs nothing.
    license_issuer::upgrade::upgrade(&catalog, &current, &request, String::from("check"), now)
        .map_err(IssuerError::from)?;
    keyfile::check_out_free(args.out.as_deref(), args.force)?;
    let key = keyfile::read_key(&args.key, &get_passphrase(&args.passphrase, false)?)?;
    let issued = open_ledger(ledger)?.upgrade(&key, &catalog, &current, &request, now)?;
    emit_issued(out, &issued, args.out.as_deref(), args.force, args.json)
}

fn emit_issued(
    out: &mut dyn Write,
    issued: &Issued,
    path: Option<&Path>,
    force: bool,
    json: bool,
) -> Result<(), Failure> {
    if let Some(path) = path {
        keyfile::write_replacing(path, issued.armored().as_bytes(), force)?;
    }
    if json {
        let value = json!({"id": issued.license.id, "token": issued.token, "out": path, "license": issued.license});
        return emit(out, &format!("{}\n", serde_json::to_string_pretty(&value).expect("serialises")));
    }
    match path {
        Some(path) => {
            let l = &issued.license;
            let chain = l.supersedes.as_ref().map(|s| format!(", supersedes {s}")).unwrap_or_default();
            emit(out, &format!("wrote license {} (sequence {}{chain}) to {}\n", l.id, l.sequence, path.display()))
        }
        None => emit(out, &format!("{}\n", issued.token)),
    }
}

fn issue(args: IssueArgs, ledger: Option<&Path>, now: Timestamp, out: &mut dyn Write) -> Result<(), Failure> {
    let catalog = read_catalog(&args.catalog)?;
    if let Some(batch) = &args.batch {
        let output = match (&args.out_dir, &args.out) {
            (Some(dir), _) => BatchOutput::Files(dir.clone()),
            (None, Some(file)) => BatchOutput::JsonLines { path: file.clone(), replace: args.force },
            (None, None) => {
                return Err(IssuerError::Usage("--batch needs --out FILE.jsonl or --out-dir DIR".into()).into());
            }
        };
        return ledger_cmds::batch(&args, batch, &output, &catalog, ledger, now, out);
    }
    let bind = bound_install(args.bind.as_deref(), &catalog)?;
    let mut order = match &args.order {
        Some(path) => {
            let text = input::read_text(path, 1 << 20)?;
            Order::parse(&text).map_err(|detail| IssuerError::OrderFile { path: path.clone(), detail })?
        }
        None => Order {
            product: None,
            account: args.account.unwrap_or_default(),
            licensee: args.licensee.unwrap_or_default(),
            region: args.region.unwrap_or_default(),
            edition: args.edition.unwrap_or_default(),
            engine: args.engine,
            plan: args.plan,
            settlement: args.settlement,
            packages: args.packages.into_iter().collect(),
            quotas: args.quotas.into_iter().collect(),
            not_before: args.not_before,
            until: args.until,
            months: args.months,
            install: None,
        },
    };
    order.install = bind;
    // Check the order before asking for the passphrase: a typo costs nothing.
    order.to_license(&catalog, String::from("check"), now).map_err(IssuerError::from)?;
    let passphrase = get_passphrase(&args.passphrase, false)?;
    keyfile::check_out_free(args.out.as_deref(), args.force)?;
    let key = keyfile::read_key(&args.key, &passphrase)?;
    let issued = open_ledger(ledger)?.issue(&key, &catalog, &order, now)?;
    emit_issued(out, &issued, args.out.as_deref(), args.force, args.json)
}

pub(crate) fn get_passphrase(args: &PassphraseArgs, confirm: bool) -> Result<Passphrase, Failure> {
    let env = std::env::var(keyfile::PASSPHRASE_ENV).ok();
    if let Some(p) = keyfile::passphrase_from(args.passphrase_file.as_deref(), env)? {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(IssuerError::NoPassphrase.into());
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt).map_err(IssuerError::io("read the passphrase from", Path::new("/dev/tty")))
    };
    let first = zeroize::Zeroizing::new(ask("Passphrase: ")?);
    if confirm {
        let second = zeroize::Zeroizing::new(ask("Passphrase again: ")?);
        if *first != *second {
            return Err(IssuerError::PassphraseMismatch.into());
        }
    }
    Ok(Passphrase::new(first.to_string())?)
}
