//! The OpenAPI 3 description of the API, served at `GET /openapi.json`. A test checks that it
//! names every route the router serves.

use serde_json::{json, Value};

/// Every (method, path) the router serves, as written in the document.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/publish"),
    ("get", "/events"),
    ("get", "/events/{topic}/{event_id}"),
    ("get", "/stats"),
    ("get", "/health"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document.
pub fn document() -> Value {
    let event = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["topic", "event_id", "timestamp", "source"],
        "properties": {
            "topic": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z0-9._/-]+$"},
            "event_id": {"type": "string", "minLength": 1, "maxLength": 255},
            "timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339 with a UTC offset"},
            "source": {"type": "string", "minLength": 1, "maxLength": 255},
            "payload": {"type": "object", "description": "defaults to {}"}
        }
    });
    let stored = json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "topic": {"type": "string"}, "event_id": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"}, "source": {"type": "string"},
            "payload": {"type": "object"}, "processed_at": {"type": "string", "format": "date-time"},
            "partition": {"type": "integer"}, "offset": {"type": "integer"}
        }
    });
    json!({
        "openapi": "3.0.3",
        "info": {"title": "logagg", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Idempotent event aggregator: publish log events, read them back deduplicated, with exact counters."},
        "paths": {
            "/publish": {"post": {
                "summary": "Publish one event, an array of events, or {\"events\": [...]}; answered once the broker acked every event.",
                "security": [{}, {"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/Event"},
                    {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/Event"}},
                    {"type": "object", "additionalProperties": false, "required": ["events"],
                     "properties": {"events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/Event"}}}}
                ]}}}},
                "responses": {
                    "200": {"description": "Accepted: acked by the broker", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["status", "accepted", "offsets"],
                        "properties": {"status": {"type": "string", "enum": ["accepted"]}, "accepted": {"type": "integer"},
                            "offsets": {"type": "array", "items": {"type": "object", "properties": {
                                "event_id": {"type": "string"}, "partition": {"type": "integer"}, "offset": {"type": "integer"}}}}}}}}},
                    "400": error_response("Malformed JSON"),
                    "401": error_response("Missing or unknown bearer token (when API tokens are configured; docs/SECURITY.md)"),
                    "403": error_response("The token lacks the publish scope"),
                    "413": error_response("Body too large"),
                    "415": error_response("Content type is not JSON"),
                    "422": error_response("Invalid events (details per item); nothing published"),
                    "429": error_response("Over the token's publish rate; nothing published; retry after Retry-After"),
                    "503": error_response("Broker unavailable or slow; retry after Retry-After")
                }
            }},
            "/events": {"get": {
                "summary": "Stored events, newest first by default, cursor-paged by id (Link: rel=next).",
                "parameters": [
                    {"name": "topic", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                    {"name": "before", "in": "query", "schema": {"type": "integer"}, "description": "Only events with an id below this one (the last id of a newest-first page)"},
                    {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "Only events with an id above this one (the last id of an oldest-first page); with before, the window between"},
                    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}}
                ],
                "responses": {
                    "200": {"description": "Events", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/StoredEvent"}}}}},
                    "400": error_response("Bad query parameter"),
                    "503": error_response("Database unavailable")
                }
            }},
            "/events/{topic}/{event_id}": {"get": {
                "summary": "One stored event.",
                "parameters": [
                    {"name": "topic", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "event_id", "in": "path", "required": true, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "The event", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StoredEvent"}}}},
                    "404": error_response("No such event"),
                    "503": error_response("Database unavailable")
                }
            }},
            "/stats": {"get": {"summary": "Exact counters from PostgreSQL, topics, consumer lag.",
                "responses": {"200": {"description": "Counters", "content": {"application/json": {"schema": {"type": "object",
                    "required": ["received", "unique_processed", "duplicate_dropped", "invalid", "replayed", "topics", "uptime_seconds"]}}}},
                    "503": error_response("Database unavailable")}}},
            "/health": {"get": {"summary": "Readiness: broker and database.",
                "responses": {"200": {"description": "Healthy", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "503": {"description": "A dependency is down", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/healthz": {"get": {"summary": "Liveness.",
                "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.",
                "responses": {"200": {"description": "Text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document.",
                "responses": {"200": {"description": "OpenAPI 3", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
        },
        "components": {
            "schemas": {
                "Event": event,
                "StoredEvent": stored,
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object", "properties": {
                        "index": {"type": "integer"}, "field": {"type": "string"}, "message": {"type": "string"}}}}}}
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_exactly_the_served_routes() {
        let doc = document();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.clone(), path.clone()));
            }
        }
        documented.sort();
        let mut served: Vec<_> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        served.sort();
        assert_eq!(documented, served);
    }
}
