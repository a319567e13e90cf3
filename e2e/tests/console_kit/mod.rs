//! The console's browser under test: a chromedriver (Debian's `chromium-driver`, installed by
//! scripts/test-deps.sh) started by the test on a free loopback port, driving headless
//! Chromium through WebDriver (`fantoccini`), plus the page helpers the console tests share:
//! JavaScript probes of what the page shows, polling with deadlines, and screenshots saved
//! under target/e2e-screenshots/.

#![allow(dead_code)] // each test file uses part of the kit

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use logagg_testkit::{free_port, root, wait_for};
use serde_json::{json, Value};

/// How long the page may take to show what the API already answers.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// A path from `LOGAGG_<VAR>` or the Debian location; a clear failure when absent.
fn program(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/test-deps.sh` (or `make test`), which installs \
         Debian's chromium and chromium-driver, or set {var}",
        path.display()
    );
    path
}

/// A chromedriver process group (chromedriver and the Chromium it starts), killed when dropped.
struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: a Chromium left behind by a failing test must not outlive it.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Headless Chromium at a given window size, driven over WebDriver.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free port, then a headless Chromium session of `width`×`height`,
    /// preferring the dark colour scheme when `dark`.
    pub async fn start(width: u32, height: u32, dark: bool) -> Self {
        use std::os::unix::process::CommandExt;
        let chromedriver = program("LOGAGG_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("LOGAGG_CHROMIUM", "/usr/bin/chromium");
        let port = free_port().expect("a free port");
        let logs = root().join("target").join("e2e-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log = std::fs::File::create(logs.join(format!("chromedriver-{port}.log"))).unwrap();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawning chromedriver");
        let driver = Driver { child };
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        wait_for(PAGE_TIMEOUT, "chromedriver to be ready", || async {
            let body: Value = reqwest::get(&status).await.ok()?.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|ready| *ready)
        })
        .await;
        let profile =
            std::env::temp_dir().join(format!("logagg-chromium-{}", uuid::Uuid::now_v7()));
        let mut args = vec![
            "--headless=new".to_owned(),
            // Tests run as root in CI, where Chromium's sandbox cannot start.
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},{height}"),
        ];
        if dark {
            args.push("--force-dark-mode".into());
        }
        let capabilities = json!({ "goog:chromeOptions": { "binary": chromium, "args": args } });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session through chromedriver: {e}"));
        client
            .set_window_size(width, height)
            .await
            .expect("window size");
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns something other than null/false, or fails naming `what`.
    pub async fn wait_js(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.wait_js_within(PAGE_TIMEOUT, what, script, args).await
    }

    pub async fn wait_js_within(
        &self,
        timeout: Duration,
        what: &str,
        script: &str,
        args: Vec<Value>,
    ) -> Value {
        wait_for(timeout, what, || async {
            let value = self.client.execute(script, args.clone()).await.ok()?;
            (!value.is_null() && value != Value::Bool(false)).then_some(value)
        })
        .await
    }

    /// Waits until the detail panel `panel` (an element id) is shown, and returns the text of
    /// its element `field`.
    pub async fn shown_text(&self, what: &str, panel: &str, field: &str) -> String {
        let value = self
            .wait_js(
                what,
                "return document.getElementById(arguments[0]).hidden
                    ? null : document.getElementById(arguments[1]).textContent;",
                vec![Value::from(panel), Value::from(field)],
            )
            .await;
        value.as_str().expect("text").to_owned()
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Replaces the text of the input `css` by `text`, as typed.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no input {css}: {e}"));
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("typing");
    }

    /// Saves a PNG of the page as target/e2e-screenshots/`name`.png; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshots();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("writing the screenshot");
        path
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Where the screenshots go (test output; a set is copied into docs/img/).
pub fn screenshots() -> PathBuf {
    root().join("target").join("e2e-screenshots")
}

/// The counters the overview shows, by stats field: `data-value` of each `#stat-<field>`.
pub const SHOWN_COUNTERS: &str = "return Object.fromEntries([...document.querySelectorAll('.stat .value')]\
     .filter(e => e.dataset.value !== undefined).map(e => [e.id.replace('stat-', ''), e.dataset.value]));";

/// Whether `path` exists and is a non-empty PNG.
pub fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"\x89PNG") && bytes.len() > 1000)
}
