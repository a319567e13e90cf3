//! Structural checks of an OpenAPI 3 document: every operation has responses with
//! descriptions, every templated path segment is a declared path parameter, every `$ref`
//! resolves.

use std::collections::BTreeSet;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Checks the document's structure and returns its operations as (METHOD, path).
pub fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "{path}");
        for (method, operation) in item.as_object().expect("a path item object") {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: no responses"));
            assert!(!responses.is_empty());
            for (code, response) in responses {
                assert!(
                    code.len() == 3 && code.parse::<u16>().is_ok(),
                    "{method} {path}: {code}"
                );
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {code}: no description"
                );
            }
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                let declared = operation["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(
                    declared,
                    "{method} {path}: path parameter {name} undeclared"
                );
            }
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    check_refs(doc, doc);
    documented
}

/// Every `$ref` under `node` points at something that exists in `doc`.
pub fn check_refs(doc: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("external $ref {reference}"));
                assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(reference: &str) -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {"/e/{id}": {"get": {
                "parameters": [{"name": "id", "in": "path", "required": true}],
                "responses": {"200": {"description": "ok", "content": {"application/json":
                    {"schema": {"$ref": reference}}}}}
            }}},
            "components": {"schemas": {"E": {"type": "object"}}}
        })
    }

    #[test]
    fn a_sound_document_lists_its_operations() {
        let ops = operations(&doc("#/components/schemas/E"));
        assert_eq!(ops, BTreeSet::from([("GET".into(), "/e/{id}".into())]));
    }

    #[test]
    #[should_panic(expected = "dangling $ref")]
    fn a_dangling_reference_is_refused() {
        operations(&doc("#/components/schemas/Missing"));
    }
}
