//! The one table of the API's routes: method, path template, who may call it (open or a
//! scope, and with which credential forms), its handler and its OpenAPI operation. Dispatch
//! (`routes`), the 405 `Allow` header, access control (`auth`), metric labels and the OpenAPI
//! `paths` (`openapi`) all read [`ROUTES`]; no path is written anywhere else.
//!
//! Adding a route: a line here, its handler (an `async fn(Request)` with a `#[utoipa::path]`
//! whose `path = IN_TABLE`), and its parameter/body types.

use futures::future::BoxFuture;
use utoipa::openapi::path::{HttpMethod, Operation};
use warp::http::Method;
use warp::reply::Response;
use warp::Reply;

use crate::auth::Scope;
use crate::console;
use crate::handlers::{
    admin, dead_letters, events, export, health, publish, stats, stream, Request,
};
use crate::openapi;

/// What a `#[utoipa::path]` names as its path: the table gives every operation its path.
pub const IN_TABLE: &str = "(route_table)";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: probes, scraping, the contract, the console's files (which hold no data).
    Open,
    /// A token with this scope (when tokens are configured).
    Scope(Scope),
}

/// How a route's caller may present its token. Every route takes `Authorization: Bearer`;
/// an ingest door for a client that cannot send one declares the other forms it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer,
}

/// The credential forms of an ordinary route.
pub const BEARER: &[Credential] = &[Credential::Bearer];

/// A route's handler: the request (state, caller, matched path, query, headers, body) in, the
/// response out. Written with [`handler!`] from an `async fn(Request) -> impl Reply`.
pub type Handler = fn(Request) -> BoxFuture<'static, Response>;

/// The OpenAPI side of a route, from its handler's `#[utoipa::path]`.
pub struct Doc {
    pub methods: Vec<HttpMethod>,
    pub operation: Operation,
}

/// The [`Doc`] of the handler whose `#[utoipa::path]` generated `P`.
pub fn doc<P: utoipa::Path>() -> Doc {
    Doc {
        methods: P::methods(),
        operation: P::operation(),
    }
}

/// One route.
pub struct Route {
    pub method: Method,
    /// `/literal`, or `/prefix{name}suffix` where `{name}` matches any non-empty text,
    /// `/` included (a topic may itself contain `/`).
    pub path: &'static str,
    pub access: Access,
    pub credentials: &'static [Credential],
    pub handler: Handler,
    pub doc: fn() -> Doc,
}

/// A [`Handler`] from an `async fn(Request) -> R` where `R: Reply` (a `Response`, or a
/// `Result<Response, ApiError>`).
macro_rules! handler {
    ($f:path) => {
        |request| Box::pin(async move { Reply::into_response($f(request).await) })
    };
}

const READ: Access = Access::Scope(Scope::Read);
const ADMIN: Access = Access::Scope(Scope::Admin);
const OPEN: Access = Access::Open;

