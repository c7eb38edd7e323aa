//! The operators' web console, served at `/console/`: a small single-page
//! app whose assets are compiled into the binary (no CDN, no build step),
//! signed in with an admin token.
//!
//! Sign-in (`POST /console/session`) exchanges an admin token for a session
//! cookie (`HttpOnly; SameSite=Strict; Path=/`, `Secure` over TLS, 8 hours)
//! and a CSRF token; every request made with the cookie must carry the CSRF
//! token in `X-CSRF-Token`, so another site can neither read nor change
//! anything. The console then uses the same `/v1` routes as any client, and
//! `/v1/overview` gives each page its data in one round trip.
//!
//! Every response carries a strict Content-Security-Policy (no inline
//! script or style), `X-Content-Type-Options: nosniff`, `X-Frame-Options:
//! DENY`, `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use license_activator::tokens::Scope;
use license_common::Timestamp;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::error::ApiError;

/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept at once (the oldest go first).
const MAX_SESSIONS: usize = 64;
/// The session cookie's name.
pub const COOKIE: &str = "lsc";

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/app.js");
const STYLE: &str = include_str!("../console/app.css");

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Session {
    csrf: String,
    expires: Instant,
}

/// The console's sessions, in memory: a restart signs everyone out.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random() -> Result<String, ApiError> {
    let bytes = license_common::random::secret::<32>()
        .map_err(|e| ApiError::Activator(license_activator::ActivatorError::from(e)))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..]))
}

fn cookie_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')))
}

impl Sessions {
    fn create(&self) -> Result<(String, String), ApiError> {
        let (id, csrf) = (random()?, random()?);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > Instant::now());
        while map.len() >= MAX_SESSIONS {
            let oldest = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone()).expect("not empty");
            map.remove(&oldest);
        }
        map.insert(id.clone(), Session { csrf: csrf.clone(), expires: Instant::now() + SESSION_TTL });
        Ok((id, csrf))
    }

    /// `None` without a session cookie; else the session's scope (admin),
    /// or why it is refused.
    pub(crate) fn scope(&self, headers: &HeaderMap) -> Option<Result<Scope, ApiError>> {
        let id = cookie_of(headers)?;
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let Some(session) = map.get(id).filter(|s| s.expires > Instant::now()) else {
            return Some(Err(ApiError::Unauthorized));
        };
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
            return Some(Err(ApiError::Csrf));
        }
        Some(Ok(Scope::Admin))
    }

    fn remove(&self, headers: &HeaderMap) {
        if let Some(id) = cookie_of(headers) {
            self.map.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        }
    }
}

type Shared = State<Arc<App>>;

/// The console's routes.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route("/console/app.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/console/app.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/console/session", post(sign_in).delete(sign_out))
        .route("/v1/overview", get(overview))
        .route("/v1/gateway/check", post(check_gateway))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Adds the security headers to every response.
pub(crate) async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: zeroize::Zeroizing<String>,
}

async fn sign_in(
    State(app): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    payload: Result<axum::Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let axum::Json(body) = payload.map_err(|e| ApiError::BadRequest { detail: e.body_text() })?;
    let scope = app.bearer(peer, body.token.trim())?;
    if scope != Scope::Admin {
        return Err(ApiError::WrongScope { scope: scope.to_string(), needed: Scope::Admin.to_string() });
    }
    let (id, csrf) = app.sessions.create()?;
    let secure = if app.tls { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", SESSION_TTL.as_secs());
    tracing::info!(%peer, "console sign-in");
    let body = json!({"format": 1, "csrf": csrf, "expires_in": SESSION_TTL.as_secs()});
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(body)).into_response())
}

async fn sign_out(State(app): Shared, headers: HeaderMap) -> Response {
    app.sessions.remove(&headers);
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], axum::Json(json!({"format": 1, "signed_out": true}))).into_response()
}

/// Everything the console's pages show, in one round trip.
async fn overview(
    State(app): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let now = Timestamp::now();
    let (status, usage, history) = app.with(|a| {
        let status = serde_json::to_value(a.status(now)).expect("serialises");
        Ok((status, crate::app::usage_of(a, None, None, now)?, serde_json::to_value(a.history()).expect("serialises")))
    })?;
    let collectors = crate::app::collectors_of(&app, now)?;
    let body = json!({"format": 1, "status": status, "usage": usage, "collectors": collectors, "history": history});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayCheck {
    url: String,
}

/// Checks a gateway address by the library's rules, storing nothing.
async fn check_gateway(
    State(app): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    payload: Result<axum::Json<GatewayCheck>, JsonRejection>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, peer, Scope::Launcher)?;
    let axum::Json(body) = payload.map_err(|e| ApiError::BadRequest { detail: e.body_text() })?;
    let parsed = license_activator::gateway::GatewayTemplate::parse(&body.url)
        .map_err(|e| ApiError::Activator(license_activator::ActivatorError::from(e)))?;
    let zh = crate::i18n::notes_zh(&parsed.notes);
    let value = json!({"format": 1, "gateway": parsed.template.as_str(), "notes": parsed.notes,
        "translations": {crate::i18n::ZH_CN: {"notes": zh}}});
    Ok((StatusCode::OK, axum::Json(value)).into_response())
}

/// The activation request as a QR code (SVG), for a phone to carry.
pub(crate) fn qr_svg(token: &str) -> Result<Response, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(token.as_bytes(), qrcode::EcLevel::L)
        .map_err(|e| ApiError::BadRequest { detail: format!("the request does not fit in a QR code: {e}") })?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(256, 256).build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}
