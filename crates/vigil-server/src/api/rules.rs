//! `/api/v1/rules`: the detection rules a tenant runs.
//!
//! - `GET` lists them: the shared ones (rule folders and Vigil's own) and
//!   the tenant's uploads, each with whether the tenant has it on.
//! - `POST` uploads Sigma YAML (the body as is; several documents allowed)
//!   for the tenant; a rule that does not compile is refused with the
//!   reason. The upload is known by its first rule's id.
//! - `PATCH /api/v1/rules/{rule}` with `{"enabled": false}` switches a rule
//!   off for the tenant; `DELETE` removes an upload.
//!
//! Every change takes effect at once, no restart: an upload or removal
//! compiles that tenant's uploads only, a switch compiles nothing. An
//! upload is bounded (`[detection] upload_max_*`, `tenant_max_rules`):
//! 413 over the size, 400 naming the limit otherwise.

use super::TenantParam;
use crate::auth::{Action, Caller};
use crate::detection::novelty;
use crate::detection::rulebook::{correlation_key, rule_key, RuleBook};
use crate::detection::UploadError;
use crate::error::ApiError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vigil_core::TenantId;
use vigil_sigma::limits::LimitError;

use super::JsonBody;

const DEFAULT_LIMIT: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The tenant, for a caller of several tenants.
    #[param(example = "acme")]
    tenant: Option<String>,
    /// Only rules whose title or id contains this (case-insensitive).
    q: Option<String>,
    /// Rules at most (1,000 by default).
    limit: Option<usize>,
}

#[derive(Serialize, Clone, ToSchema)]
pub struct RuleView {
    id: String,
    title: String,
    kind: &'static str,
    level: Option<&'static str>,
    /// `folder`, `vigil` or `uploaded`.
    origin: &'static str,
    enabled: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RuleList {
    total: usize,
    rules: Vec<RuleView>,
}

#[derive(Serialize, ToSchema)]
pub struct UploadAnswer {
    id: String,
    rules: Vec<RuleView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSwitch {
    enabled: bool,
}

fn origin_of(file: &str) -> &'static str {
    if file.starts_with("vigil:") {
        "vigil"
    } else if file.starts_with("uploaded:") {
        "uploaded"
    } else {
        "folder"
    }
}

/// Every rule `tenant` runs or could switch on.
fn rules_of(book: &RuleBook, tenant: TenantId) -> Vec<RuleView> {
    let mut out = Vec::new();
    let scopes = std::iter::once(&book.shared).chain(book.tenants.get(&tenant));
    for (i, scope) in scopes.enumerate() {
        for compiled in scope.set.rules() {
            let rule = &compiled.rule;
            let id = rule_key(rule);
            out.push(RuleView {
                enabled: book.is_enabled(tenant, &id),
                id,
                title: rule.title.clone(),
                kind: "rule",
                level: rule.level.map(|l| l.as_str()),
                origin: if i == 0 {
                    origin_of(&rule.origin.file)
                } else {
                    "uploaded"
                },
            });
        }
        for correlation in &scope.correlations {
            let id = correlation_key(correlation);
            out.push(RuleView {
                enabled: book.is_enabled(tenant, &id),
                id,
                title: correlation.title.clone(),
                kind: "correlation",
                level: correlation.level.map(|l| l.as_str()),
                origin: if i == 0 { "folder" } else { "uploaded" },
            });
        }
    }
    out.push(RuleView {
        enabled: book.is_enabled(tenant, novelty::RULE_ID),
        id: novelty::RULE_ID.into(),
        title: novelty::RULE_TITLE.into(),
        kind: "builtin",
        level: Some("medium"),
        origin: "vigil",
    });
    out
}

/// The rules the tenant runs or could switch on.
#[utoipa::path(get, path = "/api/v1/rules", tag = "rules", params(ListParams),
    responses((status = 200, description = "The rules", body = RuleList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<RuleList>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let book = app.pipeline.detection().book();
    let needle = params.q.as_deref().map(str::to_lowercase);
    let mut rules: Vec<RuleView> = rules_of(&book, tenant.id)
        .into_iter()
        .filter(|r| {
            needle.as_deref().is_none_or(|n| {
                r.title.to_lowercase().contains(n) || r.id.to_lowercase().contains(n)
            })
        })
        .collect();
    let total = rules.len();
    rules.truncate(params.limit.unwrap_or(DEFAULT_LIMIT));
    Ok(Json(RuleList { total, rules }))
}

/// Uploads Sigma rules (YAML, several documents allowed) for the tenant.
#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", params(TenantParam),
    request_body(content = String, content_type = "application/yaml", description = "Sigma YAML"),
    responses((status = 201, description = "Compiled and running", body = UploadAnswer)))]
