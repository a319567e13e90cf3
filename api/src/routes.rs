//! The warp filters: which path and method reach which handler, the fallbacks that answer 405
//! with `Allow`, request ids, one tracing span and one metrics observation per request.

use std::collections::HashMap;
use std::convert::Infallible;

use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::errors::{self, ApiError};
use crate::handlers::{events, health, publish, stats};
use crate::metrics::route_of;
use crate::openapi;
use crate::state::AppState;

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(Reply::into_response)
}

/// Answers 405 with `Allow` for a known path reached with another method.
fn wrong_method(allow: &'static str) -> Response {
    ApiError::MethodNotAllowed { allow }.into_response()
}

/// Every route of the API.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static {
    let body_limit = state.config.max_body_bytes;
    let publish = warp::path!("publish")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::content_length_limit(body_limit))
        .and(warp::body::bytes())
        .then(publish::publish)
        .map(respond);
    let list = warp::path!("events")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .then(events::list)
        .map(respond);
    let get_one = warp::path("events")
        .and(warp::path::tail())
        .and(warp::get())
        .and(with_state(state.clone()))
        .and_then(|tail: warp::path::Tail, state: AppState| async move {
            if tail.as_str().is_empty() {
                return Err(warp::reject::not_found());
            }
            Ok::<_, Rejection>(respond(events::get_one(state, tail.as_str().to_owned()).await))
        });
    let stats = warp::path!("stats")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(stats::stats)
        .map(respond);
    let health_route = warp::path!("health")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(health::health);
    let healthz = warp::path!("healthz").and(warp::get()).map(health::healthz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(health::metrics);
    let openapi = warp::path!("openapi.json")
        .and(warp::get())
        .map(|| warp::reply::json(&openapi::document()).into_response());

    // A known path with another method: 405 + Allow (after the real routes, so only a method
    // mismatch gets here).
    let not_allowed = warp::path!("publish")
        .map(|| wrong_method("POST"))
        .or(warp::path!("events").map(|| wrong_method("GET")))
        .unify()
        .or(warp::path("events").and(warp::path::tail()).map(|_| wrong_method("GET")))
        .unify()
        .or(warp::path!("stats").map(|| wrong_method("GET")))
        .unify()
        .or(warp::path!("health").map(|| wrong_method("GET")))
        .unify()
        .or(warp::path!("healthz").map(|| wrong_method("GET")))
        .unify()
        .or(warp::path!("metrics").map(|| wrong_method("GET")))
        .unify()
        .or(warp::path!("openapi.json").map(|| wrong_method("GET")))
        .unify();

    let api = publish
        .or(list)
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
        .or(not_allowed)
        .unify()
        .recover(errors::recover)
        .unify();

    warp::header::headers_cloned()
        .and(api)
        .map(|headers: warp::http::HeaderMap, mut response: Response| {
            let id = headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|id| !id.is_empty() && id.len() <= 200)
                .map(str::to_owned)
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert("x-request-id", value);
            }
            response
        })
        .with(warp::log::custom(move |info| {
            let route = route_of(info.method().as_str(), info.path());
            state
                .metrics
                .observe(&route, info.status().as_u16(), info.elapsed());
            tracing::info!(
                method = %info.method(),
                route = %route,
                status = info.status().as_u16(),
                latency_ms = info.elapsed().as_secs_f64() * 1000.0,
                "request"
            );
        }))
        .with(warp::trace(|info| {
            tracing::info_span!("http", method = %info.method(), path = %info.path())
        }))
}
