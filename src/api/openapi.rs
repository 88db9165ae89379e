//! The OpenAPI 3.1 description of `/v1`, generated from the code: the
//! bodies' JSON Schemas come from the very types the routes read and write
//! (schemars), the paths from the table below, kept next to the router.
//! Served at `/v1/openapi.json`; `docs/openapi.json` is the committed copy,
//! and a test fails when the two differ.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::routes::ActBody;
use super::submission::SubmitBody;
use super::views::{ErrorBody, GrantView, ListView, RequestView};

/// A `$ref` to a component schema of `T`, registering it.
fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    serde_json::to_value(g.subschema_for::<T>()).unwrap_or(Value::Null)
}

fn json_body(schema: Value) -> Value {
    json!({ "content": { "application/json": { "schema": schema } } })
}

fn error(description: &str, err: &Value) -> Value {
    ok(description, err.clone())
}

fn ok(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema } },
    })
}

fn query(name: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema })
}

/// The whole description.
pub(crate) fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = SchemaGenerator::new(settings);
    let request = schema::<RequestView>(&mut g);
    let list = schema::<ListView>(&mut g);
    let err = schema::<ErrorBody>(&mut g);
    let grant = schema::<GrantView>(&mut g);
    let submit = schema::<SubmitBody>(&mut g);
    let act = schema::<ActBody>(&mut g);
    let id_param = json!({ "name": "id", "in": "path", "required": true,
        "description": "AR-<n> or <n>", "schema": { "type": "string" } });
    let string = json!({ "type": "string" });
    let intervention = |summary: &str| {
        json!({ "post": {
            "summary": summary,
            "parameters": [id_param.clone()],
            "requestBody": json_body(act.clone()),
            "responses": {
                "200": ok("the request after the change", request.clone()),
                "403": error("the caller may not", &err),
                "404": error("no such request", &err),
                "409": error("the request is not in a status this applies to", &err),
                "422": error("a field is missing or invalid", &err),
            }
        }})
    };
    let mut paths = Map::new();
    paths.insert("/v1/requests".into(), json!({
        "post": {
            "summary": "Submit a request",
            "requestBody": json_body(submit.clone()),
            "responses": {
                "201": ok("created; Location names it", request.clone()),
                "403": error("the caller may not submit for this requester", &err),
                "409": error("the requester already has this request pending", &err),
                "422": error("fields refused, each named", &err),
            }
        },
        "get": {
            "summary": "List requests (filters, pages, CSV)",
            "parameters": [
                query("status", "pending, approved, active, ended, rejected, expired, cancelled, revoked", string.clone(), false),
                query("requester", "only this requester's (my requests)", string.clone(), false),
                query("approver", "only those this address is asked to approve (my approvals)", string.clone(), false),
                query("action", "only this action", string.clone(), false),
                query("resource", "only this resource", string.clone(), false),
                query("emergency", "only emergency (true) or only the others (false)", json!({ "type": "boolean" }), false),
                query("created_after", "RFC 3339", json!({ "type": "string", "format": "date-time" }), false),
                query("created_before", "RFC 3339", json!({ "type": "string", "format": "date-time" }), false),
                query("limit", "1 to 1000, default 100", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }), false),
                query("cursor", "next_cursor of the previous page", string.clone(), false),
                query("format", "json (default) or csv; Accept: text/csv also selects CSV", string.clone(), false),
            ],
            "responses": {
                "200": {
                    "description": "one page, oldest first; for CSV the next cursor is in X-Next-Cursor",
                    "content": {
                        "application/json": { "schema": list },
                        "text/csv": { "schema": { "type": "string" } },
                    }
                },
                "400": error("a parameter is invalid", &err),
                "403": error("the caller may not list", &err),
            }
        }
    }));
    paths.insert(
        "/v1/requests/{id}".into(),
        json!({ "get": {
            "summary": "One request",
            "parameters": [id_param.clone()],
            "responses": {
                "200": ok("the request", request.clone()),
                "404": error("no such request", &err),
            }
        }}),
    );
    paths.insert(
        "/v1/requests/{id}/cancel".into(),
        intervention("Cancel a pending request ({by, reason})"),
    );
    paths.insert(
        "/v1/requests/{id}/revoke".into(),
        intervention("Revoke granted access ({by, reason})"),
    );
    paths.insert(
        "/v1/requests/{id}/override".into(),
        intervention("Decide a pending request over the approvers ({status, by, reason})"),
    );
    paths.insert(
        "/v1/grants".into(),
        json!({ "get": {
            "summary": "May this requester act now?",
            "parameters": [
                query("requester", "the requester's address", string.clone(), true),
                query("action", "the action", string.clone(), true),
                query("resource", "the resource", string.clone(), true),
            ],
            "responses": {
                "200": ok("allowed only while a matching request is active", grant),
                "422": error("a parameter is missing or invalid", &err),
            }
        }}),
    );
    let audit = schema::<super::audit_trail::AuditPage>(&mut g);
    let number = json!({ "type": "integer", "minimum": 1 });
    paths.insert(
        "/v1/audit".into(),
        json!({ "get": {
            "summary": "The audit trail: chained events by sequence number, in pages",
            "parameters": [
                query("since", "the first sequence number wanted (default 1)", number.clone(), false),
                query("limit", "events per page (default 500, at most 5000)", number, false),
            ],
            "responses": {
                "200": ok("events oldest first; next names the following page", audit),
                "403": error("the caller may not read the trail", &err),
                "422": error("a parameter is invalid", &err),
            }
        }}),
    );
    let health = schema::<crate::health::HealthReport>(&mut g);
    paths.insert(
        "/v1/health".into(),
        json!({ "get": {
            "summary": "Is the daemon working? For load balancers and monitoring",
            "description": "On the Unix socket, any account that may connect; on the [metrics] listener, anyone who reaches it (loopback unless configured otherwise). Not on the HTTP listener.",
            "responses": {
                "200": ok("status ok: every worker makes progress and IMAP is connected", health.clone()),
                "503": ok("status degraded: a worker is stalled or stopped, or IMAP is not connected; problems says which", health),
            }
        }}),
    );
    paths.insert(
        "/metrics".into(),
        json!({ "get": {
            "summary": "Metrics in the Prometheus text format (0.0.4)",
            "description": "On the Unix socket, any account that may connect; on the [metrics] listener, anyone who reaches it. Counts and states only, no request's content. Not on the HTTP listener.",
            "responses": {
                "200": { "description": "the exposition", "content": { "text/plain; version=0.0.4": { "schema": { "type": "string" } } } },
                "500": { "description": "the store could not be read", "content": { "text/plain": { "schema": { "type": "string" } } } },
            }
        }}),
    );
    paths.insert("/v1/openapi.json".into(), json!({ "get": {
        "summary": "This description",
        "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": {} } } }
    }}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "approvald",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Access approvals by email. On the Unix socket the caller is the local account (peer credentials); on the HTTP listener every call needs Authorization: Bearer KEY, and the key's role decides what it may do.",
        },
        "components": {
            "schemas": Value::Object(g.take_definitions(true)),
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer" } },
        },
        "security": [ {}, { "apiKey": [] } ],
        "paths": Value::Object(paths),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json` is what the code generates: change the API and
    /// this fails until the committed copy is regenerated
    /// (`APPROVALD_WRITE_OPENAPI=1 cargo test --lib openapi`).
    #[test]
    fn the_committed_description_is_the_generated_one() {
        let generated = format!("{:#}\n", document());
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
        if std::env::var_os("APPROVALD_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is stale: regenerate it"
        );
    }

    #[test]
    fn every_route_and_body_is_described() {
        let doc = document();
        for path in [
            "/v1/requests",
            "/v1/requests/{id}",
            "/v1/requests/{id}/cancel",
            "/v1/requests/{id}/revoke",
            "/v1/requests/{id}/override",
            "/v1/grants",
            "/v1/audit",
            "/v1/openapi.json",
            "/v1/health",
            "/metrics",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path}");
        }
        for schema in [
            "RequestView",
            "ListView",
            "ErrorBody",
            "GrantView",
            "SubmitBody",
            "ActBody",
            "HealthReport",
        ] {
            assert!(
                doc["components"]["schemas"].get(schema).is_some(),
                "{schema}"
            );
        }
        let text = doc.to_string();
        assert!(
            !text.contains("#/$defs"),
            "every $ref points into components"
        );
    }
}
