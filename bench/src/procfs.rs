//! What /proc says about processes and the machine: peak RSS (VmHWM), CPU time per process,
//! per process group (PostgreSQL, Kafka) and machine-wide, so every measurement can say who
//! used the two cores while it ran.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A `VmXXX:` line of /proc/PID/status, in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Peak RSS (VmHWM) of a running service so far, in bytes (0 when unreadable).
pub fn peak_rss(service: &logagg_testkit::Service) -> u64 {
    peak_rss_of(service.pid()).unwrap_or(0)
}

/// Peak resident set size of a running process (VmHWM).
pub fn peak_rss_of(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmHWM")
}

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process, in ticks.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Busy and total ticks of the whole machine (first line of /proc/stat).
fn machine_ticks() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is already in user)
    let get = |i: usize| values.get(i).copied().unwrap_or(0);
    let idle = get(3);
    let iowait = get(4);
    let total: u64 = (0..8).map(get).sum();
    (total - idle - iowait, iowait, total)
}

/// CPU times at one instant.
#[derive(Debug, Clone)]
pub struct CpuSnapshot {
    at: std::time::Instant,
    machine_busy: u64,
    machine_iowait: u64,
    /// Per watched process (our children, this process).
    own: HashMap<u32, u64>,
    postgres: HashMap<u32, u64>,
    kafka: HashMap<u32, u64>,
}

/// Who used the CPU between two snapshots, in core-seconds.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    pub wall_secs: f64,
    pub cores: usize,
    /// Per labelled process of ours (consumer, api, bench client).
    pub processes: Vec<(String, f64)>,
    pub postgres: f64,
    pub kafka: f64,
    /// Machine busy time not accounted for above (other engineers' builds and tests, the OS).
    pub other: f64,
    pub iowait: f64,
    pub machine_busy: f64,
}

impl CpuUse {
    /// One line: `consumer 0.61, postgres 0.93, kafka 0.10, bench 0.05, other 0.20 cores`.
    pub fn summary(&self) -> String {
        let wall = self.wall_secs.max(1e-9);
        let mut parts: Vec<String> = self
            .processes
            .iter()
            .map(|(name, secs)| format!("{name} {:.2}", secs / wall))
            .collect();
        parts.push(format!("postgres {:.2}", self.postgres / wall));
        parts.push(format!("kafka {:.2}", self.kafka / wall));
        parts.push(format!("other {:.2}", self.other / wall));
        format!(
            "{} of {} cores busy: {} (iowait {:.2})",
            format_args!("{:.2}", self.machine_busy / wall),
            self.cores,
            parts.join(", "),
            self.iowait / wall
        )
    }

    /// Core-seconds of a labelled process.
    pub fn of(&self, name: &str) -> f64 {
        self.processes
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, s)| s)
            .sum()
    }
}

/// Snapshots CPU use of labelled processes, PostgreSQL, Kafka and the machine.
#[derive(Debug, Clone)]
pub struct CpuWatch {
    labels: Vec<(u32, String)>,
}

impl CpuWatch {
    /// Watches `labels` (pid, name) besides PostgreSQL and Kafka; this process is `bench`.
    pub fn new(mut labels: Vec<(u32, String)>) -> Self {
        labels.push((std::process::id(), "bench".into()));
        Self { labels }
    }

    pub fn snapshot(&self) -> CpuSnapshot {
        let (machine_busy, machine_iowait, _) = machine_ticks();
        let own = self
            .labels
            .iter()
            .filter_map(|(pid, _)| Some((*pid, process_ticks(*pid)?)))
            .collect();
        let mut postgres = HashMap::new();
        let mut kafka = HashMap::new();
        for pid in pids() {
            match comm(pid).as_deref() {
                Some("postgres") => {
                    if let Some(t) = process_ticks(pid) {
                        postgres.insert(pid, t);
                    }
                }
                Some("java") if cmdline(pid).contains("kafka.Kafka") => {
                    if let Some(t) = process_ticks(pid) {
                        kafka.insert(pid, t);
                    }
                }
                _ => {}
            }
        }
        CpuSnapshot {
            at: std::time::Instant::now(),
            machine_busy,
            machine_iowait,
            own,
            postgres,
            kafka,
        }
    }

    /// CPU used between `before` and `after`. A PostgreSQL backend that exited in between is
    /// lost (the bench keeps its connections open, so only other users' are).
    pub fn between(&self, before: &CpuSnapshot, after: &CpuSnapshot) -> CpuUse {
        let tick = clock_ticks();
        let delta = |a: &HashMap<u32, u64>, b: &HashMap<u32, u64>| -> f64 {
            b.iter()
                .map(|(pid, t)| t.saturating_sub(a.get(pid).copied().unwrap_or(0)))
                .sum::<u64>() as f64
                / tick
        };
        let mut processes: Vec<(String, f64)> = Vec::new();
        for (pid, name) in &self.labels {
            let used = match (before.own.get(pid), after.own.get(pid)) {
                (Some(a), Some(b)) => b.saturating_sub(*a),
                (None, Some(b)) => *b,
                _ => 0,
            } as f64
                / tick;
            match processes.iter_mut().find(|(n, _)| n == name) {
                Some(entry) => entry.1 += used,
                None => processes.push((name.clone(), used)),
            }
        }
        let postgres = delta(&before.postgres, &after.postgres);
        let kafka = delta(&before.kafka, &after.kafka);
        let machine_busy = after.machine_busy.saturating_sub(before.machine_busy) as f64 / tick;
        let iowait = after.machine_iowait.saturating_sub(before.machine_iowait) as f64 / tick;
        let ours: f64 = processes.iter().map(|(_, s)| s).sum::<f64>() + postgres + kafka;
        CpuUse {
            wall_secs: (after.at - before.at).as_secs_f64(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            processes,
            postgres,
            kafka,
            other: (machine_busy - ours).max(0.0),
            iowait,
            machine_busy,
        }
    }
}

/// Process ids of the PostgreSQL postmaster(s) and the Kafka JVM(s): a change between two calls
/// means a service was restarted in between (the machine's services are shared).
pub fn service_pids() -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for pid in pids() {
        match comm(pid).as_deref() {
            Some("postgres") => {
                let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| {
                        let rest = &s[s.rfind(')')? + 1..];
                        rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                    });
                if parent.and_then(comm).as_deref() != Some("postgres") {
                    out.push(("postgres".to_owned(), pid));
                }
            }
            Some("java") if cmdline(pid).contains("kafka.Kafka") => {
                out.push(("kafka".to_owned(), pid))
            }
            _ => {}
        }
    }
    out.sort();
    out
}

/// Cores and memory of the machine, for the report header.
pub fn machine() -> (usize, u64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    (cores, memory)
}

/// The CPU model name, when /proc/cpuinfo has one.
pub fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
    })
}

/// 1-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(peak_rss_of(pid).unwrap() > 0);
        assert!(process_ticks(pid).is_some());
        let (cores, memory) = machine();
        assert!(cores >= 1 && memory > 0);
        assert_eq!(service_pids(), service_pids());
    }
}
