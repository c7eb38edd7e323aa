//! The routes of the API and what each does: input in, library call,
//! output out.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::NaiveDate;
use license_activator::credentials::{Credentials, SecretKey};
use license_activator::metering::{self, CheckIn, Outcome};
use license_activator::tokens::Scope;
use license_activator::{Activator, CheckOutcome, Setup};
use license_common::Timestamp;
use license_common::armor;
use license_common::envelope::Kind;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::checkins::Writer;
use crate::error::ApiError;
use crate::metrics::{self, Collectors, Counters};

/// Failed authentications from one address within [`FAILURE_WINDOW`]
/// before its requests are refused for the rest of the window.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// What every request shares.
pub(crate) struct App {
    pub activator: Mutex<Activator>,
    pub writer: Writer,
    pub counters: Counters,
    pub sessions: crate::console::Sessions,
    /// Whether the service speaks TLS (the session cookie is then `Secure`).
    pub tls: bool,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

type Shared = State<Arc<App>>;
type Peer = ConnectInfo<SocketAddr>;

impl App {
    pub(crate) fn new(activator: Activator, writer: Writer, tls: bool) -> App {
        App {
            activator: Mutex::new(activator),
            writer,
            counters: Counters::default(),
            sessions: crate::console::Sessions::default(),
            tls,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the handle, after reading the state again if another
    /// process changed it.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Activator) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut activator = self.activator.lock().unwrap_or_else(|p| p.into_inner());
        activator.refresh()?;
        f(&mut activator)
    }

    /// Checks the request's credentials for `needed`: a bearer token, or
    /// the console's session cookie with its CSRF header (an admin's).
    /// Addresses that keep sending wrong tokens are rate-limited.
    pub(crate) fn authorize(&self, headers: &HeaderMap, peer: SocketAddr, needed: Scope) -> Result<Scope, ApiError> {
        let presented =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(license_common::auth::bearer);
        let scope = match presented {
            Some(token) => self.bearer(peer, token)?,
            None => match self.sessions.scope(headers) {
                Some(scope) => scope?,
                None => {
                    self.counters.auth_failures.fetch_add(1, Ordering::Relaxed);
                    return Err(ApiError::Unauthorized);
                }
            },
        };
        if !scope.allows(needed) {
            return Err(ApiError::WrongScope { scope: scope.to_string(), needed: needed.to_string() });
        }
        Ok(scope)
    }

    /// The scope of a presented token, counting wrong ones per address.
    pub(crate) fn bearer(&self, peer: SocketAddr, presented: &str) -> Result<Scope, ApiError> {
        let ip = peer.ip();
        {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((since, n)) = failures.get(&ip).copied() {
                let elapsed = since.elapsed();
                if elapsed >= FAILURE_WINDOW {
                    failures.remove(&ip);
                } else if n >= MAX_FAILURES {
                    let retry_after = (FAILURE_WINDOW - elapsed).as_secs().max(1);
                    return Err(ApiError::RateLimited { peer: ip.to_string(), retry_after });
                }
            }
        }
        // A state that cannot be read says so (a damaged state is the
        // install's trouble, not the caller's): it is no wrong token, and
        // does not count towards the limit.
        if let Some(scope) = self.with(|a| Ok(a.token_scope(presented)))? {
            return Ok(scope);
        }
        // A wrong token (not a missing one) counts towards the limit:
        // guessing tokens is what it stops.
        self.counters.auth_failures.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > 10_000 {
            failures.retain(|_, (since, _)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures.entry(ip).or_insert((Instant::now(), 0));
        entry.1 += 1;
        tracing::warn!(peer = %ip, "request with a missing or wrong token");
        Err(ApiError::Unauthorized)
    }
}

/// The router of every route.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/v1/status", get(status))
        .route("/v1/check", get(check))
        .route("/v1/quotas/{name}", get(quota))
        .route("/v1/history", get(history))
        .route("/v1/usage", get(usage))
        .route("/v1/collectors", get(collectors))
        .route("/v1/collectors/{id}/checkin", post(checkin))
        .route("/v1/gateway/render", post(render_gateway))
        .route("/v1/activate", post(activate))
        .route("/v1/gateway", put(set_gateway))
        .route("/v1/credentials", put(set_credentials))
        .route("/v1/revocations", post(import_revocations))
        .route("/v1/files/activation-request", post(file_request))
        .route("/v1/files/activation-receipt", post(file_receipt))
        .route("/v1/files/usage-report", post(file_usage_report))
        .route("/v1/files/deactivation-receipt", post(file_deactivation))
        .merge(crate::console::routes())
        .fallback(|| async { ApiError::NotFound { what: "route".into() } })
        .with_state(app)
}

fn ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

fn body<T>(payload: Result<axum::Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match payload {
        Ok(axum::Json(v)) => Ok(v),
        Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::TooLarge { limit: crate::MAX_BODY })
        }
        Err(e) => Err(ApiError::BadRequest { detail: e.body_text() }),
    }
}

/// A file for the vendor, as `activator` writes it.
fn file(kind: Kind, token: &str, name: &str) -> Response {
    let text = armor::armor(kind, token, &[]);
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], text)
        .into_response()
}

