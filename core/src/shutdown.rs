//! Graceful shutdown with a deadline for the HTTP servers: warp waits for every open
//! connection to close, so a client holding an idle keep-alive connection would otherwise keep
//! a process alive forever after SIGTERM.

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

/// A shutdown signal that any number of tasks can wait for.
#[derive(Clone, Debug)]
pub struct Signal(watch::Receiver<bool>);

impl Signal {
    /// Fires when `shutdown` resolves.
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let (fired, receiver) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = fired.send(true);
        });
        Self(receiver)
    }

    /// Resolves once the signal fired.
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
