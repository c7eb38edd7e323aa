//! The routes of the license API: thin handlers around the issuer library.
//! Every call is authenticated, checked against its scope, run on the
//! blocking pool against the ledger, and written to the audit log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use license_common::Timestamp;
use license_common::catalog::Catalog;
use license_common::license::Plan;
use license_issuer::keyfile::SigningKey;
use license_issuer::ledger::{ApiScope, ApiToken, Filter, Ledger, Outcome, Request};
use license_issuer::upgrade::{RenewTerm, UpgradeRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ServiceError;

/// What every handler shares.
pub(crate) struct App {
    /// The connection of every call that changes the ledger.
    pub(crate) ledger: Mutex<Ledger>,
    /// A second connection for calls that only read (listings, bills, the
    /// audit log, quotes): a listing that reads every row (a second on
    /// 100,000 licenses) holds up no create. SQLite's WAL and PostgreSQL
    /// both let it read while the other writes.
    pub(crate) reader: Mutex<Ledger>,
    pub(crate) key: SigningKey,
    pub(crate) catalogs: BTreeMap<String, Catalog>,
}

type Shared = State<Arc<App>>;

/// A handler's answer: status, body, and the license it made or named (for
/// the audit log).
struct Answer {
    status: StatusCode,
    body: Value,
    license: Option<String>,
}

fn ok(body: Value) -> Answer {
    Answer { status: StatusCode::OK, body, license: None }
}

/// What a handler gets: the app, the ledger (locked), the caller's token,
/// and the idempotency request of a call that signs.
struct Call<'a> {
    app: &'a App,
    ledger: &'a mut Ledger,
    request: Option<Request>,
    now: Timestamp,
}

/// The routes.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({"format": 1, "status": "ok"})) }))
        .route("/v1/licenses", post(create).get(list))
        .route("/v1/licenses/{id}", get(show))
        .route("/v1/licenses/{id}/token", get(token))
        .route("/v1/licenses/{id}/upgrade", post(upgrade))
        .route("/v1/licenses/{id}/renew", post(renew))
        .route("/v1/licenses/{id}/quote", post(quote))
        .route("/v1/licenses/{id}/revoke", post(revoke))
        .route("/v1/revocations", post(revocations))
        .route("/v1/keys/{kid}/retire", post(retire))
        .route("/v1/keys/{kid}/distrust", post(distrust))
        .route("/v1/imports/{kind}", post(import))
        .route("/v1/bills", get(bill))
        .route("/v1/audit", get(audit))
        .fallback(|| async { ServiceError::NotFound { what: "route".into() } })
        .with_state(app)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    license_common::auth::bearer(headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?)
}

/// The `Idempotency-Key` header: absent, one readable value, or refused
/// (not ASCII text, or sent more than once: which key the caller meant is
/// not for the service to guess).
fn idempotency_key(headers: &HeaderMap) -> Option<Result<String, KeyRefused>> {
    let mut values = headers.get_all("idempotency-key").iter();
    let first = values.next()?;
    let more = values.count();
    if more > 0 {
        return Some(Err(KeyRefused::Repeated(more + 1)));
    }
    Some(first.to_str().map(str::to_owned).map_err(|_| KeyRefused::NotText))
}

/// Why an `Idempotency-Key` header cannot be used.
#[derive(Clone, Copy, Debug)]
enum KeyRefused {
    NotText,
    Repeated(usize),
}

impl From<KeyRefused> for ServiceError {
    fn from(refused: KeyRefused) -> Self {
        match refused {
            KeyRefused::NotText => license_issuer::IssuerError::BadIdempotencyKey.into(),
            KeyRefused::Repeated(n) => ServiceError::BadRequest {
                detail: format!("the Idempotency-Key header is sent {n} times: send it once"),
            },
        }
    }
}

/// Which of the service's two ledger connections a call runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum On {
    /// The one that changes the ledger.
    Writer,
    /// The one that only reads it (and writes the call's audit row).
    Reader,
}

