//! SIGTERM stops the API and the consumer cleanly (exit 0) even while a client holds an idle
//! connection open, which warp's graceful shutdown alone would wait on forever.

use std::net::TcpStream;

use logagg_testkit::TestEnv;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_zero_despite_idle_connections() {
    let (env, api) = TestEnv::with_api("shutdown", 1, &[]).await;
    let consumer = env.spawn_consumer("c").await;
    // Connections that never send a request (a pooled keep-alive client looks like this).
    let _idle_api = TcpStream::connect(("127.0.0.1", api.port)).expect("connect api");
    let _idle_consumer =
        TcpStream::connect(("127.0.0.1", consumer.port)).expect("connect consumer");

    // `terminate` panics if the process has not exited 30 s after SIGTERM.
    let (api_status, consumer_status) = tokio::join!(api.terminate(), consumer.terminate());
    assert!(api_status.success(), "api: {api_status}");
    assert!(consumer_status.success(), "consumer: {consumer_status}");
}
