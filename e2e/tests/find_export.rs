//! The NDJSON export: a million rows (bulk-generated with SQL in the test's own database)
//! streamed with an exact count, in order, from one snapshot (rows deleted midway are still
//! exported), while logagg-api's peak RSS stays at or below 100 MB.

use std::time::{Duration, Instant};

use logagg_testkit::TestEnv;

const ROWS: i64 = 1_000_000;
const PEAK_RSS_LIMIT_KB: u64 = 100 * 1024;

async fn generate(env: &TestEnv) {
    // The export reads by id; the GIN indexes only slow this bulk insert down, and this
    // database is thrown away after the test.
    env.execute("DROP INDEX events_search_trgm_idx").await;
    env.execute("DROP INDEX events_payload_idx").await;
    let step = 250_000;
    for lo in (1..=ROWS).step_by(step as usize) {
        let hi = lo + step - 1;
        env.execute(&format!(
            "INSERT INTO events (topic, event_id, source, event_timestamp, payload, kafka_partition, kafka_offset) \
             SELECT 'bulk.' || (g % 10), 'e-' || g, 'gen', timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', \
                    jsonb_build_object('seq', g, 'msg', 'bulk row ' || g), 0, g \
             FROM generate_series({lo}, {hi}) g"
        ))
        .await;
    }
    assert_eq!(env.rows().await, ROWS);
}

/// Reads an NDJSON body to its end: (lines, whether ids strictly decrease).
async fn read_all(mut response: reqwest::Response, on_first_chunk: impl FnOnce()) -> (i64, bool) {
    let (mut lines, mut descending, mut previous) = (0i64, true, i64::MAX);
    let mut partial = Vec::new();
    let mut hook = Some(on_first_chunk);
    while let Some(chunk) = response.chunk().await.expect("export body") {
        if let Some(hook) = hook.take() {
            hook();
        }
        partial.extend_from_slice(&chunk);
        let complete = partial
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        for line in partial[..complete]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            #[derive(serde::Deserialize)]
            struct Row {
                id: i64,
            }
            let row: Row = serde_json::from_slice(line).expect("an NDJSON line");
            descending &= row.id < previous;
            previous = row.id;
            lines += 1;
        }
        partial.drain(..complete);
    }
    assert!(partial.is_empty(), "the body ends with a newline");
    (lines, descending)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_rows_export_exactly_in_constant_memory() {
    let started = Instant::now();
    let env = TestEnv::new("export", 1).await;
    generate(&env).await;
    let api = env.spawn_api().await;

    let response = reqwest::Client::new()
        .get(api.url("/events/export"))
        .send()
        .await
        .expect("export");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    // Once the export has begun, delete rows it has not reached yet (the lowest ids): the
    // export's snapshot still holds them.
    let url = env.database_url.clone();
    let (lines, descending) = read_all(response, move || {
        std::thread::spawn(move || {
            let status = std::process::Command::new("psql")
                .arg(url)
                .args(["-qc", "DELETE FROM events WHERE id <= 1000"])
                .status()
                .expect("psql");
            assert!(status.success());
        });
    })
    .await;
    assert_eq!(lines, ROWS, "every row, exactly once");
    assert!(descending, "newest first, like GET /events");
    wait_deleted(&env).await;

    // The same query through Accept on GET /events, filtered.
    let response = reqwest::Client::new()
        .get(api.url("/events?topic=bulk.3"))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .expect("filtered export");
    assert_eq!(response.status().as_u16(), 200);
    let (lines, _) = read_all(response, || {}).await;
    assert_eq!(lines, (ROWS - 1000) / 10);

    let peak = api.peak_rss_bytes() / 1024;
    assert!(
        peak <= PEAK_RSS_LIMIT_KB,
        "logagg-api peak RSS {peak} kB > {PEAK_RSS_LIMIT_KB} kB"
    );
    eprintln!(
        "exported {ROWS} rows; api peak RSS {} MB; test took {:?}",
        peak / 1024,
        started.elapsed()
    );
}

/// The deletion ran (so the first export really raced it).
async fn wait_deleted(env: &TestEnv) {
    logagg_testkit::wait_for(Duration::from_secs(30), "the midway delete", || async {
        (env.rows().await == ROWS - 1000).then_some(())
    })
    .await;
}
