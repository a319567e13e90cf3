//! The database tier for the consumer: `store::write_batch` (the one-transaction batch write)
//! and its poison isolation, called directly against a database cloned from the migrated
//! template (no broker, no process), asserting the tally it returns and what it leaves in
//! `events`, `partition_progress`, `topic_counters` and `dead_letters`.

use logagg_consumer::batch::{decode, DecodedRecord, RawRecord, Tally};
use logagg_consumer::store::BatchStore;
use logagg_core::db::progress::{self, Counts};
use logagg_core::db::{counters, dead_letters, events, DbError};
use logagg_testkit::truth::assert_one_dead_letter;
use logagg_testkit::{event, TestDatabase};

const GROUP: &str = "g";
const KAFKA_TOPIC: &str = "events";

/// A record as Kafka would deliver it: key = the event topic, value = the event JSON.
fn record(partition: i32, offset: i64, topic: &str, event_id: &str) -> RawRecord {
    RawRecord {
        partition,
        offset,
        key: Some(topic.as_bytes().to_vec()),
        value: Some(event(topic, event_id).to_json_bytes()),
    }
}

/// Partition 0: a/1, a/1 again, a record that is not JSON, a/2; partition 1: b/1.
fn first_batch() -> Vec<DecodedRecord> {
    decode(vec![
        record(0, 0, "a", "1"),
        record(0, 1, "a", "1"),
        RawRecord {
            partition: 0,
            offset: 2,
            key: Some(b"a".to_vec()),
            value: Some(b"{not json".to_vec()),
        },
        record(0, 3, "a", "2"),
        record(1, 0, "b", "1"),
    ])
}

async fn progress_by_partition(db: &TestDatabase) -> Vec<(i32, i64, Counts)> {
    let rows = progress::all(&mut *db.conn().await, GROUP, KAFKA_TOPIC)
        .await
        .expect("progress");
    rows.iter()
        .map(|r| (r.kafka_partition, r.next_offset, r.counts))
        .collect()
}

fn store(db: &TestDatabase) -> BatchStore {
    BatchStore {
        pool: db.pool.clone(),
        group: GROUP.into(),
        topic: KAFKA_TOPIC.into(),
    }
}

/// `write_batch` on the test's store, keeping only the tally.
async fn write(db: &TestDatabase, records: &[DecodedRecord]) -> Result<Tally, DbError> {
    store(db).write_batch(records).await.map(|(tally, _)| tally)
}

fn counts(received: i64, unique: i64, duplicates: i64, invalid: i64, replayed: i64) -> Counts {
    Counts {
        received,
        unique_processed: unique,
        duplicate_dropped: duplicates,
        invalid,
        replayed,
        lost: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_batch_is_counted_stored_and_its_offsets_advanced() {
    let db = TestDatabase::new("write_batch").await;
    let tally = write(&db, &first_batch()).await.expect("write");
    assert_eq!(tally.total, counts(5, 3, 1, 1, 0));

    let mut conn = db.conn().await;
    assert_eq!(events::count(&mut conn).await.unwrap(), 3);
    assert_eq!(
        progress_by_partition(&db).await,
        [(0, 4, counts(4, 2, 1, 1, 0)), (1, 1, counts(1, 1, 0, 0, 0))]
    );
    let letters = dead_letters::list(&mut conn, GROUP).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (
            letters[0].letter.kafka_partition,
            letters[0].letter.kafka_offset
        ),
        (0, 2)
    );
    assert!(
        letters[0].letter.error.contains("not valid JSON"),
        "{}",
        letters[0].letter.error
    );
    let by_topic = counters::by_topic(&mut conn, GROUP, KAFKA_TOPIC)
        .await
        .unwrap();
    let a = &by_topic.iter().find(|(t, _)| t == "a").expect("topic a").1;
    assert_eq!((a.unique_processed, a.duplicate_dropped), (2, 1));
    let b = &by_topic.iter().find(|(t, _)| t == "b").expect("topic b").1;
    assert_eq!((b.received, b.unique_processed), (1, 1));

    // The next batch continues the partition: a key stored by the first is a duplicate.
    let next = decode(vec![record(0, 4, "a", "2"), record(0, 5, "a", "3")]);
    let tally = write(&db, &next).await.expect("write");
    assert_eq!(tally.total, counts(2, 1, 1, 0, 0));
    assert_eq!(progress_by_partition(&db).await[0].1, 6);
    assert_eq!(events::count(&mut conn).await.unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_batch_counts_as_replayed_and_restores_lost_rows() {
    let db = TestDatabase::new("replay").await;
    write(&db, &first_batch()).await.expect("write");
    let before = progress_by_partition(&db).await;
    let mut conn = db.conn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("DELETE FROM events WHERE event_id = '2'"),
        &mut conn,
    )
    .await
    .expect("delete");
    assert_eq!(events::count(&mut conn).await.unwrap(), 2);

    let tally = write(&db, &first_batch()).await.expect("replay");
    assert_eq!(tally.total, counts(0, 0, 0, 0, 5), "only `replayed` moves");
    assert_eq!(
        events::count(&mut conn).await.unwrap(),
        3,
        "the lost row is back"
    );
    let after = progress_by_partition(&db).await;
    for ((p, next, was), (q, next_after, now)) in before.iter().zip(&after) {
        assert_eq!((p, next), (q, next_after), "offsets do not move backwards");
        let mut expected = *was;
        expected.replayed = now.replayed;
        assert_eq!(*now, expected, "fresh counters unchanged on partition {p}");
    }
    assert_eq!(
        dead_letters::list(&mut conn, GROUP).await.unwrap().len(),
        1,
        "a replayed poison record is parked once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_batch_leaves_nothing_and_poison_isolation_parks_the_refused_record() {
    let db = TestDatabase::new("poison").await;
    let mut conn = db.conn().await;
    for sql in [
        "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
           IF NEW.event_id = 'poison' THEN RAISE EXCEPTION 'refused by policy'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON events \
         FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ] {
        diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn)
            .await
            .expect(sql);
    }
    let batch = decode(vec![
        record(0, 0, "a", "ok-1"),
        record(0, 1, "a", "poison"),
        record(0, 2, "a", "ok-2"),
    ]);
    let error = write(&db, &batch)
        .await
        .expect_err("PostgreSQL refuses the batch");
    assert!(error.to_string().contains("refused by policy"), "{error}");
    assert_eq!(events::count(&mut conn).await.unwrap(), 0, "rolled back");
    assert!(
        progress_by_partition(&db).await.is_empty(),
        "no offset moved"
    );
    assert!(dead_letters::list(&mut conn, GROUP)
        .await
        .unwrap()
        .is_empty());

    let tally = store(&db)
        .write_isolating_poison(&batch)
        .await
        .map(|(tally, _)| tally)
        .expect("isolated");
    assert_eq!(tally.total, counts(3, 2, 0, 1, 0));
    assert_eq!(events::count(&mut conn).await.unwrap(), 2);
    assert_eq!(
        progress_by_partition(&db).await,
        [(0, 3, counts(3, 2, 0, 1, 0))]
    );
    let letters = dead_letters::list(&mut conn, GROUP).await.unwrap();
    assert_one_dead_letter(&letters, 1, "refused by policy");
}
