//! Issue 17, the first hour: a typo in LOGAGG_KAFKA_TOPIC creates no topic. The API's /health
//! fails naming the missing topic and publishing is refused; the consumer stops at start with
//! a message naming it; and the topic still does not exist afterwards.

use std::time::{Duration, Instant};

use logagg_testkit::services::brokers;
use logagg_testkit::{event_json, free_port, wait_for, Service, TestEnv};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

/// Whether the broker lists `topic` (a consumer's metadata request never creates one).
fn topic_exists(topic: &str) -> bool {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("allow.auto.create.topics", "false")
        .create()
        .expect("metadata client");
    let metadata = client
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    metadata.topics().iter().any(|t| t.name() == topic)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mistyped_topic_is_never_created_and_is_named() {
    let env = TestEnv::new("typo_topic", 1).await;
    let typo = format!("{}.typo", env.topic);
    let mut vars = env.vars();
    vars.retain(|(k, _)| k != "LOGAGG_KAFKA_TOPIC");
    vars.push(("LOGAGG_KAFKA_TOPIC".into(), typo.clone()));
    let binary = |name: &str| env.services.binary(name).expect("built binaries");
    let log = |label: &str| {
        env.services
            .log_dir
            .join(format!("{}-{label}.log", env.name))
    };

    let port = free_port().expect("free port");
    let mut api_vars = vars.clone();
    api_vars.push(("LOGAGG_API_ADDR".into(), format!("127.0.0.1:{port}")));
    api_vars.push(("LOGAGG_PUBLISH_TIMEOUT_MS".into(), "2000".into()));
    let api = Service::spawn(&binary("logagg-api"), port, &api_vars, log("api")).expect("api");
    let (status, body) = wait_for(Duration::from_secs(30), "/health to answer", || async {
        let reply = reqwest::get(api.url("/health")).await.ok()?;
        let status = reply.status().as_u16();
        Some((status, reply.text().await.ok()?))
    })
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains(&typo) && body.contains("does not exist"),
        "/health names the missing topic: {body}"
    );
    let reply = api.publish(&event_json("orders", "typo-1")).await;
    assert_ne!(reply.status, 200, "{}", reply.text());

    let mut consumer_vars = vars.clone();
    consumer_vars.push((
        "LOGAGG_CONSUMER_ADDR".into(),
        format!("127.0.0.1:{}", free_port().expect("free port")),
    ));
    let started = Instant::now();
    let mut consumer = Service::spawn(
        &binary("logagg-consumer"),
        0,
        &consumer_vars,
        log("consumer"),
    )
    .expect("consumer");
    while consumer.is_running() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the consumer keeps running on a missing topic"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(&consumer.log).expect("consumer log");
    assert!(
        log.contains(&typo) && log.contains("does not exist"),
        "the consumer names the missing topic: {log}"
    );
    assert!(!topic_exists(&typo), "{typo} was created");
    assert!(topic_exists(&env.topic), "the check sees real topics");
}
