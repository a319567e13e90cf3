//! The web console: static HTML, CSS and JavaScript under `api/console/`, compiled into the
//! binary, served at `/console` (and `/` redirects there). The pages call the API's own routes
//! (`/stats`, `/events`, `/events/stream`, `/dead-letters`, ...) with the token the user gives;
//! the assets themselves hold no data, so they need no token.

use crate::route_table::IN_TABLE;
use std::sync::OnceLock;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Reply;

use crate::errors::ApiError;
use crate::handlers::Request;

/// Where the console lives; `/` redirects here.
pub const PATH: &str = "/console";

/// One file of the console.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../console/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file served under `/console/`; `index.html` is also `/console` itself.
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("app.js", JS),
    asset!("client.js", JS),
    asset!("overview.js", JS),
    asset!("search.js", JS),
    asset!("tail.js", JS),
    asset!("letters.js", JS),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", TEXT),
];

/// The page may load only what this server serves and talk only to it (no inline script;
/// uPlot sizes its elements through `style`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// An entity tag per build: the assets change only with the binary.
fn etag() -> &'static HeaderValue {
    static ETAG: OnceLock<HeaderValue> = OnceLock::new();
    ETAG.get_or_init(|| {
        let mut hasher = openssl::sha::Sha256::new();
        for asset in ASSETS {
            hasher.update(asset.name.as_bytes());
            hasher.update(asset.body);
        }
        let hex: String = hasher.finish()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
    })
}

/// The asset's response: 304 when the browser holds this build's copy, else the bytes.
/// `no-cache` makes the browser revalidate each time, so an upgraded binary is picked up.
fn serve(asset: &Asset, if_none_match: Option<&str>) -> Response {
    let fresh = if_none_match.is_some_and(|tags| {
        tags.split(',')
            .any(|tag| tag.trim() == etag().to_str().unwrap_or_default())
    });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(asset.body.into());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag().clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.content_type == HTML {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// Redirects to the web console (/console).
///
/// `GET /`: to the console.
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 308, description = "Location: /console")),
)]
pub async fn root(_: Request) -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(PATH));
    response
}

/// The web console: overview, search, live tail, dead letters (HTML; assets compiled in).
///
/// `GET /console`: the console's page.
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 200, description = "The console page", body = String, content_type = "text/html")),
)]
pub async fn index(request: Request) -> Response {
    serve(
        find("index.html").expect("index.html is an asset"),
        request.header("if-none-match").as_deref(),
    )
}

/// A file of the web console (script, style sheet, vendored uPlot and its licence).
///
/// `GET /console/{asset}`: one of the console's scripts, style sheets or vendored files.
#[utoipa::path(
    get, path = IN_TABLE,
    params(("asset" = String, Path, description = "e.g. app.js, vendor/uplot/uPlot.iife.min.js")),
    responses(
        (status = 200, description = "The file, with its content type", body = String),
        (status = 404, description = "No such file", body = logagg_core::contract::ErrorBody),
    ),
)]
pub async fn asset(request: Request) -> Result<Response, ApiError> {
    let name = request.matched.as_str();
    find(name)
        .map(|asset| serve(asset, request.header("if-none-match").as_deref()))
        .ok_or_else(|| ApiError::NotFound(format!("no console file {name:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_content_type() {
        for asset in ASSETS {
            let expected = match asset.name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("html") => HTML,
                Some("js") => JS,
                Some("css") => CSS,
                _ => TEXT,
            };
            assert_eq!(asset.content_type, expected, "{}", asset.name);
            assert!(!asset.body.is_empty(), "{}", asset.name);
        }
    }

    #[test]
    fn the_page_names_only_assets_that_exist() {
        let page = std::str::from_utf8(find("index.html").unwrap().body).unwrap();
        for reference in page.split("/console/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                find(name).is_some(),
                "index.html names {name}, not an asset"
            );
        }
        for script in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(script.body).unwrap();
            for import in text.split("from \"./").skip(1) {
                let name = import.split('"').next().unwrap();
                assert!(find(name).is_some(), "{} imports {name}", script.name);
            }
        }
    }

    #[test]
    fn a_revalidation_with_this_build_tag_is_not_modified() {
        let page = find("index.html").unwrap();
        let first = serve(page, None);
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(first
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY));
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(serve(page, Some(&tag)).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve(page, Some("\"old\"")).status(), StatusCode::OK);
        assert!(find("nope.js").is_none());
    }
}
