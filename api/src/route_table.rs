//! The one table of the API's routes. The 405 `Allow` header, the metric route labels and the
//! OpenAPI check all derive from [`ROUTES`]; `routes` holds the filters that serve them.

/// Every (method, path template) the API serves. A `{name}` segment matches the rest of the
/// path (a topic may itself contain `/`).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/publish"),
    ("GET", "/events"),
    // Before the `/events/{topic}/{event_id}` template, which would also match them.
    ("GET", "/events/stream"),
    ("GET", "/events/export"),
    ("GET", "/events/{topic}/{event_id}"),
    ("GET", "/topics"),
    ("GET", "/dead-letters"),
    ("POST", "/dead-letters/{id}/retry"),
    ("GET", "/stats"),
    ("GET", "/health"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    // The web console (`console`): its page, its files, and `/` redirecting to it.
    ("GET", "/"),
    ("GET", "/console"),
    ("GET", "/console/{asset}"),
];

/// The methods metric labels keep; any other becomes `OTHER`, so a client cannot mint labels.
const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// A template matches its literal text, its `{name}` segments any non-empty text (the
/// literal text after the last segment, e.g. `/retry`, must end the path).
fn matches(template: &str, path: &str) -> bool {
    match (template.split_once('{'), template.rsplit_once('}')) {
        (Some((prefix, _)), Some((_, suffix))) => {
            path.len() > prefix.len() + suffix.len()
                && path.starts_with(prefix)
                && path.ends_with(suffix)
        }
        _ => template == path,
    }
}

/// The template a concrete path belongs to, if any.
pub fn template_of(path: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .map(|(_, template)| *template)
        .find(|template| matches(template, path))
}

/// The methods a known path serves (for `Allow`, e.g. `GET`), or `None` for an unknown path. A
/// trailing slash is ignored.
pub fn allowed_methods(path: &str) -> Option<String> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let template = template_of(path)?;
    let methods: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, t)| *t == template)
        .map(|(method, _)| *method)
        .collect();
    Some(methods.join(", "))
}

/// The metric label of a request: `METHOD /template`, `other` for an unknown path.
pub fn metric_label(method: &str, path: &str) -> String {
    let method = if STANDARD_METHODS.contains(&method) {
        method
    } else {
        "OTHER"
    };
    format!("{method} {}", template_of(path).unwrap_or("other"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_name_their_methods() {
        assert_eq!(allowed_methods("/publish").as_deref(), Some("POST"));
        assert_eq!(allowed_methods("/events/").as_deref(), Some("GET"));
        assert_eq!(allowed_methods("/events/a/b/c").as_deref(), Some("GET"));
        assert_eq!(allowed_methods("/openapi.json").as_deref(), Some("GET"));
        assert_eq!(allowed_methods("/stats/1"), None);
        assert_eq!(allowed_methods("/").as_deref(), Some("GET"));
        assert_eq!(allowed_methods("/console/app.js").as_deref(), Some("GET"));
        assert_eq!(allowed_methods("/publishx"), None);
        assert_eq!(allowed_methods("/events/stream").as_deref(), Some("GET"));
        assert_eq!(
            allowed_methods("/dead-letters/7/retry").as_deref(),
            Some("POST")
        );
        assert_eq!(allowed_methods("/dead-letters/7"), None);
    }

    #[test]
    fn labels_are_templated_and_methods_bounded() {
        assert_eq!(
            metric_label("GET", "/events/a/b/c"),
            "GET /events/{topic}/{event_id}"
        );
        assert_eq!(metric_label("GET", "/random/path"), "GET other");
        assert_eq!(metric_label("BREW", "/stats"), "OTHER /stats");
        assert_eq!(metric_label("POST", "/publish"), "POST /publish");
        assert_eq!(metric_label("GET", "/events/stream"), "GET /events/stream");
        assert_eq!(
            metric_label("POST", "/dead-letters/9/retry"),
            "POST /dead-letters/{id}/retry"
        );
    }
}
