//! What a run measures against: the services and binaries (the test kit's [`Services`]), the
//! run's id, and the sandbox every measurement gets: a fresh database cloned from the migrated
//! template, a fresh topic and group, removed afterwards unless `--keep`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use logagg_testkit::{Sandbox, Services};

/// Where the services are and how this run names and keeps its sandboxes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub services: Services,
    /// Unique per run: part of every database, topic and group name.
    pub run_id: String,
    pub partitions: i32,
    /// Keep databases and topics after the run (for inspection).
    pub keep: bool,
    /// Where `--profile` writes perf data; `None`: no profiling.
    pub profile_dir: Option<PathBuf>,
}

impl Settings {
    /// Starts profiling `target` when `--profile` was given; a failure to start is reported, never
    /// fatal (the figures do not depend on it).
    pub fn profile(
        &self,
        target: crate::profile::Target,
        name: &str,
    ) -> Option<crate::profile::Recording> {
        let dir = self.profile_dir.as_ref()?;
        crate::profile::start(dir, target, name)
            .inspect_err(|e| eprintln!("profile of {name} not recorded: {e:#}"))
            .ok()
    }
}

/// Finishes a recording, if one runs.
pub fn finish_profile(
    recording: Option<crate::profile::Recording>,
) -> Option<crate::profile::Profile> {
    recording?
        .finish()
        .inspect_err(|e| eprintln!("profile not summarized: {e:#}"))
        .ok()
}

impl Settings {
    /// A measurement's own database, topic and group (`label` names them).
    pub async fn sandbox(&self, label: &str) -> anyhow::Result<Sandbox> {
        let name = format!("{}_{label}", self.run_id);
        let mut sandbox = Sandbox::create(&self.services, "bench", &name, self.partitions).await?;
        sandbox.keep = self.keep;
        Ok(sandbox)
    }

    /// Runs `measure` in its own sandbox (`label` names it), then removes the sandbox whatever
    /// the outcome.
    pub async fn in_sandbox<T>(
        &self,
        label: &str,
        measure: impl AsyncFnOnce(&Sandbox) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let scope = self.sandbox(label).await?;
        let outcome = measure(&scope).await;
        scope.remove().await?;
        outcome
    }
}

/// The directory holding the workspace binaries: the bench's own (a release bench runs the
/// release binaries, a debug bench the debug ones).
pub fn default_bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("binary has no directory")
}