async fn healthz() -> Response {
    ok(json!({"format": 1, "status": "ok"}))
}

async fn readyz(State(app): Shared) -> Result<Response, ApiError> {
    app.writer.seats(Timestamp::now(), None).map_err(|e| ApiError::NotReady { detail: e.to_string() })?;
    app.with(|_| Ok(())).map_err(|e| ApiError::NotReady { detail: e.to_string() })?;
    Ok(ok(json!({"format": 1, "status": "ready"})))
}

async fn status(State(app): Shared, ConnectInfo(peer): Peer, headers: HeaderMap) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let now = Timestamp::now();
    app.with(|a| Ok(ok(serde_json::to_value(a.status(now)).expect("serialises"))))
}

#[derive(Deserialize)]
struct CheckQuery {
    package: String,
    tier: Option<String>,
}

async fn check(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    query: Result<Query<CheckQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest { detail: e.body_text() })?;
    let now = Timestamp::now();
    app.with(|a| {
        let grant = a.check(&q.package, q.tier.as_deref(), now)?;
        Ok(ok(serde_json::to_value(CheckOutcome::granted(&grant)).expect("serialises")))
    })
}

async fn quota(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let now = Timestamp::now();
    app.with(|a| match a.quota(&name, now) {
        Some(value) => Ok(ok(json!({"format": 1, "quota": name, "value": value}))),
        None => Err(ApiError::NoSuchQuota { name }),
    })
}

async fn history(State(app): Shared, ConnectInfo(peer): Peer, headers: HeaderMap) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    app.with(|a| Ok(ok(json!({"format": 1, "history": a.history()}))))
}

#[derive(Deserialize)]
struct Period {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

async fn usage(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    query: Result<Query<Period>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let Query(p) = query.map_err(|e| ApiError::BadRequest { detail: e.body_text() })?;
    let now = Timestamp::now();
    app.with(|a| Ok(ok(usage_of(a, p.from, p.to, now)?)))
}

/// Usage by billing day from `from` to `to` (default: the last 31 days).
pub(crate) fn usage_of(
    a: &Activator,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let to = to.unwrap_or_else(|| a.usage_day(now));
    let from = from.unwrap_or(to - chrono::Duration::days(30));
    if from > to {
        return Err(license_activator::ActivatorError::ReversedPeriod { from, to }.into());
    }
    if (to - from).num_days() > 366 {
        return Err(ApiError::BadRequest { detail: "a period is at most 367 days".into() });
    }
    let counted = a.usage(from, to)?;
    let measured = metering::measured(a.dir(), from, to)?;
    let terms = a.usage_terms();
    let days: Vec<Value> = counted
        .iter()
        .map(|(day, n)| {
            let (billed, amount) = terms.map_or((*n, None), |t| t.billed(*n));
            json!({"day": day, "collectors": measured.get(day).copied().unwrap_or(0), "count": n,
                   "billed": billed, "amount": amount})
        })
        .collect();
    Ok(json!({
        "format": 1, "from": from, "to": to,
        "meter": terms.map(|t| t.meter.clone()), "units": terms.map(|t| t.units.clone()),
        "minimum": terms.and_then(|t| t.minimum_count), "unit_price_per_day": terms.and_then(|t| t.unit_price_per_day),
        "currency": terms.and_then(|t| t.currency.clone()),
        "days": days,
    }))
}

/// The license's collector cap and id, and the billing day of `now`.
pub(crate) fn cap_of(a: &Activator, now: Timestamp) -> (Option<u64>, String, NaiveDate) {
    let license = a.current().map_or_else(String::new, |c| c.license.id.clone());
    (a.collector_cap(now), license, a.usage_day(now))
}

async fn collectors(State(app): Shared, ConnectInfo(peer): Peer, headers: HeaderMap) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    Ok(ok(collectors_of(&app, Timestamp::now())?))
}

