//! `/api/v1/users` and `/api/v1/login`: people, with roles over tenants.

use super::JsonBody;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use vigil_core::{TenantId, Timestamp};
use vigil_store::state::{NewToken, Role, User};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    name: String,
    password: String,
    role: Role,
    #[serde(default)]
    tenants: Vec<String>,
}

#[derive(Serialize)]
pub struct UserView {
    id: i64,
    name: String,
    role: Role,
    tenants: Vec<String>,
    created_at: String,
}

async fn view(app: &AppState, user: User) -> Result<UserView, ApiError> {
    let mut tenants = Vec::new();
    for id in &user.tenants {
        if let Some(t) = app.state.tenant(*id).await? {
            tenants.push(t.name.to_string());
        }
    }
    Ok(UserView {
        id: user.id,
        name: user.name,
        role: user.role,
        tenants,
        created_at: user.created_at.to_rfc3339(),
    })
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.require(Action::AdministerMsp)?;
    let mut ids: Vec<TenantId> = Vec::new();
    for name in &body.tenants {
        let tenant = app
            .state
            .tenant_by_name(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no tenant is named {name:?}")))?;
        ids.push(tenant.id);
    }
    let user = app
        .state
        .create_user(&body.name, &body.password, body.role, &ids)
        .await?;
    tracing::info!(user = %user.name, role = user.role.as_str(), "user created");
    Ok((StatusCode::CREATED, Json(view(&app, user).await?)))
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.require(Action::AdministerMsp)?;
    let mut out = Vec::new();
    for user in app.state.list_users().await? {
        out.push(view(&app, user).await?);
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    name: String,
    password: String,
}

/// Exchanges a user's name and password for a token bound to the user,
/// which expires `server.session_minutes` after the login.
pub async fn login(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = app
        .state
        .verify_password(&body.name, &body.password)
        .await?
        .ok_or_else(|| ApiError::unauthorized("wrong user name or password"))?;
    let session = i64::from(app.config.server.session_minutes) * 60_000_000;
    let expires_at = Timestamp(Timestamp::now().micros().saturating_add(session));
    let (_, token) = app
        .state
        .create_token(NewToken {
            role: user.role,
            tenant: None,
            user_id: Some(user.id),
            label: Some("login".into()),
            expires_at: Some(expires_at),
        })
        .await?;
    Ok(Json(serde_json::json!({
        "token": token,
        "role": user.role,
        "expires_at": expires_at.to_rfc3339(),
    })))
}
