//! `issuer serve`: the license API in the foreground, and its tokens.

use std::io::Write;
use std::path::Path;

use license_cli::Output;
use license_common::Timestamp;
use license_common::text::escape;
use license_issuer::catalogs;
use license_issuer::ledger::ApiToken;
use license_issuer_service::{Config, TlsFiles};
use serde::Serialize;

use crate::args::{ApiTokenCommand, ServeArgs, ServeCommand};
use crate::commands::open_ledger;
use crate::error::Error;

/// `issuer serve token create --json` (format 1): the token is in the
/// output once, and nowhere else.
#[derive(Serialize)]
struct Created<'a> {
    format: u32,
    token: &'a str,
    #[serde(flatten)]
    stored: &'a ApiToken,
}

fn table(tokens: &[ApiToken]) -> String {
    let mut t = format!("{:<18}{:<8}{:<22}{:<22}name\n", "id", "scope", "created", "revoked");
    for k in tokens {
        t.push_str(&format!(
            "{:<18}{:<8}{:<22}{:<22}{}\n",
            k.id,
            k.scope.as_str(),
            k.created_at,
            k.revoked_at.as_deref().unwrap_or("-"),
            escape(&k.name)
        ));
    }
    t
}

/// A usage error in clap's words (status 2), for what clap cannot require
/// because the token subcommands do without it.
fn missing(what: &str) -> ! {
    let mut cmd = <crate::args::Cli as clap::CommandFactory>::command();
    cmd.error(clap::error::ErrorKind::MissingRequiredArgument, format!("`issuer serve` needs {what}")).exit()
}

pub(crate) fn run(args: ServeArgs, ledger: Option<&Path>, now: Timestamp) -> Result<Output, Error> {
    match args.command {
        Some(ServeCommand::Token(ApiTokenCommand::Create { scope, name })) => {
            let made = open_ledger(ledger)?.api_token_create(scope, &name, now)?;
            let text = format!(
                "{}\n(token {}, scope {}: shown once; send it as `Authorization: Bearer <token>`)\n",
                *made.text,
                made.token.id,
                scope.as_str()
            );
            Ok(Output::new(&Created { format: 1, token: &made.text, stored: &made.token }, text))
        }
        Some(ServeCommand::Token(ApiTokenCommand::List)) => {
            let tokens = crate::commands::open_existing_ledger(ledger)?.api_tokens()?;
            Ok(Output::new(&serde_json::json!({"format": 1, "tokens": tokens}), table(&tokens)))
        }
        Some(ServeCommand::Token(ApiTokenCommand::Revoke { id })) => {
            let revoked = crate::commands::open_existing_ledger(ledger)?.api_token_revoke(&id, now)?;
            let text = if revoked {
                format!("revoked API token {id}\n")
            } else {
                format!("API token {id} was already revoked\n")
            };
            Ok(Output::new(&serde_json::json!({"format": 1, "id": id, "revoked": true, "new": revoked}), text))
        }
        None => {
            let Some(key_path) = args.key.as_deref() else { missing("--key KEY") };
            if args.catalogs.is_empty() {
                missing("--catalog CATALOG (one per product sold)");
            }
            let catalogs = args.catalogs.iter().map(|c| catalogs::load(c)).collect::<Result<Vec<_>, _>>()?;
            let path = crate::commands::ledger_location(ledger)?;
            let key = crate::passphrase::open_key(key_path, &args.passphrase)?;
            let tls = match (args.tls_cert, args.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => None,
            };
            let mut config = Config::new(&path, args.listen, key, catalogs);
            config.tls = tls;
            config.insecure_listen = args.insecure_listen;
            license_issuer_service::init_logging();
            license_issuer_service::run_until_signal(config, |addr, tls| {
                let scheme = if tls { "https" } else { "http" };
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on {scheme}://{addr}");
                let _ = out.flush();
            })?;
            Ok(Output::new(&serde_json::json!({"format": 1, "stopped": true}), "stopped\n"))
        }
    }
}
