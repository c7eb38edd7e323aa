//! The answers the HTTP stack gives by itself, before or instead of a
//! route's handler (a method the path does not have, a body over the
//! limit, a request over the time limit, a path or header an extractor
//! cannot read), put into the service's own error shape, so that a client
//! never has to read a bare text body.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use license_common::exit::{Example, Examples, ExitClass, Explain};

/// The longest a request may take, end to end, on either service: longer
/// than the 30 seconds a change waits for the vendor ledger's lock, so that
/// a busy ledger is answered as such (503) rather than cut off with a 408
/// while the call may still finish behind it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);

/// What the stack refuses alike on both services, as each reports it (the
/// same cases, as [`crate::ListenError`]'s).
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
pub enum Refused {
    /// A route that exists, called with a method it does not have.
    #[error("this route has no method {method} (the Allow header lists those it has)")]
    MethodNotAllowed {
        /// The method asked for.
        method: String,
    },
    /// A request that took longer than [`REQUEST_TIMEOUT`].
    #[error("the request took longer than {seconds} seconds")]
    Timeout {
        /// The limit.
        seconds: u64,
    },
}

impl Refused {
    /// The HTTP status that fits.
    pub fn status(&self) -> StatusCode {
        match self {
            Refused::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Refused::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

impl Explain for Refused {
    fn class(&self) -> ExitClass {
        match self {
            Refused::MethodNotAllowed { .. } => ExitClass::Usage,
            Refused::Timeout { .. } => ExitClass::Io,
        }
    }

    fn hint(&self) -> String {
        match self {
            Refused::MethodNotAllowed { .. } => {
                "use a method the Allow header names (the service's OpenAPI file lists each route's)".into()
            }
            Refused::Timeout { .. } => {
                "retry; a call that signs a license may have finished: retried with its Idempotency-Key it returns what it made"
                    .into()
            }
        }
    }

    fn case(&self) -> String {
        license_common::exit::case_of("Refused", self)
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}

impl Examples for Refused {
    fn examples() -> Vec<Example<Self>> {
        vec![
            Example {
                error: Refused::MethodNotAllowed { method: "DELETE".into() },
                when: "A route of either service called with a method it does not have (`DELETE /v1/licenses`, `DELETE /v1/status`).",
            },
            Example {
                error: Refused::Timeout { seconds: REQUEST_TIMEOUT.as_secs() },
                when: "A request to either service that took longer than 45 seconds (a call of `issuer serve` that signs may still finish: retry it with its key).",
            },
        ]
    }
}

/// Why the stack refused a request, as a service's error type needs it.
#[derive(Debug)]
pub enum Refusal {
    /// What both services report alike.
    Shared(Refused),
    /// A body over the service's limit (413), which each service names
    /// with its own limit.
    TooLarge,
    /// Any other refusal of an extractor (a path segment that is not
    /// UTF-8, say), with the stack's own words.
    Other {
        /// The stack's status.
        status: StatusCode,
        /// The stack's text.
        detail: String,
    },
}

/// The most of a bare answer's text kept as a [`Refusal::Other`] detail.
const DETAIL_LIMIT: usize = 4096;

/// Whether `response` is one the stack made bare: an error status whose
/// body is not JSON.
fn is_bare(response: &Response) -> bool {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    (status.is_client_error() || status.is_server_error()) && !json
}

/// Gives `response` the service's error shape when the stack made it bare
/// (see [`Refusal`]); any other answer is returned as it is. `shape` makes
/// the service's error; the status of the stack and its other headers
/// (`Allow`, `WWW-Authenticate`) are kept.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use axum::http::StatusCode;
/// use axum::response::IntoResponse;
/// use license_http::refusal::{Refusal, shaped};
///
/// let bare = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
/// let answer = shaped("POST", bare, |r| {
///     assert!(matches!(r, Refusal::TooLarge));
///     ([("content-type", "application/json")], r#"{"error": "too large"}"#)
/// })
/// .await;
/// assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
/// assert_eq!(answer.headers()["content-type"], "application/json");
/// # });
/// ```
pub async fn shaped<E: IntoResponse>(method: &str, response: Response, shape: impl FnOnce(Refusal) -> E) -> Response {
    if !is_bare(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let refusal = match parts.status {
        StatusCode::METHOD_NOT_ALLOWED => Refusal::Shared(Refused::MethodNotAllowed { method: method.to_owned() }),
        StatusCode::PAYLOAD_TOO_LARGE => Refusal::TooLarge,
        StatusCode::REQUEST_TIMEOUT => Refusal::Shared(Refused::Timeout { seconds: REQUEST_TIMEOUT.as_secs() }),
        status => {
            let text = axum::body::to_bytes(body, DETAIL_LIMIT).await.unwrap_or_default();
            let detail = String::from_utf8_lossy(&text).trim().to_owned();
            let detail =
                if detail.is_empty() { status.canonical_reason().unwrap_or("refused").to_owned() } else { detail };
            Refusal::Other { status, detail }
        }
    };
    let mut answer = shape(refusal).into_response();
    *answer.status_mut() = parts.status;
    keep_headers(answer.headers_mut(), parts.headers);
    answer
}

/// Copies the stack's headers onto the shaped answer, except those that
/// describe the old body.
fn keep_headers(into: &mut HeaderMap, from: HeaderMap) {
    let mut name = None;
    for (key, value) in from {
        name = key.or(name);
        if let Some(n) = &name
            && n != header::CONTENT_TYPE
            && n != header::CONTENT_LENGTH
        {
            into.append(n.clone(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error answer with an empty body, as the stack makes them.
    fn bare(status: StatusCode) -> Response {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = status;
        r
    }

    fn shape(r: Refusal) -> Response {
        let body = serde_json::json!({"refusal": format!("{r:?}")}).to_string();
        (StatusCode::IM_A_TEAPOT, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }

    async fn text(r: Response) -> String {
        String::from_utf8(axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_bare_refusal_gets_the_shape_and_keeps_its_status_and_allow_header() {
        let mut r = bare(StatusCode::METHOD_NOT_ALLOWED);
        r.headers_mut().insert(header::ALLOW, "GET,POST".parse().unwrap());
        let answer = shaped("DELETE", r, shape).await;
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.headers()[header::ALLOW], "GET,POST");
        assert_eq!(answer.headers()[header::CONTENT_TYPE], "application/json");
        assert!(text(answer).await.contains(r#"MethodNotAllowed { method: \"DELETE\" }"#));
        assert_eq!(Refused::MethodNotAllowed { method: "DELETE".into() }.status(), StatusCode::METHOD_NOT_ALLOWED);

        let timeout = shaped("POST", bare(StatusCode::REQUEST_TIMEOUT), shape).await;
        assert_eq!(timeout.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(text(timeout).await.contains("Timeout"));

        let other = (StatusCode::BAD_REQUEST, "Invalid URL: not UTF-8").into_response();
        let other = shaped("GET", other, shape).await;
        assert_eq!(other.status(), StatusCode::BAD_REQUEST);
        assert!(text(other).await.contains("Invalid URL: not UTF-8"));
    }

    #[tokio::test]
    async fn answers_that_are_not_bare_pass_untouched() {
        let json =
            (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], r#"{"mine":1}"#).into_response();
        let answer = shaped("GET", json, shape).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert_eq!(text(answer).await, r#"{"mine":1}"#);
        let page = (StatusCode::OK, "<html></html>").into_response();
        assert_eq!(text(shaped("GET", page, shape).await).await, "<html></html>");
    }
}
