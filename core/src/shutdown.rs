//! Graceful shutdown: one [`Signal`] type for every task that stops, and a deadline for the HTTP
//! servers: warp waits for every open connection to close, so a client holding an idle
//! keep-alive connection would otherwise keep a process alive forever after SIGTERM.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// How long open connections get after the shutdown signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: what the binaries stop on.
pub async fn on_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutdown requested");
}

/// A shutdown signal that any number of tasks can wait for (the one signal type of the
/// binaries: servers and the consumer loop alike).
#[derive(Clone, Debug)]
pub struct Signal(watch::Receiver<bool>);

/// Fires the [`Signal`] made with it by [`Signal::manual`] (also when dropped).
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn fire(self) {
        let _ = self.0.send(true);
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

impl Signal {
    /// A signal fired by hand, through the returned trigger.
    pub fn manual() -> (Trigger, Self) {
        let (fired, receiver) = watch::channel(false);
        (Trigger(fired), Self(receiver))
    }

    /// Whether the signal has fired (does not wait).
    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }

    /// Fires when `shutdown` resolves.
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let (fired, receiver) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = fired.send(true);
        });
        Self(receiver)
    }

    /// Resolves once the signal fired (or its source is gone).
    pub async fn fired(mut self) {
        let _ = self.0.wait_for(|fired| *fired).await;
    }
}

/// Runs `server` (already told to stop on `signal`) until it finishes, or until `grace` after
/// the signal, whichever comes first.
pub async fn run_with_grace(server: impl Future<Output = ()>, signal: Signal, grace: Duration) {
    let deadline = async {
        signal.fired().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        _ = server => {}
        _ = deadline => tracing::warn!(?grace, "connections still open after the grace period; closing them"),
    }
}
