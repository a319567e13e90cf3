//! The API during a broker outage. It stops the shared local Kafka broker, so it lives in the
//! `disruptive` test binary, and always starts the broker again, even when an assertion fails.

use std::process::Command;
use std::time::{Duration, Instant};

use logagg_testkit::process::script;
use logagg_testkit::{event_json, http, root, wait_for, HttpReply, Service, TestEnv};
use serde_json::Value;

const PUBLISH_TIMEOUT: Duration = Duration::from_millis(3000);
/// Room above the publish timeout for the HTTP round trip and scheduling.
const MARGIN: Duration = Duration::from_millis(1500);
const RECOVERY: Duration = Duration::from_secs(120);

/// Stops the broker; starts it again when dropped unless `start` already did.
struct BrokerOutage {
    down: bool,
}

impl BrokerOutage {
    fn begin() -> Self {
        let outage = Self { down: true };
        script("scripts/kafka.sh", &["stop"]);
        outage
    }

    fn end(&mut self) {
        script("scripts/kafka.sh", &["start"]);
        self.down = false;
    }
}

impl Drop for BrokerOutage {
    fn drop(&mut self) {
        if self.down {
            // No panicking here (we may be unwinding already): report and carry on.
            match Command::new("bash")
                .arg(root().join("scripts/kafka.sh"))
                .arg("start")
                .status()
            {
                Ok(status) if status.success() => {}
                other => eprintln!("could not restart the broker after the outage test: {other:?}"),
            }
        }
    }
}

async fn timed_publish(api: &Service, body: &Value) -> (HttpReply, Duration) {
    let started = Instant::now();
    let reply = api.publish(body).await;
    (reply, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_answers_503_while_the_broker_is_down_then_succeeds_once_it_is_back() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let (env, api) = TestEnv::with_api(
        "api_outage",
        3,
        &[(
            "LOGAGG_PUBLISH_TIMEOUT_MS",
            PUBLISH_TIMEOUT.as_millis().to_string(),
        )],
    )
    .await;
    let _consumer = env.spawn_consumer("c1").await;
    let event = event_json("outage", "during-outage-1");
    // The producer is connected and warm before the outage.
    assert_eq!(
        api.publish(&event_json("outage", "before-1")).await.status,
        200
    );

    let mut outage = BrokerOutage::begin();

    for attempt in 0..2 {
        let (reply, elapsed) = timed_publish(&api, &event).await;
        assert_eq!(reply.status, 503, "attempt {attempt}: {}", reply.text());
        assert!(
            elapsed <= PUBLISH_TIMEOUT + MARGIN,
            "attempt {attempt}: 503 after {elapsed:?}, the bound is {PUBLISH_TIMEOUT:?} + {MARGIN:?}"
        );
        let retry_after = reply.header("retry-after").expect("Retry-After on 503");
        assert!(
            retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
            "Retry-After {retry_after:?}"
        );
        let body = reply.json();
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("broker")),
            "{body}"
        );
    }

    let health = http("GET", &api.url("/health"), &[], None).await;
    assert_eq!(health.status, 503, "{}", health.text());
    let health = health.json();
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_eq!(
        health["broker"]["status"], "down",
        "the failing part is named: {health}"
    );
    assert_eq!(health["database"], "ok", "{health}");
    // Reads from PostgreSQL keep working without the broker.
    assert_eq!(api.get("/events?topic=outage").await.0, 200);
    let (status, stats) = api.get("/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert!(api.get("/healthz").await.0 == 200);

    outage.end();

    // The same request succeeds once the broker is back (the client retries, as told).
    let accepted = wait_for(
        RECOVERY,
        "POST /publish accepted after the broker restart",
        || async {
            let reply = api.publish(&event).await;
            assert!(
                reply.status == 200 || reply.status == 503,
                "only 200 or 503 while the broker comes back, got {}: {}",
                reply.status,
                reply.text()
            );
            (reply.status == 200).then(|| reply.json())
        },
    )
    .await;
    assert_eq!(accepted["accepted"], 1, "{accepted}");
    api.wait_health_status(200, RECOVERY).await;

    // Stored exactly once, however many of the failed attempts still reached the log.
    wait_for(RECOVERY, "every record of the topic consumed", || async {
        let written = env.high_watermarks().await;
        (env.counts().await.received == written).then_some(())
    })
    .await;
    let counts = env.counts().await;
    assert_eq!(
        counts.unique_processed, 2,
        "before-1 and during-outage-1: {counts:?}"
    );
    assert_eq!(counts.duplicate_dropped, counts.received - 2, "{counts:?}");
    assert_eq!(env.rows().await, 2);
    let (status, stored) = api.get("/events/outage/during-outage-1").await;
    assert_eq!(status, 200);
    assert_eq!(stored["event_id"], "during-outage-1");
}
