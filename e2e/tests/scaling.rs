//! Consumer-group scaling under load: 1 -> 3 -> 1 logagg-consumer processes while 50,000 events
//! with 30% duplicates flow into a 6-partition topic; partitions move between members
//! (cooperative-sticky), members leave with SIGTERM, and the golden calculation holds exactly.
//! The group's lag is read the way an operator reads it: `scripts/kafka-tool.sh consumer-groups
//! --describe`, LAG column.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_testkit::tools::{self, lag_zero, owners, GroupRow};
use logagg_testkit::truth::fresh;
use logagg_testkit::{event, wait_for, Expected, Service, TestEnv};

const PARTITIONS: i32 = 6;
const EVENTS: usize = 50_000;
const DUPLICATE_RATIO: f64 = 0.3;
/// Events per publish call.
const CHUNK: usize = 250;
/// Producer pace: the load lasts long enough for the group to change under it.
const EVENTS_PER_SECOND: f64 = 4_000.0;
/// When the two extra consumers start, and how much is released while three run.
const SCALE_UP_AT: usize = 12_000;
const SCALE_DOWN_AFTER: usize = 32_000;
const CATCH_UP: Duration = Duration::from_secs(240);
const STEP: Duration = Duration::from_secs(90);

/// Polls the group's `consumer-groups --describe` rows until `done` holds.
async fn describe_until(
    env: &TestEnv,
    timeout: Duration,
    what: &str,
    done: impl Fn(&BTreeMap<i32, GroupRow>) -> bool,
) -> BTreeMap<i32, GroupRow> {
    tools::describe_group_until(&env.group, &env.topic, timeout, what, done).await
}