/// The collectors now: active, today, seats.
pub(crate) fn collectors_of(app: &App, now: Timestamp) -> Result<Value, ApiError> {
    let (cap, _, day) = app.with(|a| Ok(cap_of(a, now)))?;
    let seats = app.writer.seats(now, cap)?;
    let today = app.writer.on_day(day)?;
    Ok(json!({
        "format": 1, "day": day, "today": today, "active": seats.used,
        "seats": {"used": seats.used, "cap": seats.cap}, "lease_seconds": app.writer.lease(),
    }))
}

async fn checkin(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Collector)?;
    if !metering::valid_id(&id) {
        return Err(ApiError::BadRequest {
            detail: format!("a collector id is 1 to {} of A-Z a-z 0-9 . _ : -", metering::MAX_ID_LEN),
        });
    }
    let now = Timestamp::now();
    let (cap, license, day) = app.with(|a| Ok(cap_of(a, now)))?;
    let outcome = app
        .writer
        .check_in(CheckIn { id: id.clone(), at: now, day }, cap)
        .await
        .map_err(|detail| ApiError::NotReady { detail })?;
    match outcome {
        Outcome::Accepted { new_seat, first_today } => {
            app.counters.checkins.fetch_add(1, Ordering::Relaxed);
            Ok(ok(json!({
                "format": 1, "collector": id, "day": day, "at": now,
                "new_seat": new_seat, "first_today": first_today, "cap": cap,
            })))
        }
        Outcome::SeatsFull { cap } => {
            app.counters.refused.fetch_add(1, Ordering::Relaxed);
            Err(ApiError::SeatsFull { collector: id, cap, license, lease: app.writer.lease() })
        }
    }
}

async fn metrics_text(State(app): Shared, ConnectInfo(peer): Peer, headers: HeaderMap) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let now = Timestamp::now();
    let (status, (cap, _, day)) = app.with(|a| Ok((a.status(now), cap_of(a, now))))?;
    let seats = app.writer.seats(now, cap)?;
    let collectors =
        Collectors { active: seats.used, today: app.writer.on_day(day)?, cap, refused_total: app.writer.refused()? };
    let text = metrics::render(&status, &collectors, &app.counters);
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Render {
    workspace_token: String,
}

async fn render_gateway(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    payload: Result<axum::Json<Render>, JsonRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let r = body(payload)?;
    app.with(|a| Ok(ok(json!({"format": 1, "url": a.render_gateway(&r.workspace_token)?}))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activate {
    license: String,
    gateway: Option<String>,
    access_key_id: Option<String>,
    secret_key: Option<zeroize::Zeroizing<String>>,
    #[serde(default)]
    replace_account: bool,
}

fn credentials(
    id: Option<String>,
    secret: Option<zeroize::Zeroizing<String>>,
) -> Result<Option<Credentials>, ApiError> {
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(id), Some(secret)) => {
            let secret = SecretKey::new(secret.to_string()).map_err(license_activator::ActivatorError::from)?;
            Ok(Some(Credentials::new(&id, secret).map_err(license_activator::ActivatorError::from)?))
        }
        _ => Err(ApiError::BadRequest { detail: "give both access_key_id and secret_key, or neither".into() }),
    }
}

/// Runs a change off the async threads (it fsyncs).
async fn change<T: Send + 'static>(
    app: Arc<App>,
    f: impl FnOnce(&mut Activator) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || app.with(f)).await.map_err(|e| ApiError::NotReady { detail: e.to_string() })?
}

