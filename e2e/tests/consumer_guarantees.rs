//! The consumer's promise against the real broker and PostgreSQL: every distinct
//! (topic, event_id) stored once and every counter exact, through duplicates everywhere,
//! SIGKILLs, a zombie consumer, offset replays and poison records.

use std::time::{Duration, Instant};

use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_testkit::tools::{group_members, reset_to_earliest};
use logagg_testkit::truth::assert_one_dead_letter;
use logagg_testkit::truth::fresh;
use logagg_testkit::{event, wait_for, TestEnv};

const TIMEOUT: Duration = Duration::from_secs(120);

fn bytes(topic: &str, id: &str) -> Vec<u8> {
    event(topic, id).to_json_bytes()
}

fn plan(events: usize, ratio: f64, seed: u64) -> LoadPlan {
    LoadPlan::new(LoadSpec {
        events,
        duplicate_ratio: ratio,
        topics: 16,
        payload_bytes: 64,
        seed,
        topic_prefix: "svc".into(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_within_and_across_batches_partitions_and_consumers() {
    let env = TestEnv::new("dups", 3).await;
    // Within one batch (same partition), across partitions, and one id under two topics.
    for (partition, topic, id) in [
        (0, "a", "1"),
        (0, "a", "1"),
        (1, "a", "1"),
        (0, "a", "2"),
        (2, "b", "2"),
    ] {
        env.produce_raw(Some(partition), Some(topic.as_bytes()), &bytes(topic, id))
            .await;
    }
    let c1 = env.spawn_consumer("c1").await;
    let counts = env
        .wait_counts(TIMEOUT, "5 records", |c| c.received == 5)
        .await;
    assert_eq!(fresh(&counts), (5, 3, 2, 0), "{counts:?}");

    // Across batches.
    env.produce_raw(Some(2), Some(b"a"), &bytes("a", "1")).await;
    let counts = env
        .wait_counts(TIMEOUT, "6 records", |c| c.received == 6)
        .await;
    assert_eq!(fresh(&counts), (6, 3, 3, 0), "{counts:?}");

    // Across consumers: a second member takes some partitions; the same keys go everywhere.
    // First c1's Kafka commit must have followed its database commit: a record stored but not
    // yet committed when the rebalance starts is legitimately read again and counted
    // `replayed`, which is not what this test is about.
    env.wait_committed_to_end(TIMEOUT).await;
    let c2 = env.spawn_consumer("c2").await;
    for partition in 0..3 {
        env.produce_raw(Some(partition), Some(b"a"), &bytes("a", "1"))
            .await;
        env.produce_raw(Some(partition), Some(b"c"), &bytes("c", "3"))
            .await;
    }
    let counts = env
        .wait_counts(TIMEOUT, "12 records", |c| c.received == 12)
        .await;
    assert_eq!(counts.unique_processed, 4, "{counts:?}");
    assert_eq!(counts.duplicate_dropped, 8, "{counts:?}");
    assert_eq!(counts.invalid + counts.replayed, 0, "{counts:?}");
    assert_eq!(env.rows().await, 4);
    assert!(c1.terminate().await.success());
    assert!(c2.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_ten_times_during_100k_events_loses_and_doubles_nothing() {
    let env = TestEnv::new("crash", 6).await;
    let plan = plan(100_000, 0.3, 11);
    let fast_session = [("LOGAGG_CONSUMER_SESSION_TIMEOUT_MS", "6000".to_string())];
    let mut consumers = vec![
        env.spawn_consumer_with("a", &fast_session).await,
        env.spawn_consumer_with("b", &fast_session).await,
    ];
    let sender = env.spawn_paced_sender(&plan, 2_000, Duration::from_millis(20));
    // Kill a consumer mid-flight at least 10 times, restarting it each time.
    let mut kills = 0;
    let started = Instant::now();
    while kills < 10 || !sender.is_finished() {
        // Kill only once the group made progress since the last kill (so each kill lands
        // while work is in flight, not during a stalled rebalance).
        let seen = env.counts().await;
        let seen = seen.received + seen.replayed;
        wait_for(TIMEOUT, "progress between kills", || async {
            let now = env.counts().await;
            (now.received + now.replayed > seen || now.received >= 100_000).then_some(())
        })
        .await;
        let victim = consumers.remove(kills % 2);
        victim.signal("KILL");
        victim.kill();
        kills += 1;
        consumers.insert(
            kills % 2,
            env.spawn_consumer_with(&format!("r{kills}"), &fast_session)
                .await,
        );
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "crash loop took too long"
        );
    }
    sender.await.expect("sender");
    assert!(kills >= 10);
    env.assert_golden(&plan, Duration::from_secs(300)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn zombie_consumer_stalled_past_its_session_keeps_counters_exact() {
    let env = TestEnv::new("zombie", 3).await;
    let plan = plan(30_000, 0.3, 5);
    let fast_session = [("LOGAGG_CONSUMER_SESSION_TIMEOUT_MS", "6000".to_string())];
    let zombie = env.spawn_consumer_with("zombie", &fast_session).await;
    let sender = env.spawn_paced_sender(&plan, 500, Duration::from_millis(25));
    env.wait_counts(TIMEOUT, "the first consumer at work", |c| {
        c.received > 2_000
    })
    .await;
    // Freeze it (possibly inside a batch transaction) until the group expels it.
    zombie.signal("STOP");
    let successor = env.spawn_consumer_with("successor", &fast_session).await;
    wait_for(TIMEOUT, "the stalled member to be expelled", || async {
        (group_members(&env.group) == 1).then_some(())
    })
    .await;
    // Wake the zombie: it finishes its stale batch against rows the successor moved on.
    zombie.signal("CONT");
    sender.await.expect("sender");
    env.assert_golden(&plan, TIMEOUT).await;
    drop(successor);
    drop(zombie);
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_with_kafkas_tool_counts_replayed_and_restores_deleted_rows() {
    let env = TestEnv::new("replay", 3).await;
    let plan = plan(3_000, 0.2, 9);
    env.send_plan(&plan).await;
    let consumer = env.spawn_consumer("first").await;
    env.assert_golden(&plan, TIMEOUT).await;
    assert!(consumer.terminate().await.success(), "SIGTERM exits 0");

    let out = reset_to_earliest(&env.group, &env.topic);
    assert!(out.contains(&env.topic), "{out}");
    let consumer = env.spawn_consumer("replay1").await;
    let counts = env
        .wait_counts(TIMEOUT, "3000 replayed", |c| c.replayed >= 3_000)
        .await;
    assert_eq!(counts.replayed, 3_000, "{counts:?}");
    assert_eq!(
        counts.received, 3_000,
        "fresh counters unchanged: {counts:?}"
    );
    assert_eq!(counts.unique_processed, plan.distinct as i64);
    assert_eq!(env.rows().await, plan.distinct as i64);
    assert!(consumer.terminate().await.success());

    // Lose some rows, replay again: they come back, fresh counters still unchanged.
    let deleted = env.execute("DELETE FROM events WHERE id % 7 = 0").await;
    assert!(deleted > 100);
    reset_to_earliest(&env.group, &env.topic);
    let consumer = env.spawn_consumer("replay2").await;
    let counts = env
        .wait_counts(TIMEOUT, "6000 replayed", |c| c.replayed >= 6_000)
        .await;
    assert_eq!(counts.replayed, 6_000);
    assert_eq!(
        (counts.received, counts.unique_processed),
        (3_000, plan.distinct as i64)
    );
    assert_eq!(
        env.rows().await,
        plan.distinct as i64,
        "deleted rows restored"
    );
    assert!(consumer.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_records_from_kcat_are_dead_lettered_and_the_partition_flows() {
    let env = TestEnv::new("poison", 1).await;
    let valid = String::from_utf8(bytes("orders", "ok-1")).unwrap();
    let lines = [
        "orders|{not json".to_string(),
        r#"orders|{"topic":"orders","source":"x"}"#.to_string(),
        r#"orders|{"topic":"orders","event_id":7,"timestamp":true,"source":"x"}"#.to_string(),
        format!("elsewhere|{valid}"),
        format!("orders|{valid}"),
    ];
    let mut kcat = std::process::Command::new("kcat");
    kcat.args([
        "-P",
        "-b",
        &logagg_testkit::services::brokers(),
        "-t",
        &env.topic,
        "-K",
        "|",
        "-p",
        "0",
    ]);
    let input = lines.join("\n") + "\n";
    let produced = logagg_testkit::process::run_with_stdin(&mut kcat, input.as_bytes())
        .expect("kcat (make up installs it)");
    assert!(produced.status.success(), "{produced:?}");

    let _consumer = env.spawn_consumer("c").await;
    let counts = env
        .wait_counts(TIMEOUT, "5 records", |c| c.received == 5)
        .await;
    assert_eq!(fresh(&counts), (5, 1, 0, 4), "{counts:?}");
    let mut conn = env.pool.get().await.unwrap();
    let letters: Vec<_> = logagg_core::db::dead_letters::list(&mut conn, &env.group)
        .await
        .unwrap()
        .into_iter()
        .map(|stored| stored.letter)
        .collect();
    let offsets: Vec<i64> = letters.iter().map(|l| l.kafka_offset).collect();
    assert_eq!(offsets, [0, 1, 2, 3]);
    assert_eq!(letters[0].record_value.as_deref(), Some(&b"{not json"[..]));
    assert_eq!(letters[0].record_key.as_deref(), Some(&b"orders"[..]));
    let reasons = [
        "not valid JSON",
        "event_id: is required",
        "expected a string",
        "differs",
    ];
    for (letter, reason) in letters.iter().zip(reasons) {
        assert!(letter.error.contains(reason), "{reason}: {}", letter.error);
    }
    assert_eq!(env.rows().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_postgres_refuses_is_dead_lettered_not_retried_forever() {
    let env = TestEnv::new("dbpoison", 1).await;
    // A rule validation cannot know about (here a trigger) makes PostgreSQL refuse one event.
    env.execute(
        "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
           IF NEW.event_id = 'poison' THEN RAISE EXCEPTION 'refused by policy'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql",
    )
    .await;
    env.execute(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON events \
         FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    )
    .await;
    for id in ["ok-1", "poison", "ok-2", "ok-1"] {
        env.produce_raw(Some(0), Some(b"a"), &bytes("a", id)).await;
    }
    let _consumer = env.spawn_consumer("c").await;
    let counts = env
        .wait_counts(TIMEOUT, "4 records past the poison one", |c| {
            c.received == 4
        })
        .await;
    assert_eq!(fresh(&counts), (4, 2, 1, 1), "{counts:?}");
    assert_eq!(env.rows().await, 2);
    let mut conn = env.pool.get().await.unwrap();
    let letters = logagg_core::db::dead_letters::list(&mut conn, &env.group)
        .await
        .unwrap();
    assert_one_dead_letter(&letters, 1, "refused by policy");
}
