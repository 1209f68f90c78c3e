//! The audit log of the API: [`record`] appends an entry for every change
//! (every POST, PUT, PATCH and DELETE by an authenticated caller, and every
//! login, right or wrong), as a layer around the router so that no handler
//! can forget it; `GET /api/v1/audit` lists the entries a caller may see.
//!
//! Ingest is not recorded: sending events is the data, not a change of
//! Vigil's configuration. Requests without a valid token (other than a
//! login) change nothing and are not recorded either, so that anyone on
//! the network cannot fill the log.

use crate::auth::{permits, Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use utoipa::{IntoParams, ToSchema};
use vigil_core::{TenantId, Timestamp};
use vigil_store::state::{
    audit::redact, AuditEntry, AuditFilter, AuditScope, NewAuditEntry, Principal, TenantScope,
};

/// Bodies up to this size are kept in the entry (redacted).
const MAX_RECORDED_BODY: usize = 16 << 10;

const LOGIN: &str = "/api/v1/login";

/// Appends an audit entry for a change, with the outcome of the request.
pub async fn record(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let changes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !changes || path.starts_with("/api/v1/ingest") {
        return next.run(request).await;
    }
    let principal = match bearer(request.headers()) {
        Some(token) => app.state.authenticate(token).await.ok().flatten(),
        None => None,
    };
    let login = path == LOGIN;
    if principal.is_none() && !login {
        return next.run(request).await;
    }
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let method = request.method().to_string();
    let (response, tenant, body) = match capture(request).await {
        Ok((request, body)) => {
            let query = request.uri().query().map(str::to_string);
            let tenant = acted_on(&app, principal.as_ref(), query.as_deref(), &body, &path).await;
            (next.run(request).await, tenant, body)
        }
        // A body that never arrived (too slow, cut off) is recorded too.
        Err(refused) => (refused, None, None),
    };
    let (actor, token_id, role) = match &principal {
        Some(p) => (
            p.user
                .clone()
                .unwrap_or_else(|| format!("token {}", p.token_id)),
            Some(p.token_id),
            Some(p.role.as_str().to_string()),
        ),
        None => (login_name(&body), None, None),
    };
    let entry = NewAuditEntry {
        at: Timestamp::now(),
        actor,
        token_id,
        role,
        tenant,
        source,
        method,
        path,
        status: Some(response.status().as_u16()),
        detail: body.map(redact),
    };
    if let Err(e) = app.audit.append(entry).await {
        tracing::error!(error = %e, "cannot append to the audit log");
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Reads a small declared body to record it, and puts it back for the
/// handler: JSON as it is (redacted later), anything else by its size.
/// A body of unknown or large size is left to the handler, unread.
async fn capture(request: Request) -> Result<(Request, Option<Value>), Response> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(size) = declared.filter(|n| *n <= MAX_RECORDED_BODY) else {
        let detail = declared.map(|n| json!({ "body_bytes": n }));
        return Ok((request, detail));
    };
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_RECORDED_BODY)
        .await
        .map_err(|_| ApiError::bad_request("cannot read the body").into_response())?;
    let detail = match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => value,
        Err(_) => json!({ "body_bytes": size }),
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), Some(detail)))
}

/// The name a login tried (never its password).
fn login_name(body: &Option<Value>) -> String {
    body.as_ref()
        .and_then(|b| b.get("name"))
        .and_then(Value::as_str)
        .map(|name| name.chars().take(100).collect())
        .unwrap_or_else(|| "unknown".into())
}

