//! People: `/api/v1/users` (the MSP administrator's), `/api/v1/login`,
//! `/api/v1/logout` and `/api/v1/me/password` (everyone's own).
//!
//! A user is named in paths by their name, compared as the store compares
//! names (ignoring case and width). Logins are rate-limited per user name
//! and per source address ([`crate::login_guard`]); password hashing runs
//! on the store's bounded pool, which answers `busy` (503) when full.

use super::JsonBody;
use crate::auth::{Action, Caller, ClientAddr};
use crate::error::ApiError;
use crate::login_guard::address_key;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use vigil_core::{names, TenantId, Timestamp};
use vigil_store::state::{validate, NewSession, Role, StateError, User};

/// Largest body of the endpoints anyone may call without a token (login)
/// or that carry only a password: a name and a password fit many times.
pub const SMALL_BODY_BYTES: usize = 4096;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    name: String,
    password: String,
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Role,
    #[serde(default)]
    tenants: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: i64,
    name: String,
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Role,
    tenants: Vec<String>,
    created_at: String,
    disabled: bool,
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
        disabled: user.disabled,
    })
}

async fn tenant_ids(app: &AppState, names: &[String]) -> Result<Vec<TenantId>, ApiError> {
    let mut ids = Vec::new();
    for name in names {
        let tenant = app
            .state
            .tenant_by_name(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no tenant is named {name:?}")))?;
        ids.push(tenant.id);
    }
    Ok(ids)
}

async fn find_user(app: &AppState, name: &str) -> Result<User, ApiError> {
    app.state
        .user_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user is named {name:?}")))
}

/// Whether the caller is `user` (through a token bound to them).
fn is_self(caller: &Caller, user: &User) -> bool {
    caller
        .0
        .user
        .as_deref()
        .is_some_and(|me| names::key(me) == names::key(&user.name))
}

/// Creates a person's account (MSP administrators only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.require(Action::AdministerMsp)?;
    let ids = tenant_ids(&app, &body.tenants).await?;
    let user = app
        .state
        .create_user(&body.name, &body.password, body.role, &ids)
        .await?;
    tracing::info!(user = %user.name, role = user.role.as_str(), "user created");
    Ok((StatusCode::CREATED, Json(view(&app, user).await?)))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, description = "The users", body = Vec<UserView>)))]
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

#[utoipa::path(get, path = "/api/v1/users/{user}", tag = "users", params(("user" = String, Path, description = "The user's name (compared ignoring case and width)")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    caller.require(Action::AdministerMsp)?;
    let user = find_user(&app, &name).await?;
    Ok(Json(view(&app, user).await?))
}

/// What `PATCH /api/v1/users/{user}` may change; absent fields stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Option<Role>,
    tenants: Option<Vec<String>>,
    /// A new password; the user's login sessions end.
    password: Option<String>,
    /// `true` ends every session and token of the user at once.
    disabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/users/{user}", tag = "users", params(("user" = String, Path, description = "The user's name (compared ignoring case and width)")),
    request_body = UpdateUser,
    responses((status = 200, description = "The user as changed", body = UserView)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    caller.require(Action::AdministerMsp)?;
    let user = find_user(&app, &name).await?;
    if body.role.is_none()
        && body.tenants.is_none()
        && body.password.is_none()
        && body.disabled.is_none()
    {
        return Err(ApiError::bad_request(
            "nothing to change: give role, tenants, password or disabled",
        ));
    }
    let myself = is_self(&caller, &user);
    if myself && (body.disabled == Some(true) || body.role.is_some_and(|r| r != user.role)) {
        return Err(ApiError::bad_request(
            "you cannot disable yourself or change your own role; another MSP administrator can",
        ));
    }
    // Check everything before changing anything.
    let tenants = match &body.tenants {
        Some(names) => Some(tenant_ids(&app, names).await?),
        None => None,
    };
    if let Some(password) = &body.password {
        validate::password(password, &[&user.name])?;
    }
    if body.role.is_some() || tenants.is_some() {
        let role = body.role.unwrap_or(user.role);
        let tenants = match tenants {
            Some(ids) => ids,
            None if role == Role::MspAdmin => Vec::new(),
            None => user.tenants.clone(),
        };
        validate::user_tenants(role, &tenants)?;
        app.state.update_user(user.id, role, &tenants).await?;
    }
    if let Some(password) = &body.password {
        let keep = myself.then_some(caller.0.token_id);
        app.state.set_password(user.id, password, keep).await?;
    }
    if let Some(disabled) = body.disabled {
        app.state.set_user_disabled(user.id, disabled).await?;
    }
    let changed = find_user(&app, &user.name).await?;
    tracing::info!(user = %changed.name, role = changed.role.as_str(), disabled = changed.disabled, "user changed");
    Ok(Json(view(&app, changed).await?))
}

/// Deletes a user; their sessions and tokens end with them.
#[utoipa::path(delete, path = "/api/v1/users/{user}", tag = "users", params(("user" = String, Path, description = "The user's name (compared ignoring case and width)")),
    responses((status = 204, description = "Deleted")))]
pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Action::AdministerMsp)?;
    let user = find_user(&app, &name).await?;
    if is_self(&caller, &user) {
        return Err(ApiError::bad_request(
            "you cannot delete yourself; another MSP administrator can",
        ));
    }
    app.state.delete_user(user.id).await?;
    tracing::info!(user = %user.name, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    name: String,
    password: String,
}

/// A new login session.
#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    /// The session's bearer token.
    token: String,
    /// The session's id (`DELETE /api/v1/sessions/{session}`).
    session: i64,
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Role,
    expires_at: String,
}

/// The rate-limit key of a user name: its normalised key, one shared key
/// for names that cannot be anyone's.
fn user_key(name: &str) -> String {
    names::key(name).unwrap_or_else(|| "\u{0}invalid".into())
}

fn too_many(retry_after: Duration) -> Response {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed logins for this user or from this address; try again in {secs} s"),
    )
    .retry_after(secs)
}

/// A store error as a response: `busy` (the hashing pool is full) gets a
/// `Retry-After`.
fn store_error(e: StateError) -> Response {
    match e {
        StateError::Busy(_) => ApiError::from(e).retry_after(1),
        e => ApiError::from(e).into_response(),
    }
}

/// Checks a user's password behind the rate limits: `Ok(None)` for a
/// wrong one (counted), an error response while locked or busy.
async fn checked_password(
    app: &AppState,
    addr: ClientAddr,
    name: &str,
    password: &str,
) -> Result<Option<User>, Response> {
    let user = user_key(name);
    let address = address_key(addr.0);
    app.login_guard
        .check(&user, &address, Instant::now())
        .map_err(|r| too_many(r.retry_after))?;
    match app.state.verify_password(name, password).await {
        Ok(Some(found)) => {
            app.login_guard.succeeded(&user);
            Ok(Some(found))
        }
        Ok(None) => {
            if let Some(wait) = app.login_guard.failed(&user, &address, Instant::now()) {
                tracing::warn!(user = %user, address = %address, wait_secs = wait.as_secs(), "failed logins: further attempts must wait");
            }
            Ok(None)
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Exchanges a user's name and password for a session token, which ends
/// `server.session_minutes` after the login, or `auth.idle_minutes` after
/// its last use, or on logout.
#[utoipa::path(post, path = "/api/v1/login", tag = "users", request_body = Login,
    responses((status = 200, description = "Logged in", body = LoginAnswer)))]
pub async fn login(
    State(app): State<AppState>,
    addr: ClientAddr,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<LoginAnswer>, Response> {
    let user = checked_password(&app, addr, &body.name, &body.password)
        .await?
        .ok_or_else(|| ApiError::unauthorized("wrong user name or password").into_response())?;
    let session = i64::from(app.config.server.session_minutes) * 60_000_000;
    let expires_at = Timestamp(Timestamp::now().micros().saturating_add(session));
    let idle = app.config.auth.idle_minutes;
    let (info, token) = app
        .state
        .create_session(NewSession {
            user_id: user.id,
            expires_at,
            idle_timeout: (idle > 0).then(|| Duration::from_secs(u64::from(idle) * 60)),
            source: Some(addr.shown()),
        })
        .await
        .map_err(store_error)?;
    tracing::info!(user = %user.name, session = info.id, source = %addr.shown(), "logged in");
    Ok(Json(LoginAnswer {
        token,
        session: info.id,
        role: user.role,
        expires_at: expires_at.to_rfc3339(),
    }))
}

/// Ends the calling session (or the user-bound token the call came with).
#[utoipa::path(post, path = "/api/v1/logout", tag = "users",
    responses((status = 204, description = "Logged out")))]
pub async fn logout(State(app): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    if caller.0.user.is_none() {
        return Err(ApiError::bad_request(
            "only a user's session can log out; an API token is revoked with DELETE /api/v1/tokens/{id}",
        ));
    }
    app.state.revoke_session(caller.0.token_id).await?;
    tracing::info!(
        user = caller.0.user.as_deref().unwrap_or_default(),
        session = caller.0.token_id,
        "logged out"
    );
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnPassword {
    current_password: String,
    new_password: String,
}

/// A user changes their own password, proving the current one (rate-limited
/// like a login); their other sessions end, the calling one stays.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "users", request_body = OwnPassword,
    responses((status = 204, description = "Changed")))]
pub async fn change_own_password(
    State(app): State<AppState>,
    caller: Caller,
    addr: ClientAddr,
    JsonBody(body): JsonBody<OwnPassword>,
) -> Result<StatusCode, Response> {
    let Some(name) = caller.0.user.clone() else {
        return Err(ApiError::bad_request(
            "only a user's session has a password; this is an API token",
        )
        .into_response());
    };
    let user = checked_password(&app, addr, &name, &body.current_password)
        .await?
        .ok_or_else(|| ApiError::forbidden("the current password is wrong").into_response())?;
    app.state
        .set_password(user.id, &body.new_password, Some(caller.0.token_id))
        .await
        .map_err(store_error)?;
    tracing::info!(user = %user.name, "password changed by its user");
    Ok(StatusCode::NO_CONTENT)
}
