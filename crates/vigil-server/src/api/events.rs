//! `GET /api/v1/events` and `/api/v1/events/stats`: search a tenant's events;
//! `GET /api/v1/events/{event}`: one event by id (the evidence an alert
//! names).

use super::TenantParam;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};
use vigil_core::{EventId, Timestamp};
use vigil_store::events::{SearchRequest, StatsRequest, StoredEvent};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The tenant searched, for a caller of several tenants.
    #[param(example = "acme")]
    tenant: Option<String>,
    /// The query (Vigil's search language); all events when absent.
    q: Option<String>,
    /// RFC 3339, epoch seconds, `now`, `now-15m`, `now+2h`.
    from: Option<String>,
    /// As `from`.
    to: Option<String>,
    /// Events at most (100 by default, 10,000 at most); values for stats.
    limit: Option<usize>,
    /// For stats: the field whose top values are counted.
    field: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    id: String,
    time: String,
    /// The event as stored.
    #[schema(value_type = Object)]
    event: Box<RawValue>,
}

/// One event by id: what a search shows of it, and the day the store
/// accepted it (retention counts from that day).
#[derive(Serialize, ToSchema)]
pub struct EventDetail {
    id: String,
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    arrival_day: Option<String>,
    /// The event as stored.
    #[schema(value_type = Object)]
    event: Box<RawValue>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchAnswer {
    total: u64,
    events: Vec<EventView>,
    took_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ValueCount {
    #[schema(value_type = serde_json::Value)]
    value: serde_json::Value,
    count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct StatsAnswer {
    field: String,
    total: u64,
    values: Vec<ValueCount>,
    took_ms: u64,
}

/// Reads `from`/`to`: RFC 3339, epoch numbers, `now`, `now-15m` or
/// `now+2h` (units s, m, h, d, w).
pub fn parse_time(name: &str, text: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{name}={text:?} is not a time: use RFC 3339, epoch seconds, `now`, `now-15m` or `now+2h`"
        ))
    };
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now);
        }
        let (sign, rest) = match (rest.strip_prefix('-'), rest.strip_prefix('+')) {
            (Some(rest), _) => (-1, rest),
            (_, Some(rest)) => (1, rest),
            _ => return Err(bad()),
        };
        let unit = match rest.chars().last().ok_or_else(bad)? {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let count: i64 = rest[..rest.len() - 1].parse().map_err(|_| bad())?;
        let micros = count.saturating_mul(unit).saturating_mul(1_000_000);
        return Ok(Timestamp(now.0.saturating_add(sign * micros)));
    }
    Timestamp::parse(text).map_err(|_| bad())
}

fn search_request(params: &SearchParams) -> Result<SearchRequest, ApiError> {
    let now = Timestamp::now();
    let query = vigil_query::parse(params.q.as_deref().unwrap_or(""))?;
    let time = |name, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| parse_time(name, v, now))
            .transpose()
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {MAX_LIMIT}"
        )));
    }
    Ok(SearchRequest {
        query,
        from: time("from", &params.from)?,
        to: time("to", &params.to)?,
        limit,
    })
}

/// Searches a tenant's events, newest first.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(SearchParams),
    responses((status = 200, description = "The matching events", body = SearchAnswer)))]
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    run_search(&app, tenant.id, &params).await.map(Json)
}

#[utoipa::path(get, path = "/api/v1/quarantine", tag = "events", params(SearchParams),
    responses((status = 200, description = "The matching messages", body = SearchAnswer)))]
