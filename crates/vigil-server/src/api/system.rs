//! Liveness and Vigil's own metrics.

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// `ok` once the server is ready; 503 `{"status":"loading"}` while the
/// detection rules load at start (HTTP answers from the first moment, and
/// events sent meanwhile wait for the rules).
pub async fn healthz(State(app): State<AppState>) -> axum::response::Response {
    if app.pipeline.detection().is_ready() {
        "ok\n".into_response()
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "loading" })),
        )
            .into_response()
    }
}

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
