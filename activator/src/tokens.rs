//! Bearer tokens of the install's local service (`activator serve`).
//!
//! A token is made by the operator (`activator serve token create --scope
//! …`), shown once, and stored only as its SHA-256 hash in the state (under
//! the state's MAC, like everything else there). Its text is
//! `lst1_<id>_<secret>`: the id (16 hex digits) names the stored entry, the
//! secret is 32 random bytes in base64url. A presented token is looked up
//! by id and its hash compared in constant time.
//!
//! Scopes: `admin` may do everything; `launcher` may read status, checks,
//! quotas, history and usage and render gateway addresses; `collector` may
//! only check in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use license_common::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// What a token may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, strum::EnumString, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Scope {
    /// Everything, activation included.
    Admin,
    /// Read status, checks, quotas, history and usage; render gateways.
    Launcher,
    /// Check in as a collector, nothing else.
    Collector,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Admin, Scope::Launcher, Scope::Collector];

    /// Its name: `admin`, `launcher`, `collector`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Launcher => "launcher",
            Scope::Collector => "collector",
        }
    }

    /// Whether a token of this scope may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
    }
}

/// A token as the state keeps it: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceToken {
    /// The token's id (16 hex digits), the part of its text before the secret.
    pub id: String,
    /// What it may do.
    pub scope: Scope,
    /// SHA-256 of the whole token text, in hex.
    pub sha256: String,
    /// An operator's note (who or what it is for).
    #[serde(default)]
    pub label: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// The most tokens a state keeps (revoked ones included).
pub const MAX_TOKENS: usize = 256;

/// The prefix of every token's text.
pub const PREFIX: &str = "lst1_";

/// A newly made token: its text, to be shown once, and what is stored.
pub struct NewToken {
    /// The whole token text (`lst1_<id>_<secret>`), wiped when dropped.
    pub text: Zeroizing<String>,
    /// What the state keeps.
    pub stored: ServiceToken,
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Makes a token of `scope`.
pub fn make(scope: Scope, label: &str, now: Timestamp) -> Result<NewToken, license_common::random::RandomError> {
    let id = hex::encode(license_common::random::bytes::<8>()?);
    let secret = license_common::random::secret::<32>()?;
    let text = Zeroizing::new(format!("{PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(&secret[..])));
    let stored =
        ServiceToken { id, scope, sha256: digest(&text), label: label.to_owned(), created_at: now, revoked_at: None };
    Ok(NewToken { text, stored })
}

/// The secret part of a token's text (after `lst1_<id>_`; it may itself
/// contain `_`).
pub fn secret_of(text: &str) -> Option<&str> {
    claimed_id(text)?;
    text.get(PREFIX.len() + 17..)
}

/// The id a presented token claims, if it has the shape of one.
pub fn claimed_id(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 43).then_some(id)
}

/// The scope of `text` among `tokens`, if it is one of them and not revoked.
pub fn verify(tokens: &[ServiceToken], text: &str) -> Option<Scope> {
    let id = claimed_id(text)?;
    let stored = tokens.iter().find(|t| t.id == id && t.revoked_at.is_none())?;
    let presented = digest(text);
    bool::from(presented.as_bytes().ct_eq(stored.sha256.as_bytes())).then_some(stored.scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse("2026-12-01T00:00:00Z").unwrap()
    }

    #[test]
    fn a_token_verifies_with_its_scope_and_nothing_else_does() {
        let a = make(Scope::Launcher, "launcher", now()).unwrap();
        let b = make(Scope::Collector, "", now()).unwrap();
        let tokens = vec![a.stored.clone(), b.stored.clone()];
        assert_eq!(verify(&tokens, &a.text), Some(Scope::Launcher));
        assert_eq!(verify(&tokens, &b.text), Some(Scope::Collector));
        // One character of the secret changed, the id of one with the secret of the other.
        let mut wrong = a.text.to_string();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(verify(&tokens, &wrong), None);
        let mixed = format!("{PREFIX}{}_{}", a.stored.id, secret_of(&b.text).unwrap());
        assert_eq!(verify(&tokens, &mixed), None);
        assert_eq!(secret_of(&a.text).unwrap().len(), 43);
        assert_eq!(verify(&tokens, ""), None);
        assert_eq!(verify(&tokens, "Bearer x"), None);
        // The stored entry never holds the secret.
        assert!(!serde_json::to_string(&tokens).unwrap().contains(secret_of(&a.text).unwrap()));
        // Revoked tokens do not verify.
        let mut revoked = tokens.clone();
        revoked[0].revoked_at = Some(now());
        assert_eq!(verify(&revoked, &a.text), None);
    }

    #[test]
    fn admin_allows_everything_and_the_others_only_their_own() {
        assert!(Scope::Admin.allows(Scope::Launcher) && Scope::Admin.allows(Scope::Collector));
        assert!(Scope::Launcher.allows(Scope::Launcher) && !Scope::Launcher.allows(Scope::Admin));
        assert!(!Scope::Collector.allows(Scope::Launcher) && !Scope::Launcher.allows(Scope::Collector));
        assert_eq!("collector".parse::<Scope>().unwrap(), Scope::Collector);
    }
}