/// `GET /api/v1/quarantine`: syslog messages that mapped to no tenant,
/// searched like events. The MSP's own view: no tenant owns them.
pub async fn quarantine(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchAnswer>, ApiError> {
    caller.require(Action::AdministerMsp)?;
    run_search(&app, crate::pipeline::tenants::QUARANTINE, &params)
        .await
        .map(Json)
}

async fn run_search(
    app: &AppState,
    tenant: vigil_core::TenantId,
    params: &SearchParams,
) -> Result<SearchAnswer, ApiError> {
    let started = Instant::now();
    let request = search_request(params)?;
    let result = app.events.search(tenant, request).await?;
    let events = result
        .events
        .into_iter()
        .map(|e| EventView {
            id: e.id.to_string(),
            time: e.time.to_rfc3339(),
            event: raw_json(e.raw),
        })
        .collect();
    let hint = (!result.missing_fields.is_empty()).then(|| {
        format!(
            "no event in the searched time range has the field(s) {}",
            result.missing_fields.join(", ")
        )
    });
    app.metrics
        .search_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(SearchAnswer {
        total: result.total,
        events,
        took_ms: started.elapsed().as_millis() as u64,
        hint,
    })
}

/// The stored JSON text as JSON (`null` if it somehow is not).
fn raw_json(raw: String) -> Box<RawValue> {
    RawValue::from_string(raw)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
}

/// `GET /api/v1/events/{event}`: the tenant's event with that id (32 hex
/// digits, as search results and alerts show it). Another tenant's event
/// is a 404, the same as one that does not exist.
#[utoipa::path(get, path = "/api/v1/events/{event}", tag = "events",
    params(("event" = String, Path, description = "The event's id: 32 hex digits"), TenantParam),
    responses((status = 200, description = "The event", body = EventDetail)))]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<TenantParam>,
) -> Result<Json<EventDetail>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let event_id = vigil_query::parse_event_id(&id)
        .map(|id| EventId(id.get()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{id:?} is not an event id: expected 32 hex digits, as search results show"
            ))
        })?;
    let found = app.events.get(tenant.id, &[event_id]).await?;
    let event = found
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("event {event_id} not found")))?;
    Ok(Json(detail(event)))
}

fn detail(e: StoredEvent) -> EventDetail {
    EventDetail {
        id: e.id.to_string(),
        time: e.time.to_rfc3339(),
        arrival_day: e.arrival_day.map(vigil_store::events::partition::day_name),
        event: raw_json(e.raw),
    }
}

/// The top values of a field among the matching events (`field=`).
#[utoipa::path(get, path = "/api/v1/events/stats", tag = "events", params(SearchParams),
    responses((status = 200, description = "The top values", body = StatsAnswer)))]
pub async fn stats(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<Json<StatsAnswer>, ApiError> {
    let started = Instant::now();
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let field = params
        .field
        .clone()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::bad_request("name the field to count with field=NAME"))?;
    let mut search = search_request(&params)?;
    search.limit = params.limit.unwrap_or(10).min(MAX_LIMIT);
    let result = app
        .events
        .stats(
            tenant.id,
            StatsRequest {
                search,
                field: field.clone(),
            },
        )
        .await?;
    Ok(Json(StatsAnswer {
        field,
        total: result.total,
        values: result
            .values
            .into_iter()
            .map(|(value, count)| ValueCount { value, count })
            .collect(),
        took_ms: started.elapsed().as_millis() as u64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_times() {
        let now = Timestamp(10_000_000_000);
        assert_eq!(parse_time("from", "now", now).unwrap(), now);
        assert_eq!(
            parse_time("from", "now-15m", now).unwrap().0,
            now.0 - 900_000_000
        );
        assert_eq!(
            parse_time("from", "now-2d", now).unwrap().0,
            now.0 - 172_800_000_000
        );
        assert_eq!(
            parse_time("from", "1714564800", now).unwrap().0,
            1_714_564_800_000_000
        );
        assert_eq!(
            parse_time("end", "now+2h", now).unwrap().0,
            now.0 + 7_200_000_000
        );
        for bad in ["now*5m", "now-5y", "now-m", "now\u{e9}", "soon", ""] {
            assert!(parse_time("from", bad, now).is_err(), "{bad}");
        }
    }
}
