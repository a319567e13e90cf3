//! The warp filters: which path and method reach which handler (the routes of
//! `route_table::ROUTES`), the fallback that answers 404, or 405 with `Allow`, request ids, one
//! tracing span, one metrics observation and one access-log line per request, and the rule that
//! a 500 body carries the request id and nothing else.

use std::convert::Infallible;

use logagg_core::contract::ErrorBody;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::auth;
use crate::body::{self, BodyStream};
use crate::errors::{self, ApiError};
use crate::handlers::{admin, dead_letters, events, export, health, publish, stats, stream};
use crate::openapi;
use crate::route_table::{allowed_methods, metric_label};
use crate::state::AppState;

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(Reply::into_response)
}

/// `GET` handed to `handler` with the state; its error answered as JSON.
fn get_with_state<H, Fut>(
    state: &AppState,
    handler: H,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone
where
    H: Fn(AppState) -> Fut + Clone + Send + Sync,
    Fut: std::future::Future<Output = Result<Response, ApiError>> + Send,
{
    warp::get()
        .and(with_state(state.clone()))
        .then(handler)
        .map(respond)
}

/// An admin write: its handler takes the JSON body decoded as `T` (`admin::with_json_body`
/// answers a body it cannot read or decode).
fn admin_write<T, H, Fut>(
    state: &AppState,
    handler: H,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone
where
    T: serde::de::DeserializeOwned + Send + 'static,
    H: Fn(AppState, warp::http::HeaderMap, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response, ApiError>> + Send,
{
    with_body(state).then(move |state, headers, body| {
        let handler = handler.clone();
        admin::with_json_body(body, move |request| handler(state, headers, request))
    })
}

/// What a handler that reads a body gets: the state, the headers and the body, unread.
fn with_body(
    state: &AppState,
) -> impl Filter<
    Extract = (
        AppState,
        warp::http::HeaderMap,
        impl BodyStream + Send + 'static,
    ),
    Error = warp::Rejection,
> + Clone {
    with_state(state.clone())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
}

/// What no route matched: 405 with `Allow` for a known path reached with another method, else
/// 404. The body is drained (bounded) so the connection stays usable.
async fn fallback(path: warp::path::FullPath, body: impl BodyStream, limit: u64) -> Response {
    let complete = body::drain(std::pin::pin!(body), limit).await;
    let error = match allowed_methods(path.as_str()) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound("no such route; see /openapi.json".into()),
    };
    let response = error.into_response();
    if complete {
        response
    } else {
        body::close_connection(response)
    }
}

/// The access-log line of a request, under the target `logagg_api::access`. Failures (4xx,
/// 5xx) at INFO; successes at DEBUG, as Loki logs its pushes: an ingest endpoint answers
/// thousands of requests a second, and a line each cost ~19% of single-event publish throughput
/// (docs/PERFORMANCE.md). `RUST_LOG=info,logagg_api::access=debug` logs every request.
fn access_log(info: &warp::log::Info<'_>, route: &str) {
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                target: "logagg_api::access",
                $level,
                method = %info.method(),
                route = %route,
                status = info.status().as_u16(),
                latency_ms = info.elapsed().as_secs_f64() * 1000.0,
                "request"
            )
        };
    }
    if info.status().is_client_error() || info.status().is_server_error() {
        line!(tracing::Level::INFO);
    } else {
        line!(tracing::Level::DEBUG);
    }
}

/// The caller's `x-request-id` when usable (visible ASCII, 1..=200 bytes), else a new UUIDv7.
fn request_id(headers: &warp::http::HeaderMap) -> HeaderValue {
    headers
        .get("x-request-id")
        .filter(|id| !id.is_empty() && id.len() <= 200 && id.to_str().is_ok())
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        })
}

/// Any 500, whichever route or layer produced it, answers only that an internal error happened
/// and the request id under which the detail was logged.
fn scrub_internal_error(response: Response, id: &HeaderValue) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let body = ErrorBody::internal(id.to_str().ok().map(str::to_owned));
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let json = serde_json::to_vec(&body).expect("an error body serializes");
    Response::from_parts(parts, json.into())
}

/// The raw query string, empty when the URL has none (never rejects).
fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// The query string's parameters, or the 400 a malformed one answers (the handler answers it:
/// a rejection would fall through to the fallback).
type Params = Result<events::QueryParams, ApiError>;

fn query_params() -> impl Filter<Extract = (Params,), Error = Infallible> + Clone {
    raw_query().map(|raw: String| events::parse_query_string(&raw))
}

/// What the read handlers take: the state, the query's parameters and one header's value when
/// it is text.
fn read_request(
    state: AppState,
    header: &'static str,
) -> impl Filter<Extract = (AppState, Params, Option<String>), Error = Infallible> + Clone {
    with_state(state)
        .and(query_params())
        .and(
            warp::header::headers_cloned().map(move |headers: warp::http::HeaderMap| {
                headers
                    .get(header)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            }),
        )
}

