//! `issuer ledger …`, `issuer receipts import`, `issuer usage import` and
//! `issuer issue --batch`.

use std::path::{Path, PathBuf};

use license_cli::{Failure, Output};
use license_common::input;
use license_common::text::escape;
use license_common::time::Timestamp;
use license_issuer::ledger::{BatchOutput, Filter, Imported, Lapsed, Overuse, Verification};
use serde::Serialize;

use crate::args::LedgerCommand;
use crate::commands::{Outcome, open_existing_ledger, open_ledger};
use crate::error::Error;

/// `issuer ledger overuse --json` (format 1): `{"format": 1, "licenses":
/// [{"license_id", "account", "product", "region", "status", "max_installs", "installs": [...]}, …]}`.
#[derive(Serialize)]
struct Overused<'a> {
    format: u32,
    licenses: &'a [Overuse],
}

/// `issuer ledger forks --json` (format 1): `{"format": 1, "flags": [{"problem":
/// "fork" | "gap", "install_id", "license_id", "counter", "first", "second", "detail", "flagged_at"}, …]}`.
#[derive(Serialize)]
struct Forks<'a> {
    format: u32,
    flags: &'a [license_issuer::ledger::ChainFlag],
}

/// `issuer ledger show ID --token --json` (format 1): `{"format": 1, "id": "...", "token": "lic1.…"}`.
#[derive(Serialize)]
struct Token<'a> {
    format: u32,
    id: &'a str,
    token: &'a str,
}

/// What `issuer receipts|usage|deactivations import` imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Import {
    /// Activation receipts.
    Receipts,
    /// Usage reports.
    Usage,
    /// Deactivation receipts.
    Deactivations,
}

/// `issuer ledger lapsed --json` (format 1): `{"format": 1, "orders":
/// [{"license_id", "account", "activate_by", "state": "lapsed"}, …]}`.
#[derive(Serialize)]
struct LapsedOrders<'a> {
    format: u32,
    orders: &'a [Lapsed],
}

