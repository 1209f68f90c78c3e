//! `/api/v1/sessions`: login sessions and other tokens bound to users, for
//! the MSP administrator only. (A tenant's admin token administers machine
//! tokens of its tenant; people and their sessions span tenants, so they are
//! the MSP's to see and end.)

use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use vigil_core::Timestamp;
use vigil_store::state::{Role, SessionInfo};

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    id: i64,
    user: String,
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Role,
    tenants: Vec<String>,
    /// `login` for a session from `POST /api/v1/login`, `token` for an API
    /// token issued to the user (such as the bootstrap administrator's).
    kind: &'static str,
    created_at: String,
    expires_at: Option<String>,
    /// To the minute; absent until first used.
    last_used_at: Option<String>,
    source: Option<String>,
}

fn view(s: SessionInfo, tenant_names: &HashMap<i64, String>) -> SessionView {
    SessionView {
        id: s.id,
        user: s.user,
        role: s.role,
        tenants: s
            .tenants
            .iter()
            .filter_map(|t| tenant_names.get(&t.0).cloned())
            .collect(),
        kind: if s.login { "login" } else { "token" },
        created_at: s.created_at.to_rfc3339(),
        expires_at: s.expires_at.map(Timestamp::to_rfc3339),
        last_used_at: s.last_used_at.map(Timestamp::to_rfc3339),
        source: s.source,
    }
}

/// Every session and user-bound token, of every user.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "users",
    responses((status = 200, description = "The sessions", body = Vec<SessionView>)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    caller.require(Action::AdministerMsp)?;
    let tenant_names: HashMap<i64, String> = app
        .state
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| (t.id.0, t.name.to_string()))
        .collect();
    let sessions = app.state.list_sessions().await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| view(s, &tenant_names))
            .collect(),
    ))
}

/// Ends a session (or user-bound token) at once.
#[utoipa::path(delete, path = "/api/v1/sessions/{session}", tag = "users",
    params(("session" = i64, Path, description = "The session's id")),
    responses((status = 204, description = "Ended")))]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Action::AdministerMsp)?;
    app.state.revoke_session(id).await?;
    tracing::info!(session = id, "session revoked");
    Ok(StatusCode::NO_CONTENT)
}
