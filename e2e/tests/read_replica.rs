//! The read replica (issue 15, item 3): with `LOGAGG_DATABASE_READ_URL` set to a streaming
//! standby (the test's own, made with pg_basebackup), an event becomes visible through the
//! API's reads, which run on the standby only: the primary's statement log shows no event read
//! while the standby's shows them; `/stats` stays on the primary; `/health` reports the
//! replica and its replay lag.

use std::time::Duration;

use logagg_testkit::replica::{PrimaryWithStandby, Server};
use logagg_testkit::{event_json, wait_for, TestEnv};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Statement lines of a server log (after `from` bytes) that read event data.
fn event_reads(log: &str, from: usize) -> Vec<String> {
    log.get(from..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("statement:") || l.contains("execute"))
        .filter(|l| {
            let sql = l.to_ascii_lowercase();
            (sql.contains("events") || sql.contains("topic_counters"))
                && !sql.contains("insert")
                && !sql.contains("for update")
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn event_reads_go_to_the_standby_and_never_to_the_primary() {
    let pair = tokio::task::spawn_blocking(|| PrimaryWithStandby::start("replica"))
        .await
        .unwrap()
        .expect("primary and standby");
    // The test's topic and group on the shared broker; its databases are the pair's.
    let env = TestEnv::new("replica", 1).await;
    let primary = [("DATABASE_URL", pair.primary_url())];
    let api = env
        .spawn_api_with(&[
            ("DATABASE_URL", pair.primary_url()),
            ("LOGAGG_DATABASE_READ_URL", pair.standby_url()),
        ])
        .await;
    let consumer = env.spawn_consumer_with("c", &primary).await;
    let client = api.api();
    client
        .publish_ok(&event_json("replicated", "replica-event-1"))
        .await;

    // Visible through the API, which reads from the standby.
    wait_for(TIMEOUT, "the event on the replica", || async {
        let rows = client.events("topic=replicated").await;
        (rows.len() == 1).then_some(())
    })
    .await;
    consumer.terminate_cleanly().await;

    // Every read route, with nothing else talking to the primary meanwhile.
    let primary_mark = pair.log(Server::Primary).len();
    let standby_mark = pair.log(Server::Standby).len();
    assert_eq!(client.events("topic=replicated").await.len(), 1);
    assert_eq!(client.events("topic=replicated&order=asc").await.len(), 1);
    assert_eq!(client.events("q=replica-event").await.len(), 1);
    assert!(client
        .event("replicated", "replica-event-1")
        .await
        .is_some());
    let topics = client.get_json("/topics").await;
    assert_eq!(topics[0]["topic"], "replicated", "{topics}");
    let export = client
        .get_with(
            "/events?topic=replicated",
            &[("accept", "application/x-ndjson")],
        )
        .await;
    assert_eq!(export.status, 200);
    assert_eq!(export.text().lines().count(), 1, "{}", export.text());

    let on_primary = event_reads(&pair.log(Server::Primary), primary_mark);
    assert!(
        on_primary.is_empty(),
        "event reads reached the primary: {on_primary:#?}"
    );
    let on_standby = event_reads(&pair.log(Server::Standby), standby_mark);
    assert!(
        on_standby.len() >= 5,
        "the standby served the reads: {on_standby:#?}"
    );

    // /stats is the primary's.
    let stats_mark = pair.log(Server::Primary).len();
    assert_eq!(client.stats().await.unique_processed, 1);
    assert!(
        pair.log(Server::Primary)[stats_mark..].contains("partition_progress"),
        "/stats reads the primary"
    );

    let (status, health) = api.get("/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["read_replica"]["database"], "ok", "{health}");
    assert!(
        health["read_replica"]["replay_lag_ms"].as_i64().is_some(),
        "replay lag exposed: {health}"
    );
    let metrics = api.get_text("/metrics").await.expect("metrics");
    assert!(
        metrics.contains("logagg_read_replica_lag_seconds"),
        "{metrics}"
    );
    api.terminate_cleanly().await;
}