/// Every route the API serves. The first template that matches a path decides (so
/// `/events/stream` comes before `/events/{topic}/{event_id}`, which would also match it).
pub static ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/publish",
        access: Access::Scope(Scope::Publish),
        credentials: BEARER,
        handler: handler!(publish::publish),
        doc: doc::<publish::__path_publish>,
    },
    Route {
        method: Method::GET,
        path: "/events",
        access: READ,
        credentials: BEARER,
        handler: handler!(events::list),
        doc: doc::<events::__path_list>,
    },
    Route {
        method: Method::GET,
        path: "/events/stream",
        access: READ,
        credentials: BEARER,
        handler: handler!(stream::stream),
        doc: doc::<stream::__path_stream>,
    },
    Route {
        method: Method::GET,
        path: "/events/export",
        access: READ,
        credentials: BEARER,
        handler: handler!(export::export),
        doc: doc::<export::__path_export>,
    },
    Route {
        method: Method::GET,
        path: "/events/{topic}/{event_id}",
        access: READ,
        credentials: BEARER,
        handler: handler!(events::get_one),
        doc: doc::<events::__path_get_one>,
    },
    Route {
        method: Method::GET,
        path: "/topics",
        access: READ,
        credentials: BEARER,
        handler: handler!(dead_letters::topics),
        doc: doc::<dead_letters::__path_topics>,
    },
    Route {
        method: Method::GET,
        path: "/dead-letters",
        access: READ,
        credentials: BEARER,
        handler: handler!(dead_letters::list),
        doc: doc::<dead_letters::__path_list>,
    },
    Route {
        method: Method::POST,
        path: "/dead-letters/{id}/retry",
        access: ADMIN,
        credentials: BEARER,
        handler: handler!(dead_letters::retry),
        doc: doc::<dead_letters::__path_retry>,
    },
    Route {
        method: Method::GET,
        path: "/stats",
        access: READ,
        credentials: BEARER,
        handler: handler!(stats::stats),
        doc: doc::<stats::__path_stats>,
    },
    Route {
        method: Method::GET,
        path: "/health",
        access: OPEN,
        credentials: BEARER,
        handler: handler!(health::health),
        doc: doc::<health::__path_health>,
    },
    Route {
        method: Method::GET,
        path: "/healthz",
        access: OPEN,
        credentials: BEARER,
        handler: handler!(health::healthz),
        doc: doc::<health::__path_healthz>,
    },
    Route {
        method: Method::GET,
        path: "/metrics",
        access: OPEN,
        credentials: BEARER,
        handler: handler!(health::metrics),
        doc: doc::<health::__path_metrics>,
    },
    Route {
        method: Method::GET,
        path: "/openapi.json",
        access: OPEN,
        credentials: BEARER,
        handler: handler!(openapi::serve),
        doc: doc::<openapi::__path_serve>,
    },
    // Retention policies and deletes: reading them is admin business too.
    Route {
        method: Method::GET,
        path: "/admin/retention",
        access: ADMIN,
        credentials: BEARER,
        handler: handler!(admin::get_retention),
        doc: doc::<admin::__path_get_retention>,
    },
    Route {
        method: Method::PUT,
        path: "/admin/retention",
        access: ADMIN,
        credentials: BEARER,
        handler: handler!(admin::put_retention),
        doc: doc::<admin::__path_put_retention>,
    },
    Route {
        method: Method::POST,
        path: "/admin/delete",
        access: ADMIN,
        credentials: BEARER,
        handler: handler!(admin::delete),
        doc: doc::<admin::__path_delete>,
    },
    Route {
        method: Method::GET,
        path: "/admin/deletes",
        access: ADMIN,
        credentials: BEARER,
        handler: handler!(admin::deletes),
        doc: doc::<admin::__path_deletes>,
    },
    // The web console: `/` redirecting to it, its page, its files.
    Route {
        method: Method::GET,
        path: "/",
        access: OPEN,
        credentials: BEARER,
        handler: handler!(console::root),
        doc: doc::<console::__path_root>,
    },
    Route {
        method: Method::GET,
        path: "/console",
        access: OPEN,
        credentials: BEARER,
        handler: handler!(console::index),
        doc: doc::<console::__path_index>,
    },
    Route {
        method: Method::GET,
        path: "/console/{asset}",
        access: OPEN,
        credentials: BEARER,
        handler: handler!(console::asset),
        doc: doc::<console::__path_asset>,
    },
];

/// The methods metric labels keep; any other becomes `OTHER`, so a client cannot mint labels.
const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// What a template's `{name}` part matched in a path (`None`: the template does not match).
/// A template without one matches its literal text only (and yields `""`); the literal text
/// after the last `}`, e.g. `/retry`, must end the path.
fn matched<'p>(template: &str, path: &'p str) -> Option<&'p str> {
    match (template.split_once('{'), template.rsplit_once('}')) {
        (Some((prefix, _)), Some((_, suffix))) => path
            .strip_prefix(prefix)?
            .strip_suffix(suffix)
            .filter(|middle| !middle.is_empty()),
        _ => (template == path).then_some(""),
    }
}

/// A path without its trailing slash (`/` stays `/`).
pub fn trimmed(path: &str) -> &str {
    path.strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path)
}