/// Runs `work`, which only reads the ledger, for a caller of scope
/// `needed` ([`run`] on the reader's connection).
async fn read(
    app: Arc<App>,
    headers: HeaderMap,
    route: String,
    needed: ApiScope,
    work: impl FnOnce(&mut Call<'_>) -> Result<Answer, ServiceError> + Send + 'static,
) -> Response {
    run(On::Reader, app, headers, route, needed, None, work).await
}

/// Runs `work` for a caller of scope `needed` on the blocking pool, on the
/// connection `on`, with the audit row written whatever the outcome.
/// `signs` calls need an idempotency key, bound to `route` and the body's
/// digest.
async fn run(
    on: On,
    app: Arc<App>,
    headers: HeaderMap,
    route: String,
    needed: ApiScope,
    signs: Option<&Bytes>,
    work: impl FnOnce(&mut Call<'_>) -> Result<Answer, ServiceError> + Send + 'static,
) -> Response {
    let presented = bearer(&headers).map(str::to_owned);
    let key = idempotency_key(&headers);
    let digest = signs.map(|b| license_issuer::ledger::body_digest(b));
    let done = tokio::task::spawn_blocking(move || {
        let now = Timestamp::now();
        let connection = match on {
            On::Writer => &app.ledger,
            On::Reader => &app.reader,
        };
        let mut ledger = connection.lock().unwrap_or_else(|p| p.into_inner());
        // A ledger in PostgreSQL whose server restarted is connected again
        // here; while it cannot be, every call answers 503.
        match ledger.reconnect() {
            Ok(true) => tracing::info!("connected to the ledger's database again"),
            Ok(false) => {}
            Err(e) => return Err(ServiceError::from(e)),
        }
        let token: Option<ApiToken> = match presented.as_deref().map(|t| ledger.api_authenticate(t)) {
            Some(Ok(token)) => token,
            Some(Err(e)) => return Err(ServiceError::from(e)),
            None => None,
        };
        let outcome = (|| {
            let token = token.as_ref().ok_or(ServiceError::Unauthorized)?;
            if !token.scope.allows(needed) {
                return Err(ServiceError::WrongScope { scope: token.scope.to_string(), needed: needed.to_string() });
            }
            let request = match (&digest, &key) {
                (None, _) => None,
                (Some(_), None) => return Err(ServiceError::NoIdempotencyKey),
                (Some(_), Some(Err(refused))) => return Err((*refused).into()),
                (Some(body), Some(Ok(key))) => Some(Request {
                    key: key.clone(),
                    route: route.clone(),
                    body: body.clone(),
                    token_id: token.id.clone(),
                    scope: token.scope,
                }),
            };
            // A key used before for another route or body is refused before
            // the body is even read.
            if let Some(r) = &request {
                ledger.check_request(r)?;
            }
            let mut call = Call { app: &app, ledger: &mut ledger, request, now };
            work(&mut call)
        })();
        let (status, license) = match &outcome {
            Ok(a) => (a.status, a.license.clone()),
            Err(e) => (e.status(), None),
        };
        let idem = key.and_then(Result::ok).filter(|_| digest.is_some());
        // A call that signed wrote its row in its signing transaction.
        let signed = idem.is_some() && status == StatusCode::CREATED;
        if !signed
            && let Err(e) =
                ledger.audit_api(token.as_ref(), &route, status.as_u16(), idem.as_deref(), license.as_deref(), now)
        {
            tracing::warn!(error = %e, "cannot write the audit row");
        }
        outcome
    })
    .await;
    match done {
        Ok(Ok(answer)) => (answer.status, axum::Json(answer.body)).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(_) => ServiceError::Internal.into_response(),
    }
}

/// A request body within the limit, or the error it gets. Read this way
/// (never rejected by the extractor) so that a body over the limit is
/// refused in the API's shape once the token is checked, and audited like
/// any other refused call.
struct Body(Result<Bytes, ServiceError>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Body(Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ServiceError::TooLarge { limit: crate::MAX_BODY }
            } else {
                ServiceError::BadRequest { detail: e.body_text() }
            }
        })))
    }
}

/// Answers a call whose body could not be read with `error`, after the
/// same token and scope checks as any call, and audits it.
async fn refuse(app: Arc<App>, headers: HeaderMap, route: String, needed: ApiScope, error: ServiceError) -> Response {
    run(On::Writer, app, headers, route, needed, None, move |_| Err(error)).await
}