async fn activate(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    payload: Result<axum::Json<Activate>, JsonRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let r = body(payload)?;
    let creds = credentials(r.access_key_id, r.secret_key)?;
    let now = Timestamp::now();
    let value = change(app, move |a| {
        let setup = Setup { gateway: r.gateway.as_deref(), credentials: creds, replace_account: r.replace_account };
        let activation = a.activate_with(&r.license, setup, now)?;
        a.observe_clock(now)?;
        let mut value = serde_json::to_value(&activation).expect("serialises");
        value["status"] = serde_json::to_value(a.status(now)).expect("serialises");
        value["translations"] = json!({crate::i18n::ZH_CN: {"notes": crate::i18n::notes_zh(&activation.notes)}});
        Ok(value)
    })
    .await?;
    tracing::info!(license = %value["license"]["id"], "license activated through the API");
    Ok(ok(value))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Gateway {
    url: String,
}

async fn set_gateway(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    payload: Result<axum::Json<Gateway>, JsonRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let r = body(payload)?;
    change(app, move |a| {
        let notes = a.set_gateway(&r.url)?;
        let stored = a.gateway().map(|g| g.as_str().to_owned());
        let zh = crate::i18n::notes_zh(&notes);
        Ok(ok(json!({"format": 1, "gateway": stored, "notes": notes, "translations": {crate::i18n::ZH_CN: {"notes": zh}}})))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetCredentials {
    access_key_id: String,
    secret_key: zeroize::Zeroizing<String>,
}

async fn set_credentials(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    payload: Result<axum::Json<SetCredentials>, JsonRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let r = body(payload)?;
    let creds = credentials(Some(r.access_key_id), Some(r.secret_key))?.expect("both given");
    change(app, move |a| {
        let masked = a.set_credentials(creds)?;
        Ok(ok(json!({"format": 1, "credentials": masked})))
    })
    .await
}

async fn import_revocations(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    text: String,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let now = Timestamp::now();
    change(app, move |a| Ok(ok(serde_json::to_value(a.import_revocations(&text, now)?).expect("serialises")))).await
}

#[derive(Deserialize)]
struct RequestFormat {
    format: Option<String>,
}

async fn file_request(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Query(f): Query<RequestFormat>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let now = Timestamp::now();
    let token = change(app, move |a| Ok(a.request(now)?)).await?;
    match f.format.as_deref() {
        None | Some("text") => Ok(file(Kind::ActivationRequest, &token, "activation-request.txt")),
        Some("svg") => crate::console::qr_svg(&token),
        Some(other) => Err(ApiError::BadRequest { detail: format!("format `{other}`: give text or svg") }),
    }
}

async fn file_receipt(State(app): Shared, ConnectInfo(peer): Peer, headers: HeaderMap) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let now = Timestamp::now();
    let token = change(app, move |a| Ok(a.receipt(now)?)).await?;
    Ok(file(Kind::ActivationReceipt, &token, "activation-receipt.txt"))
}

async fn file_usage_report(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    query: Result<Query<Period>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let Query(p) = query.map_err(|e| ApiError::BadRequest { detail: e.body_text() })?;
    let (Some(from), Some(to)) = (p.from, p.to) else {
        return Err(ApiError::BadRequest { detail: "give the period: ?from=YYYY-MM-DD&to=YYYY-MM-DD".into() });
    };
    let now = Timestamp::now();
    let token = change(app, move |a| Ok(a.usage_report(from, to, now)?)).await?;
    Ok(file(Kind::UsageReport, &token, "usage-report.txt"))
}

async fn file_deactivation(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Admin)?;
    let now = Timestamp::now();
    let released = change(app, move |a| Ok(a.deactivate(now)?)).await?;
    tracing::info!(license = %released.license_id, "license deactivated through the API");
    Ok(file(Kind::DeactivationReceipt, &released.receipt, "deactivation-receipt.txt"))
}
