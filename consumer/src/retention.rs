//! The retention enforcer: a task beside the batch loop, on its own PostgreSQL connection (never
//! the batch pool), that removes rows stored longer ago than their topic's policy. Exactly one
//! consumer of the fleet enforces: the one holding the session advisory lock
//! `retention::ENFORCER_LOCK_KEY`; the others retry `pg_try_advisory_lock` every interval and
//! take over when the holder's session ends. Each step deletes at most `step_rows` rows in its
//! own transaction (counting them `expired` in it), so no batch waits on more than one step.
//! Once per `LOGAGG_RETENTION_REINDEX_INTERVAL_MS` in which it removed rows, it also rebuilds
//! the indexes whose keys deletes cannot reclaim (`db::maintenance`), online.

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use logagg_core::config::RetentionConfig;
use logagg_core::db::retention::{self, try_lock, Doomed, RunReport};
use logagg_core::db::{self, maintenance, DbError};
use logagg_core::shutdown::Signal;

use crate::metrics::Metrics;

/// What the enforcer needs.
pub struct Enforcer {
    pub database_url: String,
    pub group: String,
    pub kafka_topic: String,
    pub config: RetentionConfig,
    pub metrics: Metrics,
    pub shutdown: Signal,
}

/// Who holds the lock, for the status row: host and process.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{host}/pid {}", std::process::id())
}

impl Enforcer {
    /// Runs until shutdown. Database failures drop the connection (and with it the lock, so
    /// another consumer may take over) and are retried on the next interval.
    pub async fn run(self) {
        let holder = holder_name();
        let mut session: Option<AsyncPgConnection> = None;
        let mut upkeep = Upkeep::new(self.config.reindex_interval);
        loop {
            if session.is_none() {
                match db::establish(&self.database_url).await {
                    Ok(conn) => session = Some(conn),
                    Err(error) => tracing::warn!(%error, "retention: no database connection"),
                }
            }
            if let Some(conn) = session.as_mut() {
                if let Err(error) = self.tick(conn, &holder, &mut upkeep).await {
                    tracing::warn!(%error, "retention run failed; reconnecting");
                    self.metrics.set_enforcer(false);
                    session = None;
                }
            }
            tokio::select! {
                _ = self.shutdown.clone().fired() => break,
                _ = tokio::time::sleep(self.config.interval) => {}
            }
        }
    }

    /// One interval: become the enforcer if nobody is, then run once if we are.
    async fn tick(
        &self,
        conn: &mut AsyncPgConnection,
        holder: &str,
        upkeep: &mut Upkeep,
    ) -> Result<(), DbError> {
        if !self.metrics.is_enforcer() {
            if !try_lock(conn).await? {
                return Ok(());
            }
            tracing::info!(holder, "retention: this consumer enforces retention");
            self.metrics.set_enforcer(true);
        }
        let report = self.run_once(conn).await?;
        retention::record_run(conn, holder, &report).await?;
        self.metrics.record_run(&report);
        upkeep.removed += report.removed;
        if upkeep.due() {
            upkeep.rebuild(conn).await;
        }
        if report.removed > 0 {
            tracing::info!(
                removed = report.removed,
                lag_ms = report.lag_ms,
                "retention run"
            );
        }
        Ok(())
    }

    /// Removes due rows topic by topic, in steps, until none is due or the run's step budget
    /// is spent (then the rest shows as lag and waits for the next run).
    pub async fn run_once(&self, conn: &mut AsyncPgConnection) -> Result<RunReport, DbError> {
        let mut report = RunReport::default();
        let mut steps_left = self.config.run_steps;
        for (topic, seconds) in retention::effective(conn).await? {
            while steps_left > 0 && !self.shutdown.is_fired() {
                steps_left -= 1;
                let step_started = std::time::Instant::now();
                let doomed = Doomed::Expired {
                    topic: &topic,
                    seconds,
                };
                let (group, kafka_topic) = (&self.group, &self.kafka_topic);
                let removed =
                    retention::remove_step(conn, group, kafka_topic, doomed, self.config.step_rows)
                        .await?;
                self.metrics.observe_step(step_started.elapsed());
                report.removed += removed;
                if removed < self.config.step_rows {
                    break;
                }
                // Let the batch loop's transactions in between steps.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            report.lag_ms = report
                .lag_ms
                .max(retention::lag_ms(conn, &topic, seconds).await?);
        }
        if steps_left == 0 {
            report.error = Some(format!(
                "step budget of {} steps spent; the rest waits for the next run",
                self.config.run_steps
            ));
        }
        Ok(report)
    }
}

/// When the indexes retention cannot shrink were last rebuilt, and whether rows were removed
/// since (an index nothing was removed from has nothing to give back).
struct Upkeep {
    interval: Duration,
    last: std::time::Instant,
    removed: i64,
}

impl Upkeep {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: std::time::Instant::now(),
            removed: 0,
        }
    }

    fn due(&self) -> bool {
        !self.interval.is_zero() && self.removed > 0 && self.last.elapsed() >= self.interval
    }

    /// Rebuilds each index; a failure is logged and retried after the next interval (the
    /// index keeps working meanwhile).
    async fn rebuild(&mut self, conn: &mut AsyncPgConnection) {
        for index in maintenance::REBUILT_INDEXES {
            let started = std::time::Instant::now();
            match maintenance::rebuild(conn, index).await {
                Ok((before, after)) => tracing::info!(
                    index,
                    before_bytes = before,
                    after_bytes = after,
                    took_ms = started.elapsed().as_millis() as u64,
                    "retention: rebuilt an index whose removed keys vacuum keeps"
                ),
                Err(error) => tracing::warn!(index, %error, "retention: index rebuild failed"),
            }
        }
        self.last = std::time::Instant::now();
        self.removed = 0;
    }
}

/// A retention period on the command line: `90s`, `15m`, `12h`, `7d` or plain seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepFor(pub i64);

impl std::str::FromStr for KeepFor {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
            Some(at) => text.split_at(at),
            None => (text, "s"),
        };
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(format!("{text:?}: expected a number with s, m, h or d")),
        };
        match number.parse::<i64>() {
            Ok(n) if n > 0 => Ok(KeepFor(n * scale)),
            _ => Err(format!("{text:?}: expected a positive whole number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeepFor;

    #[test]
    fn periods_parse_with_units() {
        assert_eq!("90".parse(), Ok(KeepFor(90)));
        assert_eq!("15m".parse(), Ok(KeepFor(900)));
        assert_eq!("12h".parse(), Ok(KeepFor(43_200)));
        assert_eq!("7d".parse(), Ok(KeepFor(604_800)));
        assert!("0s".parse::<KeepFor>().is_err());
        assert!("1w".parse::<KeepFor>().is_err());
        assert!("m".parse::<KeepFor>().is_err());
    }
}
