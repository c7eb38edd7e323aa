//! What the license API (`issuer serve`) keeps in the ledger: its tokens,
//! the idempotency keys of the calls that signed, and the audit log.
//!
//! * **Tokens** are made by the vendor's operator, shown once, and stored
//!   only as the SHA-256 of their text (`ist1_<id>_<secret>`, the secret 32
//!   random bytes); a presented token is looked up by id and its hash
//!   compared in constant time. Scopes: `issue` (create, upgrade, renew,
//!   quote, and read), `read` (listings, chains, tokens again, quotes,
//!   bills), `admin` (everything: revocations, keys, imports, tokens' use).
//! * **Idempotency**: a call that signs carries a key (the billing system's
//!   order id). [`Ledger::idempotent`] records the key, the route and the
//!   SHA-256 of the request's body *in the transaction that signs*, with
//!   the license (or revocation list) made: the same key with the same body
//!   later returns what was made then, and with another body is refused. A
//!   retried payment webhook never makes two licenses, even from two
//!   processes at once (the key is the table's primary key).
//! * **The audit log** records who did what, when, from which token: one
//!   row per API call. A call that signs gets its row in the transaction
//!   that signs, so nothing is signed without the row naming its caller.

use super::db::{self, OptionalExtension, params};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use license_common::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::Ledger;
use crate::error::IssuerError;

/// The prefix of every API token's text.
pub const TOKEN_PREFIX: &str = "ist1_";
/// The most API tokens a ledger keeps (revoked ones included).
pub const MAX_TOKENS: i64 = 1024;

/// What an API token may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, strum::EnumString, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ApiScope {
    /// Everything.
    Admin,
    /// Create, upgrade, renew and quote licenses, and read.
    Issue,
    /// Read: listings, chains, tokens again, quotes, bills.
    Read,
}

impl ApiScope {
    /// Every scope.
    pub const ALL: [ApiScope; 3] = [ApiScope::Admin, ApiScope::Issue, ApiScope::Read];

