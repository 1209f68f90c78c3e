//! Liveness and Vigil's own metrics.

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// The answer of `/healthz` while the server starts.
#[derive(Serialize, ToSchema)]
pub struct Loading {
    /// `loading`.
    status: &'static str,
}

/// `ok` once the server is ready; 503 `{"status":"loading"}` while the
/// detection rules load at start (HTTP answers from the first moment, and
/// events sent meanwhile wait for the rules).
#[utoipa::path(get, path = "/healthz", tag = "system", responses(
    (status = 200, description = "Ready", content_type = "text/plain", body = String, example = "ok\n"),
    (status = 503, description = "The detection rules are still loading", body = Loading),
))]
pub async fn healthz(State(app): State<AppState>) -> axum::response::Response {
    if app.pipeline.detection().is_ready() {
        "ok\n".into_response()
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Loading { status: "loading" }),
        )
            .into_response()
    }
}

/// Vigil's own metrics, in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "system", responses(
    (status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String),
))]
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let (wal, index) = (app.queue_depths)();
    app.metrics.set_queue_depth("wal", wal);
    app.metrics.set_queue_depth("index", index);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}
