//! A gap in the log (issue 15, item 5): records the broker deleted (here with deleteRecords,
//! what retention does to a topic whose consumers were stopped too long) before the group
//! stored them are detected, counted as `lost` per partition on `/stats` and both `/metrics`,
//! reported by one error log naming the range, and the consumer carries on.

use std::time::Duration;

use logagg_testkit::truth::fresh;
use logagg_testkit::{event, TestEnv};

const TIMEOUT: Duration = Duration::from_secs(120);

/// Produces the distinct events numbered `ids` on `partition`; the offset after the last.
async fn produce(env: &TestEnv, partition: i32, ids: std::ops::Range<usize>) -> i64 {
    let mut next = 0;
    for id in ids {
        let body = event("gap", &format!("p{partition}-{id}")).to_json_bytes();
        let (_, offset) = env.produce_raw(Some(partition), Some(b"gap"), &body).await;
        next = offset + 1;
    }
    next
}

#[tokio::test(flavor = "multi_thread")]
async fn records_deleted_before_they_were_stored_are_counted_lost_and_consuming_goes_on() {
    let (env, api) = TestEnv::with_api("gap", 2, &[]).await;
    // The group stores 10 records of each partition, then stops.
    produce(&env, 0, 0..10).await;
    produce(&env, 1, 0..10).await;
    let consumer = env.spawn_consumer("before").await;
    env.wait_counts(TIMEOUT, "20 records", |c| c.received == 20)
        .await;
    consumer.terminate_cleanly().await;

    // While it is down, partition 0 gets 30 records and the broker deletes all but the last 5
    // of them (offsets 10..=34 gone); partition 1 gets 5 records and keeps them.
    let end = produce(&env, 0, 10..40).await;
    assert_eq!(end, 40);
    assert_eq!(env.delete_records_before(0, 35).await, 35);
    produce(&env, 1, 10..15).await;

    let consumer = env.spawn_consumer("after").await;
    let counts = env
        .wait_counts(TIMEOUT, "the records left received", |c| c.received == 30)
        .await;
    assert_eq!(fresh(&counts), (30, 30, 0, 0), "{counts:?}");
    assert_eq!(counts.lost, 25, "{counts:?}");
    assert_eq!(env.rows().await, 30);

    // It carries on: a record after the gap is stored like any other.
    produce(&env, 0, 40..41).await;
    let counts = env
        .wait_counts(TIMEOUT, "one more record", |c| c.received == 31)
        .await;
    assert_eq!(counts.lost, 25, "nothing more is lost: {counts:?}");

    let stats = api.api().stats().await;
    assert_eq!(stats.lost, 25, "{stats:?}");
    let per_partition: Vec<(&str, i64)> = stats
        .lost_per_partition
        .iter()
        .map(|(p, n)| (p.as_str(), *n))
        .collect();
    assert_eq!(per_partition, [("0", 25), ("1", 0)], "{stats:?}");
    let api_metrics = api.get_text("/metrics").await.expect("api /metrics");
    assert!(
        api_metrics.contains("logagg_lost_records{partition=\"0\"} 25"),
        "{api_metrics}"
    );
    let consumer_metrics = consumer
        .get_text("/metrics")
        .await
        .expect("consumer /metrics");
    assert!(
        consumer_metrics.contains("logagg_consumer_lost_records_total{partition=\"0\"} 25"),
        "{consumer_metrics}"
    );

    let log_path = consumer.log.clone();
    consumer.terminate_cleanly().await;
    let log = std::fs::read_to_string(&log_path).expect("consumer log");
    let reports: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("records deleted by the broker"))
        .collect();
    assert_eq!(reports.len(), 1, "one error per gap: {reports:#?}");
    let report = reports[0];
    for field in [
        "ERROR",
        "partition=0",
        "first_missing=10",
        "last_missing=34",
        "lost=25",
    ] {
        assert!(report.contains(field), "{field} missing in: {report}");
    }
}
