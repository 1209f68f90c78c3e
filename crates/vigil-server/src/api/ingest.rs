//! `POST /api/v1/ingest`: NDJSON events, acknowledged once durable.

mod body;
mod slots;

pub use slots::IngestSlots;

use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};
use utoipa::{IntoParams, ToSchema};
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_decode::{LineError, StreamLimits};

/// Rejected lines listed in an answer at most; the count is always whole.
const MAX_LISTED_REJECTIONS: usize = 100;

/// What a client waits before trying again when no slot is free.
const RETRY_AFTER_SECS: u64 = 1;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestParams {
    /// The tenant the events belong to, for a caller of several tenants.
    #[param(example = "acme")]
    tenant: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IngestAnswer {
    accepted: usize,
    rejected_count: usize,
    /// The first refused lines (100 at most), with the reason.
    #[schema(schema_with = crate::api::openapi::foreign::line_errors)]
    rejected: Vec<LineError>,
}

/// A 400 of `POST /api/v1/ingest`: every line refused (the count and
/// the reasons) or a request refused whole (the error shape). For the
/// OpenAPI document only.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum IngestRefused {
    Lines(IngestAnswer),
    Error(crate::error::ErrorBody),
}

/// An ingest request refused: the API's error, with `Retry-After` when the
/// server or the tenant has no request slot free.
pub struct Refusal {
    error: Box<ApiError>,
    retry_after: Option<u64>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal {
            error: Box::new(error),
            retry_after: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (*self.error).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A request slot for `tenant`, or a 429 saying whose cap is reached.
fn take_slot(app: &AppState, tenant: &vigil_store::state::Tenant) -> Result<slots::Slot, Refusal> {
    let message = match app.ingest_slots.try_take(tenant.id) {
        Ok(slot) => return Ok(slot),
        Err(slots::Busy::Tenant(max)) => format!(
            "tenant {} has {max} ingest requests in progress, its most (ingest.max_concurrent_per_tenant); retry after {RETRY_AFTER_SECS} s",
            tenant.name.as_str()
        ),
        Err(slots::Busy::Server(max)) => format!(
            "the server has {max} ingest requests in progress, its most (ingest.max_concurrent_requests); retry after {RETRY_AFTER_SECS} s"
        ),
    };
    Err(Refusal {
        error: Box::new(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            message,
        )),
        retry_after: Some(RETRY_AFTER_SECS),
    })
}

/// When the body must have arrived.
fn body_deadline(app: &AppState) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(app.config.ingest.body_timeout_secs)
}

fn count_outcome<T>(app: &AppState, result: &Result<T, Refusal>, started: Instant) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(r) if r.error.status == StatusCode::TOO_MANY_REQUESTS => "busy",
        Err(r) if r.error.status.is_client_error() => "rejected",
        Err(_) => "failed",
    };
    app.metrics
        .ingest_requests
        .get_or_create(&crate::metrics::OutcomeLabel { outcome })
        .inc();
    app.metrics
        .ingest_seconds
        .observe(started.elapsed().as_secs_f64());
}

/// `POST /api/v1/ingest`: NDJSON events, acknowledged once durable. The
/// body is decoded as it arrives and refused whole (nothing stored) when
/// it breaks a limit.
#[utoipa::path(post, path = "/api/v1/ingest", tag = "ingest", params(IngestParams),
    request_body(content = Vec<Object>, content_type = "application/x-ndjson",
        description = "NDJSON: one JSON object a line (each item of the array is one line); \
gzip with `Content-Encoding: gzip`. Any `Content-Type` is read as NDJSON."),
    responses(
        (status = 200, description = "Stored (durable); bad lines listed", body = IngestAnswer),
        (status = 400, description = "No line could be stored, or the request was refused", body = IngestRefused),
    ))]
pub async fn ingest(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<IngestParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<IngestAnswer>), Refusal> {
    let started = Instant::now();
    let result = ingest_inner(&app, &caller, params, &headers, body).await;
    count_outcome(&app, &result, started);
    result
}