/// Finding logs: the live tail, the export, topics and dead letters.
fn find_routes(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let stream = warp::path!("events" / "stream")
        .and(warp::get())
        .and(read_request(state.clone(), "last-event-id"))
        .then(|state, params: Params, last_event_id| async move {
            stream::stream(state, &params?, last_event_id).await
        })
        .map(respond);
    let export = warp::path!("events" / "export")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(query_params())
        .then(|state, params: Params| async move { export::export(state, &params?).await })
        .map(respond);
    let topics = warp::path!("topics").and(get_with_state(&state, dead_letters::topics));
    let letters = warp::path!("dead-letters")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(query_params())
        .then(|state, params: Params| async move { dead_letters::list(state, &params?).await })
        .map(respond);
    let retry = warp::path!("dead-letters" / String / "retry")
        .and(warp::post())
        .and(with_state(state))
        .then(|id: String, state| async move { dead_letters::retry(state, &id).await })
        .map(respond);
    stream
        .or(export)
        .unify()
        .or(topics)
        .unify()
        .or(letters)
        .unify()
        .or(retry)
        .unify()
}

/// The admin routes: retention policies, deletes and their audit.
fn admin_routes(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let get_retention =
        warp::path!("admin" / "retention").and(get_with_state(&state, admin::get_retention));
    let put_retention = warp::path!("admin" / "retention")
        .and(warp::put())
        .and(admin_write(&state, admin::put_retention));
    let delete = warp::path!("admin" / "delete")
        .and(warp::post())
        .and(admin_write(&state, admin::delete));
    let deletes = warp::path!("admin" / "deletes").and(get_with_state(&state, admin::deletes));
    get_retention
        .or(put_retention)
        .unify()
        .or(delete)
        .unify()
        .or(deletes)
        .unify()
}

/// Every route of the API.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static {
    // After its path and method matched, a route must answer rather than reject: a rejection
    // would fall through to the 404/405 fallback below. So handlers take raw headers, body and
    // query and turn every problem into an `ApiError` response themselves.
    let publish = warp::path!("publish")
        .and(warp::post())
        .and(with_body(&state))
        .then(publish::publish);
    let list =
        warp::path!("events")
            .and(warp::get())
            .and(read_request(state.clone(), "accept"))
            .then(|state, params: Params, accept| async move {
                events::list(state, &params?, accept).await
            })
            .map(respond);
    let find_routes = find_routes(state.clone());
    let admin_routes = admin_routes(state.clone());
    let get_one = warp::path("events")
        .and(warp::path::tail())
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|tail: warp::path::Tail, state: AppState| async move {
            events::get_one(state, tail.as_str()).await
        })
        .map(respond);
    let stats = warp::path!("stats").and(get_with_state(&state, stats::stats));
    let health_route = warp::path!("health")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(health::health);
    let healthz = warp::path!("healthz").and(warp::get()).map(health::healthz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(health::metrics);
    let openapi = warp::path!("openapi.json")
        .and(warp::get())
        .map(|| warp::reply::json(&openapi::document()).into_response());

    // Only reached when no route matched: its path, or its method.
    let body_limit = state.config.max_body_bytes;
    let fallback = warp::path::full()
        .and(warp::body::stream())
        .then(move |path, body| fallback(path, body, body_limit));

    // Access control first: a request without the scope its route needs gets its 401/403
    // here, before any handler (the body is drained so the connection stays usable).
    let denied = auth::deny_unless_allowed(state.auth.clone(), body_limit);
    let api = denied
        .or(publish)
        .unify()
        .or(list)
        .unify()
        .or(find_routes)
        .unify()
        .or(admin_routes)
        .unify()
        .or(get_one)
        .unify()
        .or(stats)
        .unify()
        .or(health_route)
        .unify()
        .or(healthz)
        .unify()
        .or(metrics)
        .unify()
        .or(openapi)
        .unify()
        .or(crate::console::routes())
        .unify()
        // Boxed: the route tree's full type outgrows the compiler's type-depth limit.
        .boxed()
        .or(fallback)
        .unify()
        // A safety net: nothing above rejects once the fallback is reached.
        .recover(errors::recover)
        .unify();

    // The request id is settled (and put on the request's span) before any handler runs, so
    // every log line of the request carries it.
    warp::header::headers_cloned()
        .map(|headers: warp::http::HeaderMap| {
            let id = request_id(&headers);
            tracing::Span::current().record("request_id", id.to_str().unwrap_or_default());
            id
        })
        .and(api)
        .map(|id: HeaderValue, response: Response| {
            let mut response = scrub_internal_error(response, &id);
            response.headers_mut().insert("x-request-id", id);
            response
        })
        .with(warp::log::custom(move |info| {
            let route = metric_label(info.method().as_str(), info.path());
            state
                .metrics
                .observe(&route, info.status().as_u16(), info.elapsed());
            access_log(&info, &route);
        }))
        .with(warp::trace(|info| {
            tracing::info_span!(
                "http",
                method = %info.method(),
                path = %info.path(),
                request_id = tracing::field::Empty,
                token = tracing::field::Empty
            )
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_500_is_scrubbed_down_to_the_request_id() {
        let response =
            ApiError::Internal("relation \"events\" does not exist".into()).into_response();
        let scrubbed = scrub_internal_error(response, &HeaderValue::from_static("req-7"));
        assert_eq!(scrubbed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body =
            futures::executor::block_on(warp::hyper::body::to_bytes(scrubbed.into_body())).unwrap();
        assert_eq!(
            &body[..],
            br#"{"error":"internal error","request_id":"req-7"}"#
        );
        let ok = scrub_internal_error(
            warp::reply::json(&"fine").into_response(),
            &HeaderValue::from_static("req-8"),
        );
        assert_eq!(ok.status(), StatusCode::OK);
    }
}
