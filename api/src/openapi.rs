//! The OpenAPI document served at `GET /openapi.json`: its `paths` are the route table's, each
//! operation generated (utoipa) from its handler's `#[utoipa::path]`, the schemas from the
//! contract types in `logagg_core::contract`, so it cannot drift from what is served.

use logagg_core::contract;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::route_table::{Access, ROUTES};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "logagg",
        description = "Idempotent event aggregator: publish log events, read them back deduplicated, with exact counters."
    ),
    components(schemas(
        logagg_core::Event,
        contract::PublishRequest,
        contract::PublishResponse,
        contract::PublishedOffset,
        contract::ErrorBody,
        contract::ItemError,
        contract::EventView,
        contract::StatsResponse,
        contract::TopicCounts,
        contract::HealthResponse,
        contract::HealthStatus,
        contract::BatchesState,
        contract::DependencyHealth,
        contract::UpMarker,
        contract::DependencyDown,
        contract::DownMarker,
        contract::AliveResponse,
        contract::RetentionStatus,
        contract::RetentionPolicies,
        contract::SetRetention,
        contract::DeleteFilter,
        contract::DeleteResponse,
        contract::AuditEntry,
        contract::DeadLetterView,
        contract::RawEncoding,
        contract::RetryResponse,
        logagg_core::db::counters::TopicSummary,
    )),
    modifiers(&TablePaths, &BearerScheme, &CommonResponses),
)]
struct ApiDoc;

/// The route table's paths, each with its handler's operation; the operation id is the
/// method and path (handlers in different modules share names).
struct TablePaths;

impl Modify for TablePaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for route in ROUTES {
            let doc = (route.doc)();
            let mut operation = doc.operation;
            let id: String = format!("{} {}", route.method, route.path)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            operation.operation_id = Some(id);
            openapi
                .paths
                .add_path_operation(route.path, doc.methods, operation);
        }
    }
}

/// Declares the `bearer` scheme `POST /publish` names.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// What every route may answer besides its own responses, added in this one place: a 500
/// (scrubbed down to the request id), and, where the route needs a token scope, the bearer
/// security requirement with its 401 and 403.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::{RefOr, ResponseBuilder};
        let error = |description: String| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for route in ROUTES {
            let Some(item) = openapi.paths.paths.get_mut(route.path) else {
                continue;
            };
            let operation = match route.method.as_str() {
                "GET" => &mut item.get,
                "POST" => &mut item.post,
                "PUT" => &mut item.put,
                "DELETE" => &mut item.delete,
                _ => continue,
            };
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            let responses = &mut operation.responses.responses;
            responses.entry("500".into()).or_insert_with(|| {
                error("Internal error (only the request id is returned)".into())
            });
            if let Access::Scope(scope) = route.access {
                responses.entry("401".into()).or_insert_with(|| {
                    error("Missing or unknown bearer token (when API tokens are configured; docs/SECURITY.md)".into())
                });
                responses.entry("403".into()).or_insert_with(|| {
                    error(format!("The token lacks the {} scope", scope.name()))
                });
                operation.security = Some(vec![
                    SecurityRequirement::default(),
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                ]);
            }
        }
    }
}

/// This document.
#[utoipa::path(
    get, path = crate::route_table::IN_TABLE,
    responses((status = 200, description = "OpenAPI 3", body = Object)),
)]
pub async fn serve(_: crate::handlers::Request) -> warp::reply::Response {
    use warp::Reply;
    warp::reply::json(&document()).into_response()
}

/// The document, as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_exactly_the_route_table() {
        let doc = document();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        documented.sort();
        let mut served: Vec<_> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_reference_resolves() {
        fn check(doc: &serde_json::Value, node: &serde_json::Value) {
            match node {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(reference)) = map.get("$ref") {
                        let pointer = reference.strip_prefix('#').expect("local $ref");
                        assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
                    }
                    map.values().for_each(|v| check(doc, v));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| check(doc, v)),
                _ => {}
            }
        }
        let doc = document();
        check(&doc, &doc);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    }

    /// The filter parameters every read route accepts are documented on each of them, and the
    /// bodies of /topics and /dead-letters are typed, not a bare object.
    #[test]
    fn read_routes_document_their_filters_and_bodies() {
        let doc = document();
        for path in ["/events", "/events/export", "/events/stream"] {
            let names: Vec<&str> = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: no parameters"))
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for filter in crate::handlers::search::FILTER_PARAMS {
                assert!(names.contains(&filter), "{path} does not document {filter}");
            }
        }
        for (path, schema) in [
            ("/topics", "TopicSummary"),
            ("/dead-letters", "DeadLetterView"),
        ] {
            let body = &doc["paths"][path]["get"]["responses"]["200"]["content"]
                ["application/json"]["schema"];
            assert_eq!(
                body["items"]["$ref"],
                format!("#/components/schemas/{schema}"),
                "{path}: {body}"
            );
        }
    }

    /// Every route documents the scrubbed 500; every route that needs a scope documents the
    /// bearer requirement with its 401 and 403, and the open routes do not.
    #[test]
    fn common_responses_follow_the_scopes() {
        let doc = document();
        for route in ROUTES {
            let (method, path) = (route.method.as_str(), route.path);
            let operation = &doc["paths"][path][method.to_lowercase()];
            let responses = &operation["responses"];
            assert!(responses["500"].is_object(), "{method} {path}");
            let needs_token = route.access != Access::Open;
            assert_eq!(responses["401"].is_object(), needs_token, "{method} {path}");
            assert_eq!(responses["403"].is_object(), needs_token, "{method} {path}");
            assert_eq!(
                operation["security"].is_array(),
                needs_token,
                "{method} {path}"
            );
        }
        assert!(
            doc["paths"]["/publish"]["post"]["responses"]["403"]["description"]
                .as_str()
                .unwrap()
                .contains("publish scope")
        );
    }
}
