//! [`PrimaryWithStandby`]: a test's own PostgreSQL primary and a streaming standby made from it
//! with `pg_basebackup` (PostgreSQL's Debian binaries, run as the `postgres` OS user when the
//! test runs as root), on free loopback ports, each with its data directory under
//! target/e2e-pg and `log_statement = all`, so a test can tell which server ran which
//! statement. Both are stopped and their directories removed when dropped, also on panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::process::run_checked;
use crate::services::{free_port, scratch_dir};

/// Where the Debian packages put PostgreSQL's server binaries.
const PG_LIB: &str = "/usr/lib/postgresql";
/// Only this test's loopback clients reach these servers; they trust them.
const HBA: &str = "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n";

/// A primary and its hot standby; stopped when dropped.
pub struct PrimaryWithStandby {
    dir: PathBuf,
    bin: PathBuf,
    pub primary_port: u16,
    pub standby_port: u16,
}

impl PrimaryWithStandby {
    /// initdb, start the primary, create the database `logagg`, pg_basebackup the standby and
    /// start it (a few seconds). Blocking.
    pub fn start(label: &str) -> anyhow::Result<Self> {
        let pair = Self {
            dir: scratch_dir("e2e-pg", label),
            bin: server_binaries()?,
            primary_port: free_port()?,
            standby_port: free_port()?,
        };
        std::fs::create_dir_all(&pair.dir)?;
        if is_root() {
            // The server refuses to run as root; its OS user must own the directory.
            let owned = Command::new("chown")
                .args(["postgres", &text(&pair.dir)])
                .status()?;
            anyhow::ensure!(owned.success(), "chown postgres {}", pair.dir.display());
        }
        let primary = pair.dir.join("primary");
        pair.pg(
            "initdb",
            &[
                "-D",
                &text(&primary),
                "-U",
                "logagg",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ],
        )?;
        let settings = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nlog_statement = 'all'\n\
             log_line_prefix = '%m [%p] %a '\nfsync = off\n",
            pair.primary_port,
            text(&pair.dir)
        );
        append(&primary.join("postgresql.conf"), &settings)?;
        append(&primary.join("pg_hba.conf"), HBA)?;
        pair.start_server(&primary, "primary")?;
        pair.pg_client("psql", &["-d", "postgres", "-c", "CREATE DATABASE logagg"])?;
        let standby = pair.dir.join("standby");
        pair.pg_client(
            "pg_basebackup",
            &["-D", &text(&standby), "-R", "-X", "stream", "-c", "fast"],
        )?;
        append(
            &standby.join("postgresql.auto.conf"),
            &format!("port = {}\n", pair.standby_port),
        )?;
        pair.start_server(&standby, "standby")?;
        Ok(pair)
    }

    pub fn primary_url(&self) -> String {
        format!("postgres://logagg@127.0.0.1:{}/logagg", self.primary_port)
    }

    pub fn standby_url(&self) -> String {
        format!("postgres://logagg@127.0.0.1:{}/logagg", self.standby_port)
    }

    /// The statement log of the primary or the standby so far.
    pub fn log(&self, server: Server) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", server.name()))).unwrap_or_default()
    }

    fn start_server(&self, data: &Path, name: &str) -> anyhow::Result<()> {
        let log = self.dir.join(format!("{name}.log"));
        self.pg(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                &text(data),
                "-l",
                &text(&log),
            ],
        )
        .with_context(|| {
            format!(
                "starting the {name}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
    }

    /// Runs a PostgreSQL client binary against the primary, as user `logagg`.
    fn pg_client(&self, binary: &str, args: &[&str]) -> anyhow::Result<()> {
        let port = self.primary_port.to_string();
        let mut all = vec!["-h", "127.0.0.1", "-p", &port, "-U", "logagg"];
        all.extend_from_slice(args);
        self.pg(binary, &all)
    }

    /// Runs a PostgreSQL binary as the server's OS user.
    fn pg(&self, binary: &str, args: &[&str]) -> anyhow::Result<()> {
        let path = self.bin.join(binary);
        let mut command = vec![text(&path)];
        command.extend(args.iter().map(|a| (*a).to_owned()));
        let refs: Vec<&str> = command.iter().map(String::as_str).collect();
        self.as_server_user(&refs)
    }

    fn as_server_user(&self, command: &[&str]) -> anyhow::Result<()> {
        let mut process = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(command);
            c
        } else {
            let mut c = Command::new(command[0]);
            c.args(&command[1..]);
            c
        };
        run_checked(process.current_dir(&self.dir), &command.join(" "))
    }
}

/// Which of the two servers.
#[derive(Debug, Clone, Copy)]
pub enum Server {
    Primary,
    Standby,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Primary => "primary",
            Server::Standby => "standby",
        }
    }
}

impl Drop for PrimaryWithStandby {
    fn drop(&mut self) {
        for server in [Server::Standby, Server::Primary] {
            let data = text(&self.dir.join(server.name()));
            let _ = self.pg("pg_ctl", &["stop", "-m", "immediate", "-D", &data]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed PostgreSQL's bin directory.
fn server_binaries() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<u32> = std::fs::read_dir(PG_LIB)
        .with_context(|| format!("{PG_LIB}: PostgreSQL's server packages (make up installs them)"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    let newest = versions.last().context("no PostgreSQL version installed")?;
    Ok(Path::new(PG_LIB).join(newest.to_string()).join("bin"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| path.display().to_string())?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn text(path: &Path) -> String {
    path.display().to_string()
}
