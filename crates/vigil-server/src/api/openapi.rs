//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 description, built
//! from the code with utoipa.
//!
//! Each handler carries its `#[utoipa::path]` (parameters, body, answers;
//! its doc comment becomes the description) and is named in [`ApiDoc`]'s
//! `paths`. What every endpoint shares is added here from
//! [`super::endpoints`], the one list the router is built from: the bearer
//! token (none for the public endpoints), the JSON error answer for every
//! status an operation does not list itself, and the list's example
//! bodies. The tests below fail when an endpoint of the list has no
//! operation, or the document has one the router does not serve.
//!
//! To describe a new endpoint: put `#[utoipa::path(METHOD, path = "...",
//! params(...), request_body = T, responses(...))]` on its handler, derive
//! `ToSchema` (bodies) or `IntoParams` (query strings) on its types, and
//! add the handler to `paths(...)` below.

pub mod foreign;

use super::{alerts, assets, audit, checks, events, ingest, metrics, noc_definitions};
use super::{rules, sessions, system, tenants, tokens, users};
use crate::error::ErrorBody;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref};
use utoipa::OpenApi;

/// The scheme every non-public operation requires: `Authorization: Bearer
/// <token>`, an API token or a login session's.
const SECURITY: &str = "token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil API",
        description = "Vigil's HTTP API: tenants, tokens, users, ingest, event search, alerts, \
rules, the NOC's inventory and definitions, the audit log. Every request but the public ones \
carries `Authorization: Bearer <token>`. A token of one tenant acts on it; a caller of several \
tenants names one with `?tenant=`. Errors are JSON: `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        system::healthz,
        system::metrics,
        serve,
        tenants::create,
        tenants::list,
        tenants::show,
        tenants::update,
        tokens::create,
        tokens::list,
        tokens::revoke,
        users::create,
        users::list,
        users::show,
        users::update,
        users::remove,
        sessions::list,
        sessions::revoke,
        users::login,
        users::change_own_password,
        users::logout,
        ingest::ingest,
        ingest::ingest_evtx,
        events::search,
        events::show,
        events::stats,
        events::quarantine,
        metrics::query,
        alerts::list,
        alerts::show,
        alerts::update,
        rules::list,
        rules::upload,
        rules::switch,
        rules::remove,
        assets::create,
        assets::list,
        assets::show,
        assets::update,
        assets::remove,
        checks::create,
        checks::list,
        checks::show,
        checks::update,
        checks::remove,
        noc_definitions::create_window,
        noc_definitions::list_windows,
        noc_definitions::show_window,
        noc_definitions::replace_window,
        noc_definitions::remove_window,
        noc_definitions::create_rule,
        noc_definitions::list_rules,
        noc_definitions::replace_rule,
        noc_definitions::remove_rule,
        audit::list,
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// This document: OpenAPI 3.1, public (it describes the API, nothing of
/// any tenant).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

/// The document as JSON text, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        build()
            .to_json()
            .expect("the OpenAPI document is plain data")
    })
}

/// The document: the handlers' operations with what every endpoint shares.
pub fn build() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        SECURITY.into(),
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc.security = Some(vec![SecurityRequirement::new(
        SECURITY,
        Vec::<String>::new(),
    )]);
    for endpoint in super::endpoint_list() {
        let Some(item) = doc.paths.paths.get_mut(endpoint.path) else {
            continue;
        };
        let Some(operation) = operation_mut(item, endpoint.method) else {
            continue;
        };
        if endpoint.public {
            // An empty requirement: no credentials needed.
            operation.security = Some(vec![SecurityRequirement::default()]);
        }
        add_error_answer(operation);
        if let Some(body) = endpoint.example_body {
            add_example(operation, body);
        }
    }
    doc
}

