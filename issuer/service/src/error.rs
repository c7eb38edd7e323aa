//! One JSON shape for every error of the license API, the same report as
//! `issuer --json`: `{"format": 1, "error": {"class", "status", "case",
//! "message", "hint", "fields"}}`, with an HTTP status that fits the class.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use license_common::exit::{ErrorReport, Example, Examples, ExitClass, Explain};
use license_issuer::IssuerError;

/// An error of the license API: the library's, or the API's own.
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ServiceError {
    /// What the issuer library refused.
    #[error(transparent)]
    Issuer(#[serde(skip)] IssuerError),
    /// No bearer token, or not a live API token of this ledger.
    #[error("this request needs a valid bearer token (Authorization: Bearer ist1_…)")]
    Unauthorized,
    /// A token whose scope does not allow the request.
    #[error("a `{scope}` token may not do this: it needs a `{needed}` token")]
    WrongScope {
        /// The presented token's scope.
        scope: String,
        /// The scope the route needs.
        needed: String,
    },
    /// A call that signs, without an idempotency key.
    #[error("this request signs, so it needs an Idempotency-Key header")]
    NoIdempotencyKey,
    /// No catalog for the order's product.
    #[error("this service has no catalog for product `{product}` (it has: {have})")]
    NoCatalog {
        /// The product asked for.
        product: String,
        /// The products it has.
        have: String,
    },
    /// No such route or item.
    #[error("{what} not found")]
    NotFound {
        /// What was asked for.
        what: String,
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
    /// Two catalogs given for one product.
    #[error("two catalogs are given for product `{product}`")]
    DuplicateCatalog {
        /// The product.
        product: String,
    },
    /// The service failed inside (a bug).
    #[error("internal error (a bug in the license API)")]
    Internal,
    /// The ledger failed under a call: its detail (the file, the database's
    /// words) is in the service's log, not in the answer.
    #[error("the ledger cannot be used just now; the service's log has the detail")]
    LedgerFailed,
    /// The service cannot listen as asked.
    #[error(transparent)]
    Listen(#[serde(skip)] license_http::ListenError),
}

impl From<IssuerError> for ServiceError {
    fn from(e: IssuerError) -> Self {
        ServiceError::Issuer(e)
    }
}

impl From<license_issuer::order::OrderError> for ServiceError {
    fn from(e: license_issuer::order::OrderError) -> Self {
        ServiceError::Issuer(e.into())
    }
}

impl From<license_http::refusal::Refusal> for ServiceError {
    fn from(r: license_http::refusal::Refusal) -> Self {
        use license_http::refusal::Refusal;
        match r {
            Refusal::Shared(r) => ServiceError::Refused(r),
            Refusal::TooLarge => ServiceError::TooLarge { limit: crate::MAX_BODY },
            Refusal::Other { detail, .. } => ServiceError::BadRequest { detail },
        }
    }
}

impl From<license_http::ListenError> for ServiceError {
    fn from(e: license_http::ListenError) -> Self {
        ServiceError::Listen(e)
    }
}

impl Explain for ServiceError {
    fn class(&self) -> ExitClass {
        match self {
            ServiceError::Issuer(e) => e.class(),
            ServiceError::Listen(e) => e.class(),
            ServiceError::Refused(r) => r.class(),
            ServiceError::NoCatalog { .. } | ServiceError::DuplicateCatalog { .. } => ExitClass::Catalog,
            ServiceError::Internal => ExitClass::Internal,
            ServiceError::LedgerFailed => ExitClass::Io,
            ServiceError::Unauthorized
            | ServiceError::WrongScope { .. }
            | ServiceError::NoIdempotencyKey
            | ServiceError::NotFound { .. }
            | ServiceError::BadRequest { .. }
            | ServiceError::TooLarge { .. } => ExitClass::Usage,
        }
    }

    fn hint(&self) -> String {
        match self {
            ServiceError::Issuer(e) => e.hint(),
            ServiceError::Unauthorized => {
                "send an API token made for this ledger as `Authorization: Bearer <token>`".into()
            }
            ServiceError::WrongScope { needed, .. } => format!("use a token of scope `{needed}` (or `admin`)"),
            ServiceError::NoIdempotencyKey => {
                "send the billing system's order id as `Idempotency-Key`; a retry with the same key and body returns the same result".into()
            }
            ServiceError::NoCatalog { .. } => "start the service with that product's catalog too".into(),
            ServiceError::DuplicateCatalog { .. } => "give one catalog per product".into(),
            ServiceError::Internal => "this is a bug; please report it with the request that caused it (nothing was recorded)".into(),
            ServiceError::LedgerFailed => {
                "retry later with the same Idempotency-Key; if it persists, the operator reads the service's log".into()
            }
            ServiceError::NotFound { .. } => "see docs/VENDOR.md (and docs/issuer-openapi.json) for the routes".into(),
            ServiceError::BadRequest { .. } => "send the fields docs/VENDOR.md documents for this route".into(),
            ServiceError::TooLarge { .. } => "send a smaller body: an order or a receipt is far below the limit".into(),
            ServiceError::Listen(e) => e.hint(),
            ServiceError::Refused(r) => r.hint(),
        }
    }

    fn case(&self) -> String {
        match self {
            ServiceError::Issuer(e) => e.case(),
            ServiceError::Listen(e) => e.case(),
            ServiceError::Refused(r) => r.case(),
            other => license_common::exit::case_of("ServiceError", other),
        }
    }

    fn fields(&self) -> serde_json::Value {
        match self {
            ServiceError::Issuer(e) => e.fields(),
            ServiceError::Listen(e) => e.fields(),
            ServiceError::Refused(r) => r.fields(),
            other => license_common::exit::fields_of(other),
        }
    }
}

impl Examples for ServiceError {
    fn examples() -> Vec<Example<Self>> {
        let s = |v: &str| v.to_owned();
        vec![
            Example {
                error: ServiceError::Unauthorized,
                when: "A call to the license API without a bearer token, or with one that is not a live API token of the ledger.",
            },
            Example {
                error: ServiceError::WrongScope { scope: s("read"), needed: s("issue") },
                when: "A token used for a route its scope does not allow (a `read` token creating a license).",
            },
            Example {
                error: ServiceError::NoIdempotencyKey,
                when: "A call that signs (create, upgrade, renew, revocation list, distrust) without `Idempotency-Key`.",
            },
            Example {
                error: ServiceError::NoCatalog { product: s("<product>"), have: s("<products>") },
                when: "An order for a product the service was not started with a catalog of.",
            },
            Example {
                error: ServiceError::DuplicateCatalog { product: s("<product>") },
                when: "`issuer serve` started with two catalogs of one product.",
            },
            Example {
                error: ServiceError::Internal,
                when: "A request whose handler panicked: a bug. The ledger's transaction was rolled back.",
            },
            Example {
                error: ServiceError::LedgerFailed,
                when: "A call under which the ledger failed (a damaged file, a database error): answered 503, with the detail logged for the operator.",
            },
            Example {
                error: ServiceError::NotFound { what: s("<what>") },
                when: "A route or license that does not exist.",
            },
            Example {
                error: ServiceError::BadRequest { detail: s("<detail>") },
                when: "A body, header, path or query the route cannot read.",
            },
            Example {
                error: ServiceError::TooLarge { limit: crate::MAX_BODY },
                when: "A request body over 1 MiB (audited, once the token is checked).",
            },
        ]
    }
}

impl ServiceError {
    /// The HTTP status that fits.
    pub fn status(&self) -> StatusCode {
        match self {
            ServiceError::Unauthorized => StatusCode::UNAUTHORIZED,
            ServiceError::WrongScope { .. } => StatusCode::FORBIDDEN,
            ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::Refused(r) => r.status(),
            ServiceError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ServiceError::LedgerFailed => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Listen(license_http::ListenError::Bind { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::NoIdempotencyKey
            | ServiceError::BadRequest { .. }
            | ServiceError::NoCatalog { .. }
            | ServiceError::DuplicateCatalog { .. }
            | ServiceError::Listen(_) => StatusCode::BAD_REQUEST,
            // What the path or query names and the ledger does not have.
            ServiceError::Issuer(
                IssuerError::NotInLedger { .. } | IssuerError::UnknownKey { .. } | IssuerError::UnknownAccount { .. },
            ) => StatusCode::NOT_FOUND,
            ServiceError::Issuer(
                IssuerError::IdempotencyConflict { .. }
                | IssuerError::InstanceInForce { .. }
                | IssuerError::AlreadySuperseded { .. }
                | IssuerError::KeyRetired { .. }
                | IssuerError::KeyDistrusted { .. },
            ) => StatusCode::CONFLICT,
            // The ledger itself failing is the service's trouble, not the caller's.
            ServiceError::Issuer(
                IssuerError::LedgerBusy { .. } | IssuerError::LedgerServer { .. } | IssuerError::Ledger { .. },
            ) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Issuer(e) => match e.class() {
                ExitClass::Usage | ExitClass::Malformed => StatusCode::BAD_REQUEST,
                ExitClass::State | ExitClass::Superseded => StatusCode::CONFLICT,
                ExitClass::Io | ExitClass::Internal | ExitClass::Key => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        if let ServiceError::Issuer(IssuerError::Ledger { .. }) = &self {
            // The file's path and the database's words are the operator's.
            tracing::error!(error = %self, "the ledger failed under a call");
            return ServiceError::LedgerFailed.into_response();
        }
        let report = ErrorReport::of(&self);
        let body = serde_json::json!({ "format": 1, "error": report });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if matches!(self, ServiceError::Unauthorized) {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
