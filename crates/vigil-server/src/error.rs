//! API errors: each kind maps to one HTTP status and a JSON body
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use vigil_store::events::EventStoreError;
use vigil_store::state::StateError;

/// The body of every error answer (also the OpenAPI document's schema).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
struct ErrorDetail {
    /// Stable, for programs: `bad_request`, `not_found`, `query_syntax`...
    code: &'static str,
    /// For people: what failed, with which input.
    message: String,
    /// More about some errors (`position` of a query error,
    /// `retry_after_secs`, `reasons`...).
    #[serde(flatten)]
    #[schema(ignore)]
    extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra fields merged into the error object (a parse position...).
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The error as a response with a `Retry-After` of `secs` seconds (a
    /// 429 or 503 the caller may try again after).
    pub fn retry_after(self, secs: u64) -> Response {
        let secs = secs.max(1);
        let mut response = self
            .with_detail(json!({ "retry_after_secs": secs }))
            .into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs),
        );
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let extra = match self.detail {
            Some(serde_json::Value::Object(extra)) => extra,
            _ => serde_json::Map::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                extra,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        let status = match e {
            StateError::Conflict(_) => StatusCode::CONFLICT,
            StateError::NotFound(_) => StatusCode::NOT_FOUND,
            StateError::Invalid(_) => StatusCode::BAD_REQUEST,
            StateError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
            StateError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let code = match e {
            StateError::Conflict(_) => "conflict",
            StateError::NotFound(_) => "not_found",
            StateError::Invalid(_) => "invalid",
            StateError::Backend(_) => "internal",
            StateError::Busy(_) => "busy",
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<EventStoreError> for ApiError {
    fn from(e: EventStoreError) -> Self {
        if let EventStoreError::BadQuery(message) = e {
            return ApiError::new(StatusCode::BAD_REQUEST, "query_invalid", message);
        }
        let status = match e {
            EventStoreError::Closed => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, "storage", e.to_string())
    }
}

impl From<crate::pipeline::PipelineError> for ApiError {
    fn from(e: crate::pipeline::PipelineError) -> Self {
        match e {
            crate::pipeline::PipelineError::Store(e) => e.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<vigil_query::ParseError> for ApiError {
    fn from(e: vigil_query::ParseError) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "query_syntax", e.to_string())
            .with_detail(json!({"position": e.position}))
    }
}
