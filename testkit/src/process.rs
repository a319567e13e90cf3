//! Processes: the real binaries as children ([`Service`], killed when dropped), the project's
//! scripts, and shell text run with a deadline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use crate::http::{http, ApiClient, HttpReply};
use crate::services::root;
use crate::wait::poll_until;

/// How long a service may take to answer /health after it was started.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running binary listening on `port`, killed when dropped.
pub struct Service {
    pub name: String,
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Service {
    /// Starts `binary` with `vars`, its stdout and stderr appended to `log`.
    pub fn spawn(
        binary: &Path,
        port: u16,
        vars: &[(String, String)],
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| log.display().to_string())?;
        let child = Command::new(binary)
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            name,
            child,
            port,
            log,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GET `path`: (status, JSON body or Null); status 0 when nothing answered.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let reply = http("GET", &self.url(path), &[], None).await;
        let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        (reply.status, body)
    }

    /// POST `body` as JSON to `path`: (status, JSON body or Null).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let reply = http(
            "POST",
            &self.url(path),
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(body).expect("serializable")),
        )
        .await;
        (
            reply.status,
            serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
        )
    }

    /// The API's routes on this service.
    pub fn api(&self) -> ApiClient {
        ApiClient::new(self.url(""))
    }

    /// POSTs `body` as `application/json` to this service's `/publish`.
    pub async fn publish(&self, body: &Value) -> HttpReply {
        self.api().publish(body).await
    }

    /// `GET path` as text, failing on a non-2xx answer.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let reply = http("GET", &self.url(path), &[], None).await;
        anyhow::ensure!(
            (200..300).contains(&reply.status),
            "GET {path} answered {}: {}",
            reply.status,
            reply.text()
        );
        Ok(reply.text())
    }

    /// Waits until `/health` answers `status`, failing after `timeout`.
    pub async fn wait_health(&self, status: u16, timeout: Duration) -> anyhow::Result<()> {
        let what = format!(
            "{} {} /health to answer {status} (log: {})",
            self.name,
            self.url(""),
            self.log.display()
        );
        poll_until(timeout, &what, || async {
            (self.get("/health").await.0 == status).then_some(())
        })
        .await
    }

    /// [`Self::wait_health`] for tests: panics on failure.
    pub async fn wait_health_status(&self, status: u16, timeout: Duration) {
        self.wait_health(status, timeout)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Sends a signal (KILL, TERM, STOP, CONT) through `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// SIGTERM, then the exit status; fails if the process is still running after `timeout`.
    pub async fn terminate_within(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?} of SIGTERM (log: {})",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM and the exit status; panics when it has not exited 30 s later.
    pub async fn terminate(mut self) -> ExitStatus {
        self.terminate_within(Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// SIGTERM; asserts the process exited 0 within 30 s (the message names its log).
    pub async fn terminate_cleanly(self) {
        let (name, log) = (self.name.clone(), self.log.clone());
        let status = self.terminate().await;
        assert!(
            status.success(),
            "{name} exited with {status} after SIGTERM, expected 0 (log: {})",
            log.display()
        );
    }

    /// SIGTERM, then SIGKILL after 15 s. For the bench, which measures throughput, not
    /// shutdown: a slow exit is reported on stderr, not failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Err(error) = self.terminate_within(Duration::from_secs(15)).await {
            eprintln!("warning: {error:#}; killed");
        }
        Ok(())
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Peak resident set size so far (VmHWM of /proc/PID/status), in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        proc_status_bytes(self.pid(), "VmHWM")
    }

    /// Resident set size now (VmRSS), in bytes.
    pub fn rss_bytes(&self) -> u64 {
        proc_status_bytes(self.pid(), "VmRSS")
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `command` to its end with `input` on its stdin (closed once written, so the child sees
/// the end of its input), its stdout and stderr captured.
pub fn run_with_stdin(
    command: &mut Command,
    input: &[u8],
) -> std::io::Result<std::process::Output> {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped stdin").write_all(input)?;
    child.wait_with_output()
}

/// Runs `command` (named `what` in errors) to its end: an error carrying its status and stderr
/// when it fails.
pub fn run_checked(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {what}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{what}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// What a command printed and whether it succeeded.
pub struct Ran {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub(crate) fn of(output: std::process::Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// stdout then stderr.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "success={}\n--- stdout\n{}--- stderr\n{}",
            self.success, self.stdout, self.stderr
        )
    }
}

/// Runs a command to its end (blocking) and returns what it printed.
pub fn run(command: &mut Command) -> Ran {
    Ran::of(
        command
            .output()
            .unwrap_or_else(|e| panic!("running {command:?}: {e}")),
    )
}

/// Runs a project script (e.g. `scripts/pg.sh stop`) and asserts it succeeded; its output.
pub fn script(path: &str, args: &[&str]) -> String {
    let ran = run(Command::new("bash").arg(root().join(path)).args(args));
    assert!(ran.success, "{path} {args:?} failed:\n{}", ran.text());
    ran.text()
}

/// `scripts/kafka-tool.sh ARGS` (the Kafka CLI), asserting success; its output.
pub fn kafka_tool(args: &[&str]) -> String {
    script("scripts/kafka-tool.sh", args)
}

/// Runs shell text with `bash -euo pipefail` from the workspace root; panics after `timeout`.
pub async fn run_shell(text: &str, timeout: Duration) -> Ran {
    let child = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{text}"))
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bash");
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("timed out after {timeout:?} running:\n{text}"))
        .expect("wait for bash");
    Ran::of(output)
}

/// A `FIELD: N kB` line of /proc/PID/status, in bytes; panics when the process is gone.
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
