//! The OpenAPI paths of the read side (filters, live tail, export, topics, dead letters),
//! merged into the document by `openapi`.

use serde_json::{json, Value};

/// The (method, path) pairs documented here.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/events/stream"),
    ("get", "/events/export"),
    ("get", "/topics"),
    ("get", "/dead-letters"),
    ("post", "/dead-letters/{id}/retry"),
];

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "schema": schema, "description": description})
}

/// The filter parameters of `GET /events`, its export and its stream.
pub fn filter_parameters() -> Vec<Value> {
    let text = json!({"type": "string"});
    let time = json!({"type": "string", "format": "date-time"});
    vec![
        query(
            "topic",
            text.clone(),
            "One topic, or several separated by commas",
        ),
        query("source", text.clone(), "Exact source"),
        query(
            "from",
            time.clone(),
            "Event time at or after (RFC 3339 with offset)",
        ),
        query("to", time, "Event time before (RFC 3339 with offset)"),
        query(
            "q",
            json!({"type": "string", "minLength": 3, "maxLength": 200}),
            "Case-insensitive substring of the source or the payload's JSON text (trigram index)",
        ),
        query(
            "payload",
            text,
            "A JSON object the payload contains (jsonb @>), e.g. {\"level\":\"error\"}",
        ),
    ]
}

/// `after=`: an event id or an opaque commit cursor.
pub fn after_parameter() -> Value {
    query(
        "after",
        json!({"type": "string"}),
        "Oldest first (order=asc): events stored after this one in commit order; an event id or \
         the cursor <tx>.<id> of Link / the stream's event ids. Safe for readers that follow new \
         data. Newest first: only ids above it.",
    )
}

/// The paths of the read side.
pub fn paths() -> Value {
    let mut stream_params = filter_parameters();
    stream_params.push(after_parameter());
    stream_params.push(
        json!({"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"},
        "description": "Resume after this event (wins over after=)"}),
    );
    let mut export_params = filter_parameters();
    export_params.extend([
        after_parameter(),
        query(
            "before",
            json!({"type": "integer"}),
            "Only ids below this one",
        ),
        query(
            "order",
            json!({"type": "string", "enum": ["asc", "desc"]}),
            "desc (default) or asc (commit order)",
        ),
    ]);
    let dead_letter = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "kafka_topic": {"type": "string"}, "partition": {"type": "integer"},
        "offset": {"type": "integer"}, "key": {"type": "string", "nullable": true},
        "key_encoding": {"type": "string", "enum": ["utf8", "base64"], "nullable": true},
        "value": {"type": "string", "nullable": true},
        "value_encoding": {"type": "string", "enum": ["utf8", "base64"], "nullable": true},
        "error": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "retried_at": {"type": "string", "format": "date-time", "nullable": true}}});
    json!({
        "/events/stream": {"get": {
            "summary": "Live tail (Server-Sent Events) of the events matching the filters; each event's id is its commit cursor. Comment lines are heartbeats.",
            "parameters": stream_params,
            "responses": {
                "200": {"description": "An endless event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                "400": error("Bad query parameter (named in the error)"),
                "503": error("Too many open streams, or database unavailable")
            }
        }},
        "/events/export": {"get": {
            "summary": "Every matching event as NDJSON, streamed from one consistent snapshot, no row cap (also GET /events with Accept: application/x-ndjson).",
            "parameters": export_params,
            "responses": {
                "200": {"description": "One event per line", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                "400": error("Bad query parameter (named in the error)"),
                "503": error("Too many exports running, or database unavailable")
            }
        }},
        "/topics": {"get": {
            "summary": "Every topic with its stored count, event-time bounds, last store time and counters.",
            "responses": {
                "200": {"description": "Topics", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
                "503": error("Database unavailable")
            }
        }},
        "/dead-letters": {"get": {
            "summary": "Records the consumer could not store, newest first (Link: rel=next).",
            "parameters": [
                query("partition", json!({"type": "integer"}), "Kafka partition"),
                query("error", json!({"type": "string"}), "Case-insensitive substring of the error"),
                query("from", json!({"type": "string", "format": "date-time"}), "Stored at or after"),
                query("to", json!({"type": "string", "format": "date-time"}), "Stored before"),
                query("status", json!({"type": "string", "enum": ["pending", "retried", "all"]}), "Default all"),
                query("before", json!({"type": "integer"}), "Only ids below this one"),
                query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}), "Page size")
            ],
            "responses": {
                "200": {"description": "Dead letters", "content": {"application/json": {"schema": {"type": "array", "items": dead_letter}}}},
                "400": error("Bad query parameter (named in the error)"),
                "503": error("Database unavailable")
            }
        }},
        "/dead-letters/{id}/retry": {"post": {
            "summary": "Re-publishes the dead letter's raw key and value to the Kafka topic and marks it retried.",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "responses": {
                "200": {"description": "Re-published", "content": {"application/json": {"schema": {"type": "object"}}}},
                "404": error("No such dead letter"),
                "503": error("Broker or database unavailable")
            }
        }}
    })
}
