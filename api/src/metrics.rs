//! The API's Prometheus metrics: requests by route and status, latency, events accepted.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct ApiMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub events_accepted: IntCounter,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "logagg_api_requests_total",
                "HTTP requests by route and status.",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "logagg_api_request_seconds",
                "HTTP request latency by route.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let events_accepted = IntCounter::new(
            "logagg_api_events_accepted_total",
            "Events acked by the broker through POST /publish.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("unique");
        registry
            .register(Box::new(latency.clone()))
            .expect("unique");
        registry
            .register(Box::new(events_accepted.clone()))
            .expect("unique");
        Self {
            registry,
            requests,
            latency,
            events_accepted,
        }
    }

    /// Adds a metric owned elsewhere (the access decisions of `auth`).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry.register(collector).expect("unique metric");
    }

    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    /// Requests served by this instance, per route (all statuses).
    pub fn requests_by_route(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        for family in self.registry.gather() {
            if family.name() != "logagg_api_requests_total" {
                continue;
            }
            for metric in family.get_metric() {
                let route = metric
                    .get_label()
                    .iter()
                    .find(|l| l.name() == "route")
                    .map(|l| l.value().to_owned())
                    .unwrap_or_default();
                let entry = out.entry(route).or_insert(serde_json::json!(0));
                let value = entry.as_u64().unwrap_or(0) + metric.get_counter().get_value() as u64;
                *entry = serde_json::json!(value);
            }
        }
        out
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("prometheus text is UTF-8")
    }
}

/// The route template of a path, so metric labels stay few (any method outside the standard
/// ones is `OTHER`: a client cannot mint label values).
pub fn route_of(method: &str, path: &str) -> String {
    const METHODS: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    let method = if METHODS.contains(&method) {
        method
    } else {
        "OTHER"
    };
    let template = match path {
        "/publish" | "/events" | "/stats" | "/health" | "/healthz" | "/metrics"
        | "/openapi.json" => path,
        p if p.starts_with("/events/") => "/events/{topic}/{event_id}",
        _ => "other",
    };
    format!("{method} {template}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templated_and_methods_bounded() {
        assert_eq!(
            route_of("GET", "/events/a/b/c"),
            "GET /events/{topic}/{event_id}"
        );
        assert_eq!(route_of("GET", "/random/path"), "GET other");
        assert_eq!(route_of("BREW", "/stats"), "OTHER /stats");
    }
}
