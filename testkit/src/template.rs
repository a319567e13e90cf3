//! The migrated template database. Migrating a fresh database for every test costs more than
//! the test's own queries; instead the migrations run once into `logagg_tpl_<hash of
//! migrations/>` and every sandbox is `CREATE DATABASE x TEMPLATE` of it (a file copy). A
//! changed migration changes the hash, so a stale template is never used. Concurrent test
//! processes serialize its creation on an advisory lock.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;

use crate::services::{root, unique_name, with_database};

/// Serializes template creation across processes (any constant distinct from the
/// migrations' own lock).
const TEMPLATE_LOCK_KEY: i64 = 0x7465_6d70_6c61;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The name of the migrated template database, creating it the first time.
pub async fn template(admin_url: &str) -> anyhow::Result<String> {
    TEMPLATE
        .get_or_try_init(|| ensure_template(admin_url))
        .await
        .cloned()
}

/// An admin connection, with the hint a newcomer needs when PostgreSQL is not running.
pub async fn connect_admin(admin_url: &str) -> anyhow::Result<AsyncPgConnection> {
    logagg_core::db::establish(admin_url)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {admin_url} (make up?)"))
}

/// `CREATE DATABASE database TEMPLATE <template>`, retried briefly while another session
/// still holds the template (PostgreSQL refuses to copy a database in use).
pub async fn clone_template(admin_url: &str, database: &str) -> anyhow::Result<()> {
    let template = template(admin_url).await?;
    let mut admin = connect_admin(admin_url).await?;
    execute_retrying(
        &mut admin,
        &format!("CREATE DATABASE {database} TEMPLATE {template}"),
    )
    .await
}

/// Runs `sql` until it succeeds, for up to 30 s; the last error if it never does.
pub async fn execute_retrying(conn: &mut AsyncPgConnection, sql: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match diesel::sql_query(sql).execute(conn).await {
            Ok(_) => return Ok(()),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(error) => return Err(anyhow::Error::new(error).context(sql.to_owned())),
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn ensure_template(admin_url: &str) -> anyhow::Result<String> {
    let name = format!("logagg_tpl_{:016x}", migrations_hash()?);
    let mut admin = connect_admin(admin_url).await?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})"))
        .execute(&mut admin)
        .await?;
    let exists: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(&name)
            .get_result(&mut admin)
            .await?;
    if exists.n == 0 {
        // Migrated under a temporary name and renamed when complete: a process that dies
        // half-way leaves no half-migrated template behind.
        let building = unique_name(&name);
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating {building}"))?;
        logagg_core::db::run_migrations(&with_database(admin_url, &building)?)
            .await
            .context("migrating the template database")?;
        // The migration's connection may take a moment to end on the server side.
        execute_retrying(
            &mut admin,
            &format!("ALTER DATABASE {building} RENAME TO {name}"),
        )
        .await?;
    }
    // The advisory lock ends with the session.
    drop(admin);
    Ok(name)
}

/// A hash of every file under migrations/ (names and contents).
fn migrations_hash() -> anyhow::Result<u64> {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("migrations")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| dir.display().to_string())? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.strip_prefix(root())?.hash(&mut hasher);
        std::fs::read(&file)?.hash(&mut hasher);
    }
    Ok(hasher.finish())
}