/// A query string the route can read, or a 400 that says what is wrong.
type QueryOf<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

/// The most a page of a list holds.
const PAGE_MAX: u32 = 1000;

/// A page's `limit` (100 when not given): 1 to [`PAGE_MAX`], refused
/// rather than cut, so that a client paging by `offset += limit` never
/// skips what a cut page left out.
fn page_limit(limit: Option<u32>) -> Result<u32, ServiceError> {
    match limit {
        None => Ok(100),
        Some(l) if (1..=PAGE_MAX).contains(&l) => Ok(l),
        Some(l) => Err(ServiceError::BadRequest {
            detail: format!("`limit` is {l}; a page holds 1 to {PAGE_MAX} rows: ask for the next one with `offset`"),
        }),
    }
}

fn query<T>(q: QueryOf<T>) -> Result<T, ServiceError> {
    q.map(|Query(q)| q).map_err(|e| ServiceError::BadRequest { detail: e.body_text() })
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| ServiceError::BadRequest { detail: e.to_string() })
}

impl Call<'_> {
    fn catalog(&self, product: Option<&str>) -> Result<&Catalog, ServiceError> {
        let have = || self.app.catalogs.keys().cloned().collect::<Vec<_>>().join(", ");
        match product {
            Some(p) => {
                self.app.catalogs.get(p).ok_or_else(|| ServiceError::NoCatalog { product: p.to_owned(), have: have() })
            }
            None if self.app.catalogs.len() == 1 => Ok(self.app.catalogs.values().next().expect("one catalog")),
            None => {
                Err(ServiceError::BadRequest { detail: format!("name the order's `product` (one of: {})", have()) })
            }
        }
    }

    /// The license `id` as the ledger holds it.
    fn current(&self, id: &str) -> Result<license_issuer::Issued, ServiceError> {
        Ok(self.ledger.issued(id)?)
    }

    /// Signs through `op` once per idempotency key; a replay answers with
    /// the license made the first time.
    fn signed(
        &mut self,
        op: impl FnOnce(&mut Ledger) -> Result<license_issuer::Issued, license_issuer::IssuerError>,
    ) -> Result<Answer, ServiceError> {
        let request = self.request.clone().ok_or(ServiceError::NoIdempotencyKey)?;
        match self.ledger.idempotent(&request, op)? {
            Outcome::Done(issued) => Ok(Answer {
                status: StatusCode::CREATED,
                license: Some(issued.id.clone()),
                body: issued_body(&issued, false),
            }),
            Outcome::Replayed(r) => {
                let id = r.license_id.ok_or_else(|| ServiceError::BadRequest {
                    detail: format!("idempotency key `{}` was used on {} and made no license", r.key, r.route),
                })?;
                let issued = self.ledger.issued(&id)?;
                Ok(Answer { status: StatusCode::OK, license: Some(id), body: issued_body(&issued, true) })
            }
        }
    }
}

fn issued_body(issued: &license_issuer::Issued, replayed: bool) -> Value {
    json!({"format": 1, "id": issued.id, "token": issued.token, "armored": issued.armored(),
           "license": issued.license, "replayed": replayed})
}

async fn create(State(app): Shared, headers: HeaderMap, Body(body): Body) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, "POST /v1/licenses".into(), ApiScope::Issue, e).await,
    };
    let bytes = body.clone();
    run(On::Writer, app, headers, "POST /v1/licenses".into(), ApiScope::Issue, Some(&body), move |c| {
        let order: license_issuer::order::Order = parse(&bytes)?;
        let catalog = c.catalog(order.product.as_deref())?.clone();
        let (key, now) = (&c.app.key, c.now);
        c.signed(|l| {
            let checked = order.validate(&catalog, now)?;
            l.issue(key, checked, now)
        })
    })
    .await
}

/// The body of an upgrade: what `issuer upgrade` takes as flags.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Change {
    edition: Option<String>,
    plan: Option<Plan>,
    #[serde(default, deserialize_with = "license_common::strict_map::deserialize")]
    packages: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "license_common::strict_map::deserialize")]
    quotas: BTreeMap<String, u64>,
    account: Option<String>,
    engine: Option<String>,
}

