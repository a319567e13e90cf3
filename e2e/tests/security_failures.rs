//! Misconfigured security stops a process at start with one line naming the cause (exit
//! status non-zero, no panic, no secret in its log): wrong SASL password, untrusted CA, a
//! broker reached by a name its certificate does not carry, a missing client certificate,
//! and the same for PostgreSQL. What the broker acknowledged meanwhile is stored once the
//! cause is fixed.

use crate::security_kit;

use std::time::Duration;

use logagg_testkit::TestEnv;
use security_kit::{
    database_name, grant_tls_role, mtls_vars, sasl_ssl_vars, spawn, tls_database_url, wait_exit,
    Vars,
};

const WRONG_PASSWORD: &str = "wr0ng-Pa55word-not-logged";

/// `vars` with `name` replaced (or added).
fn with(mut vars: Vars, name: &'static str, value: String) -> Vars {
    vars.retain(|(n, _)| *n != name);
    vars.push((name, value));
    vars
}

/// Starts `binary` with `extra`, expects it to stop within 30 s with a failure status and a
/// single `Error:` line containing every word of `cause` (case-insensitive).
async fn fails_at_start(env: &TestEnv, binary: &str, label: &str, extra: &Vars, cause: &[&str]) {
    let mut service = spawn(env, binary, label, extra);
    let (status, log) = wait_exit(&mut service, Duration::from_secs(30)).await;
    assert!(!status.success(), "{label}: exited with {status}\n{log}");
    assert!(!log.contains("panicked"), "{label}: panic\n{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(errors.len(), 1, "{label}: one error line expected\n{log}");
    let line = errors[0].to_ascii_lowercase();
    for word in cause {
        assert!(
            line.contains(&word.to_ascii_lowercase()),
            "{label}: {word:?} not in {:?}",
            errors[0]
        );
    }
    assert!(
        !log.contains(WRONG_PASSWORD),
        "{label}: the password is in the log"
    );
    let scram = security_kit::password("kafka-scram-password");
    let pg = security_kit::password("pg-tls-password");
    assert!(
        !log.contains(&scram) && !log.contains(&pg),
        "{label}: a password is in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_misconfigurations_stop_the_start_with_their_cause() {
    let env = TestEnv::new("sec_fail_kafka", 1).await;
    // Acknowledged by the broker before any consumer runs.
    let events: Vec<_> = (0..10)
        .map(|i| logagg_testkit::event(&env.topic, &format!("e-{i}")))
        .collect();
    env.producer().publish(&events).await.expect("publish");

    let sasl = sasl_ssl_vars();
    let wrong_password = with(
        sasl.clone(),
        "LOGAGG_KAFKA_SASL_PASSWORD",
        WRONG_PASSWORD.into(),
    );
    let wrong_password = with(
        wrong_password,
        "LOGAGG_KAFKA_SASL_PASSWORD_FILE",
        String::new(),
    );
    let untrusted_ca = with(
        sasl.clone(),
        "LOGAGG_KAFKA_SSL_CA_FILE",
        security_kit::cert("rogue-ca.pem"),
    );
    let port = security_kit::sasl_ssl_brokers();
    let by_ip = with(
        sasl.clone(),
        "LOGAGG_KAFKA_BROKERS",
        port.replace("localhost", "127.0.0.1"),
    );
    let no_client_cert: Vars = mtls_vars()
        .into_iter()
        .filter(|(n, _)| {
            !n.starts_with("LOGAGG_KAFKA_SSL_CERT") && !n.starts_with("LOGAGG_KAFKA_SSL_KEY")
        })
        .collect();
    for (label, vars, cause) in [
        (
            "wrong-password",
            &wrong_password,
            &["SASL", "authentication"][..],
        ),
        (
            "untrusted-ca",
            &untrusted_ca,
            &["certificate verify failed"][..],
        ),
        ("wrong-hostname", &by_ip, &["certificate verify failed"][..]),
        ("no-client-cert", &no_client_cert, &["certificate"][..]),
    ] {
        fails_at_start(&env, "logagg-consumer", label, vars, cause).await;
    }
    fails_at_start(
        &env,
        "logagg-api",
        "api-wrong-password",
        &wrong_password,
        &["SASL"],
    )
    .await;

    // The cause fixed: everything the broker acknowledged is stored, once.
    let _consumer = env.spawn_consumer_with("fixed", &sasl).await;
    let counts = env
        .wait_counts(Duration::from_secs(60), "the 10 events", |c| {
            c.received >= 10
        })
        .await;
    assert_eq!(
        (counts.received, counts.unique_processed),
        (10, 10),
        "{counts:?}"
    );
    assert_eq!(env.rows().await, 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_misconfigurations_stop_the_start_with_their_cause() {
    let env = TestEnv::new("sec_fail_pg", 1).await;
    let good = grant_tls_role(&env).await;
    let database = database_name(&env);
    let url = |host: &str, mode: &str, root: &str| {
        vec![(
            "DATABASE_URL",
            tls_database_url(&database, host, mode, root),
        )]
    };
    let wrong_password = vec![(
        "DATABASE_URL",
        good.replacen(
            &format!(":{}@", security_kit::password("pg-tls-password")),
            &format!(":{WRONG_PASSWORD}@"),
            1,
        ),
    )];
    for (label, vars, cause) in [
        (
            "pg-untrusted-ca",
            url("localhost", "verify-full", "rogue-ca.pem"),
            &["certificate verify failed"][..],
        ),
        (
            "pg-wrong-hostname",
            url("127.0.0.1", "verify-full", "ca.pem"),
            &["certificate verify failed", "mismatch"][..],
        ),
        (
            "pg-without-tls",
            url("localhost", "disable", "ca.pem"),
            &["pg_hba.conf", "no encryption"][..],
        ),
        (
            "pg-wrong-password",
            wrong_password,
            &["password authentication failed"][..],
        ),
    ] {
        fails_at_start(&env, "logagg-consumer", label, &vars, cause).await;
    }
    // verify-ca does not check the name: the same address is accepted.
    env.spawn_consumer_with("pg-verify-ca", &url("127.0.0.1", "verify-ca", "ca.pem"))
        .await;
}
