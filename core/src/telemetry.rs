//! One tracing setup for every binary: `RUST_LOG` filters (default `info`), and
//! `LOGAGG_LOG_JSON=true` switches to JSON lines.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn,librdkafka=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if crate::config::log_json().unwrap_or(false) {
        builder.json().init();
    } else {
        builder.init();
    }
}