/// Every status an operation does not list answers the JSON error shape
/// (`api::hygiene` makes it so for the router's own answers too).
fn add_error_answer(operation: &mut Operation) {
    let answers = &mut operation.responses.responses;
    answers.entry("default".into()).or_insert_with(|| {
        ResponseBuilder::new()
            .description("An error: what failed and why")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
            .into()
    });
}

/// The endpoint list's example body, on a JSON request body.
fn add_example(operation: &mut Operation, body: &str) {
    let Ok(example) = serde_json::from_str::<serde_json::Value>(&body.replace("{name}", "acme"))
    else {
        return;
    };
    let json = operation
        .request_body
        .as_mut()
        .and_then(|b| b.content.get_mut("application/json"));
    if let Some(content) = json {
        content.example = Some(example);
    }
}

fn operation_mut<'a>(item: &'a mut PathItem, method: &str) -> Option<&'a mut Operation> {
    match method {
        "GET" => item.get.as_mut(),
        "POST" => item.post.as_mut(),
        "PUT" => item.put.as_mut(),
        "PATCH" => item.patch.as_mut(),
        "DELETE" => item.delete.as_mut(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use utoipa::openapi::path::ParameterIn;

    fn operations(doc: &utoipa::openapi::OpenApi) -> Vec<(String, String, &Operation)> {
        let mut out = Vec::new();
        for (path, item) in &doc.paths.paths {
            let methods = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
                ("HEAD", &item.head),
                ("OPTIONS", &item.options),
                ("TRACE", &item.trace),
            ];
            for (method, op) in methods {
                if let Some(op) = op {
                    out.push((method.to_string(), path.clone(), op));
                }
            }
        }
        out
    }

    /// The missing-endpoint test: the document describes exactly the
    /// router's endpoints.
    #[test]
    fn every_endpoint_is_described_and_nothing_else() {
        let doc = build();
        let described: BTreeSet<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(m, p, _)| (m, p))
            .collect();
        let listed: BTreeSet<(String, String)> = super::super::endpoint_list()
            .into_iter()
            .map(|e| (e.method.to_string(), e.path.to_string()))
            .collect();
        let missing: Vec<_> = listed.difference(&described).collect();
        assert!(
            missing.is_empty(),
            "endpoints without an operation in the OpenAPI document (put #[utoipa::path] on \
             the handler and name it in ApiDoc's paths, api/openapi.rs): {missing:?}"
        );
        let unserved: Vec<_> = described.difference(&listed).collect();
        assert!(
            unserved.is_empty(),
            "operations the router does not serve (method or path differs from api::endpoints()): {unserved:?}"
        );
        println!(
            "openapi: {} endpoints listed, {} operations described",
            listed.len(),
            described.len()
        );
    }

    /// A path's `{placeholder}` is a declared path parameter (clients and
    /// schemathesis need it), and every operation has the error answer.
    #[test]
    fn operations_declare_their_path_parameters_and_errors() {
        let doc = build();
        for (method, path, op) in operations(&doc) {
            let declared: BTreeSet<&str> = op
                .parameters
                .iter()
                .flatten()
                .filter(|p| p.parameter_in == ParameterIn::Path)
                .map(|p| p.name.as_str())
                .collect();
            let placeholders: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(declared, placeholders, "{method} {path}: path parameters");
            assert!(
                op.responses.responses.contains_key("default"),
                "{method} {path}: no error answer"
            );
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_json_with_the_public_endpoints_open() {
        let doc: serde_json::Value = serde_json::from_str(document()).expect("JSON");
        assert!(doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")));
        assert_eq!(doc["security"][0]["token"], serde_json::json!([]));
        assert_eq!(
            doc["paths"]["/api/v1/login"]["post"]["security"],
            serde_json::json!([{}])
        );
        assert!(doc["paths"]["/api/v1/tenants"]["get"]["security"].is_null());
        assert_eq!(
            doc["components"]["schemas"]["ErrorBody"]["required"],
            serde_json::json!(["error"])
        );
    }
}
