//! `issuer`: the thin command line over the `license-issuer` library.

mod cli;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use license_common::exit::{self, ExitClass, Explain};
use license_common::input;
use license_common::signing::Passphrase;
use license_common::time::Timestamp;
use license_issuer::order::Order;
use license_issuer::{IssuerError, demo, keyfile};
use serde_json::json;

use cli::{Cli, Command, IssueArgs, PassphraseArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match run(cli, &mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Error(e)) => {
            let _ = stdout.flush();
            eprint!("{}", exit::render(e.as_ref()));
            ExitCode::from(e.class().code())
        }
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
        Command::Issue(args) => issue(*args, now, out),
        Command::Inspect { file, public, json } => {
            let public = keyfile::read_public(&public)?;
            let text = input::read_text(&file, 2 * license_common::envelope::MAX_INPUT_LEN)?;
            let inspection = license_issuer::inspect(&text, public, now)?;
            if json {
                emit(
                    out,
                    &format!("{}\n", serde_json::to_string_pretty(&inspection).expect("serialises")),
                )
            } else {
                emit(out, &inspection.to_string())
            }
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

fn issue(args: IssueArgs, now: Timestamp, out: &mut dyn Write) -> Result<(), Failure> {
    let catalog_text = input::read_text(&args.catalog, 4 << 20)?;
    let catalog =
        license_common::catalog::Catalog::from_toml(&catalog_text).map_err(|source| IssuerError::Catalog {
            path: args.catalog.clone(),
            source,
        })?;
    let order = match &args.order {
        Some(path) => {
            let text = input::read_text(path, 1 << 20)?;
            Order::parse(&text).map_err(|detail| IssuerError::OrderFile {
                path: path.clone(),
                detail,
            })?
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
        },
    };
    // Check the order before asking for the passphrase: a typo costs nothing.
    order
        .to_license(&catalog, String::from("check"), now)
        .map_err(IssuerError::from)?;
    let passphrase = get_passphrase(&args.passphrase, false)?;
    let key = keyfile::read_key(&args.key, &passphrase)?;
    let issued = license_issuer::issue(&key, &catalog, &order, now)?;
    if let Some(path) = &args.out {
        keyfile::write_replacing(path, issued.armored().as_bytes(), args.force)?;
    }
    if args.json {
        let value = json!({"id": issued.license.id, "token": issued.token, "out": args.out, "license": issued.license});
        return emit(
            out,
            &format!("{}\n", serde_json::to_string_pretty(&value).expect("serialises")),
        );
    }
    match &args.out {
        Some(path) => emit(
            out,
            &format!("wrote license {} to {}\n", issued.license.id, path.display()),
        ),
        None => emit(out, &format!("{}\n", issued.token)),
    }
}

fn get_passphrase(args: &PassphraseArgs, confirm: bool) -> Result<Passphrase, Failure> {
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
