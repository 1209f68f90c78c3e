//! `POST /api/v1/ingest`: NDJSON events, acknowledged once durable.

use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Read;
use std::time::Instant;
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_decode::{decode_ndjson, LineError, NdjsonOptions};

/// Rejected lines listed in an answer at most; the count is always whole.
const MAX_LISTED_REJECTIONS: usize = 100;

#[derive(Deserialize)]
pub struct IngestParams {
    tenant: Option<String>,
}

#[derive(Serialize)]
pub struct IngestAnswer {
    accepted: usize,
    rejected_count: usize,
    rejected: Vec<LineError>,
}

pub async fn ingest(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<IngestParams>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<IngestAnswer>), ApiError> {
    let started = Instant::now();
    let result = ingest_inner(&app, &caller, params, &headers, body).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) if e.status.is_client_error() => "rejected",
        Err(_) => "failed",
    };
    app.metrics
        .ingest_requests
        .get_or_create(&crate::metrics::OutcomeLabel { outcome })
        .inc();
    app.metrics
        .ingest_seconds
        .observe(started.elapsed().as_secs_f64());
    result
}

async fn ingest_inner(
    app: &AppState,
    caller: &Caller,
    params: IngestParams,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<IngestAnswer>), ApiError> {
    let tenant = caller
        .tenant(app, params.tenant.as_deref(), Action::Ingest)
        .await?;
    let max_body = app.config.ingest.max_body_bytes;
    let body = body.map_err(|e| too_large_or_bad(e.status(), max_body, e.body_text()))?;
    let body = decompress(headers, body, max_body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "empty body: send NDJSON, one JSON object a line",
        ));
    }
    let options = NdjsonOptions {
        max_line_bytes: app.config.ingest.max_line_bytes,
    };
    let tenant_id = tenant.id;
    let batch = tokio::task::spawn_blocking(move || {
        decode_ndjson(&body, tenant_id, Timestamp::now(), options)
    })
    .await
    .map_err(|e| ApiError::internal(format!("decoding failed: {e}")))?;
    let accepted = batch.events.len();
    let rejected_count = batch.rejected.len();
    app.metrics.rejected_lines.inc_by(rejected_count as u64);
    app.pipeline.ingest(tenant.id, batch.events).await?;
    let mut rejected = batch.rejected;
    rejected.truncate(MAX_LISTED_REJECTIONS);
    // A body of only bad lines is the client's error; a mixed one is a
    // success that lists what it refused.
    let status = if accepted == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(IngestAnswer {
            accepted,
            rejected_count,
            rejected,
        }),
    ))
}

#[derive(Serialize)]
pub struct EvtxAnswer {
    accepted: usize,
    /// Damage inside the file (a bad chunk or record), capped; reading went
    /// on past each.
    warnings: Vec<String>,
    warning_count: usize,
}

/// `POST /api/v1/ingest/evtx`: a Windows event log file (EVTX) as the body.
/// Its records go through the pipeline like any event, mapped to Sigma's
/// view of Windows events as in `vigil hunt`.
pub async fn ingest_evtx(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<IngestParams>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<EvtxAnswer>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Ingest)
        .await?;
    let max_body = app.config.ingest.max_body_bytes;
    let body = body.map_err(|e| too_large_or_bad(e.status(), max_body, e.body_text()))?;
    let body = decompress(&headers, body, max_body)?;
    let tenant_id = tenant.id;
    let (events, warnings) =
        tokio::task::spawn_blocking(move || evtx_events(body.to_vec(), tenant_id))
            .await
            .map_err(|e| ApiError::internal(format!("reading the EVTX file failed: {e}")))?
            .map_err(|e| ApiError::bad_request(format!("cannot read the body as EVTX: {e}")))?;
    let accepted = events.len();
    app.pipeline.ingest(tenant.id, events).await?;
    let warning_count = warnings.len();
    Ok(Json(EvtxAnswer {
        accepted,
        warnings: warnings.into_iter().take(MAX_LISTED_REJECTIONS).collect(),
        warning_count,
    }))
}

/// The records of an EVTX file as events of `tenant`, timed by their
/// `TimeCreated` (else now).
fn evtx_events(data: Vec<u8>, tenant: TenantId) -> Result<(Vec<Event>, Vec<String>), String> {
    let now = Timestamp::now();
    let mut events = Vec::new();
    let mut warnings = Vec::new();
    vigil_decode::evtx::decode_evtx(
        data,
        &mut |record| {
            let Value::Object(doc) = record else { return };
            let time = doc
                .get("Event")
                .and_then(|e| e.pointer("/System/TimeCreated/#attributes/SystemTime"))
                .and_then(Value::as_str)
                .and_then(|t| Timestamp::parse(t).ok())
                .unwrap_or(now);
            events.push(Event {
                id: EventId::generate(now),
                tenant,
                time,
                raw: serde_json::to_string(&doc).unwrap_or_default(),
                doc,
            });
        },
        &mut |warning| warnings.push(warning),
    )?;
    Ok((events, warnings))
}

fn too_large_or_bad(status: StatusCode, max: usize, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(max)
    } else {
        ApiError::bad_request(format!("cannot read the body: {text}"))
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is over the maximum of {max} bytes (ingest.max_body_bytes)"),
    )
}

/// Undoes `Content-Encoding: gzip`, refusing to inflate past `max` bytes.
fn decompress(headers: &HeaderMap, body: Bytes, max: usize) -> Result<Bytes, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => Ok(body),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::with_capacity(body.len() * 4);
            let mut decoder = flate2::read::MultiGzDecoder::new(&body[..]).take(max as u64 + 1);
            decoder
                .read_to_end(&mut out)
                .map_err(|e| ApiError::bad_request(format!("invalid gzip body: {e}")))?;
            if out.len() > max {
                return Err(too_large(max));
            }
            Ok(Bytes::from(out))
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("Content-Encoding {other:?} is not supported; use gzip or none"),
        )),
    }
}
