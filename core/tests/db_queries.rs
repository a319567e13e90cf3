//! The database tier: core's queries straight against PostgreSQL (a database cloned from the
//! migrated template per test, no broker, no process), asserting what each returns and what it
//! leaves behind: the deduplicating insert, progress locking (including two transactions on
//! one partition), counters, and dead letters.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use logagg_core::db::counters::{self, TopicCounts, TopicDelta};
use logagg_core::db::dead_letters::{self, DeadLetter};
use logagg_core::db::events::{self, NewEvent};
use logagg_core::db::group_state;
use logagg_core::db::progress::{self, Counts};
use logagg_testkit::{wait_for, TestDatabase};
use serde_json::json;

const GROUP: &str = "g";
const KAFKA_TOPIC: &str = "events";

fn row(topic: &str, event_id: &str, partition: i32, offset: i64) -> NewEvent {
    NewEvent {
        topic: topic.into(),
        event_id: event_id.into(),
        source: "db-tier".into(),
        event_timestamp: Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap(),
        payload: json!({"offset": offset}),
        kafka_partition: partition,
        kafka_offset: offset,
    }
}

async fn execute(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_new_stores_each_key_once_and_returns_only_the_new_ones() {
    let db = TestDatabase::new("insert_new").await;
    let mut conn = db.conn().await;
    let inserted = events::insert_new(
        &mut conn,
        &[
            row("a", "1", 0, 0),
            row("a", "2", 0, 1),
            row("b", "1", 1, 0),
        ],
    )
    .await
    .expect("insert");
    let mut keys = inserted.clone();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("a".into(), "1".into()),
            ("a".into(), "2".into()),
            ("b".into(), "1".into())
        ]
    );

    // One known key, one new: only the new one is reported and stored; the first copy wins.
    let inserted = events::insert_new(&mut conn, &[row("a", "1", 2, 9), row("a", "3", 2, 10)])
        .await
        .expect("insert");
    assert_eq!(inserted, [("a".to_owned(), "3".to_owned())]);
    assert_eq!(events::count(&mut conn).await.unwrap(), 4);
    let stored = events::find(&mut conn, "a", "1")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!((stored.partition, stored.offset), (0, 0));
    assert_eq!(stored.payload, json!({"offset": 0}));
    assert!(events::find(&mut conn, "b", "2").await.unwrap().is_none());

    // Past one statement's chunk: every row is still inserted exactly once.
    let many: Vec<NewEvent> = (0..events::INSERT_CHUNK_ROWS as i64 + 5)
        .map(|i| row("bulk", &i.to_string(), 3, i))
        .collect();
    let inserted = events::insert_new(&mut conn, &many).await.expect("bulk");
    assert_eq!(inserted.len(), many.len());
    assert!(events::insert_new(&mut conn, &many)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        events::count(&mut conn).await.unwrap(),
        4 + many.len() as i64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_rows_are_created_locked_advanced_and_summed() {
    let db = TestDatabase::new("progress").await;
    let mut conn = db.conn().await;
    let next = progress::lock(&mut conn, GROUP, KAFKA_TOPIC, &[2, 0, 2])
        .await
        .expect("lock");
    assert_eq!(
        next,
        BTreeMap::from([(0, 0), (2, 0)]),
        "new rows start at offset 0"
    );

    let counts = Counts {
        received: 7,
        unique_processed: 4,
        duplicate_dropped: 2,
        invalid: 1,
        replayed: 3,
        lost: 5,
    };
    progress::advance(&mut conn, GROUP, KAFKA_TOPIC, 0, 10, &counts)
        .await
        .expect("advance");
    progress::advance(&mut conn, GROUP, KAFKA_TOPIC, 0, 12, &counts)
        .await
        .expect("advance");
    let next = progress::lock(&mut conn, GROUP, KAFKA_TOPIC, &[0, 1, 2])
        .await
        .expect("lock");
    assert_eq!(next, BTreeMap::from([(0, 12), (1, 0), (2, 0)]));

    let rows = progress::all(&mut conn, GROUP, KAFKA_TOPIC).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.kafka_partition).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let mut doubled = counts;
    doubled.add(&counts);
    assert_eq!(
        rows[0].counts, doubled,
        "advance adds, it does not overwrite"
    );
    assert_eq!(rows[1].counts, Counts::default());
    assert!(progress::all(&mut conn, "other", KAFKA_TOPIC)
        .await
        .unwrap()
        .is_empty());

    let forgotten = group_state::forget(&mut conn, GROUP, KAFKA_TOPIC)
        .await
        .unwrap();
    assert!(
        forgotten.contains(&("partition_progress", 3)),
        "{forgotten:?}"
    );
    assert!(progress::all(&mut conn, GROUP, KAFKA_TOPIC)
        .await
        .unwrap()
        .is_empty());
}

