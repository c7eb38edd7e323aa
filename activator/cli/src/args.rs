//! Command-line arguments of `activator`: what clap checks, nothing more.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use license_common::keys::KeyUse;

/// Verify, activate and check vendor licenses on this install, offline.
#[derive(Debug, Parser)]
#[command(name = "activator", version, about, after_help = license_common::exit::summary())]
pub struct Cli {
    /// State directory (default: $ACTIVATOR_STATE, else $XDG_DATA_HOME/license-activator,
    /// else ~/.local/share/license-activator)
    #[arg(long, global = true, value_name = "DIR")]
    pub state: Option<PathBuf>,

    /// Print the result (or the error) as one JSON document on standard
    /// output, in the shape docs/CLI.md documents for each command.
    #[arg(long, global = true)]
    pub json: bool,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The `activator` commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an empty state directory (community edition) trusting the vendor's keys.
    Init {
        /// The product this install runs, as named in its licenses.
        #[arg(long)]
        product: String,
        /// The install's region or site; licenses for another region are then refused.
        #[arg(long)]
        region: Option<String>,
        /// A vendor public key file (SPKI PEM); repeat for several keys.
        #[arg(long = "trust", value_name = "PUB", required = true)]
        trust: Vec<PathBuf>,
        /// The product has no free edition: with no license in force the install runs nothing
        /// (not a community edition), and a released instance's data is due for deletion.
        #[arg(long)]
        no_free_edition: bool,
    },
    /// Verify a license and make it the one in force (all or nothing).
    ///
    /// The license is read from FILE (`-` for standard input), or from
    /// $ACTIVATOR_LICENSE (the text) or $ACTIVATOR_LICENSE_FILE (a path); give exactly one.
    Activate {
        /// License file, armored or compact; `-` for standard input.
        file: Option<PathBuf>,
        /// The data gateway address, ending in `?token={}` exactly as the vendor wrote it.
        #[arg(long, value_name = "URL")]
        gateway: Option<String>,
        /// The access key pair.
        #[command(flatten)]
        credentials: CredentialArgs,
        /// Let a license of another account replace the one in force (a deliberate
        /// account change); the output says what is thrown away.
        #[arg(long)]
        replace: bool,
    },
    /// Write a signed activation request for the vendor (air-gapped installs).
    Request {
        /// Write the armored request to this file instead of printing the compact token.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also draw the request as a QR code in the terminal (for a phone), when it fits.
        #[arg(long)]
        qr: bool,
    },
    /// Write a signed activation receipt for the license in force.
    Receipt {
        /// The file to write (armored).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Record and report the daily count of collectors (DataKits) that reported data.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Release the license from this install (back to community) and write a
    /// signed deactivation receipt, so the vendor can move it to a new machine.
    /// The receipt is kept: run it again (with no license in force) to write
    /// the receipt of the license released last once more.
    Deactivate {
        /// The file to write (armored).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The vendor keys this install trusts (key rotation).
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Vendor revocation lists.
    #[command(subcommand)]
    Revocations(RevocationsCommand),
    /// The vendor's word of the time, for an install whose clock mark a wrong clock pushed forward.
    #[command(subcommand)]
    Time(TimeCommand),
    /// List what was activated when, and which license replaced which.
    History,
    /// The data gateway address template (`...?token={}`).
    #[command(subcommand)]
    Gateway(GatewayCommand),
    /// The access key pair (AK/SK); the secret is stored sealed, never in plain text.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Show the edition, license, lifecycle and packages in force now.
    Status,
    /// Exit 0 when FEATURE (a package) is entitled now, 20 otherwise.
    Check {
        /// The package, e.g. data_service.
        feature: String,
        /// The lowest tier needed, e.g. api.s1.small.
        #[arg(long)]
        tier: Option<String>,
    },
    /// Run the install's local license service on this state directory: an
    /// HTTP API for launchers in any language, collector check-ins and seats,
    /// Prometheus metrics (docs/API.md). Stops on SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The access key pair as given on the command line: the secret never is.
#[derive(Debug, clap::Args)]
pub struct CredentialArgs {
    /// The access key (AK). The secret key (SK) is read from --sk-file,
    /// else from a no-echo prompt on a terminal, else from standard input.
    #[arg(long, value_name = "AK")]
    pub ak: Option<String>,
    /// Read the secret key (SK) from this file; `-` for standard input.
    #[arg(long, value_name = "FILE", requires = "ak")]
    pub sk_file: Option<PathBuf>,
}

/// `activator gateway …`.
#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Check and store the gateway address template.
    Set {
        /// The address, ending in `?token={}` exactly as the vendor wrote it.
        url: String,
    },
    /// Print the stored template, byte for byte.
    Show,
    /// Print the address for one workspace token (percent-encoded into `{}`).
    Render {
        /// The workspace token.
        #[arg(long)]
        token: String,
    },
}

/// `activator credentials …`.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Seal and store the access key pair.
    Set {
        /// The access key pair.
        #[command(flatten)]
        credentials: CredentialArgs,
    },
    /// Show the access key and the masked secret (`****` + last 4).
    Show,
}

/// `activator usage …`.
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Record the day's count of what the license meters (DataKits that reported data,
    /// processing units in use, …); the day keeps the largest count recorded.
    Record {
        /// The count (`--datakits` is the same flag, kept for the observability platform).
        #[arg(long, value_name = "N", visible_alias = "datakits")]
        count: u64,
        /// The day (YYYY-MM-DD) (default: today, in the time zone of the license's billing,
        /// e.g. China Standard Time, else UTC).
        #[arg(long, value_name = "DATE")]
        day: Option<chrono::NaiveDate>,
    },
    /// Write a signed usage report of the days from --from to --to, inclusive.
    Report {
        /// First day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: chrono::NaiveDate,
        /// Last day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: chrono::NaiveDate,
        /// The file to write (armored).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `activator trust …`.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a vendor public key (SPKI PEM), optionally only for licenses it signed until a time.
    Add {
        /// The public key file.
        public: PathBuf,
        /// Licenses this key signed after this time are refused (RFC 3339 UTC or YYYY-MM-DD).
        #[arg(long, value_name = "TIME")]
        not_after: Option<license_common::Timestamp>,
        /// What the key may sign.
        #[arg(long = "use", value_name = "USE", value_parser = key_use(), default_value = "all")]
        usage: KeyUse,
        /// Trust it without asking (for scripts; on a terminal the command asks first).
        #[arg(long)]
        yes: bool,
    },
    /// Stop trusting a key: licenses it signed are refused from now on.
    Remove {
        /// The key id (16 hex digits).
        kid: String,
    },
    /// List the trusted keys.
    List,
}

/// `activator time …`.
#[derive(Debug, Subcommand)]
pub enum TimeCommand {
    /// Import a time attestation the vendor made from this install's activation request
    /// (`issuer attest-time --bind REQUEST`): the clock mark becomes the vendor's time.
    Import {
        /// The attestation, armored or compact; `-` for standard input.
        file: PathBuf,
    },
}

/// `activator revocations …`.
#[derive(Debug, Subcommand)]
pub enum RevocationsCommand {
    /// Import a signed revocation list; it must be newer than the one imported before.
    Import {
        /// The list, armored or compact; `-` for standard input.
        file: PathBuf,
    },
}

/// What a trusted key may sign: one of the library's uses.
fn key_use() -> license_cli::OneOf<KeyUse> {
    license_cli::one_of(&KeyUse::ALL, |u| u.as_str())
}

/// `activator serve [OPTIONS]` and `activator serve token …`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    /// Manage the service's bearer tokens instead of serving.
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    /// Where to listen, ADDR:PORT (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = license_activator_service::DEFAULT_LISTEN)]
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
    /// Seconds a collector keeps its seat after its last check-in.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub seat_lease: u64,
}

/// `activator serve token …`.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The service's bearer tokens (stored hashed in the state).
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `activator serve token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it once (it is stored only as a hash).
    Create {
        /// What it may do: admin (everything), launcher (read, check, render), collector (check in).
        #[arg(long, value_parser = scopes())]
        scope: license_activator::tokens::Scope,
        /// A note: who or what it is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List the tokens (ids, scopes, labels; never the tokens).
    List,
    /// Revoke a token by its id; the service refuses it at once.
    Revoke {
        /// The token's id (the 16 hex digits after `lst1_`).
        id: String,
    },
}

fn scopes() -> license_cli::OneOf<license_activator::tokens::Scope> {
    license_cli::one_of(&license_activator::tokens::Scope::ALL, |s| s.as_str())
}
