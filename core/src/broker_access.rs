//! A start-up check that the Kafka credentials and certificates work, so a process with a
//! wrong password, an untrusted CA, a certificate for another host or a missing client
//! certificate stops at once with one line naming the cause, instead of retrying forever.
//! A broker that is merely down is not a reason to stop: the services start and report it
//! on `/health` while librdkafka reconnects.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};

use crate::config::KafkaConfig;

/// One thing librdkafka reported: its error code (none for a log line) and the text.
type Report = (Option<RDKafkaErrorCode>, String);

/// What librdkafka reported while connecting.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<Vec<Report>>>);

impl ClientContext for Reports {
    // Connection failures (a PLAINTEXT client on a TLS listener, a refused certificate) often
    // arrive only as log lines: keep them instead of printing them.
    fn log(&self, _: RDKafkaLogLevel, facility: &str, message: &str) {
        if facility == "FAIL" {
            self.0
                .lock()
                .expect("reports lock")
                .push((None, message.to_owned()));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0
            .lock()
            .expect("reports lock")
            .push((error.rdkafka_error_code(), reason.to_owned()));
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// The words of librdkafka's reasons that mean "fix the configuration", not "wait".
const CONFIGURATION_SIGNS: &[&str] = &[
    "SSL handshake failed",
    "certificate verify failed",
    "SASL authentication",
    "Authentication failed",
    "incorrect security.protocol",
    "certificate required",
    "bad certificate",
    "unknown ca",
    "Unsupported SASL mechanism",
    // The broker hung up on the very first request: it speaks another protocol (a PLAINTEXT
    // client on a TLS listener, or TLS towards a PLAINTEXT one).
    "in state APIVERSION_QUERY",
];

/// Whether a report means the credentials, certificates or protocol are wrong.
fn is_configuration_error(code: Option<RDKafkaErrorCode>, reason: &str) -> bool {
    matches!(
        code,
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL)
    ) || CONFIGURATION_SIGNS.iter().any(|sign| {
        reason
            .to_ascii_lowercase()
            .contains(&sign.to_ascii_lowercase())
    })
}

/// What to look at, for the causes librdkafka words vaguely.
fn hint(reason: &str) -> &'static str {
    if reason.contains("bad certificate") || reason.contains("certificate required") {
        " (the listener wants a client certificate: LOGAGG_KAFKA_SSL_CERT_FILE and LOGAGG_KAFKA_SSL_KEY_FILE)"
    } else if reason.contains("certificate verify failed") {
        " (the broker's certificate is not signed by LOGAGG_KAFKA_SSL_CA_FILE, or does not name the host in LOGAGG_KAFKA_BROKERS)"
    } else if reason.contains("APIVERSION_QUERY") {
        " (does LOGAGG_KAFKA_SECURITY_PROTOCOL, librdkafka's security.protocol, match the listener?)"
    } else {
        ""
    }
}

/// Outcome of [`check`].
#[derive(Debug, PartialEq, Eq)]
pub enum Access {
    /// The broker answered a metadata request.
    Granted,
    /// The broker could not be reached (down, no route) within the time: not fatal.
    Unreachable(String),
}

/// Connects with `config`'s security settings and asks for metadata for up to `timeout`.
/// `Err` (the one line to print) when the broker refused the credentials or TLS failed.
/// Blocking: call it from `spawn_blocking` or before the runtime is busy.
pub fn check(config: &KafkaConfig, timeout: Duration) -> Result<Access, String> {
    let reports = Reports::default();
    let mut client_config = crate::kafka::client_config(config);
    client_config.set("client.id", "logagg-access-check");
    // rdkafka derives the level from the `log` crate's, which is off in a process without a
    // `log` logger: the FAIL lines this check reads are at Info.
    client_config.set_log_level(RDKafkaLogLevel::Info);
    let producer: BaseProducer<Reports> = client_config
        .create_with_context(reports.clone())
        .map_err(|e| format!("Kafka client configuration refused: {e}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        let step =
            Duration::from_millis(250).min(deadline.saturating_duration_since(Instant::now()));
        let answered = producer.client().fetch_metadata(None, step).is_ok();
        producer.poll(Duration::ZERO);
        let seen = reports.0.lock().expect("reports lock").clone();
        if let Some((_, reason)) = seen
            .iter()
            .find(|(code, reason)| is_configuration_error(*code, reason))
        {
            let hint = hint(reason);
            return Err(format!(
                "Kafka at {} refused the connection ({} with {}): {reason}{hint}",
                config.brokers,
                config.security.protocol.as_str().to_ascii_uppercase(),
                config
                    .security
                    .sasl
                    .as_ref()
                    .map_or("no SASL".to_owned(), |s| format!(
                        "SASL {} user {:?}",
                        s.mechanism.as_str(),
                        s.username
                    )),
            ));
        }
        if answered {
            return Ok(Access::Granted);
        }
        if Instant::now() >= deadline {
            let last = seen
                .last()
                .map_or("no answer".to_owned(), |(_, r)| r.clone());
            return Ok(Access::Unreachable(last));
        }
    }
}

/// [`check`] for a binary's start: exits the process with one error line when the broker
/// refuses the configuration, logs a warning when it is unreachable (the process carries on and
/// reports it on `/health`).
pub async fn check_at_start(config: &KafkaConfig) -> Result<(), String> {
    let config = config.clone();
    let outcome = tokio::task::spawn_blocking(move || check(&config, Duration::from_secs(10)))
        .await
        .map_err(|e| format!("broker access check failed: {e}"))?;
    match outcome? {
        Access::Granted => Ok(()),
        Access::Unreachable(reason) => {
            tracing::warn!(%reason, "Kafka not reachable yet; carrying on and retrying");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_told_from_outages() {
        assert!(is_configuration_error(
            Some(RDKafkaErrorCode::Authentication),
            "SASL authentication error: Authentication failed"
        ));
        assert!(is_configuration_error(
            None,
            "localhost:19094/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed"
        ));
        assert!(!is_configuration_error(
            Some(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down"
        ));
        assert!(!is_configuration_error(
            Some(RDKafkaErrorCode::BrokerTransportFailure),
            "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused"
        ));
    }
}
