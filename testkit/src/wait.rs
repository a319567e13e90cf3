//! Polling with a deadline: no sleep-and-hope anywhere in the tests or the bench.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked.
const PERIOD: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some`, or fails naming `what` once `timeout` has passed.
pub async fn poll_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(PERIOD).await;
    }
}

/// [`poll_until`] for tests: panics at the deadline.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_until(timeout, what, check)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
