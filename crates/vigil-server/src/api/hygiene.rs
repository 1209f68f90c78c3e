//! What every API answer gets, whatever its handler: security headers,
//! errors in the documented JSON shape, a deadline for the request body,
//! and a small body limit for requests without credentials.
//!
//! These are layers around the whole router, so that the router's own
//! answers (404, 405) and extractor rejections (a bad query string, a
//! wrong content type, a body over the limit) are covered too.

use crate::error::ApiError;
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Ready for a console rendered by the server: its own scripts, styles and
/// images only; never framed; no plugins; forms post back to it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// Adds the security headers to every answer, and `Cache-Control:
/// no-store` to every API answer (tokens, users and checks carry secrets;
/// no API answer is worth caching).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Rewrites an error answer that is not JSON (the router's 404 and 405,
/// axum's extractor rejections) into `{"error": {"code", "message"}}`, with
/// a message of our own: rejection texts can name Rust types.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Rejection texts are short; a longer plain body is cut, never buffered.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let mut rewritten = error_for(status, &String::from_utf8_lossy(&text)).into_response();
    for (name, value) in &parts.headers {
        // Keep `Allow` of a 405, `Retry-After` of a 429 and the like.
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The API error for a non-JSON error answer of `status` whose body was
/// `text`.
pub fn error_for(status: StatusCode, text: &str) -> ApiError {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take this method".to_string(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            "the request body is too large".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request's Content-Type is not accepted here".to_string(),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            "the request body did not arrive in time".to_string(),
        ),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            ("bad_request", bad_request_message(text))
        }
        // A handler's own plain answer (a 503 while loading...): its text,
        // which is ours, not a rejection's.
        other => match text.trim() {
            "" => (
                "error",
                other
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_lowercase(),
            ),
            own => ("error", clip(own)),
        },
    };
    ApiError::new(status, code, message)
}

/// A message for an extractor's rejection: what was wrong, and serde's
/// explanation for a query string (which names fields and values, not
/// types of ours).
fn bad_request_message(text: &str) -> String {
    if let Some(detail) = text.strip_prefix("Failed to deserialize query string: ") {
        return format!("invalid query string: {}", clip(detail));
    }
    if text.starts_with("Invalid URL") || text.contains("path") {
        return "invalid value in the request path".into();
    }
    if text.to_ascii_lowercase().contains("json") {
        return "invalid JSON body".into();
    }
    "malformed request".into()
}

fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Bounds how long a request body may take to arrive, from the moment its
/// header was read: a client trickling a body a byte at a time gets a 408
/// instead of holding a handler.
/// Ingest bodies are streamed under their own, longer deadline
/// (`ingest.body_timeout_secs`): this one would cut them first.
pub async fn body_deadline(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/api/v1/ingest") {
        return next.run(request).await;
    }
    let limit = Duration::from_secs(app.config.server.request_body_timeout_secs);
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(Deadline {
            inner: body,
            sleep: Box::pin(tokio::time::sleep(limit)),
            expired: expired.clone(),
        })
    });
    let response = next.run(request).await;
    if expired.load(Ordering::Relaxed) {
        return error_for(StatusCode::REQUEST_TIMEOUT, "").into_response();
    }
    response
}

/// A body that fails once its deadline has passed.
struct Deadline {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request without an `Authorization` header (a login, or a caller
/// without credentials) may send `server.unauthenticated_body_bytes` at
/// most: a declared larger body is refused before anything reads it, and
/// an undeclared one is cut off at the limit (413 either way).
pub async fn unauthenticated_body_limit(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let limit = app.config.server.unauthenticated_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    next.run(request).await
}

fn too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "a request without credentials may send {limit} bytes at most (server.unauthenticated_body_bytes)"
        ),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_texts_become_our_messages() {
        let cases = [
            (StatusCode::NOT_FOUND, "", "no such endpoint"),
            (
                StatusCode::BAD_REQUEST,
                "Failed to deserialize query string: unknown field `x`",
                "invalid query string: unknown field `x`",
            ),
            (
                StatusCode::BAD_REQUEST,
                "Invalid URL: Cannot parse `abc` to a `i64`",
                "invalid value in the request path",
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: CreateTenant",
                "invalid JSON body",
            ),
        ];
        let loading = error_for(StatusCode::SERVICE_UNAVAILABLE, "loading rules\n");
        assert_eq!(loading.message, "loading rules");
        let empty = error_for(StatusCode::SERVICE_UNAVAILABLE, "");
        assert_eq!(empty.message, "service unavailable");
        for (status, text, want) in cases {
            let e = error_for(status, text);
            assert_eq!((e.status, e.message.as_str()), (status, want), "{text}");
        }
    }
}