#[derive(diesel::QueryableByName)]
struct Waiting {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Two consumers that briefly own the same partition serialize on its progress row: the
/// second `lock` waits until the first transaction commits, then sees its new next offset.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_lock_on_a_partition_waits_for_the_first_transaction() {
    let db = TestDatabase::new("lock").await;
    let mut first = db.connect().await;
    execute(&mut first, "BEGIN").await;
    progress::lock(&mut first, GROUP, KAFKA_TOPIC, &[0])
        .await
        .expect("first lock");

    let url = db.url.clone();
    let second = tokio::spawn(async move {
        use diesel_async::AsyncConnection;
        let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
        execute(&mut conn, "BEGIN").await;
        let next = progress::lock(&mut conn, GROUP, KAFKA_TOPIC, &[0])
            .await
            .expect("second lock");
        execute(&mut conn, "COMMIT").await;
        next
    });

    // The second transaction is blocked on the row lock (PostgreSQL says so), not just slow.
    let sql = format!(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = '{}' AND wait_event_type = 'Lock'",
        db.name
    );
    wait_for(
        Duration::from_secs(30),
        "the second lock to wait",
        || async {
            let waiting: Waiting = diesel::sql_query(&sql)
                .get_result(&mut db.conn().await)
                .await
                .expect("pg_stat_activity");
            (waiting.n == 1).then_some(())
        },
    )
    .await;
    assert!(!second.is_finished());

    progress::advance(&mut first, GROUP, KAFKA_TOPIC, 0, 42, &Counts::default())
        .await
        .expect("advance");
    execute(&mut first, "COMMIT").await;
    let next = tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .expect("the second lock is granted after the commit")
        .expect("task");
    assert_eq!(next, BTreeMap::from([(0, 42)]));
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_counters_add_up_per_event_topic_across_partitions() {
    let db = TestDatabase::new("counters").await;
    let mut conn = db.conn().await;
    let delta = |partition: i32, topic: &str, received: i64, unique: i64| TopicDelta {
        received,
        unique_processed: unique,
        duplicate_dropped: received - unique,
        ..TopicDelta::new(GROUP, KAFKA_TOPIC, partition, topic)
    };
    counters::add(&mut conn, &[delta(0, "a", 3, 2), delta(1, "a", 1, 1)])
        .await
        .unwrap();
    counters::add(&mut conn, &[delta(0, "a", 2, 0), delta(0, "b", 1, 1)])
        .await
        .unwrap();
    counters::add(&mut conn, &[]).await.unwrap();
    let by_topic = counters::by_topic(&mut conn, GROUP, KAFKA_TOPIC)
        .await
        .unwrap();
    assert_eq!(
        by_topic,
        [
            (
                "a".to_owned(),
                TopicCounts {
                    received: 6,
                    unique_processed: 3,
                    duplicate_dropped: 3,
                    replayed: 0,
                    ..TopicCounts::default()
                }
            ),
            (
                "b".to_owned(),
                TopicCounts {
                    received: 1,
                    unique_processed: 1,
                    duplicate_dropped: 0,
                    replayed: 0,
                    ..TopicCounts::default()
                }
            ),
        ]
    );
    assert!(counters::by_topic(&mut conn, "other", KAFKA_TOPIC)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_is_parked_once_even_when_replayed() {
    let db = TestDatabase::new("dead_letters").await;
    let mut conn = db.conn().await;
    let letter = |offset: i64| DeadLetter {
        consumer_group: GROUP.into(),
        kafka_topic: KAFKA_TOPIC.into(),
        kafka_partition: 0,
        kafka_offset: offset,
        record_key: Some(b"k".to_vec()),
        record_value: Some(b"{not json".to_vec()),
        error: "value is not valid JSON".into(),
    };
    assert_eq!(
        dead_letters::insert(&mut conn, &[letter(3), letter(1)])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        dead_letters::insert(&mut conn, &[letter(3)]).await.unwrap(),
        0
    );
    assert_eq!(dead_letters::insert(&mut conn, &[]).await.unwrap(), 0);
    let parked = dead_letters::list(&mut conn, GROUP).await.unwrap();
    assert_eq!(
        parked
            .iter()
            .map(|l| l.letter.kafka_offset)
            .collect::<Vec<_>>(),
        [3, 1],
        "oldest (first parked) first"
    );
    assert_eq!(
        parked[1].letter.record_value.as_deref(),
        Some(&b"{not json"[..])
    );
    assert!(dead_letters::list(&mut conn, "other")
        .await
        .unwrap()
        .is_empty());
}
