//! `--profile`: where the CPU goes during one measurement, from `perf record` (sampling at
//! 499 Hz, no call graphs: the flat profile is enough to say which code is hot) attached to one
//! process (the API) or to the whole machine (ingest, where PostgreSQL's backends do most of
//! the work), summarized by `perf report` as the symbols above 1% of the samples, by command. Release binaries carry line tables (`debug = "line-tables-only"`), so Rust
//! symbols resolve. Nothing is recorded without the flag.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// Symbols listed per profile at most.
const TOP_SYMBOLS: usize = 18;

/// A profile summary: what was profiled and its hottest symbols (`percent  dso  symbol`).
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub samples: u64,
    pub top: Vec<String>,
}

/// A `perf record` running against one process.
pub struct Recording {
    name: String,
    data: PathBuf,
    child: Child,
}

/// What a recording samples.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Process(u32),
    Machine,
}

/// Starts recording `target` into `<dir>/<name>.perf.data`.
pub fn start(dir: &std::path::Path, target: Target, name: &str) -> anyhow::Result<Recording> {
    std::fs::create_dir_all(dir)?;
    let file: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let data = dir.join(format!("{file}.perf.data"));
    let scope = match target {
        Target::Process(pid) => vec!["-p".to_owned(), pid.to_string()],
        Target::Machine => vec!["-a".to_owned()],
    };
    let child = Command::new("perf")
        .args(["record", "-F", "499"])
        .args(scope)
        .arg("-o")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting perf record (Debian package linux-perf)")?;
    Ok(Recording {
        name: name.to_owned(),
        data,
        child,
    })
}

impl Recording {
    /// Stops the recording (SIGINT lets perf write its file) and summarizes it.
    pub fn finish(mut self) -> anyhow::Result<Profile> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        self.child.wait()?;
        let report = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "--sort",
                "comm,dso,symbol",
            ])
            .args(["--percent-limit", "1", "-i"])
            .arg(&self.data)
            .output()
            .context("perf report")?;
        let text = String::from_utf8_lossy(&report.stdout);
        Ok(summarize(&self.name, &text))
    }
}

/// The sample count and the top symbol lines of `perf report --stdio` output.
fn summarize(name: &str, report: &str) -> Profile {
    let samples = report
        .lines()
        .find_map(|l| l.strip_prefix("# Samples: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(parse_count)
        .unwrap_or(0);
    let top = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            // perf pads missing columns with `-`.
            let words: Vec<_> = l.split_whitespace().collect();
            let kept = words.len() - words.iter().rev().take_while(|w| **w == "-").count();
            words[..kept].join(" ")
        })
        .map(|l| l.replace(" [.] ", " ").replace(" [k] ", " [kernel] "))
        .take(TOP_SYMBOLS)
        .collect();
    Profile {
        name: name.to_owned(),
        samples,
        top,
    }
}

/// The profiles as a Markdown section (readable as text too).
pub fn render(profiles: &[Profile]) -> String {
    if profiles.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n### Profiles (`--profile`: perf record -F 499 on the process, symbols ≥ 1% of its samples)\n",
    );
    for profile in profiles {
        out += &format!(
            "\n{} ({} samples):\n```\n{}\n```\n",
            profile.name,
            profile.samples,
            profile.top.join("\n")
        );
    }
    out
}

/// `12K` -> 12000, `345` -> 345.
fn parse_count(text: &str) -> Option<u64> {
    match text.strip_suffix('K') {
        Some(thousands) => thousands.parse::<f64>().ok().map(|k| (k * 1000.0) as u64),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perf_report_becomes_its_top_symbols() {
        let report = "# Samples: 12K of event 'cpu-clock:pppH'\n# Event count (approx.): 1\n#\n\
            # Overhead  Shared Object  Symbol\n\
            #\n    20.50%  logagg-api  logagg-api     [.] serde_json::de::from_slice\n\
            \x20    3.10%  logagg-api  [kernel.kallsyms]  [k] copy_user_generic - -\n\n";
        let profile = summarize("api", report);
        assert_eq!(profile.samples, 12_000);
        assert_eq!(
            profile.top,
            [
                "20.50% logagg-api logagg-api serde_json::de::from_slice",
                "3.10% logagg-api [kernel.kallsyms] [kernel] copy_user_generic"
            ]
        );
    }
}
