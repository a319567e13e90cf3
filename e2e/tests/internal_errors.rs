//! A 500 tells the client only that an internal error happened and the request id; the detail
//! (here: PostgreSQL's own message) goes to the API's log under that id.

use std::time::Duration;

use logagg_core::contract::ErrorBody;
use logagg_testkit::{http, wait_for, TestEnv};

#[tokio::test(flavor = "multi_thread")]
async fn a_500_carries_the_request_id_and_no_internal_detail() {
    let (env, api) = TestEnv::with_api("internal_500", 1, &[]).await;
    // The database now refuses every query on the events table: an internal error, not an
    // outage (PostgreSQL answers), so the API must answer 500.
    env.execute("ALTER TABLE events RENAME TO events_moved_away")
        .await;
    for path in ["/events", "/events/t/e", "/stats"] {
        let reply = http("GET", &api.url(path), &[], None).await;
        let id = reply
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{path}: no x-request-id"));
        let body: ErrorBody = reply.typed(500);
        assert_eq!(body, ErrorBody::internal(Some(id.clone())), "{path}");
        let text = reply.text();
        for leak in [
            "relation",
            "events_moved_away",
            "does not exist",
            "database",
        ] {
            assert!(!text.contains(leak), "{path} leaks {leak:?}: {text}");
        }
        // The detail is in the log, on a line that carries the same request id.
        wait_for(
            Duration::from_secs(10),
            "the detail in the API log",
            || async {
                let log = std::fs::read_to_string(&api.log).unwrap_or_default();
                log.lines()
                    .any(|line| line.contains(&id) && line.contains("does not exist"))
                    .then_some(())
            },
        )
        .await;
    }
}
