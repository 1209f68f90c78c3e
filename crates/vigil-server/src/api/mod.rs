//! The HTTP API, `/api/v1`: one module per resource.
//!
//! [`endpoints`] is the one list of every endpoint. The router is built
//! from it, and the tenant isolation test walks it, so that an endpoint
//! added here is tested for isolation without anyone remembering to.

mod alerts;
mod assets;
mod audit;
mod checks;
mod events;
pub mod hygiene;
mod ingest;
mod json_body;
mod metrics;
mod noc_definitions;
pub mod openapi;
mod rules;
mod sessions;
mod system;
mod tenants;
mod tokens;
mod users;

use crate::AppState;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;
pub use events::parse_time;
pub use ingest::IngestSlots;
pub use json_body::JsonBody;

/// `?tenant=`: the tenant a request acts on, for a caller of several
/// tenants (one type for every endpoint that takes it alone).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantParam {
    /// The tenant acted on, for a caller of several tenants.
    #[param(example = "acme")]
    pub tenant: Option<String>,
}

/// One endpoint: how to call it, and an example body for tests and docs.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub method: &'static str,
    /// With `{name}` (a tenant), `{id}` (a token), `{alert}` (an alert id),
    /// `{rule}` (a rule id), `{asset}` (an asset name), `{check}` (a check
    /// id), `{window}` (a maintenance window id), `{noc_rule}` (a NOC rule
    /// id), `{user}` (a user name), `{session}` (a session id) or `{event}`
    /// (an event id, 32 hex digits) placeholders.
    pub path: &'static str,
    /// Whether it answers without a token.
    pub public: bool,
    pub example_body: Option<&'static str>,
}

const fn endpoint(method: &'static str, path: &'static str) -> Endpoint {
    Endpoint {
        method,
        path,
        public: false,
        example_body: None,
    }
}

