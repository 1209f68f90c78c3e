//! Liveness and Vigil's own metrics.

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

pub async fn healthz() -> &'static str {
    "ok\n"
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
