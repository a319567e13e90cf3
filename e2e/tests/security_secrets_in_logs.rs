//! No password and no token in any log of the e2e run: this test runs a secured flow of its
//! own with debug logging (SASL_SSL, PostgreSQL TLS with a password, API tokens, a start
//! refused for a wrong password), then greps every service log under target/e2e-logs (the
//! logs of the tests that ran before it too: cargo runs test files in name order, and this
//! one comes after the other security tests) for every secret the tests use.

use crate::security_kit;

use std::time::Duration;

use logagg_testkit::{event_json, http, root, TestEnv};
use security_kit::{grant_tls_role, password, sasl_ssl_vars, spawn, wait_exit};

/// Tokens and passwords the e2e tests hand to the services (security_access.rs and
/// api_contract.rs included).
const TEST_SECRETS: &[&str] = &[
    "pub-7c1e0b1a-token",
    "read-5d2f9e3b-token",
    "admin-9a8b7c6d-token",
    "limited-1f2e3d4c-token",
    "env-4b5a6978-token",
    "unknown-0000-token",
    "read-replacement-77-token",
    "wr0ng-Pa55word-not-logged",
    "s3cret-token",
    "logs-only-token-31f9",
];

#[tokio::test(flavor = "multi_thread")]
async fn no_log_of_the_run_contains_a_password_or_a_token() {
    let env = TestEnv::new("sec_logs", 1).await;
    let token = "logs-only-token-31f9";
    let mut vars = sasl_ssl_vars();
    vars.push(("DATABASE_URL", grant_tls_role(&env).await));
    vars.push(("LOGAGG_API_TOKEN", token.into()));
    vars.push((
        "RUST_LOG",
        "debug,hyper=info,h2=info,tokio_postgres=debug".into(),
    ));
    let api = env.spawn_api_with(&vars).await;
    let _consumer = env.spawn_consumer_with("c1", &vars).await;
    let reply = http(
        "POST",
        &api.url("/publish"),
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {token}")),
        ],
        Some(serde_json::to_vec(&event_json("logs", "e-1")).expect("json")),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    env.wait_counts(Duration::from_secs(60), "the event stored", |c| {
        c.received >= 1
    })
    .await;
    let wrong: Vec<_> = vars
        .iter()
        .filter(|(n, _)| *n != "LOGAGG_KAFKA_SASL_PASSWORD_FILE")
        .cloned()
        .chain([(
            "LOGAGG_KAFKA_SASL_PASSWORD",
            "wr0ng-Pa55word-not-logged".to_owned(),
        )])
        .collect();
    let mut refused = spawn(&env, "logagg-consumer", "wrong-password", &wrong);
    let (status, _) = wait_exit(&mut refused, Duration::from_secs(30)).await;
    assert!(!status.success());
    drop((api, _consumer));

    let secrets: Vec<String> = TEST_SECRETS
        .iter()
        .map(|s| (*s).to_owned())
        .chain([
            password("kafka-scram-password"),
            password("pg-tls-password"),
        ])
        .collect();
    let logs = root().join("target").join("e2e-logs");
    let mut scanned = 0;
    for entry in std::fs::read_dir(&logs).expect("target/e2e-logs") {
        let path = entry.expect("entry").path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("log")).into_owned();
        scanned += 1;
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} contains a secret (one of the test passwords or tokens)",
                path.display()
            );
        }
        // A database URL is logged only without its password.
        assert!(
            !text.contains(":logagg@"),
            "{} logs a database URL with its password",
            path.display()
        );
    }
    assert!(scanned >= 3, "the logs of this run were scanned");
}
