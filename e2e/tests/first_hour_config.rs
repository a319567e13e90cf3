//! Issue 17, the first hour: configuration is what it claims, and the producer's `load` stops on
//! Ctrl-C. Every test runs the real binaries with no broker or database behind the addresses
//! (a port nothing listens on), so none needs a service.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use logagg_testkit::services::{bin, free_port};

/// Every variable that would make a binary reach for a service, pointed at nothing.
fn isolated<'a>(command: &'a mut Command, dir: &Path) -> &'a mut Command {
    let nowhere = format!("127.0.0.1:{}", free_port().expect("a free port"));
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("LOGAGG_LOG_JSON")
        .env_remove("LOGAGG_PRODUCER_COMPRESSION")
        .env_remove("LOGAGG_PUBLISH_TIMEOUT_MS")
        .env("LOGAGG_KAFKA_BROKERS", &nowhere)
        .env(
            "DATABASE_URL",
            format!("postgres://logagg:logagg@{nowhere}/logagg"),
        )
        .env(
            "LOGAGG_API_ADDR",
            format!("127.0.0.1:{}", free_port().expect("a free port")),
        )
        .env(
            "LOGAGG_CONSUMER_ADDR",
            format!("127.0.0.1:{}", free_port().expect("a free port")),
        )
        .stdin(Stdio::null())
}

/// A fresh directory holding `.env` with `contents`.
fn dir_with_dotenv(contents: &str) -> tempdir::Dir {
    let dir = tempdir::Dir::new();
    std::fs::write(dir.path().join(".env"), contents).expect("write .env");
    dir
}

/// Runs `command` to its end, which must come within `limit`.
fn run_within(command: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    (
        output_within(child, limit, &format!("{command:?}")),
        started.elapsed(),
    )
}

/// Waits for `child`'s end and output; kills it and fails naming `what` when that takes longer
/// than `limit`.
fn output_within(child: Child, limit: Duration, what: &str) -> Output {
    let pid = child.id().to_string();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = wait.recv_timeout(limit).unwrap_or_else(|_| {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("still running after {limit:?}: {what}")
    });
    output.expect("wait")
}

/// The producer binary, isolated from every service, run in a fresh directory (kept as long
/// as the returned `Dir`).
fn producer() -> (tempdir::Dir, Command) {
    let dir = tempdir::Dir::new();
    let mut command = Command::new(bin("logagg-producer"));
    isolated(&mut command, dir.path());
    (dir, command)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_binary_reads_dotenv_and_refuses_an_unknown_compression_by_name() {
    let dir = dir_with_dotenv("# from the docs\nLOGAGG_PRODUCER_COMPRESSION=brotli\n");
    for (binary, args) in [
        ("logagg-api", vec![]),
        ("logagg-producer", vec!["publish", "--via", "kafka"]),
    ] {
        let (output, _) = run_within(
            isolated(Command::new(bin(binary)).args(&args), dir.path()),
            Duration::from_secs(20),
        );
        let text = stderr(&output);
        assert!(!output.status.success(), "{binary}: {text}");
        assert!(
            text.contains("LOGAGG_PRODUCER_COMPRESSION")
                && text.contains("brotli")
                && text.contains("none, gzip, snappy, lz4, zstd"),
            "{binary} names the variable, the value and the accepted ones: {text}"
        );
    }
}

#[test]
fn a_boolean_that_is_not_one_is_refused_by_name_by_every_binary() {
    let dir = dir_with_dotenv("LOGAGG_LOG_JSON=maybe\n");
    for binary in ["logagg-api", "logagg-consumer", "logagg-producer"] {
        let (output, _) = run_within(
            isolated(&mut Command::new(bin(binary)), dir.path()).arg("--help"),
            Duration::from_secs(20),
        );
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{binary}: {text}");
        assert!(
            text.contains("LOGAGG_LOG_JSON") && text.contains("maybe") && text.contains("yes, no"),
            "{binary}: {text}"
        );
    }
}

#[test]
fn load_stops_on_ctrl_c_with_json_logs_and_no_colour_codes() {
    let (_dir, mut command) = producer();
    command
        .env("LOGAGG_LOG_JSON", "yes")
        .args(["load", "--events", "1000", "--via", "kafka", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.process_group(0).spawn().expect("spawn load");
    let pid = child.id().to_string();
    // The broker is nowhere: the load waits for acks that never come, as it did in make run.
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    let output = output_within(child, Duration::from_secs(5), "load after SIGINT");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("interrupted: 0 send(s) acked"), "{stdout}");
    let text = stderr(&output);
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes when not a terminal: {text}"
    );
    let lines: Vec<_> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the shutdown is logged");
    for line in lines {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("LOGAGG_LOG_JSON=yes logs JSON lines: {e}: {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
}

#[test]
fn the_producer_cli_honours_the_publish_timeout() {
    let (_dir, mut command) = producer();
    command
        .env("LOGAGG_PUBLISH_TIMEOUT_MS", "1500")
        .args(["publish", "--via", "kafka"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn publish");
    let event = r#"{"topic":"orders","event_id":"e-1","timestamp":"2026-11-25T12:00:00Z","source":"t","payload":{}}"#;
    writeln!(child.stdin.take().expect("stdin"), "{event}").expect("write event");
    // Without the variable the CLI waits 30 s; with it, 1.5 s plus start-up.
    let output = output_within(child, Duration::from_secs(15), "publish, 15 s");
    assert!(!output.status.success(), "{output:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let text = stderr(&output);
    assert!(
        text.contains("cannot reach Kafka at 127.0.0.1:"),
        "the failure names the broker: {text}"
    );
}

/// A temporary directory removed on drop (the test crates carry no tempfile dependency).
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!(
                "logagg-first-hour-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