/// What the table says of a request's method and path.
pub enum Found {
    /// This route serves it; the text its template's `{name}` part matched.
    Route(&'static Route, String),
    /// The path is served, with other methods (the `Allow` value).
    OtherMethods(String),
    /// No route has this path.
    Nothing,
}

/// The route serving `method path` (a trailing slash ignored).
pub fn find(method: &Method, path: &str) -> Found {
    let path = trimmed(path);
    let Some((template, rest)) = ROUTES
        .iter()
        .find_map(|route| matched(route.path, path).map(|rest| (route.path, rest)))
    else {
        return Found::Nothing;
    };
    let same_path = || ROUTES.iter().filter(move |route| route.path == template);
    match same_path().find(|route| route.method == *method) {
        Some(route) => Found::Route(route, rest.to_owned()),
        None => Found::OtherMethods(
            same_path()
                .map(|route| route.method.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

/// The template a concrete path belongs to, if any.
pub fn template_of(path: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .map(|route| route.path)
        .find(|template| matched(template, trimmed(path)).is_some())
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

    fn allowed(method: Method, path: &str) -> Option<String> {
        match find(&method, path) {
            Found::Route(route, _) => Some(route.method.to_string()),
            Found::OtherMethods(allow) => Some(allow),
            Found::Nothing => None,
        }
    }

    #[test]
    fn known_paths_name_their_methods() {
        let any = || Method::from_bytes(b"BREW").unwrap();
        assert_eq!(allowed(any(), "/publish").as_deref(), Some("POST"));
        assert_eq!(allowed(any(), "/events/").as_deref(), Some("GET"));
        assert_eq!(allowed(any(), "/events/a/b/c").as_deref(), Some("GET"));
        assert_eq!(allowed(any(), "/openapi.json").as_deref(), Some("GET"));
        assert_eq!(allowed(any(), "/stats/1"), None);
        assert_eq!(allowed(any(), "/").as_deref(), Some("GET"));
        assert_eq!(allowed(any(), "/console/app.js").as_deref(), Some("GET"));
        assert_eq!(allowed(any(), "/publishx"), None);
        assert_eq!(allowed(any(), "/events/stream").as_deref(), Some("GET"));
        assert_eq!(
            allowed(any(), "/dead-letters/7/retry").as_deref(),
            Some("POST")
        );
        assert_eq!(allowed(any(), "/dead-letters/7"), None);
        assert_eq!(
            allowed(any(), "/admin/retention").as_deref(),
            Some("GET, PUT")
        );
    }

    #[test]
    fn a_match_yields_what_the_template_part_matched() {
        let Found::Route(route, rest) = find(&Method::GET, "/events/a/b/c") else {
            panic!("no route");
        };
        assert_eq!(
            (route.path, rest.as_str()),
            ("/events/{topic}/{event_id}", "a/b/c")
        );
        let Found::Route(route, rest) = find(&Method::POST, "/dead-letters/7/retry") else {
            panic!("no route");
        };
        assert_eq!(
            (route.path, rest.as_str()),
            ("/dead-letters/{id}/retry", "7")
        );
        let Found::Route(route, _) = find(&Method::GET, "/events/stream") else {
            panic!("no route");
        };
        assert_eq!(route.path, "/events/stream");
    }

    /// Every served route says who may call it, and only the probes, the contract and the
    /// console's files are open: a new route cannot be served without a scope by accident.
    #[test]
    fn every_route_needs_a_scope_unless_it_is_a_known_open_one() {
        const OPEN_ROUTES: [&str; 7] = [
            "/health",
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/",
            "/console",
            "/console/{asset}",
        ];
        for route in ROUTES {
            let open = route.access == Access::Open;
            assert_eq!(
                open,
                OPEN_ROUTES.contains(&route.path) && route.method == Method::GET,
                "{} {}: {:?}",
                route.method,
                route.path,
                route.access
            );
            assert!(!route.credentials.is_empty(), "{}", route.path);
        }
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(
                seen.insert((route.method.clone(), route.path)),
                "{} {} twice",
                route.method,
                route.path
            );
        }
    }

    /// Each handler's `#[utoipa::path]` names the method the table serves it at.
    #[test]
    fn every_operation_is_documented_for_its_method() {
        for route in ROUTES {
            let doc = (route.doc)();
            let methods: Vec<String> = doc
                .methods
                .iter()
                .map(|m| {
                    match m {
                        HttpMethod::Get => "GET",
                        HttpMethod::Post => "POST",
                        HttpMethod::Put => "PUT",
                        HttpMethod::Delete => "DELETE",
                        _ => "OTHER",
                    }
                    .to_owned()
                })
                .collect();
            assert_eq!(
                methods,
                [route.method.to_string()],
                "{} {}",
                route.method,
                route.path
            );
        }
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