    /// Whether a token of this scope may do what `needed` allows.
    pub fn allows(self, needed: ApiScope) -> bool {
        match self {
            ApiScope::Admin => true,
            ApiScope::Issue => needed != ApiScope::Admin,
            ApiScope::Read => needed == ApiScope::Read,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An API token as the ledger keeps it: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// The id (16 hex digits), the part of the text before the secret.
    pub id: String,
    /// What it may do.
    pub scope: ApiScope,
    /// Who or what it is for.
    pub name: String,
    /// When it was made.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A new token: its text, shown once and wiped when dropped, and its entry.
pub struct NewApiToken {
    /// `ist1_<id>_<secret>`.
    pub text: Zeroizing<String>,
    /// What the ledger keeps.
    pub token: ApiToken,
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The id a presented token claims, if it has the shape of one.
pub fn claimed_id(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 43).then_some(id)
}

/// What an idempotency key is bound to: SHA-256 digests, in hex, of a
/// request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyDigest {
    /// Of the body's JSON value in one form (every object's keys sorted, no
    /// whitespace), so that a retry that serialises the same order again,
    /// its keys in another order or its spacing changed, is the same
    /// request; of the bytes as sent for a body that is not JSON. What a
    /// key is recorded with.
    pub canonical: String,
    /// Of the bytes as sent: what a key recorded by an earlier build is
    /// bound to, so that a retry sent byte for byte still replays across
    /// an upgrade.
    pub exact: String,
}

/// The digests of a request body ([`BodyDigest`]).
pub fn body_digest(body: &[u8]) -> BodyDigest {
    let exact = hex::encode(Sha256::digest(body));
    let canonical = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => {
            serde_json::to_vec(&sorted(value)).map_or_else(|_| exact.clone(), |c| hex::encode(Sha256::digest(c)))
        }
        Err(_) => exact.clone(),
    };
    BodyDigest { canonical, exact }
}

/// `value` with every object's keys in sorted order (the parser's depth
/// limit bounds the recursion).
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A call that signs, as the API presents it to [`Ledger::idempotent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The caller's idempotency key (1 to 200 printable characters).
    pub key: String,
    /// The route, e.g. `POST /v1/licenses`.
    pub route: String,
    /// [`body_digest`] of the body.
    pub body: BodyDigest,
    /// The id of the token that made the call.
    pub token_id: String,
    /// That token's scope.
    pub scope: ApiScope,
}

/// What an earlier call with the same key made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// The key.
    pub key: String,
    /// The route it was used on.
    pub route: String,
    /// The license made, if the call made one.
    pub license_id: Option<String>,
    /// The revocation list signed, if the call signed one.
    pub list_sequence: Option<i64>,
    /// When.
    pub created_at: String,
    /// By which token.
    pub token_id: String,
}

/// The outcome of an idempotent call.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Done now.
    Done(T),
    /// Done before, with the same key and body: what was made then.
    Replayed(Recorded),
}

/// One row of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Its number, in order.
    pub seq: i64,
    /// When.
    pub at: String,
    /// The token's id (`-` for a call without a valid token).
    pub token_id: String,
    /// The token's scope, if it had one.
    pub scope: Option<String>,
    /// `POST /v1/licenses`, ….
    pub route: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The idempotency key, for a call that signs.
    pub idempotency_key: Option<String>,
    /// The license the call made or named, if any.
    pub license_id: Option<String>,
}

impl Ledger {
    /// Makes an API token of `scope` for `name` and records its hash.
    pub fn api_token_create(
        &mut self,
        scope: ApiScope,
        name: &str,
        now: Timestamp,
    ) -> Result<NewApiToken, IssuerError> {
        if !name.is_empty() {
            crate::order::check_text_len("token name", name, 200)?;
        }
        let id = hex::encode(license_common::random::bytes::<8>()?);
        let secret = license_common::random::secret::<32>()?;
        let text = Zeroizing::new(format!("{TOKEN_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(&secret[..])));
        let token = ApiToken { id, scope, name: name.to_owned(), created_at: now.to_string(), revoked_at: None };
        self.transaction(|rec| {
            let count: i64 =
                rec.tx().query_row("SELECT COUNT(*) FROM api_tokens", [], |r| r.get(0)).map_err(rec.err())?;
            if count >= MAX_TOKENS {
                return Err(IssuerError::TooManyApiTokens { max: MAX_TOKENS });
            }
            rec.tx()
                .execute(
                    "INSERT INTO api_tokens (id, scope, name, sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![token.id, scope.as_str(), token.name, digest(&text), token.created_at],
                )
                .map_err(rec.err())?;
            Ok(())
        })?;
        Ok(NewApiToken { text, token })
    }

    /// Every API token, oldest first.
    pub fn api_tokens(&self) -> Result<Vec<ApiToken>, IssuerError> {
        let err = super::db_error(self.path());
        let mut stmt = self
            .conn()
            .prepare("SELECT id, scope, name, created_at, revoked_at FROM api_tokens ORDER BY created_at, id")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                let scope: String = r.get(1)?;
                Ok(ApiToken {
                    id: r.get(0)?,
                    scope: scope.parse().unwrap_or(ApiScope::Read),
                    name: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(rows)
    }

    /// Revokes the token `id`: it authenticates nothing from now on. False
    /// when it already was revoked.
    pub fn api_token_revoke(&mut self, id: &str, now: Timestamp) -> Result<bool, IssuerError> {
        self.transaction(|rec| {
            let state: Option<Option<String>> = rec
                .tx()
                .query_row("SELECT revoked_at FROM api_tokens WHERE id = ?1", params![id], |r| r.get(0))
                .optional()
                .map_err(rec.err())?;
            match state {
                None => Err(IssuerError::UnknownApiToken { id: id.to_owned() }),
                Some(Some(_)) => Ok(false),
                Some(None) => {
                    rec.tx()
                        .execute("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1", params![id, now.to_string()])
                        .map_err(rec.err())?;
                    Ok(true)
                }
            }
        })
    }

    /// The live token `text` is, with its scope; `None` for anything else
    /// (unknown, revoked, or a wrong secret, compared in constant time).
    pub fn api_authenticate(&self, text: &str) -> Result<Option<ApiToken>, IssuerError> {
        let Some(id) = claimed_id(text) else { return Ok(None) };
        let err = super::db_error(self.path());
        let row: Option<(String, String, String, String)> = self
            .conn()
            .prepare_cached(
                "SELECT scope, name, sha256, created_at FROM api_tokens WHERE id = ?1 AND revoked_at IS NULL",
            )
            .and_then(|mut s| s.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional())
            .map_err(&err)?;
        let Some((scope, name, sha256, created_at)) = row else { return Ok(None) };
        if !bool::from(digest(text).as_bytes().ct_eq(sha256.as_bytes())) {
            return Ok(None);
        }
        let Ok(scope) = scope.parse() else { return Ok(None) };
        Ok(Some(ApiToken { id: id.to_owned(), scope, name, created_at, revoked_at: None }))
    }

    /// What the key `key` made, if it was used.
    pub fn recorded(&self, key: &str) -> Result<Option<(Recorded, String)>, IssuerError> {
        let err = super::db_error(self.path());
        self.conn()
            .prepare_cached(
                "SELECT key, route, license_id, list_sequence, created_at, token_id, body_sha256
                 FROM idempotency WHERE key = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![key], |r| {
                    Ok((
                        Recorded {
                            key: r.get(0)?,
                            route: r.get(1)?,
                            license_id: r.get(2)?,
                            list_sequence: r.get(3)?,
                            created_at: r.get(4)?,
                            token_id: r.get(5)?,
                        },
                        r.get(6)?,
                    ))
                })
                .optional()
            })
            .map_err(&err)
    }

    /// What `request`'s key made before, if it made something for the same
    /// route and body; refused when the key is malformed, or was used for
    /// another route or body ([`IssuerError::IdempotencyConflict`]).
    pub fn check_request(&self, request: &Request) -> Result<Option<Recorded>, IssuerError> {
        check_key(&request.key)?;
        match self.recorded(&request.key)? {
            Some((r, body))
                if r.route == request.route && [&request.body.canonical, &request.body.exact].contains(&&body) =>
            {
                Ok(Some(r))
            }
            Some((r, _)) => Err(IssuerError::IdempotencyConflict { key: request.key.clone(), route: r.route }),
            None => Ok(None),
        }
    }

    /// Runs `op` (which signs, through this ledger) once per idempotency
    /// key: the key, its route, its body's digest and its token are recorded
    /// in the transaction that signs, with what it made. The same key again
    /// with the same route and body gives [`Outcome::Replayed`] without
    /// running `op`; with another route or body it is refused
    /// ([`IssuerError::IdempotencyConflict`]). When `op` fails, nothing is
    /// recorded and the key may be used again.
    pub fn idempotent<T>(
        &mut self,
        request: &Request,
        op: impl FnOnce(&mut Ledger) -> Result<T, IssuerError>,
    ) -> Result<Outcome<T>, IssuerError> {
        let replay = |ledger: &Ledger| ledger.check_request(request);
        if let Some(r) = replay(self)? {
            return Ok(Outcome::Replayed(r));
        }
        self.request = Some(request.clone());
        let out = op(self);
        self.request = None;
        match out {
            Ok(done) => Ok(Outcome::Done(done)),
            // Another process took the key between the look-up and the
            // transaction: what it made is the answer.
            Err(IssuerError::IdempotencyRace) => match replay(self)? {
                Some(r) => Ok(Outcome::Replayed(r)),
                None => Err(IssuerError::IdempotencyRace),
            },
            Err(e) => Err(e),
        }
    }

    /// The compact token of revocation list `sequence`, as it was signed.
    pub fn revocation_list(&self, sequence: i64) -> Result<String, IssuerError> {
        self.conn()
            .query_row("SELECT token FROM revocation_lists WHERE sequence = ?1", params![sequence], |r| r.get(0))
            .optional()
            .map_err(super::db_error(self.path()))?
            .ok_or_else(|| IssuerError::NotInLedger { id: format!("revocation list {sequence}") })
    }

    /// Appends a row to the audit log (a call that signed has its row from
    /// its signing transaction already).
    #[allow(clippy::too_many_arguments)]
    pub fn audit_api(
        &mut self,
        token: Option<&ApiToken>,
        route: &str,
        status: u16,
        idempotency_key: Option<&str>,
        license_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), IssuerError> {
        self.transaction(|rec| {
            rec.tx()
                .prepare_cached(
                    "INSERT INTO api_audit (at, token_id, scope, route, status, idempotency_key, license_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        now.to_string(),
                        token.map_or("-", |t| t.id.as_str()),
                        token.map(|t| t.scope.as_str()),
                        route,
                        status,
                        idempotency_key,
                        license_id
                    ])
                })
                .map_err(rec.err())?;
            Ok(())
        })
    }

    /// The audit log, newest first: `limit` rows after skipping `offset`,
    /// only `token_id`'s when given.
    pub fn audit_log(&self, token_id: Option<&str>, limit: u32, offset: u32) -> Result<Vec<AuditEntry>, IssuerError> {
        let err = super::db_error(self.path());
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT seq, at, token_id, scope, route, status, idempotency_key, license_id FROM api_audit
                 WHERE CAST(?1 AS TEXT) IS NULL OR token_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![token_id, limit, offset], |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    token_id: r.get(2)?,
                    scope: r.get(3)?,
                    route: r.get(4)?,
                    status: r.get(5)?,
                    idempotency_key: r.get(6)?,
                    license_id: r.get(7)?,
                })
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(rows)
    }
}

/// An idempotency key: 1 to 200 printable ASCII characters.
fn check_key(key: &str) -> Result<(), IssuerError> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(IssuerError::BadIdempotencyKey);
    }
    Ok(())
}

/// Inside the transaction that signs: records the key (the primary key
/// refuses a second use, even from another process) and the call's audit
/// row (status 201), so that a call that signs commits once.
pub(crate) fn record_request(tx: db::Q<'_>, request: &Request, now: Timestamp) -> db::Result<Option<i64>> {
    let inserted = tx.execute(
        "INSERT INTO idempotency (key, route, body_sha256, token_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO NOTHING",
        params![request.key, request.route, request.body.canonical, request.token_id, now.to_string()],
    )?;
    if inserted != 1 {
        return Ok(None);
    }
    let seq = tx.query_row(
        "INSERT INTO api_audit (at, token_id, scope, route, status, idempotency_key) VALUES (?1, ?2, ?3, ?4, 201, ?5)
         RETURNING seq",
        params![now.to_string(), request.token_id, request.scope.as_str(), request.route, request.key],
        |r| r.get(0),
    )?;
    Ok(Some(seq))
}

/// Inside the transaction that signs: ties the license made to the call's
/// key and its audit row `audit`.
pub(crate) fn record_license(tx: db::Q<'_>, key: &str, audit: i64, license_id: &str) -> db::Result<()> {
    tx.prepare_cached("UPDATE idempotency SET license_id = COALESCE(license_id, ?1) WHERE key = ?2")?
        .execute(params![license_id, key])?;
    tx.prepare_cached("UPDATE api_audit SET license_id = COALESCE(license_id, ?1) WHERE seq = ?2")?
        .execute(params![license_id, audit])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse("2026-12-01T00:00:00Z").unwrap()
    }

    #[test]
    fn tokens_authenticate_with_their_scope_until_revoked_and_never_store_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let a = ledger.api_token_create(ApiScope::Issue, "billing", now()).unwrap();
        let b = ledger.api_token_create(ApiScope::Read, "reports", now()).unwrap();
        assert_eq!(ledger.api_authenticate(&a.text).unwrap().unwrap().scope, ApiScope::Issue);
        assert_eq!(ledger.api_authenticate(&b.text).unwrap().unwrap().name, "reports");
        let mut wrong = a.text.to_string();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert!(ledger.api_authenticate(&wrong).unwrap().is_none());
        let mixed = format!("{TOKEN_PREFIX}{}_{}", a.token.id, &b.text[TOKEN_PREFIX.len() + 17..]);
        assert!(ledger.api_authenticate(&mixed).unwrap().is_none());
        assert!(ledger.api_authenticate("").unwrap().is_none());
        let secret = &a.text[TOKEN_PREFIX.len() + 17..];
        let bytes = std::fs::read(dir.path().join("l.sqlite3")).unwrap();
        let wal = std::fs::read(dir.path().join("l.sqlite3-wal")).unwrap_or_default();
        for file in [&bytes, &wal] {
            assert!(!file.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is stored");
        }
        assert!(ledger.api_token_revoke(&a.token.id, now()).unwrap());
        assert!(!ledger.api_token_revoke(&a.token.id, now()).unwrap());
        assert!(ledger.api_authenticate(&a.text).unwrap().is_none());
        assert!(matches!(ledger.api_token_revoke("0000000000000000", now()), Err(IssuerError::UnknownApiToken { .. })));
        assert_eq!(ledger.api_tokens().unwrap().len(), 2);
    }

    #[test]
    fn scopes_nest_admin_over_issue_over_read() {
        assert!(ApiScope::Admin.allows(ApiScope::Admin) && ApiScope::Admin.allows(ApiScope::Read));
        assert!(ApiScope::Issue.allows(ApiScope::Issue) && ApiScope::Issue.allows(ApiScope::Read));
        assert!(!ApiScope::Issue.allows(ApiScope::Admin) && !ApiScope::Read.allows(ApiScope::Issue));
        assert_eq!("issue".parse::<ApiScope>().unwrap(), ApiScope::Issue);
    }

    #[test]
    fn a_key_runs_once_a_failed_call_frees_it_and_another_body_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let request = Request {
            key: "order-1001".into(),
            route: "POST /v1/revocations".into(),
            body: body_digest(b"{}"),
            token_id: "0123456789abcdef".into(),
            scope: ApiScope::Admin,
        };
        let key = license_common::signing::IssuerKey::from_seed(&[3; 32]);
        // A failing call records nothing.
        let failed = ledger.idempotent(&request, |_| Err::<(), _>(IssuerError::EmptyBatch));
        assert!(matches!(failed, Err(IssuerError::EmptyBatch)));
        assert!(ledger.recorded("order-1001").unwrap().is_none());
        let first = ledger.idempotent(&request, |l| l.export_revocations(&key, now())).unwrap();
        let Outcome::Done((list, _)) = first else { panic!("done the first time") };
        let again = ledger.idempotent(&request, |l| l.export_revocations(&key, now())).unwrap();
        let Outcome::Replayed(r) = again else { panic!("replayed") };
        assert_eq!(r.list_sequence, Some(i64::try_from(list.sequence).unwrap()));
        let other = Request { body: body_digest(b"{\"x\":1}"), ..request.clone() };
        assert!(matches!(
            ledger.idempotent(&other, |l| l.export_revocations(&key, now())),
            Err(IssuerError::IdempotencyConflict { .. })
        ));
        for bad in ["", "has space", &"x".repeat(201)] {
            let r = Request { key: bad.into(), ..request.clone() };
            assert!(matches!(ledger.idempotent(&r, |_| Ok(())), Err(IssuerError::BadIdempotencyKey)));
        }
    }

    #[test]
    fn a_body_is_the_same_request_whatever_its_key_order_or_spacing() {
        let compact = br#"{"account":"acct-1","packages":{"b":"s1","a":"s2"},"quotas":[{"y":1,"x":2}],"months":12}"#;
        let respaced = b"{ \"months\" : 12,\n  \"quotas\": [ {\"x\":2, \"y\":1} ],\n  \"packages\": {\"a\":\"s2\",\"b\":\"\\u00731\"},\n  \"account\": \"acct-1\" }\n";
        assert_ne!(body_digest(compact).exact, body_digest(respaced).exact);
        assert_eq!(body_digest(compact).canonical, body_digest(respaced).canonical);
        // Another value is another request: a changed value, an array in
        // another order, a number written as a float, a key left out.
        for other in [
            &br#"{"account":"acct-2","packages":{"b":"s1","a":"s2"},"quotas":[{"y":1,"x":2}],"months":12}"#[..],
            br#"{"account":"acct-1","packages":{"b":"s1","a":"s2"},"quotas":[{"y":1,"x":2}],"months":12.0}"#,
            br#"{"account":"acct-1","packages":{"b":"s1","a":"s2"},"quotas":[{"y":1,"x":2},{}],"months":12}"#,
            br#"{"account":"acct-1","packages":{"b":"s1"},"quotas":[{"y":1,"x":2}],"months":12}"#,
        ] {
            assert_ne!(
                body_digest(compact).canonical,
                body_digest(other).canonical,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        // A body that is not JSON is taken byte for byte.
        for raw in [&b""[..], b"{\"a\":", b"not json", b"\xff\xfe"] {
            let d = body_digest(raw);
            assert_eq!(d.canonical, d.exact);
        }
        assert_ne!(body_digest(b"{\"a\":").canonical, body_digest(b"{\"a\": ").canonical);
    }

    #[test]
    fn a_key_recorded_with_the_bytes_digest_still_replays_a_byte_for_byte_retry() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let sent = b"{ \"reason\": \"rotation\" }";
        let digest = body_digest(sent);
        assert_ne!(digest.canonical, digest.exact);
        // As an earlier build recorded it: bound to the bytes.
        let old = Request {
            key: "order-2002".into(),
            route: "POST /v1/revocations".into(),
            body: BodyDigest { canonical: digest.exact.clone(), exact: digest.exact.clone() },
            token_id: "0123456789abcdef".into(),
            scope: ApiScope::Admin,
        };
        let key = license_common::signing::IssuerKey::from_seed(&[3; 32]);
        assert!(matches!(ledger.idempotent(&old, |l| l.export_revocations(&key, now())).unwrap(), Outcome::Done(_)));
        let retry = Request { body: digest, ..old.clone() };
        let again = ledger.idempotent(&retry, |l| l.export_revocations(&key, now())).unwrap();
        assert!(matches!(again, Outcome::Replayed(_)), "the same bytes replay");
        let changed = Request { body: body_digest(b"{\"reason\":\"compromise\"}"), ..old };
        assert!(matches!(
            ledger.idempotent(&changed, |l| l.export_revocations(&key, now())),
            Err(IssuerError::IdempotencyConflict { .. })
        ));
    }
}
