//! One tracing setup for every binary: `RUST_LOG` filters (default `info`), and
//! `LOGAGG_LOG_JSON=true` switches to JSON lines.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // warp's own trace filter reports every 5xx (503s included) as ERROR; our request log
        // line already carries the status.
        EnvFilter::new("info,rdkafka=warn,librdkafka=warn,warp::filters::trace=off")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if crate::config::log_json().unwrap_or(false) {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The exit of a binary's `main`: on error, one line `Error: cause: cause: …` on stderr (the
/// whole chain, so the root cause is on the line an operator reads) and a failure status.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
