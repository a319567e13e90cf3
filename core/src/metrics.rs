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

/// Registers every collector; panics on a duplicate name (a programming error).
pub fn register_all(
    registry: &Registry,
    collectors: impl IntoIterator<Item = Box<dyn prometheus::core::Collector>>,
) {
    for collector in collectors {
        registry.register(collector).expect("unique metric name");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_registered_metrics() {
        let registry = Registry::new();
        let counter = prometheus::IntCounter::new("logagg_test_total", "A test counter.").unwrap();
        register_all(&registry, [Box::new(counter.clone()) as Box<_>]);
        counter.inc();
        let text = render(&registry);
        assert!(text.lines().any(|l| l == "logagg_test_total 1"), "{text}");
    }
}
