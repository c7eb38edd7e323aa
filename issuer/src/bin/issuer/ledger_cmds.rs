//! `issuer ledger …`, `issuer receipts import`, `issuer usage import`.

use std::io::Write;
use std::path::{Path, PathBuf};

use license_common::exit::ExitClass;
use license_common::input;
use license_common::text::escape;
use license_common::time::Timestamp;
use license_issuer::ledger::{BatchOutput, Verification};

use crate::cli::LedgerCommand;
use crate::{Failure, emit, open_ledger};

fn pretty(value: &impl serde::Serialize) -> String {
    format!("{}\n", serde_json::to_string_pretty(value).expect("serialises"))
}

pub fn ledger(command: LedgerCommand, path: Option<&Path>, now: Timestamp, out: &mut dyn Write) -> Result<(), Failure> {
    let ledger = open_ledger(path)?;
    match command {
        LedgerCommand::Verify { one_by_one, json } => {
            let how = if one_by_one { Verification::OneByOne } else { Verification::Batch };
            let report = ledger.verify_with(how)?;
            let text = if json {
                pretty(&report)
            } else {
                let mut t = format!(
                    "verified {} licenses, {} receipts, {} usage reports: {} problems\n",
                    report.licenses,
                    report.receipts,
                    report.usage_reports,
                    report.problems.len()
                );
                for p in &report.problems {
                    t.push_str(&format!("problem: {}\n", escape(p)));
                }
                t
            };
            emit(out, &text)?;
            if report.problems.is_empty() { Ok(()) } else { Err(Failure::Exit(ExitClass::BadSignature)) }
        }
        LedgerCommand::List { account, status, json } => {
            let entries = ledger.list(account.as_deref(), status.as_deref(), now)?;
            if json {
                return emit(out, &pretty(&entries));
            }
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
            emit(out, &t)
        }
        LedgerCommand::Show { id, json } => {
            let chain = ledger.show(&id, now)?;
            if json {
                return emit(out, &pretty(&chain));
            }
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
            emit(out, &t)
        }
        LedgerCommand::Lapsed { json } => {
            let lapsed: Vec<_> = ledger.lapsed(now)?.into_iter().filter(|l| l.state == "lapsed").collect();
            if json {
                return emit(out, &pretty(&lapsed));
            }
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
            emit(out, &t)
        }
        LedgerCommand::Export { json: _ } => emit(out, &pretty(&ledger.export(now)?)),
    }
}

pub fn import(
    files: Vec<PathBuf>,
    receipts: bool,
    path: Option<&Path>,
    now: Timestamp,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut ledger = open_ledger(path)?;
    let mut text = String::new();
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
    }
    emit(out, &text)
}

/// `issuer issue --batch ORDERS.jsonl --out FILE.jsonl | --out-dir DIR`.
#[allow(clippy::too_many_arguments)]
pub fn batch(
    args: &crate::cli::IssueArgs,
    batch: &Path,
    output: &BatchOutput,
    catalog: &license_common::catalog::Catalog,
    ledger: Option<&Path>,
    now: Timestamp,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    use std::io::IsTerminal;
    if let BatchOutput::JsonLines { path, replace } = output {
        license_issuer::keyfile::check_out_free(Some(path), *replace)?;
    }
    let text = input::read_text(batch, 1 << 30)?;
    let (lines, errors) = license_issuer::ledger::parse_batch(&text);
    let total = lines.len() as u64;
    let key = license_issuer::keyfile::read_key(&args.key, &crate::get_passphrase(&args.passphrase, false)?)?;
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
    if args.json {
        return emit(out, &pretty(&report));
    }
    let mut t =
        format!("issued {} licenses into {} (batch {})\n", report.issued, report.out_dir.display(), report.batch);
    for (line, reason) in &report.skipped {
        t.push_str(&format!("skipped line {line}: {}\n", escape(reason)));
    }
    emit(out, &t)
}
