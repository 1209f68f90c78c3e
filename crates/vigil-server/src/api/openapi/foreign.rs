//! Schemas of the types that other crates own and the API shows (roles,
//! severities, alert entities...). Those crates stay free of utoipa; the
//! enums are listed from their own `ALL`/`as_str`, so a new variant shows
//! up here without anyone editing this file.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use vigil_store::state::{AlertStatus, Criticality, Role, Severity, Team};

fn text_enum<'a>(values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(values))
        .into()
}

fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
}

pub fn role() -> RefOr<Schema> {
    text_enum(Role::ALL.iter().map(|r| r.as_str()))
}

pub fn team() -> RefOr<Schema> {
    text_enum(Team::ALL.iter().map(|t| t.as_str()))
}

pub fn severity() -> RefOr<Schema> {
    text_enum(Severity::ALL.iter().map(|s| s.as_str()))
}

pub fn alert_status() -> RefOr<Schema> {
    text_enum(AlertStatus::ALL.iter().map(|s| s.as_str()))
}

pub fn criticality() -> RefOr<Schema> {
    use Criticality::*;
    text_enum([Low, Medium, High, Critical].map(Criticality::as_str))
}

/// `vigil_store::state::Entities`: who and what an alert is about.
pub fn entities() -> RefOr<Schema> {
    ObjectBuilder::new()
        .property("host", nullable_string())
        .property("user", nullable_string())
        .property("source_ip", nullable_string())
        .property(
            "resource",
            nullable_string().description(Some(
                "What on the host, for NOC alerts: an interface, a filesystem, a check",
            )),
        )
        .into()
}

/// A check as `POST /api/v1/checks` takes it: the common keys (the
/// handler reads a JSON object and `inventory::check_record` judges it);
/// each kind adds settings of its own.
pub fn check_input() -> RefOr<Schema> {
    let string = || ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
    ObjectBuilder::new()
        .property("asset", string().examples(["web01"]))
        .property(
            "kind",
            string().enum_values(Some(vigil_checks::settings::KINDS.iter().copied())),
        )
        .property(
            "target",
            string().description(Some("`host`, `host:port` or a URL, by kind")),
        )
        .property("interval", string().examples(["30s"]))
        .property("timeout", string().examples(["5s"]))
        .property(
            "retries",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(0)),
        )
        .property(
            "enabled",
            ObjectBuilder::new().schema_type(SchemaType::Type(Type::Boolean)),
        )
        .required("asset")
        .required("kind")
        .required("target")
        .into()
}

/// `vigil_decode::LineError`: a refused line of an NDJSON body.
pub fn line_errors() -> RefOr<Schema> {
    let line = ObjectBuilder::new()
        .property(
            "line",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(0)),
        )
        .property(
            "error",
            ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)),
        )
        .required("line")
        .required("error");
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(line)
        .into()
}