/// `issuer receipts|usage|deactivations import --json` (format 1):
/// `{"format": 1, "imported": [{"file", "license_id", "install_id", "new", "flag"}, …]}`;
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
    if let LedgerCommand::Migrate { from, to } = &command {
        return migrate(from, to);
    }
    let ledger = open_existing_ledger(path)?;
    match command {
        LedgerCommand::Verify { public, one_by_one } => {
            let keys = public
                .iter()
                .map(|p| license_issuer::keyfile::read_public(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::from)?;
            let how = if one_by_one { Verification::OneByOne } else { Verification::Batch };
            let report = ledger.verify_with(&license_common::Keyring::from_keys(keys), how).map_err(Error::from)?;
            let mut text = format!(
                "verified {} licenses, {} receipts, {} usage reports, {} deactivation receipts, {} revocation lists: {} problems\n",
                report.licenses,
                report.receipts,
                report.usage_reports,
                report.deactivations,
                report.revocation_lists,
                report.problems.len()
            );
            for p in &report.problems {
                text.push_str(&format!("problem: {}\n", escape(&p.to_string())));
            }
            let output = Output::new(&report, text);
            if report.problems.is_empty() {
                Ok(output)
            } else {
                Err(Failure::told_by(Error::AuditFailed { problems: report.problems.len() }, output))
            }
        }
        LedgerCommand::List { account, licensee, product, region, status, expiring_within, limit, offset } => {
            let filter = Filter {
                account,
                licensee,
                product,
                region,
                status,
                expiring_within_days: expiring_within,
                offset,
                limit,
            };
            let listing = ledger.list(&filter, now).map_err(Error::from)?;
            let mut t = format!(
                "{:<38}{:<18}{:<20}{:<14}{:<14}{:>4}  {:<14}{:<14}{:<22}{:<14}{}\n",
                "license",
                "account",
                "licensee",
                "product",
                "region",
                "seq",
                "edition",
                "plan",
                "expires",
                "status",
                "packages"
            );
            for e in &listing.licenses {
                let packages: Vec<String> = e.packages.iter().map(|(p, tier)| format!("{p}={tier}")).collect();
                t.push_str(&format!(
                    "{:<38}{:<18}{:<20}{:<14}{:<14}{:>4}  {:<14}{:<14}{:<22}{:<14}{}\n",
                    e.id,
                    escape(&e.account),
                    escape(&e.licensee),
                    escape(&e.product),
                    escape(&e.region),
                    e.sequence,
                    e.edition,
                    e.plan,
                    e.expires_at.as_deref().unwrap_or("never"),
                    e.status,
                    if packages.is_empty() { "-".to_owned() } else { escape(&packages.join(",")).into_owned() }
                ));
            }
            let shown = listing.licenses.len();
            t.push_str(&format!(
                "{shown} of {} matching licenses (from {})\n",
                listing.total,
                if shown == 0 { listing.offset } else { listing.offset + 1 }
            ));
            Ok(Output::new(&listing, t))
        }
        LedgerCommand::Show { id, token: true } => {
            let issued = ledger.issued(&id).map_err(Error::from)?;
            Ok(Output::new(&Token { format: 1, id: &id, token: &issued.token }, issued.armored()))
        }
        LedgerCommand::Forks => {
            let flags = ledger.forks().map_err(Error::from)?;
            let mut t = String::new();
            for f in &flags {
                t.push_str(&format!(
                    "{}: install {}, license {}, file {}: {}\n  on record: {}\n  flagged:   {}\n",
                    f.problem.as_str(),
                    f.install_id,
                    f.license_id,
                    f.counter,
                    f.detail,
                    f.first.as_deref().unwrap_or("-"),
                    f.second
                ));
            }
            if flags.is_empty() {
                t.push_str("no fork or gap in any install's chain of files\n");
            }
            Ok(Output::new(&Forks { format: 1, flags: &flags }, t))
        }
        LedgerCommand::Overuse => {
            let over = ledger.overuse(now).map_err(Error::from)?;
            let mut t = String::new();
            for o in &over {
                t.push_str(&format!(
                    "{}  account {}  {} installs for at most {} ({}): {}\n",
                    o.license_id,
                    escape(&o.account),
                    o.installs.len(),
                    o.max_installs,
                    o.status,
                    o.installs.join(", ")
                ));
            }
            if over.is_empty() {
                t.push_str("no license is run by more installs than it allows\n");
            }
            Ok(Output::new(&Overused { format: 1, licenses: &over }, t))
        }
        LedgerCommand::Show { id, token: false } => {
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
            for (license, install, at) in &chain.deactivations {
                t.push_str(&format!("deactivation: {license} released by install {install} at {at}\n"));
            }
            if let Some((reason, at)) = &chain.revocation {
                t.push_str(&format!("revoked at {at}: {}\n", escape(reason)));
            }
            if let Some(floor) = chain.floor {
                t.push_str(&format!("the chain is revoked up to sequence {floor}: those licenses are void\n"));
            }
            Ok(Output::new(&chain, t))
        }
        LedgerCommand::Lapsed => {
            let lapsed = ledger.lapsed_orders(now).map_err(Error::from)?;
            let mut t = String::new();
            for l in &lapsed {
                t.push_str(&format!(
                    "{}  account {}  not activated by {}: lapsed, the account is back where it was before the order\n",
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
        // Taken before the ledger of --ledger is opened (above); never reached.
        LedgerCommand::Migrate { from, to } => migrate(&from, &to),
    }
}

/// `issuer ledger migrate --from LEDGER --to LEDGER`.
fn migrate(from: &Path, to: &Path) -> Outcome {
    let moved = license_issuer::ledger::migrate(from, to).map_err(Error::from)?;
    let mut text = format!("copied {} into {}:\n", from.display(), to.display());
    for (table, rows) in &moved.tables {
        text.push_str(&format!("  {table}: {rows} row(s)\n"));
    }
    text.push_str(&format!(
        "check it with: issuer --ledger {} ledger verify --pub ISSUER.PUB (every key that ever signed)\n",
        to.display()
    ));
    Ok(Output::new(&moved, text))
}

/// `issuer receipts import`, `issuer usage import` and `issuer deactivations import`.
pub fn import(files: Vec<PathBuf>, what: Import, path: Option<&Path>, now: Timestamp) -> Result<Output, Error> {
    let mut ledger = open_existing_ledger(path)?;
    let mut text = String::new();
    let mut imported = Vec::new();
    for file in files {
        let content = input::read_text(&file, 2 * license_common::envelope::MAX_INPUT_LEN)?;
        let (done, name) = match what {
            Import::Receipts => (ledger.import_receipt(&content, now)?, "receipt"),
            Import::Usage => (ledger.import_usage(&content, now)?, "usage report"),
            Import::Deactivations => (ledger.import_deactivation(&content, now)?, "deactivation receipt"),
        };
        if done.new {
            text.push_str(&format!(
                "{}: {name} of license {} from install {} recorded\n",
                file.display(),
                done.license_id,
                done.install_id
            ));
            if let Some(flag) = &done.flag {
                text.push_str(&format!("warning: {flag} (`issuer ledger forks`)\n"));
            }
        } else {
            text.push_str(&format!("{}: this {name} was imported before; recorded once\n", file.display()));
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
    let key = crate::passphrase::open_key(&args.key, &args.passphrase)?;
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
