//! `GET /api/v1/metrics/query`: a tenant's NOC metrics for charts.
//!
//! `series` is a selector (`vigil_check_latency_seconds{asset="web01"}`)
//! or `rate(selector[5m])`; `from`/`to` as for event searches (default:
//! the last hour); `step` (`30s`, `5m`) gives one point per step, without
//! it the stored points come back.

use super::events::parse_time;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use vigil_core::Timestamp;
use vigil_metrics::MetricsError;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueryParams {
    /// The tenant, for a caller of several tenants.
    #[param(example = "acme")]
    tenant: Option<String>,
    /// A selector (`vigil_check_latency_seconds{asset="web01"}`) or `rate(selector[5m])`.
    series: Option<String>,
    /// As for event searches; the last hour by default.
    from: Option<String>,
    to: Option<String>,
    /// One point per step (`30s`, `5m`); the stored points without it.
    step: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SeriesView {
    name: String,
    labels: BTreeMap<String, String>,
    /// `[time in ms, value]`.
    #[schema(value_type = Vec<Vec<f64>>)]
    points: Vec<(i64, f64)>,
}

#[derive(Serialize, ToSchema)]
pub struct QueryAnswer {
    series: Vec<SeriesView>,
}

/// A tenant's metric series over a time range.
#[utoipa::path(get, path = "/api/v1/metrics/query", tag = "metrics", params(QueryParams),
    responses((status = 200, description = "The series", body = QueryAnswer)))]
pub async fn query(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<QueryParams>,
) -> Result<Json<QueryAnswer>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let expr = params
        .series
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("name the series: series=NAME{label=\"value\"}"))?;
    let now = Timestamp::now();
    let time = |name: &str, value: &Option<String>, default: Timestamp| {
        value
            .as_deref()
            .map(|v| parse_time(name, v, now))
            .transpose()
            .map(|t| t.unwrap_or(default))
    };
    let from = time(
        "from",
        &params.from,
        Timestamp(now.micros() - 3_600_000_000),
    )?;
    let to = time("to", &params.to, now)?;
    let step = match params.step.as_deref() {
        None | Some("") => 0,
        Some(s) => crate::inventory::parse_duration(s)
            .map_err(ApiError::bad_request)?
            .as_millis() as i64,
    };
    let store = app.metric_store.clone();
    let tenant_id = tenant.id;
    let result = tokio::task::spawn_blocking(move || {
        store.query(
            tenant_id,
            &expr,
            from.micros() / 1000,
            to.micros() / 1000,
            step,
        )
    })
    .await
    .map_err(|e| ApiError::internal(format!("the query stopped: {e}")))?;
    let series = result.map_err(query_error)?;
    Ok(Json(QueryAnswer {
        series: series
            .into_iter()
            .map(|s| SeriesView {
                name: s.key.name().to_string(),
                labels: s.key.labels().iter().cloned().collect(),
                points: s.points,
            })
            .collect(),
    }))
}

fn query_error(e: MetricsError) -> ApiError {
    match e {
        MetricsError::Parse(_)
        | MetricsError::Series(_)
        | MetricsError::Range(_)
        | MetricsError::TooManySeries { .. }
        | MetricsError::TooManyPoints { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "query_invalid", e.to_string())
        }
        other => ApiError::internal(other.to_string()),
    }
}
