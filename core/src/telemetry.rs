//! One tracing setup for every binary: `RUST_LOG` filters (default `info`), and
//! `LOGAGG_LOG_JSON=true` switches to JSON lines. Colours only when stderr is a terminal, so
//! log files carry no escape codes.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`: it reads the
/// configuration first (so `.env` is loaded before `RUST_LOG`), and exits with status 2 when
/// `LOGAGG_LOG_JSON` is not a boolean.
pub fn init() {
    let json = crate::config::log_json().unwrap_or_else(|error| {
        eprintln!("Error: {error}");
        std::process::exit(2);
    });
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn,librdkafka=warn"))
        // warp's own trace filter logs two lines per request and every 5xx (503s included) as
        // ERROR; the API's access-log line already carries the request and its status.
        .add_directive(
            "warp::filters::trace=off"
                .parse()
                .expect("a valid directive"),
        );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
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

/// The whole `main` of a service binary: installs tracing ([`init`]), runs `run` on a
/// multi-threaded Tokio runtime and turns its result into the exit status ([`exit_code`]).
pub fn run_main<Fut>(run: impl FnOnce() -> Fut) -> std::process::ExitCode
where
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    init();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => exit_code(runtime.block_on(run())),
        Err(error) => exit_code(Err(
            anyhow::Error::new(error).context("starting the runtime")
        )),
    }
}
