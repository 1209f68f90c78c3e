//! Who is calling, and what they may do on which tenant.
//!
//! Every request that touches data names its tenant through its token: a
//! tenant-scoped token acts on its own tenant; a caller over several
//! tenants (the MSP admin, NOC and SOC staff) names one with `?tenant=`.
//! A tenant outside the caller's scope is refused the same way whether or
//! not it exists, so that no caller learns another client's name.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::SocketAddr;
use vigil_core::TenantId;
use vigil_store::state::{Principal, Role, Tenant, TenantScope};

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send events.
    Ingest,
    /// Read events and the tenant's records.
    Read,
    /// Work the incident queue: acknowledge and close alerts.
    Triage,
    /// Tune detection: upload rules, switch rules on and off.
    Tune,
    /// Keep the NOC inventory: assets and their checks.
    Inventory,
    /// Manage the tenant: its tokens and settings.
    AdministerTenant,
    /// Create tenants and users: the MSP's own work.
    AdministerMsp,
}

/// Whether `role` may do `action` (on a tenant in its scope).
pub fn permits(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::MspAdmin => true,
        Role::Admin => matches!(
            action,
            Ingest | Read | Triage | Tune | Inventory | AdministerTenant
        ),
        Role::Ingest => action == Ingest,
        Role::SocAnalyst => matches!(action, Read | Triage | Tune),
        Role::NocOperator => matches!(action, Read | Triage | Inventory),
        Role::Read | Role::ClientViewer => action == Read,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = <AppState as axum::extract::FromRef<S>>::from_ref(state);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`")
            })?;
        match app.state.authenticate(token).await? {
            Some(principal) => Ok(Caller(principal)),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}

/// The peer address of the connection, when the server recorded one
/// (`ConnectInfo<SocketAddr>` in the request's extensions); never refuses.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

impl ClientAddr {
    /// The address as shown in session listings, `unknown` when absent.
    pub fn shown(&self) -> String {
        self.0
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

impl Caller {
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if permits(self.0.role, action) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a {} token may not do this",
                self.0.role.as_str()
            )))
        }
    }

    pub fn can_see(&self, tenant: TenantId) -> bool {
        self.0.scope.allows(tenant)
    }

    /// The tenant a request acts on: the one named by `?tenant=`, or the
    /// caller's only tenant. Checks `action` too.
    pub async fn tenant(
        &self,
        app: &AppState,
        named: Option<&str>,
        action: Action,
    ) -> Result<Tenant, ApiError> {
        self.require(action)?;
        let refused = |name: &str| ApiError::forbidden(format!("no access to tenant {name:?}"));
        let tenant = match (named, &self.0.scope) {
            (Some(name), _) => app.state.tenant_by_name(name).await?.ok_or_else(|| {
                if self.0.scope == TenantScope::All {
                    ApiError::not_found(format!("no tenant is named {name:?}"))
                } else {
                    refused(name)
                }
            })?,
            (None, TenantScope::Only(ids)) if ids.len() == 1 => app
                .state
                .tenant(ids[0])
                .await?
                .ok_or_else(|| ApiError::not_found("the token's tenant no longer exists"))?,
            (None, _) => {
                return Err(ApiError::bad_request(
                    "this token spans several tenants: name one with ?tenant=NAME",
                ))
            }
        };
        if !self.can_see(tenant.id) {
            return Err(refused(tenant.name.as_str()));
        }
        Ok(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_permit_what_they_should() {
        assert!(permits(Role::Ingest, Action::Ingest));
        assert!(!permits(Role::Ingest, Action::Read));
        assert!(permits(Role::Read, Action::Read));
        assert!(!permits(Role::Read, Action::Ingest));
        assert!(!permits(Role::ClientViewer, Action::AdministerTenant));
        assert!(permits(Role::Admin, Action::AdministerTenant));
        assert!(!permits(Role::Admin, Action::AdministerMsp));
        assert!(permits(Role::MspAdmin, Action::AdministerMsp));
        assert!(permits(Role::NocOperator, Action::Triage));
        assert!(!permits(Role::NocOperator, Action::Tune));
        assert!(permits(Role::NocOperator, Action::Inventory));
        assert!(!permits(Role::SocAnalyst, Action::Inventory));
        assert!(permits(Role::SocAnalyst, Action::Tune));
        assert!(!permits(Role::ClientViewer, Action::Triage));
        assert!(!permits(Role::Read, Action::Tune));
        assert!(!permits(Role::SocAnalyst, Action::AdministerMsp));
    }
}
