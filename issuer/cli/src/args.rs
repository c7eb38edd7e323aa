//! Command-line arguments of `issuer`: what clap checks, nothing more.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use license_common::license::Plan;
use license_issuer::ledger::EntryStatus;

/// Sign edition and entitlement licenses that installs verify offline.
#[derive(Debug, Parser)]
#[command(name = "issuer", version, about, after_help = license_common::exit::summary())]
pub struct Cli {
    /// The ledger (default: $ISSUER_LEDGER, else $XDG_DATA_HOME/license-issuer/ledger.sqlite3,
    /// else ~/.local/share/license-issuer/ledger.sqlite3).
    #[arg(long, global = true, value_name = "FILE")]
    pub ledger: Option<PathBuf>,

    /// Print the result (or the error) as one JSON document on standard
    /// output, in the shape docs/CLI.md documents for each command.
    #[arg(long, global = true)]
    pub json: bool,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the passphrase comes from; never from the command line itself.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from this file (one trailing newline is ignored).
    /// Otherwise $ISSUER_PASSPHRASE, otherwise a prompt on the terminal.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// The `issuer` commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a signing key: DIR/issuer.key (encrypted PKCS#8, 0600) and DIR/issuer.pub; or, with
    /// --pkcs11, a key inside a hardware module and DIR/issuer.pub.
    Keygen {
        /// The directory to write the key pair (or, with --pkcs11, the public key) into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Make the key inside this PKCS#11 token instead (RFC 7512:
        /// pkcs11:token=LABEL;object=LABEL?module-path=MODULE); the PIN comes from the URI's
        /// pin-source, --passphrase-file, ISSUER_PKCS11_PIN or a prompt.
        #[arg(long, value_name = "URI")]
        pkcs11: Option<String>,
        /// Where the passphrase comes from.
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Check an order against the catalog and sign the license.
    Issue(Box<IssueArgs>),
    /// Sign a license that raises CURRENT (edition, plan, packages, tiers, quotas); or, without
    /// --from, a first commercial license for a community account.
    Upgrade(Box<UpgradeArgs>),
    /// Sign a license with CURRENT's content and a later expiry (while active or in grace).
    Renew(Box<RenewArgs>),
    /// Price an upgrade of CURRENT, prorated over its remaining hours, in integer minor units.
    Quote(Box<QuoteArgs>),
    /// Work with product catalogs.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Record that a license is revoked (it travels in the next revocation list).
    Revoke {
        /// The license id.
        license_id: String,
        /// Why; shown to the operator of the install.
        #[arg(long)]
        reason: String,
    },
    /// Record that a key signs nothing valid after a time (travels in the next revocation list).
    RetireKey {
        /// The key id (16 hex digits).
        kid: String,
        /// Licenses this key signed after this time are refused (RFC 3339 UTC or YYYY-MM-DD).
        #[arg(long, value_name = "TIME")]
        not_after: license_common::Timestamp,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Compromise: distrust a key (everything it ever signed is void once the next revocation
    /// list is imported) and sign the newest license of every live chain it signed again with
    /// a new key, in one step recorded in the ledger.
    DistrustKey {
        /// The distrusted key id (16 hex digits).
        kid: String,
        /// The new signing key, which signs the replacements.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Where the new key's passphrase comes from.
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Why; shown to the operators of the installs.
        #[arg(long)]
        reason: String,
        /// Also write each replacement license to DIR/ID.lic (they are in the ledger either way:
        /// `issuer ledger show ID --token`).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Sign the vendor's time for one install (from its activation request): the install
    /// imports it (`activator time import`) to bring back a clock mark a wrong clock pushed forward.
    AttestTime {
        /// The install's activation request (`activator request`).
        #[arg(long, value_name = "REQUEST")]
        bind: PathBuf,
        /// The signing key (trusted by the install for licenses).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Where the passphrase comes from.
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Write the armored attestation to this file instead of printing the compact token.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Signed revocation lists.
    #[command(subcommand)]
    Revocations(RevocationsCommand),
    /// Read the ledger: every license, chain, order and receipt on record.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Activation receipts from installs.
    #[command(subcommand)]
    Receipts(ImportCommand),
    /// Usage reports from installs.
    #[command(subcommand)]
    Usage(ImportCommand),
    /// Deactivation receipts from installs (a bound license may then move to another install).
    #[command(subcommand)]
    Deactivations(ImportCommand),
    /// The pay-as-you-go bill of an account: collectors per day at the catalog's price.
    Bill {
        /// The account.
        #[arg(long)]
        account: String,
        /// The product catalog (TOML) with the pay-as-you-go prices.
        #[arg(long, value_name = "CATALOG")]
        catalog: PathBuf,
        /// First day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: chrono::NaiveDate,
        /// Last day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: chrono::NaiveDate,
    },
    /// Verify a license (with --pub) or an install's request, receipt, usage report or
    /// deactivation receipt (signed by the install's own key) and show its content.
    Inspect {
        /// The file, armored or compact; `-` for standard input.
        file: PathBuf,
        /// The issuer's public key (SPKI PEM); needed for licenses.
        #[arg(long = "pub", value_name = "PUB")]
        public: Option<PathBuf>,
    },
    /// Run the license API for a billing system on this ledger (docs/VENDOR.md): create, upgrade,
    /// renew, quote, revoke, lists, imports, bills; idempotent signing, scoped tokens, an audit
    /// log. Stops on SIGTERM or SIGINT. `issuer serve token …` manages its tokens
    Serve(Box<ServeArgs>),
    /// Walk through keygen, issue, inspect, and activator init/activate/status/check.
    Demo {
        /// The demo directory (must not exist or be empty) (default: license-demo-TIMESTAMP).
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `issuer issue`: an order, from flags, a file or a batch.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("batch_out").args(["out", "out_dir"])))]
pub struct IssueArgs {
    /// The encrypted signing key.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Where the passphrase comes from.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// The product catalog (TOML).
    #[arg(long, value_name = "CATALOG")]
    pub catalog: PathBuf,
    /// Many orders: a JSON Lines file, one order per line (the keys of an order file).
    /// Every line is checked first; a bad line stops the batch unless --keep-going.
    /// Write the licenses with --out (one JSON Lines file, the fast form) or --out-dir.
    #[arg(long, value_name = "ORDERS.jsonl", requires = "batch_out", conflicts_with_all = ["order", "bind", "account", "licensee", "region", "edition", "plan"])]
    pub batch: Option<PathBuf>,
    /// With --batch: the directory for the license files (`<id>.lic`).
    #[arg(long, value_name = "DIR", requires = "batch", conflicts_with = "out")]
    pub out_dir: Option<PathBuf>,
    /// With --batch: skip bad lines (reported with their numbers) and issue the rest.
    #[arg(long, requires = "batch")]
    pub keep_going: bool,
    /// An order file (TOML or JSON) instead of the order flags; `-` for standard input.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["account", "licensee", "region", "edition", "plan", "engine", "settlement", "packages", "quotas", "not_before", "until", "months"])]
    pub order: Option<PathBuf>,
    /// The primary account (the only one that may renew or upgrade).
    #[arg(long, required_unless_present_any = ["order", "batch"])]
    pub account: Option<String>,
    /// The licensee's name.
    #[arg(long, required_unless_present_any = ["order", "batch"])]
    pub licensee: Option<String>,
    /// Region or site of the instance.
    #[arg(long, required_unless_present_any = ["order", "batch"])]
    pub region: Option<String>,
    /// Edition.
    #[arg(long, required_unless_present_any = ["order", "batch"])]
    pub edition: Option<String>,
    /// Plan.
    #[arg(long, value_parser = plan(), required_unless_present_any = ["order", "batch"])]
    pub plan: Option<Plan>,
    /// Compute engine (for products that have them; cannot be switched later).
    #[arg(long)]
    pub engine: Option<String>,
    /// Settlement account kind (default: the catalog's first).
    #[arg(long)]
    pub settlement: Option<String>,
    /// A package at a tier, NAME=TIER; repeat for several.
    #[arg(long = "package", value_name = "NAME=TIER", value_parser = parse_pair::<String>)]
    pub packages: Vec<(String, String)>,
    /// A quota, NAME=N; repeat for several.
    #[arg(long = "quota", value_name = "NAME=N", value_parser = parse_pair::<u64>)]
    pub quotas: Vec<(String, u64)>,
    /// Start of validity (RFC 3339 UTC or YYYY-MM-DD) (default: now).
    #[arg(long, value_name = "TIME")]
    pub not_before: Option<license_common::Timestamp>,
    /// Expiry (RFC 3339 UTC or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", conflicts_with = "months")]
    pub until: Option<license_common::Timestamp>,
    /// Term in months (default: the catalog's default term).
    #[arg(long, value_name = "N")]
    pub months: Option<u32>,
    /// Bind the license to the install that made this activation request.
    #[arg(long, value_name = "REQUEST")]
    pub bind: Option<PathBuf>,
    /// At most N installs may run the license (default: the plan's cap in the catalog, if any;
    /// 1 for a bound license). The ledger lists licenses run by more: `issuer ledger overuse`.
    #[arg(long, value_name = "N", conflicts_with = "order")]
    pub max_installs: Option<u32>,
    /// Write the armored license to this file instead of printing the compact token;
    /// with --batch, every license to this new JSON Lines file, one record per line.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists (with --batch too, once the batch is recorded).
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// What an upgrade raises; anything not named stays as it is.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// A higher (or the same) edition.
    #[arg(long)]
    pub edition: Option<String>,
    /// Another plan the edition is sold on.
    #[arg(long, value_parser = plan())]
    pub plan: Option<Plan>,
    /// Add a package or raise its tier, NAME=TIER; repeat for several.
    #[arg(long = "package", value_name = "NAME=TIER", value_parser = parse_pair::<String>)]
    pub packages: Vec<(String, String)>,
    /// Raise a quota, NAME=N; repeat for several.
    #[arg(long = "quota", value_name = "NAME=N", value_parser = parse_pair::<u64>)]
    pub quotas: Vec<(String, u64)>,
}

/// `issuer upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The license in force (armored or compact; `-` for standard input).
    #[arg(long, value_name = "CURRENT", required_unless_present = "account")]
    pub from: Option<PathBuf>,
    /// The encrypted signing key.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Where the passphrase comes from.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// The product catalog (TOML).
    #[arg(long, value_name = "CATALOG")]
    pub catalog: PathBuf,
    /// More public keys that may have signed CURRENT (after a key rotation).
    #[arg(long = "trust", value_name = "PUB")]
    pub trust: Vec<PathBuf>,
    /// What the upgrade raises.
    #[command(flatten)]
    pub change: ChangeArgs,
    /// The primary account: without --from, the community account to upgrade; with --from,
    /// checked against CURRENT (only the primary account upgrades).
    #[arg(long)]
    pub account: Option<String>,
    /// Without --from: the product, which must be the catalog's.
    #[arg(long)]
    pub product: Option<String>,
    /// Without --from: the licensee's name.
    #[arg(long, conflicts_with = "from")]
    pub licensee: Option<String>,
    /// Without --from: region or site.
    #[arg(long, conflicts_with = "from")]
    pub region: Option<String>,
    /// The compute engine: without --from, the engine chosen (it cannot be switched later);
    /// with --from, checked against CURRENT (an engine cannot be switched).
    #[arg(long)]
    pub engine: Option<String>,
    /// Without --from: settlement account kind.
    #[arg(long, conflicts_with = "from")]
    pub settlement: Option<String>,
    /// Without --from: term in months.
    #[arg(long, conflicts_with = "from")]
    pub months: Option<u32>,
    /// Bind the license to the install that made this activation request
    /// (with --from: move it to a new machine, once the old install's deactivation receipt is
    /// imported, or with --revoke-old-binding).
    #[arg(long, value_name = "REQUEST")]
    pub bind: Option<PathBuf>,
    /// With --from and --bind: move the license although the old install never sent its
    /// deactivation receipt, revoking CURRENT (the next revocation list tells the old install).
    #[arg(long, requires_all = ["from", "bind"])]
    pub revoke_old_binding: bool,
    /// Write the armored license to this file instead of printing the compact token.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// `issuer renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The license in force (armored or compact; `-` for standard input).
    #[arg(long, value_name = "CURRENT")]
    pub from: PathBuf,
    /// The encrypted signing key.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Where the passphrase comes from.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// The product catalog (TOML).
    #[arg(long, value_name = "CATALOG")]
    pub catalog: PathBuf,
    /// More public keys that may have signed CURRENT.
    #[arg(long = "trust", value_name = "PUB")]
    pub trust: Vec<PathBuf>,
    /// The new expiry (RFC 3339 UTC or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", required_unless_present = "months", conflicts_with = "months")]
    pub until: Option<license_common::Timestamp>,
    /// Months added to CURRENT's expiry.
    #[arg(long, value_name = "N")]
    pub months: Option<u32>,
    /// The account the renewal is for: it must be CURRENT's (only the primary account renews);
    /// the ledger records it.
    #[arg(long)]
    pub account: Option<String>,
    /// Write the armored license to this file instead of printing the compact token.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// `issuer quote`.
#[derive(Debug, Args)]
pub struct QuoteArgs {
    /// The license in force (armored or compact; `-` for standard input).
    #[arg(long, value_name = "CURRENT")]
    pub from: PathBuf,
    /// The issuer's public key, to verify CURRENT.
    #[arg(long = "pub", value_name = "PUB", required = true)]
    pub public: Vec<PathBuf>,
    /// The product catalog (TOML) with the prices.
    #[arg(long, value_name = "CATALOG")]
    pub catalog: PathBuf,
    /// What the upgrade raises.
    #[command(flatten)]
    pub change: ChangeArgs,
    /// The time of the upgrade (default: now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<license_common::Timestamp>,
    /// Price a renewal by this many months instead of an upgrade.
    #[arg(long, value_name = "N", conflicts_with_all = ["renew_until", "edition", "plan", "packages", "quotas"])]
    pub renew_months: Option<u32>,
    /// Price a renewal to this expiry instead of an upgrade.
    #[arg(long, value_name = "TIME", conflicts_with_all = ["edition", "plan", "packages", "quotas"])]
    pub renew_until: Option<license_common::Timestamp>,
}

/// `issuer catalog …`.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Validate a catalog; on error, say what is wrong and on which line.
    Check {
        /// The catalog file (TOML); `-` for standard input.
        file: PathBuf,
    },
}

/// A plan: one of the library's, named as on the wire.
fn plan() -> license_cli::OneOf<Plan> {
    license_cli::one_of(&Plan::ALL, |p| p.as_str())
}

/// A ledger status: one of the library's, named as on the wire.
fn status() -> license_cli::OneOf<EntryStatus> {
    license_cli::one_of(&EntryStatus::ALL, |s| s.as_str())
}

fn parse_pair<T: std::str::FromStr>(s: &str) -> Result<(String, T), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    let value = value.parse().map_err(|_| format!("`{value}` is not a valid value for {name}"))?;
    if name.is_empty() {
        return Err(format!("`{s}` has no NAME before ="));
    }
    Ok((name.to_owned(), value))
}

/// `issuer revocations …`.
#[derive(Debug, Subcommand)]
pub enum RevocationsCommand {
    /// Sign a revocation list of every revocation and key retirement so far, with the next sequence.
    Export {
        /// The signing key (any key the installs trust).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Where the passphrase comes from.
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// The file to write (armored).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `issuer ledger …`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Re-verify everything stored against the keys given (never the ledger's own), compare
    /// every column derived from a signed token with it, recompute daily usage from the stored
    /// usage reports; list every difference by record and column, and exit 11 on any.
    /// License signatures are checked with Ed25519 batch verification (same verdicts,
    /// about twice as fast); a batch with a bad signature is re-checked license by license.
    Verify {
        /// A public key (SPKI PEM) the vendor trusts; repeat for every key that ever signed.
        #[arg(long = "pub", value_name = "PUB", required = true)]
        public: Vec<PathBuf>,
        /// Check each license signature on its own, with `verify_strict`'s verdicts, as activators do.
        #[arg(long)]
        one_by_one: bool,
    },
    /// List licenses, oldest first, with filters and pages.
    List {
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// Only licensees whose name contains this (ignoring case).
        #[arg(long)]
        licensee: Option<String>,
        /// Only this product.
        #[arg(long)]
        product: Option<String>,
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
        /// Only this status.
        #[arg(long, value_parser = status())]
        status: Option<EntryStatus>,
        /// Only active licenses that expire within DAYS days.
        #[arg(long, value_name = "DAYS")]
        expiring_within: Option<u32>,
        /// At most N licenses.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Skip the first N matching licenses.
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: usize,
    },
    /// The whole chain of a license: every license of its instance, receipts, deactivations,
    /// revocation; with --token, the license itself, armored, as it was signed.
    Show {
        /// The license id.
        id: String,
        /// Print the license file again (a lost license), instead of its chain.
        #[arg(long)]
        token: bool,
    },
    /// Pay-as-you-go orders not activated within their window (the account is back where it was before the order: community, or no license).
    Lapsed,
    /// Licenses run by more installs than they allow (from receipts and usage reports).
    Overuse,
    /// Forks and gaps in installs' chains of files: an install restored from a backup or
    /// copied, or files never imported.
    Forks,
    /// Everything on record, as JSON (with or without --json), for accounting.
    Export,
    /// Copy a whole ledger into a new, empty one: from the SQLite file into PostgreSQL
    /// (or back into a file). Every table, row by row, in one transaction; check the copy
    /// with `issuer --ledger TO ledger verify --pub …` before using it.
    Migrate {
        /// The ledger to copy: a SQLite file, or a postgres:// URL.
        #[arg(long, value_name = "LEDGER")]
        from: PathBuf,
        /// The new ledger: a postgres:// URL of an empty database (the password in PGPASSWORD or ~/.pgpass,
        /// never in the URL), or a new SQLite file.
        #[arg(long, value_name = "LEDGER")]
        to: PathBuf,
    },
}

/// `issuer receipts …` and `issuer usage …`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Verify and record files signed by installs; a file imported twice is recorded once.
    Import {
        /// The files (armored or compact).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `issuer serve [OPTIONS]` and `issuer serve token …`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    /// Manage the API's tokens instead of serving.
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    /// The signing key: an encrypted key file, or a `pkcs11:` URI.
    #[arg(long, value_name = "KEY", required = false)]
    pub key: Option<PathBuf>,
    /// A product catalog orders are checked against; repeat for every product sold.
    #[arg(long = "catalog", value_name = "CATALOG")]
    pub catalogs: Vec<PathBuf>,
    /// Where the passphrase (or the module's PIN) comes from.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Where to listen, ADDR:PORT (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = license_issuer_service::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// TLS certificate chain (PEM): required to listen off loopback.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Listen off loopback WITHOUT TLS (the network is trusted); warned about at start.
    #[arg(long)]
    pub insecure_listen: bool,
}

/// `issuer serve token …`.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The license API's tokens (stored hashed in the ledger).
    #[command(subcommand)]
    Token(ApiTokenCommand),
}

/// `issuer serve token …`.
#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Make a token and print it once (the ledger keeps only its hash).
    Create {
        /// What it may do: issue (create, upgrade, renew, quote, read), read, admin (everything).
        #[arg(long, value_parser = api_scopes())]
        scope: license_issuer::ledger::ApiScope,
        /// Who or what it is for (shown in the audit log's token list).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the tokens (ids, scopes, names; never the tokens).
    List,
    /// Revoke a token by its id; the API refuses it at once.
    Revoke {
        /// The token's id (the 16 hex digits after `ist1_`).
        id: String,
    },
}

fn api_scopes() -> license_cli::OneOf<license_issuer::ledger::ApiScope> {
    license_cli::one_of(&license_issuer::ledger::ApiScope::ALL, |s| s.as_str())
}