impl Change {
    fn request(self) -> UpgradeRequest {
        UpgradeRequest {
            edition: self.edition,
            plan: self.plan,
            packages: self.packages,
            quotas: self.quotas,
            bind: None,
            account: self.account,
            engine: self.engine,
        }
    }
}

async fn upgrade(State(app): Shared, Path(id): Path<String>, headers: HeaderMap, Body(body): Body) -> Response {
    let route = format!("POST /v1/licenses/{id}/upgrade");
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, route, ApiScope::Issue, e).await,
    };
    let bytes = body.clone();
    run(On::Writer, app, headers, route, ApiScope::Issue, Some(&body), move |c| {
        let change: Change = parse(&bytes)?;
        let current = c.current(&id)?;
        let catalog = c.catalog(Some(&current.license.product))?.clone();
        let (key, now) = (&c.app.key, c.now);
        c.signed(|l| {
            let successor = license_issuer::upgrade::upgrade(&catalog, &current.license, &change.request(), now)?;
            l.sign_successor(key, successor, false, now)
        })
    })
    .await
}

/// The body of a renewal.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Renewal {
    months: Option<u32>,
    #[serde(default, deserialize_with = "license_common::time::lenient")]
    until: Option<Timestamp>,
    account: Option<String>,
}

fn term(months: Option<u32>, until: Option<Timestamp>) -> Result<RenewTerm, ServiceError> {
    match (months, until) {
        (Some(m), None) => Ok(RenewTerm::Months(m)),
        (None, Some(u)) => Ok(RenewTerm::Until(u)),
        _ => Err(ServiceError::BadRequest { detail: "give exactly one of `months` and `until`".into() }),
    }
}

async fn renew(State(app): Shared, Path(id): Path<String>, headers: HeaderMap, Body(body): Body) -> Response {
    let route = format!("POST /v1/licenses/{id}/renew");
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, route, ApiScope::Issue, e).await,
    };
    let bytes = body.clone();
    run(On::Writer, app, headers, route, ApiScope::Issue, Some(&body), move |c| {
        let r: Renewal = parse(&bytes)?;
        let term = term(r.months, r.until)?;
        let current = c.current(&id)?;
        let catalog = c.catalog(Some(&current.license.product))?.clone();
        let (key, now) = (&c.app.key, c.now);
        c.signed(|l| {
            let successor =
                license_issuer::upgrade::renew(&catalog, &current.license, term, r.account.as_deref(), now)?;
            l.sign_successor(key, successor, false, now)
        })
    })
    .await
}

/// The body of a quote: an upgrade's fields, or a renewal's term (a
/// misspelt field is refused, not priced as "no change").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteBody {
    edition: Option<String>,
    plan: Option<Plan>,
    #[serde(default, deserialize_with = "license_common::strict_map::deserialize")]
    packages: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "license_common::strict_map::deserialize")]
    quotas: BTreeMap<String, u64>,
    renew_months: Option<u32>,
    #[serde(default, deserialize_with = "license_common::time::lenient")]
    renew_until: Option<Timestamp>,
    #[serde(default, deserialize_with = "license_common::time::lenient")]
    at: Option<Timestamp>,
}

