//! [`ApiError`]: every failure parkd reports, with one status-code match and one
//! rendering — `application/problem+json` (RFC 9457). A 500 says only "internal
//! error"; its cause goes to the log with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parking_api::common::{FieldError, Problem};
use serde_json::Value;

use crate::store::StoreError;

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// Fields failed validation.
    #[error("invalid {}: {}", fields_word(.0), field_list(.0))]
    Validation(Vec<FieldError>),
    /// A well-formed request the rules refuse (bad interval, outside hours).
    #[error("{0}")]
    Unprocessable(String),
    /// No or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there (or nothing the caller may see).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The state does not allow it (taken spot, illegal transition, taken email).
    /// `extra` adds members to the problem (e.g. the new quote).
    #[error("{detail}")]
    Conflict {
        /// What conflicts, never who holds it.
        detail: String,
        /// Extra problem members.
        extra: Option<Value>,
    },
    /// The body is larger than allowed.
    #[error("request body too large")]
    PayloadTooLarge,
    /// A rate limit was hit.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// Storage is down; try again.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The payment provider cannot be reached; nothing was booked or charged.
    #[error("payment is unavailable: {0}")]
    PaymentUnavailable(String),
    /// A bug or an unexpected failure; details are logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

fn fields_word(errors: &[FieldError]) -> &'static str {
    if errors.len() == 1 { "field" } else { "fields" }
}

fn field_list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} ({})", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// A 409 with a detail.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            detail: detail.into(),
            extra: None,
        }
    }

    /// A 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request fields",
            ),
            ApiError::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable",
                "Request refused by the rules",
            ),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::PaymentUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "payment-unavailable",
                "Payment unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// The problem document this error renders as.
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let detail = match self {
            ApiError::Internal(_) => "internal error".to_owned(),
            ApiError::Unavailable(_) => "storage is unavailable; retry shortly".to_owned(),
            ApiError::PaymentUnavailable(_) => {
                "payment is unavailable right now; nothing was booked or charged, retry shortly"
                    .to_owned()
            }
            other => other.to_string(),
        };
        Problem {
            r#type: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            instance: None,
            errors: match self {
                ApiError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(detail) => ApiError::conflict(detail),
            StoreError::NotFound => ApiError::NotFound("record"),
            StoreError::Unavailable(why) => ApiError::Unavailable(why),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _, _) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut body = serde_json::to_value(self.problem()).unwrap_or(Value::Null);
        if let (
            ApiError::Conflict {
                extra: Some(Value::Object(extra)),
                ..
            },
            Value::Object(map),
        ) = (&self, &mut body)
        {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            ApiError::PaymentUnavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
