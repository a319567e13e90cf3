//! The API and a consumer through the local broker's SASL_SSL listener (SCRAM-SHA-512,
//! password from a file, CA from .local/certs) with PostgreSQL reached only over TLS in
//! verify-full; and a PLAINTEXT client refused by that listener.

use crate::security_kit;

use security_kit::{assert_plaintext_refused, publish_and_store, sasl_ssl_brokers, sasl_ssl_vars};

#[tokio::test(flavor = "multi_thread")]
async fn sasl_ssl_scram_and_postgres_verify_full_store_every_event_once() {
    publish_and_store("sec_sasl", sasl_ssl_vars()).await;
}

#[test]
fn a_plaintext_client_is_refused_by_the_sasl_ssl_listener() {
    assert_plaintext_refused(sasl_ssl_brokers());
}