async fn quote(State(app): Shared, Path(id): Path<String>, headers: HeaderMap, Body(body): Body) -> Response {
    let route = format!("POST /v1/licenses/{id}/quote");
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, route, ApiScope::Read, e).await,
    };
    read(app, headers, route, ApiScope::Read, move |c| {
        let q: QuoteBody = parse(&body)?;
        let current = c.current(&id)?;
        // What cannot be upgraded or renewed is not priced either.
        c.ledger.check_successor_base(&id)?;
        let catalog = c.catalog(Some(&current.license.product))?;
        let at = q.at.unwrap_or(c.now);
        let renews = q.renew_months.is_some() || q.renew_until.is_some();
        if renews && (q.edition.is_some() || q.plan.is_some() || !q.packages.is_empty() || !q.quotas.is_empty()) {
            return Err(ServiceError::BadRequest {
                detail: "a quote prices an upgrade (edition, plan, packages, quotas) or a renewal (renew_months, \
                         renew_until), not both: ask for two quotes"
                    .into(),
            });
        }
        let quote = if renews {
            license_issuer::quote_renewal(catalog, &current.license, term(q.renew_months, q.renew_until)?, at)?
        } else {
            let change = Change {
                edition: q.edition,
                plan: q.plan,
                packages: q.packages,
                quotas: q.quotas,
                ..Change::default()
            };
            license_issuer::quote_upgrade(catalog, &current.license, &change.request(), at)?
        };
        Ok(Answer { license: Some(id.clone()), ..ok(json!({"format": 1, "quote": quote})) })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

async fn revoke(State(app): Shared, Path(id): Path<String>, headers: HeaderMap, Body(body): Body) -> Response {
    let route = format!("POST /v1/licenses/{id}/revoke");
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, route, ApiScope::Admin, e).await,
    };
    run(On::Writer, app, headers, route, ApiScope::Admin, None, move |c| {
        let r: Reason = parse(&body)?;
        let revoked = c.ledger.revoke(&id, &r.reason, c.now)?;
        Ok(Answer { license: Some(id.clone()), ..ok(json!({"format": 1, "id": id, "revoked": true, "new": revoked})) })
    })
    .await
}

async fn revocations(State(app): Shared, headers: HeaderMap, Body(body): Body) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, "POST /v1/revocations".into(), ApiScope::Admin, e).await,
    };
    run(On::Writer, app, headers, "POST /v1/revocations".into(), ApiScope::Admin, Some(&body), move |c| {
        let request = c.request.clone().ok_or(ServiceError::NoIdempotencyKey)?;
        let (key, now) = (&c.app.key, c.now);
        let (sequence, token, replayed) = match c.ledger.idempotent(&request, |l| l.export_revocations(key, now))? {
            Outcome::Done((list, token)) => (i64::try_from(list.sequence).unwrap_or(i64::MAX), token, false),
            Outcome::Replayed(r) => {
                let sequence = r.list_sequence.ok_or_else(|| ServiceError::BadRequest {
                    detail: format!("idempotency key `{}` was used on {} and signed no list", r.key, r.route),
                })?;
                (sequence, c.ledger.revocation_list(sequence)?, true)
            }
        };
        let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
        let body = json!({"format": 1, "sequence": sequence, "token": token, "replayed": replayed});
        Ok(Answer { status, body, license: None })
    })
    .await
}

fn kid_of(text: &str) -> Result<license_common::KeyId, ServiceError> {
    text.parse().map_err(|()| ServiceError::BadRequest { detail: format!("`{text}` is not a key id (16 hex digits)") })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Retire {
    not_after: Timestamp,
    reason: String,
}

async fn retire(State(app): Shared, Path(kid): Path<String>, headers: HeaderMap, Body(body): Body) -> Response {
    let route = format!("POST /v1/keys/{kid}/retire");
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, route, ApiScope::Admin, e).await,
    };
    run(On::Writer, app, headers, route, ApiScope::Admin, None, move |c| {
        let r: Retire = parse(&body)?;
        let id = kid_of(&kid)?;
        c.ledger.retire_key(id, r.not_after, &r.reason)?;
        Ok(ok(json!({"format": 1, "kid": kid, "not_after": r.not_after})))
    })
    .await
}

async fn distrust(State(app): Shared, Path(kid): Path<String>, headers: HeaderMap, Body(body): Body) -> Response {
    let route = format!("POST /v1/keys/{kid}/distrust");
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, route, ApiScope::Admin, e).await,
    };
    let bytes = body.clone();
    run(On::Writer, app, headers, route, ApiScope::Admin, Some(&body), move |c| {
        let r: Reason = parse(&bytes)?;
        let id = kid_of(&kid)?;
        let request = c.request.clone().ok_or(ServiceError::NoIdempotencyKey)?;
        let (key, now) = (&c.app.key, c.now);
        match c.ledger.idempotent(&request, |l| l.distrust_key(id, key, &r.reason, now))? {
            Outcome::Done(done) => {
                let mut body = json!(done);
                body["replayed"] = json!(false);
                Ok(Answer { status: StatusCode::CREATED, body, license: None })
            }
            Outcome::Replayed(_) => {
                let mut body = json!(c.ledger.distrusted(id)?);
                body["replayed"] = json!(true);
                Ok(ok(body))
            }
        }
    })
    .await
}

