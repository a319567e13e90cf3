//! Bad input on the read side's endless and state-changing routes (the bad-input run in
//! api_fuzz.rs covers the query parameters of GET /events, its export and GET /dead-letters):
//! the stream with malformed filters and cursors, and the retry with odd ids. No 5xx.

use std::time::Duration;

use logagg_testkit::{http, TestEnv};

#[tokio::test(flavor = "multi_thread")]
async fn stream_and_retry_refuse_bad_input_without_a_5xx() {
    let env = TestEnv::new("findfuzz", 1).await;
    let api = env.spawn_api().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let queries = [
        "q=a",
        "q=%00%00%00",
        "payload=1",
        "payload=%7B%22a%22:%22%5Cu0000%22%7D",
        "from=x",
        "to=2026-02-30T00:00:00Z",
        "topic=%00",
        "source=%00",
        "after=-1",
        "after=1.2.3",
        "after=18446744073709551616.1",
        "after=99999999999999999999",
        "limit=5",
        "order=asc",
        "topic=a,b&source=s&q=abc&payload=%7B%22k%22:1%7D",
        "after=0.0",
        "after=%FF",
    ];
    let mut statuses = Vec::new();
    for query in queries {
        for last_event_id in [None, Some("1.x"), Some("5"), Some(" 7.7 ")] {
            let mut request = client.get(api.url(&format!("/events/stream?{query}")));
            if let Some(id) = last_event_id {
                request = request.header("last-event-id", id);
            }
            // Only the status line matters: a valid stream never ends, so it is dropped here.
            let status = request
                .send()
                .await
                .expect("stream request")
                .status()
                .as_u16();
            assert!(
                status == 200 || status == 400,
                "/events/stream?{query} (Last-Event-ID {last_event_id:?}) -> {status}"
            );
            statuses.push(status);
        }
    }
    assert!(statuses.contains(&200) && statuses.contains(&400));
    for id in ["0", "-1", "x", "%00", "99999999999999999999", "1.5"] {
        let reply = http(
            "POST",
            &api.url(&format!("/dead-letters/{id}/retry")),
            &[],
            None,
        )
        .await;
        assert_eq!(reply.status, 404, "retry {id}: {}", reply.text());
        assert!(reply.json()["error"].is_string());
    }
    // Streams dropped above released their slots: a new one still opens.
    let status = client
        .get(api.url("/events/stream"))
        .send()
        .await
        .expect("stream")
        .status();
    assert_eq!(status.as_u16(), 200);
}
