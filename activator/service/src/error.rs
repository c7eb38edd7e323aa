//! One JSON shape for every error of the API: `{"format": 1, "error":
//! {"class", "status", "case", "message", "hint", "fields"}}`, the same
//! report as the CLI's `--json`, with an HTTP status that fits the class.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use license_activator::{ActivatorError, Denied};
use license_common::exit::{ErrorReport, ExitClass, Explain};

/// An error of the service: the library's, or the API's own.
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ApiError {
    /// What the library refused.
    #[error(transparent)]
    Activator(#[serde(skip)] ActivatorError),
    /// A feature not entitled now.
    #[error(transparent)]
    Denied(#[serde(skip)] Denied),
    /// No bearer token, or one that is not a live token of this install.
    #[error("this request needs a valid bearer token (Authorization: Bearer lst1_…)")]
    Unauthorized,
    /// A live token whose scope does not allow the request.
    #[error("a `{scope}` token may not do this: it needs a `{needed}` token")]
    WrongScope {
        /// The presented token's scope.
        scope: String,
        /// The scope the request needs.
        needed: String,
    },
    /// A console request without its session's CSRF token.
    #[error("this request came with the console's session cookie but without its CSRF token")]
    Csrf,
    /// Too many failed authentications from one address.
    #[error("too many requests with a wrong token from {peer}; try again in {retry_after} seconds")]
    RateLimited {
        /// The client's address.
        peer: String,
        /// Seconds until it may try again.
        retry_after: u64,
    },
    /// No such route or item.
    #[error("{what} not found")]
    NotFound {
        /// What was asked for.
        what: String,
    },
    /// A quota the license in force does not have.
    #[error("the license in force has no quota `{name}`")]
    NoSuchQuota {
        /// The quota asked for.
        name: String,
    },
    /// A request the API cannot read.
    #[error("the request is not valid: {detail}")]
    BadRequest {
        /// What is wrong with it.
        detail: String,
    },
    /// A body over the size limit.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// What the HTTP stack refused by itself, as both services report it.
    #[error(transparent)]
    Refused(#[serde(skip)] license_http::refusal::Refused),
    /// Every seat of the license's collector cap is held.
    #[error(
        "collector `{collector}` cannot check in: all {cap} collector seats of license {license} are held; a seat is freed {lease} seconds after its collector's last check-in"
    )]
    SeatsFull {
        /// The collector refused.
        collector: String,
        /// The cap.
        cap: u64,
        /// The license that caps it.
        license: String,
        /// The lease time, in seconds.
        lease: i64,
    },
    /// The check-in store is not running.
    #[error("the service is not ready: {detail}")]
    NotReady {
        /// Why.
        detail: String,
    },
    /// The service cannot listen as asked.
    #[error(transparent)]
    Listen(#[serde(skip)] license_http::ListenError),
}

impl license_common::exit::Examples for ApiError {
    fn examples() -> Vec<license_common::exit::Example<Self>> {
        use license_common::exit::Example;
        let s = |v: &str| v.to_owned();
        vec![
            Example {
                error: ApiError::Unauthorized,
                when: "A request to the service without a bearer token, or with one that is not a live token of this install.",
            },
            Example {
                error: ApiError::WrongScope { scope: s("collector"), needed: s("launcher") },
                when: "A token used for a route its scope does not allow (a collector token reading the status).",
            },
            Example {
                error: ApiError::Csrf,
                when: "A request with the console's session cookie but without its `X-CSRF-Token` header (another site's form or script).",
            },
            Example {
                error: ApiError::RateLimited { peer: s("<address>"), retry_after: 60 },
                when: "More than 10 requests with a wrong token from one address within a minute.",
            },
            Example { error: ApiError::NotFound { what: s("<what>") }, when: "A route that does not exist." },
            Example {
                error: ApiError::NoSuchQuota { name: s("<name>") },
                when: "A quota the license in force does not have (or no license is in force).",
            },
            Example {
                error: ApiError::BadRequest { detail: s("<detail>") },
                when: "A body, query or path the route cannot read.",
            },
            Example { error: ApiError::TooLarge { limit: crate::MAX_BODY }, when: "A request body over 256 KiB." },
            Example {
                error: ApiError::SeatsFull { collector: s("<id>"), cap: 50, license: s("<id>"), lease: 600 },
                when: "A collector checking in when every seat of the license's collector cap is held.",
            },
            Example {
                error: ApiError::NotReady { detail: s("<detail>") },
                when: "The check-in store stopped (disk full, a damaged file); and `/readyz` while the state cannot be read (damaged, unreadable).",
            },
        ]
    }
}

impl From<license_http::refusal::Refusal> for ApiError {
    fn from(r: license_http::refusal::Refusal) -> Self {
        use license_http::refusal::Refusal;
        match r {
            Refusal::Shared(r) => ApiError::Refused(r),
            Refusal::TooLarge => ApiError::TooLarge { limit: crate::MAX_BODY },
            Refusal::Other { detail, .. } => ApiError::BadRequest { detail },
        }
    }
}

impl From<license_http::ListenError> for ApiError {
    fn from(e: license_http::ListenError) -> Self {
        ApiError::Listen(e)
    }
}

impl From<ActivatorError> for ApiError {
    fn from(e: ActivatorError) -> Self {
        ApiError::Activator(e)
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        ApiError::Denied(e)
    }
}

impl Explain for ApiError {
    fn class(&self) -> ExitClass {
        match self {
            ApiError::Activator(e) => e.class(),
            ApiError::Denied(e) => e.class(),
            ApiError::SeatsFull { .. } => ExitClass::NotEntitled,
            ApiError::NotReady { .. } => ExitClass::State,
            ApiError::Listen(e) => e.class(),
            ApiError::Refused(r) => r.class(),
            ApiError::Unauthorized
            | ApiError::Csrf
            | ApiError::WrongScope { .. }
            | ApiError::RateLimited { .. }
            | ApiError::NotFound { .. }
            | ApiError::NoSuchQuota { .. }
            | ApiError::BadRequest { .. }
            | ApiError::TooLarge { .. } => ExitClass::Usage,
        }
    }

    fn hint(&self) -> String {
        match self {
            ApiError::Activator(e) => e.hint(),
            ApiError::Denied(e) => e.hint(),
            ApiError::Unauthorized => {
                "send a token made for this install (serve token create) as `Authorization: Bearer <token>`".into()
            }
            ApiError::WrongScope { needed, .. } => format!("use a token of scope `{needed}` (or `admin`)"),
            ApiError::Csrf => "reload the console and sign in again; other sites cannot use its session".into(),
            ApiError::RateLimited { .. } => "check the token the client sends, then wait before retrying".into(),
            ApiError::NotFound { .. } => "see docs/API.md (and docs/openapi.json) for the routes and names".into(),
            ApiError::NoSuchQuota { .. } => "see the quotas of the license in force in its status".into(),
            ApiError::BadRequest { .. } => "send the fields docs/API.md documents for this route".into(),
            ApiError::TooLarge { .. } => "send a smaller body: a license or list is far below the limit".into(),
            ApiError::SeatsFull { .. } => {
                "stop a collector you no longer use (its seat frees after the lease), or ask the vendor for more seats"
                    .into()
            }
            ApiError::NotReady { .. } => "see the service's log; restart it once the cause is fixed".into(),
            ApiError::Listen(e) => e.hint(),
            ApiError::Refused(r) => r.hint(),
        }
    }

    fn case(&self) -> String {
        match self {
            ApiError::Activator(e) => e.case(),
            ApiError::Denied(e) => e.case(),
            ApiError::Listen(e) => e.case(),
            ApiError::Refused(r) => r.case(),
            other => license_common::exit::case_of("ApiError", other),
        }
    }

    fn fields(&self) -> serde_json::Value {
        match self {
            ApiError::Activator(e) => e.fields(),
            ApiError::Denied(e) => e.fields(),
            ApiError::Listen(e) => e.fields(),
            ApiError::Refused(r) => r.fields(),
            other => license_common::exit::fields_of(other),
        }
    }
}

impl ApiError {
    /// The HTTP status that fits.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::WrongScope { .. } | ApiError::Csrf | ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound { .. } | ApiError::NoSuchQuota { .. } => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Refused(r) => r.status(),
            ApiError::SeatsFull { .. } => StatusCode::CONFLICT,
            ApiError::NotReady { .. } | ApiError::Listen(license_http::ListenError::Bind { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::BadRequest { .. } | ApiError::Listen(_) => StatusCode::BAD_REQUEST,
            ApiError::Activator(e) => match e.class() {
                ExitClass::Usage | ExitClass::Malformed => StatusCode::BAD_REQUEST,
                ExitClass::State => StatusCode::CONFLICT,
                ExitClass::Io | ExitClass::Internal => StatusCode::SERVICE_UNAVAILABLE,
                ExitClass::NotEntitled => StatusCode::FORBIDDEN,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let report = ErrorReport::of(&self);
        let translations = crate::i18n::translations(&report);
        let mut error = serde_json::to_value(&report).unwrap_or_default();
        error["translations"] = translations;
        let body = serde_json::json!({ "format": 1, "error": error });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after, .. } = &self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after).into());
        }
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