async fn import(State(app): Shared, Path(kind): Path<String>, headers: HeaderMap, Body(body): Body) -> Response {
    let route = format!("POST /v1/imports/{kind}");
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(app, headers, route, ApiScope::Issue, e).await,
    };
    run(On::Writer, app, headers, route, ApiScope::Issue, None, move |c| {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ServiceError::BadRequest { detail: "the body is not UTF-8 text".into() })?;
        let imported = match kind.as_str() {
            "receipts" => c.ledger.import_receipt(text, c.now)?,
            "usage" => c.ledger.import_usage(text, c.now)?,
            "deactivations" => c.ledger.import_deactivation(text, c.now)?,
            other => return Err(ServiceError::NotFound { what: format!("import kind `{other}`") }),
        };
        Ok(ok(json!({"format": 1, "imported": imported})))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    account: Option<String>,
    licensee: Option<String>,
    product: Option<String>,
    region: Option<String>,
    status: Option<String>,
    expiring_within_days: Option<u32>,
    limit: Option<u32>,
    #[serde(default)]
    offset: usize,
}

async fn list(State(app): Shared, headers: HeaderMap, q: QueryOf<ListQuery>) -> Response {
    read(app, headers, "GET /v1/licenses".into(), ApiScope::Read, move |c| {
        let q = query(q)?;
        let status = q
            .status
            .map(|s| {
                license_issuer::ledger::EntryStatus::ALL.iter().copied().find(|x| x.as_str() == s).ok_or_else(|| {
                    ServiceError::BadRequest {
                        detail: format!("`{s}` is not a status (active, grace, released, not_yet_valid, superseded, revoked, lapsed)"),
                    }
                })
            })
            .transpose()?;
        let filter = Filter {
            account: q.account,
            licensee: q.licensee,
            product: q.product,
            region: q.region,
            status,
            expiring_within_days: q.expiring_within_days,
            offset: q.offset,
            limit: Some(page_limit(q.limit)? as usize),
        };
        let listed = c.ledger.list(&filter, c.now)?;
        license_common::fsio::fault_point("api-listed");
        Ok(ok(json!(listed)))
    })
    .await
}

async fn show(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let route = format!("GET /v1/licenses/{id}");
    read(app, headers, route, ApiScope::Read, move |c| {
        let chain = c.ledger.show(&id, c.now)?;
        Ok(Answer { license: Some(id.clone()), ..ok(json!(chain)) })
    })
    .await
}

async fn token(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let route = format!("GET /v1/licenses/{id}/token");
    read(app, headers, route, ApiScope::Read, move |c| {
        let issued = c.current(&id)?;
        Ok(Answer { license: Some(id.clone()), ..ok(issued_body(&issued, false)) })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BillQuery {
    product: Option<String>,
    account: String,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
}

async fn bill(State(app): Shared, headers: HeaderMap, q: QueryOf<BillQuery>) -> Response {
    read(app, headers, "GET /v1/bills".into(), ApiScope::Read, move |c| {
        let q = query(q)?;
        let catalog = c.catalog(q.product.as_deref())?.clone();
        Ok(ok(json!(c.ledger.bill(&catalog, &q.account, q.from, q.to, c.now)?)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    token: Option<String>,
    limit: Option<u32>,
    #[serde(default)]
    offset: u32,
}

async fn audit(State(app): Shared, headers: HeaderMap, q: QueryOf<AuditQuery>) -> Response {
    read(app, headers, "GET /v1/audit".into(), ApiScope::Admin, move |c| {
        let q = query(q)?;
        let rows = c.ledger.audit_log(q.token.as_deref(), page_limit(q.limit)?, q.offset)?;
        Ok(ok(json!({"format": 1, "audit": rows})))
    })
    .await
}