async fn ingest_inner(
    app: &AppState,
    caller: &Caller,
    params: IngestParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<IngestAnswer>), Refusal> {
    let tenant = caller
        .tenant(app, params.tenant.as_deref(), Action::Ingest)
        .await?;
    let _slot = take_slot(app, &tenant)?;
    let encoding = body::encoding(headers)?;
    let config = &app.config.ingest;
    let limits = StreamLimits {
        max_line_bytes: config.max_line_bytes,
        max_body_bytes: config.max_body_bytes,
        max_lines: config.max_events_per_request,
        max_listed_rejections: MAX_LISTED_REJECTIONS,
    };
    let lines = body::receive(body, config.max_body_bytes, body_deadline(app), move |r| {
        body::read_ndjson(r, encoding, limits)
    })
    .await?;
    if lines.is_empty() && lines.rejected_count() == 0 {
        return Err(
            ApiError::bad_request("empty body: send NDJSON, one JSON object a line").into(),
        );
    }
    let accepted = lines.len();
    let rejected_count = lines.rejected_count();
    let rejected = lines.rejected().to_vec();
    app.metrics.rejected_lines.inc_by(rejected_count as u64);
    app.pipeline
        .ingest_lines(tenant.id, lines, Timestamp::now())
        .await
        .map_err(ApiError::from)?;
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

#[derive(Serialize, ToSchema)]
pub struct EvtxAnswer {
    accepted: usize,
    /// Damage inside the file (a bad chunk or record), capped; reading went
    /// on past each.
    warnings: Vec<String>,
    warning_count: usize,
}

/// `POST /api/v1/ingest/evtx`: a Windows event log file (EVTX) as the body.
/// Its records go through the pipeline like any event, mapped to Sigma's
/// view of Windows events as in `vigil hunt`. The format needs the whole
/// file at once: it is held, up to `ingest.max_body_bytes`.
#[utoipa::path(post, path = "/api/v1/ingest/evtx", tag = "ingest", params(IngestParams),
    request_body(content = String, content_type = "application/octet-stream",
        description = "An EVTX file"),
    responses((status = 200, description = "Stored (durable)", body = EvtxAnswer)))]
pub async fn ingest_evtx(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<IngestParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<EvtxAnswer>, Refusal> {
    let started = Instant::now();
    let result = ingest_evtx_inner(&app, &caller, params, &headers, body).await;
    count_outcome(&app, &result, started);
    result
}

async fn ingest_evtx_inner(
    app: &AppState,
    caller: &Caller,
    params: IngestParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<EvtxAnswer>, Refusal> {
    let tenant = caller
        .tenant(app, params.tenant.as_deref(), Action::Ingest)
        .await?;
    let _slot = take_slot(app, &tenant)?;
    let encoding = body::encoding(headers)?;
    let max_body = app.config.ingest.max_body_bytes;
    let data = body::receive(body, max_body, body_deadline(app), move |r| {
        let magic = (
            vigil_decode::evtx::EVTX_MAGIC,
            "cannot read the body as EVTX: not an EVTX file (no ElfFile header)",
        );
        body::read_all(r, encoding, max_body, magic)
    })
    .await?;
    let tenant_id = tenant.id;
    let max_events = app.config.ingest.max_events_per_request;
    let read = tokio::task::spawn_blocking(move || evtx_events(data, tenant_id, max_events))
        .await
        .map_err(|e| ApiError::internal(format!("reading the EVTX file failed: {e}")))?
        .map_err(|e| ApiError::bad_request(format!("cannot read the body as EVTX: {e}")))?;
    if read.over_limit {
        return Err(body::too_many_events(max_events).into());
    }
    let accepted = read.events.len();
    app.pipeline
        .ingest(tenant.id, read.events)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(EvtxAnswer {
        accepted,
        warnings: read.warnings,
        warning_count: read.warning_count,
    }))
}

/// The records of an EVTX file, as far as the limits allow.
struct EvtxRead {
    events: Vec<Event>,
    /// More records than `max_events`: the file is refused.
    over_limit: bool,
    /// The first warnings, and how many there were.
    warnings: Vec<String>,
    warning_count: usize,
}

/// The records of an EVTX file as events of `tenant`, timed by their
/// `TimeCreated` (else now); at most `max_events` of them kept.
fn evtx_events(data: Vec<u8>, tenant: TenantId, max_events: usize) -> Result<EvtxRead, String> {
    let now = Timestamp::now();
    let mut events = Vec::new();
    let mut over_limit = false;
    let mut warnings = Vec::new();
    let mut warning_count = 0;
    vigil_decode::evtx::decode_evtx(
        data,
        &mut |record| {
            if events.len() >= max_events {
                over_limit = true;
                return;
            }
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
        &mut |warning| {
            warning_count += 1;
            if warnings.len() < MAX_LISTED_REJECTIONS {
                warnings.push(warning);
            }
        },
    )?;
    Ok(EvtxRead {
        events,
        over_limit,
        warnings,
        warning_count,
    })
}
