//! Where the services and the binaries are: Kafka and PostgreSQL addresses (the same
//! `LOGAGG_KAFKA_BROKERS` / `DATABASE_URL` defaults as the binaries), the workspace root, the
//! directory of the built binaries and where their logs go.

use std::path::{Path, PathBuf};

/// The local broker `make up` starts.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";
/// The local PostgreSQL `make up` starts (this database is only used to create others).
pub const DEFAULT_DATABASE_URL: &str = "postgres://logagg:logagg@127.0.0.1:5432/logagg";

/// The services a test or a measurement talks to, and where the binaries it runs live.
#[derive(Debug, Clone)]
pub struct Services {
    pub brokers: String,
    /// A database URL with rights to create databases; sandboxes replace its database name.
    pub admin_url: String,
    /// Directory holding `logagg-api`, `logagg-consumer`, `logagg-producer`.
    pub bin_dir: PathBuf,
    /// Where spawned binaries write their logs.
    pub log_dir: PathBuf,
}

impl Services {
    /// From `LOGAGG_KAFKA_BROKERS` and `DATABASE_URL` (local defaults otherwise), the debug
    /// binaries of this workspace (`CARGO_TARGET_DIR` respected) and `target/e2e-logs`.
    pub fn from_env() -> Self {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target"));
        Self {
            brokers: brokers(),
            admin_url: admin_database_url(),
            bin_dir: target.join("debug"),
            log_dir: target.join("e2e-logs"),
        }
    }

    /// A binary of `bin_dir`, or an error saying how to build it.
    pub fn binary(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.bin_dir.join(name);
        anyhow::ensure!(
            path.exists(),
            "{} is missing: run `cargo build --bins` first (make test and scripts/bench.sh do)",
            path.display()
        );
        Ok(path)
    }
}

/// A binary of the workspace (debug build); panics saying how to build it when missing.
pub fn bin(name: &str) -> PathBuf {
    Services::from_env()
        .binary(name)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// `LOGAGG_KAFKA_BROKERS`, else the local broker.
pub fn brokers() -> String {
    std::env::var("LOGAGG_KAFKA_BROKERS").unwrap_or_else(|_| DEFAULT_BROKERS.into())
}

/// `DATABASE_URL`, else the local PostgreSQL.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into())
}

/// The workspace root.
/// `prefix_` and eight random hex digits: a name no parallel test shares.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A fresh directory path `target/<kind>/<label>_<random>` for a test's own servers.
pub fn scratch_dir(kind: &str, label: &str) -> PathBuf {
    root().join("target").join(kind).join(unique_name(label))
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ has a parent")
        .to_path_buf()
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (base, rest) = url
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("database URL has no path"))?;
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Ok(format!("{base}/{database}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced_and_parameters_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/logagg?sslmode=require", "x").unwrap(),
            "postgres://u:p@h:5432/x?sslmode=require"
        );
        assert_eq!(
            with_database("postgres://h/logagg", "y").unwrap(),
            "postgres://h/y"
        );
    }
}
