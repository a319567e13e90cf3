//! A generated bad-input run against the real API: mutated events (wrong types, missing and
//! extra fields, huge strings, bad timestamps, odd unicode, nested junk), non-JSON bytes,
//! wrong content types, wrong methods, random paths and query strings. No answer may be a 5xx
//! (or a dropped connection), the process must survive, every error body must be JSON, and
//! nothing of the rejected requests may reach Kafka or PostgreSQL.
//!
//! Deterministic: the seed is printed; rerun one with `LOGAGG_FUZZ_SEED=<n>`, and change the
//! amount with `LOGAGG_FUZZ_REQUESTS=<n>` (default 3000).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod cases;

use futures::StreamExt;
use logagg_testkit::{event_json, http, wait_for, TestEnv};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

use cases::{generate, Case, MAX_BATCH, MAX_BODY};

const DEFAULT_SEED: u64 = 0x1065_a66f_0022;
const DEFAULT_REQUESTS: usize = 3000;
const CONCURRENCY: usize = 16;

#[tokio::test(flavor = "multi_thread")]
async fn generated_bad_input_never_causes_a_5xx_or_a_stored_event() {
    let seed = std::env::var("LOGAGG_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let count = std::env::var("LOGAGG_FUZZ_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_REQUESTS);
    println!("api_fuzz: seed {seed} (LOGAGG_FUZZ_SEED={seed} reproduces), {count} requests");
    let mut rng = StdRng::seed_from_u64(seed);
    let cases: Vec<Case> = (0..count).map(|_| generate(&mut rng)).collect();

    let (env, mut api) = TestEnv::with_api(
        "api_fuzz",
        3,
        &[
            ("LOGAGG_MAX_BATCH_EVENTS", MAX_BATCH.to_string()),
            ("LOGAGG_MAX_BODY_BYTES", MAX_BODY.to_string()),
            ("RUST_LOG", "warn".into()),
        ],
    )
    .await;
    let _consumer = env.spawn_consumer("c1").await;
    let marks_before = env.high_watermarks().await;

    let started = Instant::now();
    let base = api.url("");
    let results: Vec<(Case, u16, String, bool)> = futures::stream::iter(cases)
        .map(|case| {
            let base = base.clone();
            async move {
                let headers: Vec<(&str, &str)> = case
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let reply = http(
                    &case.method,
                    &format!("{base}{}", case.path),
                    &headers,
                    case.body.clone(),
                )
                .await;
                let json_error = reply.status < 400
                    || case.method == "HEAD"
                    || serde_json::from_slice::<Value>(&reply.body)
                        .is_ok_and(|b| b["error"].is_string());
                let text: String = reply.text().chars().take(300).collect();
                (case, reply.status, text, json_error)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut by_kind: BTreeMap<&str, BTreeMap<u16, usize>> = BTreeMap::new();
    let mut failures = Vec::new();
    for (case, status, text, json_error) in &results {
        *by_kind
            .entry(case.kind)
            .or_default()
            .entry(*status)
            .or_default() += 1;
        let bad = if *status == 0 {
            Some("no HTTP answer")
        } else if *status >= 500 {
            Some("5xx")
        } else if case.is_publish() && *status < 300 {
            Some("an invalid publish was accepted")
        } else if !json_error {
            Some("error body is not JSON with an error message")
        } else {
            None
        };
        if let Some(why) = bad {
            let body = case
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned());
            failures.push(format!(
                "{why}: {} {} {:?} body {body:?} -> {status} {text}",
                case.method, case.path, case.headers
            ));
        }
    }
    println!(
        "api_fuzz: {} requests in {elapsed:?}; statuses by kind: {by_kind:?}",
        results.len()
    );
    assert!(
        failures.is_empty(),
        "seed {seed}: {} bad answers, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    assert!(results.len() >= 1000);

    // The generator covers every refusal the API has (a degenerate generator fails here).
    let seen: BTreeMap<u16, usize> =
        by_kind
            .values()
            .flatten()
            .fold(BTreeMap::new(), |mut acc, (s, n)| {
                *acc.entry(*s).or_default() += n;
                acc
            });
    for status in [200, 400, 404, 405, 413, 415, 422] {
        assert!(
            seen.get(&status).is_some_and(|n| *n >= 5),
            "seed {seed}: status {status} seen {:?} times",
            seen.get(&status)
        );
    }

    assert!(
        api.is_running(),
        "logagg-api died during the run (log: {})",
        api.log.display()
    );
    assert_eq!(api.get("/health").await.0, 200);
    assert_eq!(
        env.high_watermarks().await,
        marks_before,
        "seed {seed}: a rejected request produced records"
    );

    // A valid event after the run goes through, and is the only thing ever stored.
    assert_eq!(
        api.publish(&event_json("sentinel", "after-fuzz"))
            .await
            .status,
        200
    );
    wait_for(Duration::from_secs(60), "the sentinel stored", || async {
        (api.get("/events/sentinel/after-fuzz").await.0 == 200).then_some(())
    })
    .await;
    assert_eq!(
        env.rows().await,
        1,
        "seed {seed}: only the sentinel is stored"
    );
    assert_eq!(
        env.counts().await.received,
        1,
        "seed {seed}: only the sentinel was ever consumed"
    );
}
