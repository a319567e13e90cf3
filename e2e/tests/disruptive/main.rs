//! The end-to-end tests that stop the shared local broker or PostgreSQL. They are a test binary
//! of their own because cargo runs test binaries one after another: nothing else runs while a
//! shared service is down (`main`'s tests would fail), and each test here runs one at a time
//! (`ONE_AT_A_TIME`), since both disturb the same services.

mod broker_outage;
mod postgres_restart;

/// Held by each test here for its whole run: two outages at once would confuse both.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