/// The tenant a change acts on: the one it names (`?tenant=`, a `tenant`
/// in the body, `/api/v1/tenants/{name}`) when the caller may see it, else
/// the caller's only tenant; `None` for the MSP's own administration. A
/// tenant the caller may not see is never recorded as acted on, so that
/// its admin never sees another tenant's callers.
async fn acted_on(
    app: &AppState,
    principal: Option<&Principal>,
    query: Option<&str>,
    body: &Option<Value>,
    path: &str,
) -> Option<TenantId> {
    let principal = principal?;
    let from_query = query.and_then(|q| {
        let params: HashMap<String, String> = query_pairs(q);
        params.get("tenant").cloned()
    });
    let from_body = body
        .as_ref()
        .and_then(|b| b.get("tenant"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let from_path = path
        .strip_prefix("/api/v1/tenants/")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .map(str::to_string);
    if let Some(name) = from_query.or(from_body).or(from_path) {
        if let Ok(Some(tenant)) = app.state.tenant_by_name(&name).await {
            if principal.scope.allows(tenant.id) {
                return Some(tenant.id);
            }
        }
    }
    match &principal.scope {
        TenantScope::Only(ids) if ids.len() == 1 => Some(ids[0]),
        _ => None,
    }
}

/// `a=1&b=2` as pairs, percent-decoded, through axum's own query parser.
fn query_pairs(query: &str) -> HashMap<String, String> {
    let uri = format!("/?{query}");
    uri.parse::<axum::http::Uri>()
        .ok()
        .and_then(|uri| Query::<HashMap<String, String>>::try_from_uri(&uri).ok())
        .map(|Query(params)| params)
        .unwrap_or_default()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// One tenant's entries.
    #[param(example = "acme")]
    tenant: Option<String>,
    /// A user's name or `token N`.
    actor: Option<String>,
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    method: Option<String>,
    /// Entries whose path starts with this.
    path: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Entries at most (100 by default).
    limit: Option<u32>,
    /// The `next` of the previous page.
    before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    id: i64,
    at: String,
    actor: String,
    token_id: Option<i64>,
    role: Option<String>,
    tenant: Option<String>,
    source: Option<String>,
    method: String,
    path: String,
    status: Option<u16>,
    /// The body sent (any JSON), secrets redacted, or its size.
    #[schema(value_type = serde_json::Value)]
    detail: Option<Value>,
}

/// A page of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    entries: Vec<EntryView>,
    /// Entries matching the filter, over all pages.
    total: u64,
    /// The `before` of the next page; `null` on the last.
    next: Option<i64>,
}

/// `GET /api/v1/audit`: the MSP admin sees every entry (or one tenant's
/// with `?tenant=`); a tenant admin its own tenant's only, never the MSP's
/// nor another tenant's. Newest first; `next` pages on.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(ListParams),
    responses((status = 200, description = "Newest first", body = AuditPage)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Action::AdministerTenant)?;
    let msp = caller.0.scope == TenantScope::All && permits(caller.0.role, Action::AdministerMsp);
    let scope = match (msp, params.tenant.as_deref()) {
        (true, None) => AuditScope::All,
        (_, named) => {
            let tenant = caller.tenant(&app, named, Action::AdministerTenant).await?;
            AuditScope::Tenants(vec![tenant.id])
        }
    };
    let now = Timestamp::now();
    let time = |name: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| super::parse_time(name, t, now))
            .transpose()
    };
    let filter = AuditFilter {
        scope,
        actor: params.actor,
        method: params.method.map(|m| m.to_ascii_uppercase()),
        path_prefix: params.path,
        from: time("from", &params.from)?,
        to: time("to", &params.to)?,
        before: params.before,
        limit: params.limit.unwrap_or(100),
    };
    let page = app.audit.list(&filter).await?;
    let mut names: HashMap<TenantId, Option<String>> = HashMap::new();
    let mut entries = Vec::with_capacity(page.entries.len());
    for entry in page.entries {
        let tenant = match entry.entry.tenant {
            Some(id) => tenant_name(&app, &mut names, id).await,
            None => None,
        };
        entries.push(view(entry, tenant));
    }
    Ok(Json(AuditPage {
        entries,
        total: page.total,
        next: page.next,
    }))
}

async fn tenant_name(
    app: &AppState,
    names: &mut HashMap<TenantId, Option<String>>,
    id: TenantId,
) -> Option<String> {
    if let Some(name) = names.get(&id) {
        return name.clone();
    }
    let name = match app.state.tenant(id).await {
        Ok(Some(t)) => Some(t.name.to_string()),
        _ => Some(format!("tenant {id}")),
    };
    names.insert(id, name.clone());
    name
}

fn view(entry: AuditEntry, tenant: Option<String>) -> EntryView {
    let e = entry.entry;
    EntryView {
        id: entry.id,
        at: e.at.to_rfc3339(),
        actor: e.actor,
        token_id: e.token_id,
        role: e.role,
        tenant,
        source: e.source,
        method: e.method,
        path: e.path,
        status: e.status,
        detail: e.detail,
    }
}