/// `logagg_consumer_records_total` of one consumer, all outcomes.
async fn records_processed(consumer: &Service) -> u64 {
    let text = consumer.get_text("/metrics").await.expect("GET /metrics");
    text.lines()
        .filter(|l| l.starts_with("logagg_consumer_records_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn one_to_three_to_one_consumers_under_load_keeps_the_golden_calculation() {
    let started = Instant::now();
    let env = TestEnv::new("scaling", PARTITIONS).await;
    let plan = Arc::new(LoadPlan::new(LoadSpec {
        events: EVENTS,
        duplicate_ratio: DUPLICATE_RATIO,
        topics: 48,
        payload_bytes: 64,
        seed: rand::random(),
        topic_prefix: "scale".into(),
    }));
    assert_eq!((plan.distinct, plan.duplicates), (35_000, 15_000));
    let c1 = env.spawn_consumer("c1").await;

    // The load: paced, and never beyond `allowed`, which the test raises as the group
    // changes, so every change happens while events are still being produced.
    let sent = Arc::new(AtomicUsize::new(0));
    let allowed = Arc::new(AtomicUsize::new(SCALE_UP_AT + 8_000));
    let load = {
        let (plan, sent, allowed, producer) =
            (plan.clone(), sent.clone(), allowed.clone(), env.producer());
        tokio::spawn(async move {
            let begin = tokio::time::Instant::now();
            let mut k = 0;
            while k < EVENTS {
                while allowed.load(Ordering::SeqCst) <= k {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let due = begin + Duration::from_secs_f64(k as f64 / EVENTS_PER_SECOND);
                tokio::time::sleep_until(due).await;
                let end = (k + CHUNK).min(EVENTS);
                let events: Vec<_> = (k..end).map(|i| plan.send(i)).collect();
                producer.publish(&events).await.expect("publish");
                k = end;
                sent.store(k, Ordering::SeqCst);
            }
        })
    };
    let sent_now = || sent.load(Ordering::SeqCst);

    // 1 -> 3.
    wait_for(STEP, "the first events to be sent", || async {
        (sent_now() >= SCALE_UP_AT).then_some(())
    })
    .await;
    let c2 = env.spawn_consumer("c2").await;
    let c3 = env.spawn_consumer("c3").await;
    // Cooperative-sticky ends with the 6 partitions spread 2/2/2 over the 3 members.
    describe_until(
        &env,
        STEP,
        "three members owning 2 partitions each",
        |rows| {
            let mut per_owner = BTreeMap::<&String, usize>::new();
            for row in rows.values() {
                if let Some(owner) = &row.consumer_id {
                    *per_owner.entry(owner).or_default() += 1;
                }
            }
            rows.len() == PARTITIONS as usize
                && per_owner.len() == 3
                && per_owner.values().all(|&n| n == 2)
        },
    )
    .await;
    let sent_at_three = sent_now();
    assert!(
        sent_at_three < EVENTS,
        "the load ended before the group grew"
    );
    allowed.store(SCALE_DOWN_AFTER + 8_000, Ordering::SeqCst);

    // Three members work: load flows and each new member processes records.
    wait_for(STEP, "load to flow while three consumers run", || async {
        (sent_now() >= SCALE_DOWN_AFTER).then_some(())
    })
    .await;
    for (consumer, label) in [(&c2, "c2"), (&c3, "c3")] {
        wait_for(
            STEP,
            &format!("consumer {label} to process records"),
            || async { (records_processed(consumer).await > 0).then_some(()) },
        )
        .await;
    }

    // 3 -> 1, with SIGTERM, both exit 0.
    let sent_at_scale_down = sent_now();
    assert!(
        sent_at_scale_down < EVENTS,
        "the load ended before the group shrank"
    );
    tokio::join!(c2.terminate_cleanly(), c3.terminate_cleanly());
    allowed.store(EVENTS, Ordering::SeqCst);
    describe_until(&env, STEP, "one member owning all partitions", |rows| {
        rows.len() == PARTITIONS as usize
            && owners(rows).len() == 1
            && rows.values().all(|r| r.consumer_id.is_some())
    })
    .await;

    tokio::time::timeout(CATCH_UP, load)
        .await
        .expect("the load finished in time")
        .expect("load task");
    assert_eq!(sent_now(), EVENTS);
    let counts = env
        .wait_counts(CATCH_UP, "every record received", |c| {
            c.received >= EVENTS as i64
        })
        .await;

    // The golden calculation, exactly.
    let ends = env.end_offsets().await;
    assert_eq!(ends.len(), PARTITIONS as usize, "{}", env.topic);
    assert_eq!(
        ends.values().sum::<i64>(),
        EVENTS as i64,
        "records in the log = events sent (idempotent producer)"
    );
    let off = Expected::of_plan(&plan).mismatches(&counts, env.rows().await);
    assert!(off.is_empty(), "{}: {counts:?}", off.join("; "));

    // The group has caught up: LAG 0 on every partition, read with the Kafka CLI.
    describe_until(&env, STEP, "lag 0 on every partition", |rows| {
        lag_zero(rows, PARTITIONS)
    })
    .await;
    c1.terminate_cleanly().await;
    eprintln!(
        "scaling: 3 members at {sent_at_three} sent, back to 1 at {sent_at_scale_down} sent; \
         replayed after rebalances: {}; total {:.1?}",
        counts.replayed,
        started.elapsed()
    );
}

/// The LAG column of `consumer-groups --describe`: exactly the records produced while the group
/// had no member, then 0 on every partition once three consumers caught up.
#[tokio::test(flavor = "multi_thread")]
async fn group_lag_read_with_the_kafka_cli_reaches_zero() {
    let env = TestEnv::new("scalelag", PARTITIONS).await;
    let producer = env.producer();
    let first: Vec<_> = (0..120)
        .map(|i| event(&format!("lag.{}", i % 24), &format!("first-{i}")))
        .collect();
    producer.publish(&first).await.expect("publish");
    let c1 = env.spawn_consumer("c1").await;
    env.wait_counts(STEP, "the first 120 records", |c| c.received == 120)
        .await;
    describe_until(&env, STEP, "lag 0 after the first records", |rows| {
        lag_zero(rows, PARTITIONS)
    })
    .await;
    c1.terminate_cleanly().await;

    // No member: what is produced now is lag, partition by partition.
    let backlog: Vec<_> = (0..6_000)
        .map(|i| event(&format!("lag.{}", i % 24), &format!("backlog-{i}")))
        .collect();
    let acks = producer.publish(&backlog).await.expect("publish");
    let mut expected: BTreeMap<i32, i64> = BTreeMap::new();
    for ack in &acks {
        *expected.entry(ack.partition).or_default() += 1;
    }
    let rows = describe_until(&env, STEP, "the backlog as lag", |rows| {
        rows.values().filter_map(|r| r.lag).sum::<i64>() == 6_000
    })
    .await;
    for (partition, row) in &rows {
        assert_eq!(
            row.lag.unwrap_or(0),
            expected.get(partition).copied().unwrap_or(0),
            "partition {partition}: {row:?}"
        );
        assert!(row.consumer_id.is_none(), "no member: {row:?}");
    }

    let consumers = [
        env.spawn_consumer("c1b").await,
        env.spawn_consumer("c2").await,
        env.spawn_consumer("c3").await,
    ];
    let rows = describe_until(&env, CATCH_UP, "lag 0 with three consumers", |rows| {
        lag_zero(rows, PARTITIONS)
    })
    .await;
    assert_eq!(
        rows.values().filter_map(|r| r.log_end).sum::<i64>(),
        6_120,
        "{rows:?}"
    );
    let counts = env.counts().await;
    assert_eq!(fresh(&counts), (6_120, 6_120, 0, 0));
    assert_eq!(env.rows().await, 6_120);
    for consumer in consumers {
        consumer.terminate_cleanly().await;
    }
}