/// Every endpoint of the server, with its handler.
pub fn endpoints() -> Vec<(Endpoint, MethodRouter<AppState>)> {
    let public = |e: Endpoint| Endpoint { public: true, ..e };
    let body = |e: Endpoint, b| Endpoint {
        example_body: Some(b),
        ..e
    };
    vec![
        (public(endpoint("GET", "/healthz")), get(system::healthz)),
        (public(endpoint("GET", "/metrics")), get(system::metrics)),
        (
            public(endpoint("GET", "/api/v1/openapi.json")),
            get(openapi::serve),
        ),
        (
            body(endpoint("POST", "/api/v1/tenants"), r#"{"name":"probe"}"#),
            post(tenants::create),
        ),
        (endpoint("GET", "/api/v1/tenants"), get(tenants::list)),
        (
            endpoint("GET", "/api/v1/tenants/{name}"),
            get(tenants::show),
        ),
        (
            body(
                endpoint("PATCH", "/api/v1/tenants/{name}"),
                r#"{"retention_days":1}"#,
            ),
            patch(tenants::update),
        ),
        (
            body(
                endpoint("POST", "/api/v1/tokens"),
                r#"{"tenant":"{name}","role":"read"}"#,
            ),
            post(tokens::create),
        ),
        (endpoint("GET", "/api/v1/tokens"), get(tokens::list)),
        (
            endpoint("DELETE", "/api/v1/tokens/{id}"),
            delete(tokens::revoke),
        ),
        (
            body(
                endpoint("POST", "/api/v1/users"),
                r#"{"name":"probe","password":"a long enough password","role":"client-viewer","tenants":["{name}"]}"#,
            ),
            post(users::create),
        ),
        (endpoint("GET", "/api/v1/users"), get(users::list)),
        (endpoint("GET", "/api/v1/users/{user}"), get(users::show)),
        (
            body(
                endpoint("PATCH", "/api/v1/users/{user}"),
                r#"{"disabled":true}"#,
            ),
            patch(users::update),
        ),
        (
            endpoint("DELETE", "/api/v1/users/{user}"),
            delete(users::remove),
        ),
        (endpoint("GET", "/api/v1/sessions"), get(sessions::list)),
        (
            endpoint("DELETE", "/api/v1/sessions/{session}"),
            delete(sessions::revoke),
        ),
        (
            public(body(
                endpoint("POST", "/api/v1/login"),
                r#"{"name":"probe","password":"a long enough password"}"#,
            )),
            post(users::login).layer(small_body()),
        ),
        (
            body(
                endpoint("POST", "/api/v1/me/password"),
                r#"{"current_password":"not the password at all","new_password":"another fine passphrase"}"#,
            ),
            post(users::change_own_password).layer(small_body()),
        ),
        (
            body(endpoint("POST", "/api/v1/ingest"), "{\"probe\":1}\n"),
            post(ingest::ingest),
        ),
        (
            endpoint("POST", "/api/v1/ingest/evtx"),
            post(ingest::ingest_evtx),
        ),
        (endpoint("GET", "/api/v1/events"), get(events::search)),
        (endpoint("GET", "/api/v1/events/stats"), get(events::stats)),
        (endpoint("GET", "/api/v1/events/{event}"), get(events::show)),
        (endpoint("GET", "/api/v1/quarantine"), get(events::quarantine)),
        (
            endpoint("GET", "/api/v1/metrics/query"),
            get(metrics::query),
        ),
        (endpoint("GET", "/api/v1/alerts"), get(alerts::list)),
        (endpoint("GET", "/api/v1/alerts/{alert}"), get(alerts::show)),
        (
            body(
                endpoint("PATCH", "/api/v1/alerts/{alert}"),
                r#"{"status":"closed"}"#,
            ),
            patch(alerts::update),
        ),
        (endpoint("GET", "/api/v1/rules"), get(rules::list)),
        (
            body(
                endpoint("POST", "/api/v1/rules"),
                "title: probe\nid: probe-rule\nlogsource:\n  product: linux\ndetection:\n  sel:\n    user.name: probe\n  condition: sel\n",
            ),
            post(rules::upload),
        ),
        (
            body(
                endpoint("PATCH", "/api/v1/rules/{rule}"),
                r#"{"enabled":false}"#,
            ),
            patch(rules::switch),
        ),
        (
            endpoint("DELETE", "/api/v1/rules/{rule}"),
            delete(rules::remove),
        ),
        (
            body(
                endpoint("POST", "/api/v1/assets"),
                r#"{"name":"probe","address":"192.0.2.99"}"#,
            ),
            post(assets::create),
        ),
        (endpoint("GET", "/api/v1/assets"), get(assets::list)),
        (endpoint("GET", "/api/v1/assets/{asset}"), get(assets::show)),
        (
            body(
                endpoint("PATCH", "/api/v1/assets/{asset}"),
                r#"{"address":"192.0.2.98"}"#,
            ),
            patch(assets::update),
        ),
        (
            endpoint("DELETE", "/api/v1/assets/{asset}"),
            delete(assets::remove),
        ),
        (
            body(
                endpoint("POST", "/api/v1/checks"),
                r#"{"asset":"probe","kind":"tcp","target":"192.0.2.9:9","interval":"30s","enabled":false}"#,
            ),
            post(checks::create),
        ),
        (endpoint("GET", "/api/v1/checks"), get(checks::list)),
        (endpoint("GET", "/api/v1/checks/{check}"), get(checks::show)),
        (
            body(
                endpoint("PATCH", "/api/v1/checks/{check}"),
                r#"{"interval":"60s"}"#,
            ),
            patch(checks::update),
        ),
        (
            endpoint("DELETE", "/api/v1/checks/{check}"),
            delete(checks::remove),
        ),
        (
            body(
                endpoint("POST", "/api/v1/maintenance-windows"),
                r#"{"id":"probe","scope":{"all":true},"schedule":{"kind":"once","start":"now","end":"now+1h"}}"#,
            ),
            post(noc_definitions::create_window),
        ),
        (
            endpoint("GET", "/api/v1/maintenance-windows"),
            get(noc_definitions::list_windows),
        ),
        (
            endpoint("GET", "/api/v1/maintenance-windows/{window}"),
            get(noc_definitions::show_window),
        ),
        (
            body(
                endpoint("PUT", "/api/v1/maintenance-windows/{window}"),
                r#"{"scope":{"all":true},"schedule":{"kind":"once","start":"now","end":"now+2h"}}"#,
            ),
            put(noc_definitions::replace_window),
        ),
        (
            endpoint("DELETE", "/api/v1/maintenance-windows/{window}"),
            delete(noc_definitions::remove_window),
        ),
        (
            body(
                endpoint("POST", "/api/v1/noc-rules"),
                r#"{"id":"reboot-detected","enabled":false}"#,
            ),
            post(noc_definitions::create_rule),
        ),
        (
            endpoint("GET", "/api/v1/noc-rules"),
            get(noc_definitions::list_rules),
        ),
        (
            body(
                endpoint("PUT", "/api/v1/noc-rules/{noc_rule}"),
                r#"{"enabled":false}"#,
            ),
            put(noc_definitions::replace_rule),
        ),
        (
            endpoint("DELETE", "/api/v1/noc-rules/{noc_rule}"),
            delete(noc_definitions::remove_rule),
        ),
        (endpoint("GET", "/api/v1/audit"), get(audit::list)),
        // Last: a caller walking the list in order keeps its session until
        // the end.
        (
            endpoint("POST", "/api/v1/logout"),
            post(users::logout).layer(small_body()),
        ),
    ]
}

/// The body limit of endpoints that carry a name and a password at most:
/// anyone may call login, so it must not read megabytes for nobody.
fn small_body() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(users::SMALL_BODY_BYTES)
}

/// The endpoint list alone (for tests and docs).
pub fn endpoint_list() -> Vec<Endpoint> {
    endpoints().into_iter().map(|(e, _)| e).collect()
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for (endpoint, handler) in endpoints() {
        router = router.route(endpoint.path, handler);
    }
    // Ingest checks the size again after decompression.
    let max_body = state.config.ingest.max_body_bytes;
    // Layers run outside in from the last added: headers and the JSON
    // error shape on every answer, then the body's deadline and the small
    // limit without credentials, so that the audit log reads only bodies
    // that passed them.
    router
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(state.clone(), audit::record))
        .layer(from_fn_with_state(
            state.clone(),
            hygiene::unauthenticated_body_limit,
        ))
        .layer(from_fn_with_state(state.clone(), hygiene::body_deadline))
        .layer(from_fn(hygiene::json_errors))
        .layer(from_fn(hygiene::security_headers))
        .with_state(state)
}
