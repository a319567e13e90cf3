//! The warp side of the router: every request goes to [`dispatch`], which finds its route in
//! `route_table::ROUTES` (or answers 404, or 405 with `Allow`), finds the caller once
//! (`auth`, 401/403 before any handler runs) and hands the handler a [`Request`]. Around it:
//! request ids, one tracing span, one metrics observation and one access-log line per
//! request, and the rule that a 500 body carries the request id and nothing else.

use std::convert::Infallible;

use bytes::Buf;
use futures::{StreamExt, TryStreamExt};
use logagg_core::contract::ErrorBody;
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::body;
use crate::errors::{self, ApiError};
use crate::handlers::request::{Body, Request};
use crate::route_table::{self, metric_label, Found};
use crate::state::AppState;

/// An answer given without the handler (404, 405, 401, 403): the body is drained (bounded)
/// so the connection stays usable, or the connection is closed.
async fn refuse(error: ApiError, body: Body, limit: u64) -> Response {
    let complete = body::drain(std::pin::pin!(body), limit).await;
    let response = error.into_response();
    if complete {
        response
    } else {
        body::close_connection(response)
    }
}

/// One request: its route, its caller, its handler.
async fn dispatch(
    state: AppState,
    method: Method,
    path: warp::path::FullPath,
    query: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = state.config.max_body_bytes;
    let (route, matched) = match route_table::find(&method, path.as_str()) {
        Found::Route(route, matched) => (route, matched),
        Found::OtherMethods(allow) => {
            return refuse(ApiError::MethodNotAllowed { allow }, body, limit).await
        }
        Found::Nothing => {
            let error = ApiError::NotFound("no such route; see /openapi.json".into());
            return refuse(error, body, limit).await;
        }
    };
    let caller = match state.auth.check(route, &headers) {
        Ok(caller) => caller,
        Err(error) => return refuse(error, body, limit).await,
    };
    (route.handler)(Request {
        state,
        caller,
        matched,
        query,
        headers,
        body,
    })
    .await
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

/// The body as a stream of `Bytes` (warp's chunk type cannot be named).
fn boxed_body<S, B>(stream: S) -> Body
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf,
{
    stream
        .map_ok(|mut chunk| chunk.copy_to_bytes(chunk.remaining()))
        .boxed()
}

/// Every route of the API.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static {
    let dispatched = {
        let state = state.clone();
        warp::method()
            .and(warp::path::full())
            .and(raw_query())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream().map(boxed_body))
            .then(move |method, path, query, headers, body| {
                dispatch(state.clone(), method, path, query, headers, body)
            })
    };
    // A safety net: nothing above rejects.
    let api = dispatched.recover(errors::recover).unify();

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
