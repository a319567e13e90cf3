//! The API and a consumer through the local broker's SSL listener that requires a client
//! certificate (mutual TLS), with PostgreSQL reached only over TLS in verify-full; and a
//! PLAINTEXT client refused by that listener.

use crate::security_kit;

use security_kit::{assert_plaintext_refused, mtls_brokers, mtls_vars, publish_and_store};

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_and_postgres_verify_full_store_every_event_once() {
    publish_and_store("sec_mtls", mtls_vars()).await;
}

#[test]
fn a_plaintext_client_is_refused_by_the_mtls_listener() {
    assert_plaintext_refused(mtls_brokers());
}
