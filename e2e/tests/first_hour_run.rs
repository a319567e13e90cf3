//! Issue 17, the first hour, on `make run` itself (debug binaries, the test's own database,
//! topic, group and ports): Ctrl-C to its process group during the demo and while serving
//! stops everything within 10 s; a second instance is refused without touching the first
//! one's logs; a port in use is named; a service that does not come up is reported with its
//! own error, at once.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, MutexGuard};

use logagg_testkit::{free_port, root, TestEnv};

/// `make run` instances of one checkout exclude each other (its lock), so these tests take
/// turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The test's own environment, and its turn (held until the guard drops).
async fn turn(label: &str, partitions: i32) -> (TestEnv, MutexGuard<'static, ()>) {
    let env = TestEnv::new(label, partitions).await;
    (env, ONE_AT_A_TIME.lock().await)
}
const STOP_WITHIN: Duration = Duration::from_secs(10);

struct MakeRun {
    child: Child,
    output: PathBuf,
    api: String,
}

impl MakeRun {
    /// `make run` in its own process group (as a terminal runs it), against `env`.
    fn start(env: &TestEnv, demo_events: usize, label: &str) -> Self {
        let output = root()
            .join("target")
            .join("e2e-logs")
            .join(format!("{}-{label}.out", env.name));
        std::fs::create_dir_all(output.parent().expect("dir")).expect("log dir");
        let file = std::fs::File::create(&output).expect("output file");
        let api = format!("127.0.0.1:{}", free_port().expect("a free port"));
        let child = command(env, "make", &api)
            .args(["--no-print-directory", "run"])
            .env("LOGAGG_RUN_DEMO_EVENTS", demo_events.to_string())
            .stdout(file.try_clone().expect("output"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("spawn make run");
        Self { child, output, api }
    }

    fn text(&self) -> String {
        read(&self.output)
    }

    fn wait_for_output(&self, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.text().contains(what) {
            assert!(
                Instant::now() < deadline,
                "make run did not print {what:?} within {timeout:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Ctrl-C as a terminal sends it: SIGINT to the whole process group. Asserts that make
    /// said it stopped, and that it and every process of the group were gone within
    /// STOP_WITHIN; returns make's status and output.
    fn interrupt(mut self) -> (ExitStatus, String) {
        let group = self.child.id();
        let started = Instant::now();
        signal_group("INT", group);
        let deadline = started + STOP_WITHIN;
        let mut status = None;
        self.until_or_kill(deadline, "make run still running", |run| {
            status = run.child.try_wait().expect("try_wait");
            status.is_some()
        });
        self.until_or_kill(deadline, "processes of make run left", |_| {
            !group_alive(group)
        });
        let (status, took, text) = (status.expect("make exited"), started.elapsed(), self.text());
        assert!(text.contains("stopped"), "{text}");
        assert!(took < STOP_WITHIN, "{took:?}");
        (status, text)
    }

    /// Polls `done` until it holds; at `deadline` kills the whole process group and fails with
    /// `what` and the output so far.
    fn until_or_kill(
        &mut self,
        deadline: Instant,
        what: &str,
        mut done: impl FnMut(&mut Self) -> bool,
    ) {
        while !done(self) {
            if Instant::now() >= deadline {
                signal_group("KILL", self.child.id());
                panic!("{what} {STOP_WITHIN:?} after SIGINT:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `program` run from the checkout against `env`, with the API on `api`, debug binaries.
fn command(env: &TestEnv, program: &str, api: &str) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(root())
        .envs(env.vars())
        .env("LOGAGG_API_ADDR", api)
        .env(
            "LOGAGG_CONSUMER_ADDR",
            format!("127.0.0.1:{}", free_port().expect("a free port")),
        )
        .env("LOGAGG_RUN_PROFILE", "debug")
        .env("LOGAGG_RUN_BUILD", "no")
        .env("LOGAGG_RUN_START_TIMEOUT", "60")
        .stdin(Stdio::null());
    command
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn signal_group(signal: &str, group: u32) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

fn group_alive(group: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `command` to its end within `limit`; returns its exit status and output.
fn run_within(command: &mut Command, limit: Duration) -> (ExitStatus, String) {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let group = child.id();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = wait
        .recv_timeout(limit)
        .unwrap_or_else(|_| {
            signal_group("KILL", group);
            panic!("still running after {limit:?}: {command:?}")
        })
        .expect("wait");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

fn consumer_log() -> PathBuf {
    root().join(".local").join("run").join("consumer.log")
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_the_demo_stops_everything_within_10_s() {
    let (env, _turn) = turn("make_run_demo", 2).await;
    // Big enough to be still running when the signal comes.
    let run = MakeRun::start(&env, 500_000, "demo");
    run.wait_for_output("demo load:", Duration::from_secs(120));
    let (deadline, api) = (Instant::now() + Duration::from_secs(60), run.api.clone());
    // The demo is flowing once the API has accepted some of it.
    while !reqwest::get(format!("http://{api}/stats"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "no /stats:\n{}", run.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, text) = run.interrupt();
    assert!(
        !status.success(),
        "an interrupted demo is not a success:\n{text}"
    );
    assert!(
        text.contains("interrupted:"),
        "the load says how far it got:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_instance_is_refused_and_ctrl_c_while_serving_stops_everything() {
    let (env, _turn) = turn("make_run_serve", 2).await;
    let run = MakeRun::start(&env, 300, "serve");
    run.wait_for_output("serving on", Duration::from_secs(180));
    assert!(run.text().contains("verify      OK"), "{}", run.text());
    let log_before = read(&consumer_log());
    assert!(!log_before.is_empty(), "the running consumer logs");

    let (status, text) = run_within(
        command(
            &env,
            "make",
            &format!("127.0.0.1:{}", free_port().expect("a free port")),
        )
        .args(["--no-print-directory", "run"]),
        Duration::from_secs(120),
    );
    assert!(!status.success(), "{text}");
    assert!(text.contains("already running"), "{text}");
    assert!(
        !text.contains("verify"),
        "the second instance published nothing: {text}"
    );
    assert!(
        read(&consumer_log()).starts_with(&log_before),
        "the running instance's consumer log was not truncated"
    );

    run.interrupt();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_in_use_is_named_before_anything_starts() {
    let (env, _turn) = turn("make_run_port", 1).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let api = taken.local_addr().expect("addr").to_string();
    let (status, text) = run_within(
        command(&env, "bash", &api).arg("scripts/run.sh"),
        Duration::from_secs(20),
    );
    assert!(!status.success(), "{text}");
    assert!(text.contains(&format!("{api} is already in use")), "{text}");
    assert!(!text.contains("consumer log:"), "nothing started: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_reported_with_the_services_own_error_at_once() {
    let (env, _turn) = turn("make_run_password", 1).await;
    let wrong = env
        .database_url
        .replacen(":logagg@", ":not-the-password@", 1);
    assert_ne!(wrong, env.database_url, "the test URL carries the password");
    let started = Instant::now();
    let (status, text) = run_within(
        command(
            &env,
            "bash",
            &format!("127.0.0.1:{}", free_port().expect("a free port")),
        )
        .arg("scripts/run.sh")
        .env("DATABASE_URL", &wrong)
        .env("LOGAGG_RUN_DEMO_EVENTS", "0"),
        Duration::from_secs(45),
    );
    assert!(!status.success(), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "reported at once, not after the health timeout"
    );
    let reason = text
        .lines()
        .find(|l| l.contains("exited:"))
        .unwrap_or_else(|| panic!("a line saying which service exited and why:\n{text}"));
    assert!(
        reason.contains("password authentication failed"),
        "{reason}"
    );
    assert!(
        !text.contains("not-the-password"),
        "never the password: {text}"
    );
    assert!(!text.contains("route="), "no access-log lines: {text}");
}
