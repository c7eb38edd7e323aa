//! `activator serve`: the service in the foreground, and its tokens.

use std::io::Write;
use std::path::PathBuf;

use license_activator::Activator;
use license_activator::tokens::ServiceToken;
use license_activator_service::{Config, TlsFiles};
use license_cli::Output;
use license_common::Timestamp;
use license_common::text::escape;
use serde::Serialize;

use crate::args::{ServeArgs, ServeCommand, TokenCommand};
use crate::error::Error;

/// `activator serve token list --json` (format 1).
#[derive(Serialize)]
struct Tokens<'a> {
    format: u32,
    tokens: &'a [ServiceToken],
}

/// `activator serve token create --json` (format 1): the token is in the
/// output once, and nowhere else.
#[derive(Serialize)]
struct Created<'a> {
    format: u32,
    token: &'a str,
    #[serde(flatten)]
    stored: &'a ServiceToken,
}

fn table(tokens: &[ServiceToken]) -> String {
    let mut t = format!("{:<18}{:<11}{:<22}{:<22}label\n", "id", "scope", "created", "revoked");
    for k in tokens {
        let revoked = k.revoked_at.map_or("-".to_owned(), |r| r.to_string());
        t.push_str(&format!(
            "{:<18}{:<11}{:<22}{:<22}{}\n",
            k.id,
            k.scope.to_string(),
            k.created_at.to_string(),
            revoked,
            escape(&k.label)
        ));
    }
    t
}

pub(crate) fn run(args: ServeArgs, state: Option<PathBuf>, now: Timestamp) -> Result<Output, Error> {
    let dir = license_activator::location::state_dir(state).ok_or(Error::NoStateDir)?;
    match args.command {
        Some(ServeCommand::Token(TokenCommand::Create { scope, label })) => {
            let mut activator = Activator::open(&dir)?;
            let made = activator.token_create(scope, &label, now)?;
            let text = format!(
                "{}\n(token {}, scope {scope}: shown once; send it as `Authorization: Bearer <token>`)\n",
                *made.text, made.stored.id
            );
            Ok(Output::new(&Created { format: 1, token: &made.text, stored: &made.stored }, text))
        }
        Some(ServeCommand::Token(TokenCommand::List)) => {
            let activator = Activator::open(&dir)?;
            let tokens = activator.tokens();
            Ok(Output::new(&Tokens { format: 1, tokens }, table(tokens)))
        }
        Some(ServeCommand::Token(TokenCommand::Revoke { id })) => {
            let mut activator = Activator::open(&dir)?;
            let token = activator.token_revoke(&id, now)?;
            let text = format!("revoked token {} ({})\n", token.id, token.scope);
            Ok(Output::new(&serde_json::json!({"format": 1, "revoked": token}), text))
        }
        None => {
            let tls = match (args.tls_cert, args.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => None,
            };
            let config = Config {
                state: dir,
                listen: args.listen,
                tls,
                insecure_listen: args.insecure_listen,
                seat_lease: std::time::Duration::from_secs(args.seat_lease),
            };
            license_activator_service::init_logging();
            license_activator_service::run_until_signal(config, |addr, tls| {
                let scheme = if tls { "https" } else { "http" };
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on {scheme}://{addr}");
                let _ = out.flush();
            })?;
            Ok(Output::new(&serde_json::json!({"format": 1, "stopped": true}), "stopped\n"))
        }
    }
}
