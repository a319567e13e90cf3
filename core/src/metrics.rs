//! The one Prometheus text rendering shared by the API's and the consumer's `/metrics`.

use prometheus::{Encoder, Registry, TextEncoder};

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Every metric of `registry` in the text exposition format.
pub fn render(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .expect("text encoding cannot fail");
    String::from_utf8(buffer).expect("prometheus text is UTF-8")
}

/// Registers a new metric in `registry` and returns it (a handle on the registered one);
/// panics on an invalid or duplicate metric (a programming error).
pub fn registered<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric name");
    metric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_registered_metrics() {
        let registry = Registry::new();
        let counter = registered(
            &registry,
            prometheus::IntCounter::new("logagg_test_total", "A test counter."),
        );
        counter.inc();
        let text = render(&registry);
        assert!(text.lines().any(|l| l == "logagg_test_total 1"), "{text}");
    }
}
