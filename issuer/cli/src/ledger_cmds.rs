//! `issuer ledger …`, `issuer receipts import`, `issuer usage import` and
//! `issuer issue --batch`.

use std::path::{Path, PathBuf};

use license_cli::{Failure, Output};
use license_common::input;
use license_common::text::escape;
use license_common::time::Timestamp;
use license_issuer::ledger::{BatchOutput, Imported, Lapsed, LedgerEntry, Verification};
use serde::Serialize;

use crate::args::LedgerCommand;
use crate::commands::{Outcome, open_ledger};
use crate::error::Error;

/// `issuer ledger list --json` (format 1): `{"format": 1, "licenses":
/// [LedgerEntry, …]}`, oldest first.
#[derive(Serialize)]
struct Listing<'a> {
    format: u32,
    licenses: &'a [LedgerEntry],
}

/// `issuer ledger lapsed --json` (format 1): `{"format": 1, "orders":
/// [{"license_id", "account", "activate_by", "state": "lapsed"}, …]}`.
#[derive(Serialize)]
struct LapsedOrders<'a> {
    format: u32,
    orders: &'a [Lapsed],
}

/// `issuer receipts import` and `usage import --json` (format 1):
/// `{"format": 1, "imported": [{"file", "license_id", "install_id", "new"}, …]}`;
/// `new` is false for a file imported before (recorded once).
#[derive(Serialize)]
struct Imports {
    format: u32,
    imported: Vec<ImportedFile>,
}

#[derive(Serialize)]
struct ImportedFile {
    file: PathBuf,
    #[serde(flatten)]
    done: Imported,
}

/// `issuer ledger …`.
pub fn ledger(command: LedgerCommand, path: Option<&Path>, now: Timestamp) -> Outcome {
    let ledger = open_ledger(path)?;
    match command {
        LedgerCommand::Verify { one_by_one } => {
            let how = if one_by_one { Verification::OneByOne } else { Verification::Batch };
            let report = ledger.verify_with(how).map_err(Error::from)?;
            let mut text = format!(
                "verified {} licenses, {} receipts, {} usage reports: {} problems\n",
                report.licenses,
                report.receipts,
                report.usage_reports,
                report.problems.len()
            );
            for p in &report.problems {
                text.push_str(&format!("problem: {}\n", escape(p)));
            }
            let output = Output::new(&report, text);
            if report.problems.is_empty() {
                Ok(output)
            } else {
                Err(Failure::told_by(Error::AuditFailed { problems: report.problems.len() }, output))
            }
        }
        LedgerCommand::List { account, status } => {
            let entries = ledger.list(account.as_deref(), status, now).map_err(Error::from)?;
            let mut t = format!(
                "{:<38}{:<18}{:>4}  {:<16}{:<14}{:<22}{}\n",
                "license", "account", "seq", "edition", "plan", "expires", "status"
            );
            for e in &entries {
                t.push_str(&format!(
                    "{:<38}{:<18}{:>4}  {:<16}{:<14}{:<22}{}\n",
                    e.id,
                    escape(&e.account),
                    e.sequence,
                    e.edition,
                    e.plan,
                    e.expires_at.as_deref().unwrap_or("never"),
                    e.status
                ));
            }
            Ok(Output::new(&Listing { format: 1, licenses: &entries }, t))
        }
        LedgerCommand::Show { id } => {
            let chain = ledger.show(&id, now).map_err(Error::from)?;
            let mut t = format!("license {} and its chain, oldest first:\n", escape(&chain.id));
            for e in &chain.licenses {
                let mark = if e.id == chain.id { "*" } else { " " };
                t.push_str(&format!(
                    "{mark} {}  sequence {}  {} {}  issued {}  {}{}\n",
                    e.id,
                    e.sequence,
                    e.edition,
                    e.plan,
                    e.issued_at,
                    e.status,
                    e.install.as_ref().map(|i| format!("  bound to {i}")).unwrap_or_default()
                ));
            }
            for (license, install, at) in &chain.receipts {
                t.push_str(&format!("receipt: {license} activated on install {install} at {at}\n"));
            }
            if let Some((reason, at)) = &chain.revocation {
                t.push_str(&format!("revoked at {at}: {}\n", escape(reason)));
            }
            Ok(Output::new(&chain, t))
        }
        LedgerCommand::Lapsed => {
            let lapsed = ledger.lapsed_orders(now).map_err(Error::from)?;
            let mut t = String::new();
            for l in &lapsed {
                t.push_str(&format!(
                    "{}  account {}  not activated by {}: lapsed, back to community\n",
                    l.license_id,
                    escape(&l.account),
                    l.activate_by
                ));
            }
            if lapsed.is_empty() {
                t.push_str("no pay-as-you-go order has lapsed\n");
            }
            Ok(Output::new(&LapsedOrders { format: 1, orders: &lapsed }, t))
        }
        LedgerCommand::Export => {
            let export = ledger.export(now).map_err(Error::from)?;
            let text = format!("{}\n", serde_json::to_string_pretty(&export).expect("serialises"));
            Ok(Output::new(&export, text))
        }
    }
}

/// `issuer receipts import` (`receipts`) and `issuer usage import`.
pub fn import(files: Vec<PathBuf>, receipts: bool, path: Option<&Path>, now: Timestamp) -> Result<Output, Error> {
    let mut ledger = open_ledger(path)?;
    let mut text = String::new();
    let mut imported = Vec::new();
    for file in files {
        let content = input::read_text(&file, 2 * license_common::envelope::MAX_INPUT_LEN)?;
        let done = if receipts { ledger.import_receipt(&content, now)? } else { ledger.import_usage(&content, now)? };
        let what = if receipts { "receipt" } else { "usage report" };
        if done.new {
            text.push_str(&format!(
                "{}: {what} of license {} from install {} recorded\n",
                file.display(),
                done.license_id,
                done.install_id
            ));
        } else {
            text.push_str(&format!("{}: this {what} was imported before; recorded once\n", file.display()));
        }
        imported.push(ImportedFile { file, done });
    }
    Ok(Output::new(&Imports { format: 1, imported }, text))
}

/// `issuer issue --batch ORDERS.jsonl --out FILE.jsonl | --out-dir DIR`.
pub fn batch(
    args: &crate::args::IssueArgs,
    batch: &Path,
    output: &BatchOutput,
    catalog: &license_common::catalog::Catalog,
    ledger: Option<&Path>,
    now: Timestamp,
) -> Result<Output, Error> {
    use std::io::IsTerminal;
    // Refuse a taken output before anyone is asked for a passphrase; the
    // library checks it again before it signs.
    if let BatchOutput::JsonLines { path, replace } = output {
        license_common::fsio::Output::new(path, *replace).check()?;
    }
    let text = input::read_text(batch, 1 << 30)?;
    let (lines, errors) = license_issuer::ledger::parse_batch(&text);
    let total = lines.len() as u64;
    let passphrase = crate::passphrase::get_passphrase(&args.passphrase, false)?;
    let key = license_issuer::keyfile::read_key(&args.key, &passphrase)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} licenses, {per_sec}, {eta} left")
                .expect("a valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = open_ledger(ledger)?
        .issue_batch(&key, catalog, lines, errors, output, args.keep_going, now, &|n| bar.set_position(n as u64));
    bar.finish_and_clear();
    let report = report?;
    let mut t =
        format!("issued {} licenses into {} (batch {})\n", report.issued, report.out_dir.display(), report.batch);
    for (line, reason) in &report.skipped {
        t.push_str(&format!("skipped line {line}: {}\n", escape(reason)));
    }
    Ok(Output::new(&report, t))
}
