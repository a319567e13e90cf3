//! [`TestDatabase`]: a database alone, cloned from the migrated template and dropped when the
//! test ends (also on panic), for the tests that call core's queries and the consumer's batch
//! write straight against PostgreSQL, without a broker or a process.

use diesel_async::AsyncPgConnection;
use logagg_core::config::DatabaseConfig;
use logagg_core::db;

use crate::sandbox::{drop_database, run_detached};
use crate::services::{unique_name, with_database, Services};
use crate::template::clone_template;

/// A migrated database of one test.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: db::Pool,
    admin_url: String,
}

impl TestDatabase {
    /// `logagg_db_<label>_<random>`, cloned from the template; panics when PostgreSQL is not
    /// reachable (make up).
    pub async fn new(label: &str) -> Self {
        let services = Services::from_env();
        let name = unique_name(&format!("logagg_db_{label}")).to_lowercase();
        clone_template(&services.admin_url, &name)
            .await
            .unwrap_or_else(|e| panic!("test database {name}: {e:#}"));
        let url = with_database(&services.admin_url, &name).expect("database URL");
        let pool = db::connect(&DatabaseConfig {
            url: url.clone(),
            pool_size: 4,
        })
        .expect("pool");
        Self {
            name,
            url,
            pool,
            admin_url: services.admin_url,
        }
    }

    /// A pooled connection.
    pub async fn conn(&self) -> db::Conn {
        self.pool.get().await.expect("a database connection")
    }

    /// A connection of its own, outside the pool (for a second concurrent transaction).
    pub async fn connect(&self) -> AsyncPgConnection {
        logagg_core::db::establish(&self.url)
            .await
            .expect("a database connection")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.pool.close();
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        run_detached(
            &self.name,
            async move { drop_database(&admin_url, &name).await },
        );
    }
}
