//! The OpenAPI 3.0 document, generated from the declared endpoints.

use super::{Access, AppState, Endpoint};
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

pub fn document(endpoints: &[Endpoint], schemas: Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for e in endpoints {
        let mut params = Vec::new();
        if e.path.contains("{id}") {
            params.push(json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}));
        }
        for q in &e.query {
            params.push(json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}));
        }
        let ok = match (e.method.as_str(), &e.response) {
            (_, None) if !e.media_type.is_empty() => (
                "200",
                json!({"description": "the file", "content": {e.media_type: {"schema": {"type": "string", "format": "binary"}}}}),
            ),
            (_, None) => ("204", json!({"description": "done"})),
            ("POST", Some(s)) if e.path != "/api/auth/login" => {
                ("201", json!({"description": "created", "content": {"application/json": {"schema": s}}}))
            }
            (_, Some(s)) => {
                ("200", json!({"description": "ok", "content": {"application/json": {"schema": s}}}))
            }
        };
        let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}});
        let mut responses = Map::new();
        responses.insert(ok.0.into(), ok.1);
        for code in ["400", "401", "403", "404", "409", "422"] {
            responses.insert(code.into(), err.clone());
        }
        let op_id = format!(
            "{}{}",
            e.method.as_str().to_lowercase(),
            e.path.replace("/api", "").replace("{id}", "by_id").replace(['/', '-'], "_")
        );
        let mut op = json!({
            "tags": [e.tag],
            "summary": e.summary,
            "operationId": op_id,
            "parameters": params,
            "responses": responses,
        });
        match e.access {
            Access::Public => op["security"] = json!([]),
            Access::AtLeast(role) => op["x-required-role"] = json!(role.as_str()),
        }
        if let Some(req) = &e.request {
            let media = if e.media_type.is_empty() { "application/json" } else { e.media_type };
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": req}}});
        }
        let item = paths.entry(e.path.clone()).or_insert_with(|| json!({}));
        item[e.method.as_str().to_lowercase()] = op;
    }
    let mut schemas = schemas;
    let mut gen = schemars::generate::SchemaSettings::openapi3().into_generator();
    gen.subschema_for::<super::error::ErrorBody>();
    schemas.extend(gen.take_definitions(true));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Switchboard API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Admin, supervisor and agent API. Authenticate with the session cookie from \
                            POST /api/auth/login or an API token (Authorization: Bearer). \
                            x-required-role names the lowest role allowed; roles rank agent < supervisor < admin < owner."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": super::SESSION_COOKIE},
                "token": {"type": "http", "scheme": "bearer"}
            }
        },
        "security": [{"session": []}, {"token": []}]
    })
}

pub async fn serve(State(state): State<AppState>) -> Json<Value> {
    Json((*state.openapi).clone())
}