pub async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
    body: Body,
) -> Result<(StatusCode, Json<UploadAnswer>), ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Tune)
        .await?;
    let detection = app.pipeline.detection().clone();
    let max = detection.limits().max_bytes;
    // Read no more than the limit: a larger body is refused as it comes.
    let body = axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "rule_too_large",
            format!("the rule text is over the limit of {max} bytes (detection.upload_max_bytes)"),
        )
    })?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("the rule must be UTF-8 YAML text"))?;
    let rules = detection
        .upload(tenant.id, text)
        .await
        .map_err(upload_error)?;
    let id = rules[0].0.clone();
    let views = rules
        .into_iter()
        .map(|(id, title)| RuleView {
            enabled: true,
            id,
            title,
            kind: "rule",
            level: None,
            origin: "uploaded",
        })
        .collect();
    Ok((StatusCode::CREATED, Json(UploadAnswer { id, rules: views })))
}

fn upload_error(e: UploadError) -> ApiError {
    match e {
        UploadError::Limit(LimitError::TooLarge { limit, .. }) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "rule_too_large",
            format!(
                "the rule text is over the limit of {limit} bytes (detection.upload_max_bytes)"
            ),
        ),
        UploadError::Limit(limit) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "rule_over_limit",
            limit.to_string(),
        ),
        UploadError::TenantFull { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "rule_over_limit", e.to_string())
        }
        UploadError::Invalid(reasons) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "rule_invalid",
            format!("the rule cannot run: {}", reasons.join("; ")),
        )
        .with_detail(serde_json::json!({ "reasons": reasons })),
        UploadError::Internal(e) => ApiError::internal(format!("storing the rule failed: {e}")),
    }
}

/// Switches a rule on or off for the tenant.
#[utoipa::path(patch, path = "/api/v1/rules/{rule}", tag = "rules", params(("rule" = String, Path, description = "The rule's id"), TenantParam),
    request_body = RuleSwitch,
    responses((status = 200, description = "The rule as switched", body = RuleView)))]
pub async fn switch(
    State(app): State<AppState>,
    caller: Caller,
    Path(rule): Path<String>,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<RuleSwitch>,
) -> Result<Json<RuleView>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Tune)
        .await?;
    let detection = app.pipeline.detection().clone();
    let known = rules_of(&detection.book(), tenant.id)
        .into_iter()
        .find(|r| r.id == rule)
        .ok_or_else(|| ApiError::not_found(format!("no rule {rule:?} runs for this tenant")))?;
    app.detections
        .set_rule_enabled(tenant.id, &rule, body.enabled)
        .await?;
    // A switch is a filter over the compiled rules: nothing recompiles.
    detection
        .refresh_switches()
        .await
        .map_err(|e| ApiError::internal(format!("reloading the switches failed: {e}")))?;
    Ok(Json(RuleView {
        enabled: body.enabled,
        ..known
    }))
}

/// Removes an uploaded rule.
#[utoipa::path(delete, path = "/api/v1/rules/{rule}", tag = "rules", params(("rule" = String, Path, description = "The rule's id"), TenantParam),
    responses((status = 204, description = "Removed")))]
pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path(rule): Path<String>,
    Query(params): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Tune)
        .await?;
    app.detections.delete_rule(tenant.id, &rule).await?;
    app.pipeline
        .detection()
        .rebuild_tenant(tenant.id)
        .await
        .map_err(|e| ApiError::internal(format!("reloading the rules failed: {e}")))?;
    Ok(StatusCode::NO_CONTENT)
}
