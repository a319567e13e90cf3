//! `POST /publish` of `logagg-api` against the real binary, a real Kafka broker and a real
//! PostgreSQL: the three publish shapes, and every refusal (400, 401, 413, 415, 422) with its
//! JSON error body, each checked to have produced nothing. The field-by-field 422 matrix is a
//! unit test of validation (api/tests/publish_validation.rs); a few cases stay end to end.

use std::collections::BTreeSet;
use std::time::Duration;

use logagg_testkit::http::post_chunked;
use logagg_testkit::{event_json, http, padded_event, wait_for, Service, TestEnv};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Publishes one valid sentinel event and waits until the consumer stored it: every record
/// written to the topic before it has then been consumed too.
async fn publish_sentinel_and_drain(env: &TestEnv, api: &Service, expected_rows: i64) {
    let reply = api.publish(&event_json("sentinel", "sentinel-1")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    wait_for(TIMEOUT, "the sentinel event stored", || async {
        (api.get("/events/sentinel/sentinel-1").await.0 == 200).then_some(())
    })
    .await;
    env.wait_counts(TIMEOUT, "the consumer to catch up", |c| c.received >= 1)
        .await;
    assert_eq!(env.rows().await, expected_rows);
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_accepts_single_bare_array_and_events_wrapper() {
    let (env, api) = TestEnv::with_api("api_shapes", 3, &[]).await;

    let single = api.publish(&event_json("shapes", "s-1")).await;
    assert_eq!(single.status, 200, "{}", single.text());
    let body = single.json();
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["offsets"][0]["event_id"], "s-1");
    assert!(
        body["offsets"][0]["partition"]
            .as_i64()
            .is_some_and(|p| (0..3).contains(&p)),
        "{body}"
    );
    assert_eq!(
        body["offsets"][0]["offset"], 0,
        "first record of a fresh topic: {body}"
    );

    let array = api
        .publish(&json!([
            event_json("shapes", "a-1"),
            event_json("shapes", "a-2")
        ]))
        .await;
    assert_eq!(array.status, 200, "{}", array.text());
    let body = array.json();
    assert_eq!(body["accepted"], 2);
    let offsets = body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), 2);
    assert_eq!(
        (
            offsets[0]["event_id"].as_str(),
            offsets[1]["event_id"].as_str()
        ),
        (Some("a-1"), Some("a-2"))
    );
    // Same topic -> same partition, consecutive offsets in publish order.
    assert_eq!(offsets[0]["partition"], offsets[1]["partition"]);
    assert_eq!(
        offsets[1]["offset"].as_i64().unwrap(),
        offsets[0]["offset"].as_i64().unwrap() + 1
    );

    let wrapped = api.publish(&json!({"events": [event_json("shapes", "w-1"), event_json("shapes", "w-2"), event_json("other", "w-3")]}),
    )
    .await;
    assert_eq!(wrapped.status, 200, "{}", wrapped.text());
    assert_eq!(wrapped.json()["accepted"], 3);

    // A charset parameter and a +json media type are JSON too; payload may be absent.
    let mut no_payload = event_json("shapes", "p-1");
    no_payload.as_object_mut().unwrap().remove("payload");
    let reply = api
        .api()
        .post_publish(
            Some("application/json; charset=utf-8"),
            no_payload.to_string().as_bytes(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = api
        .api()
        .post_publish(
            Some("application/vnd.logagg+json"),
            event_json("shapes", "p-2").to_string().as_bytes(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    env.assert_records(8, "every accepted event is one record")
        .await;
    let _consumer = env.spawn_consumer("c1").await;
    env.wait_rows(TIMEOUT, 8).await;
    let (status, stored) = api.get("/events/shapes/p-1").await;
    assert_eq!(status, 200);
    assert_eq!(
        stored["payload"],
        json!({}),
        "absent payload is stored as {{}}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_400() {
    let (env, api) = TestEnv::with_api("api_400", 1, &[]).await;
    let bodies: [&[u8]; 7] = [
        b"{",
        b"not json",
        b"",
        b"{\"topic\": \"t\",}",
        b"[1, 2",
        b"{\"a\": 1} trailing",
        b"\xff\xfe{}",
    ];
    for body in bodies {
        let reply = api.api().post_publish(Some("application/json"), body).await;
        reply.assert_error(400, &format!("body {:?}", String::from_utf8_lossy(body)));
    }
    // JSON nested deeper than the parser's limit is malformed for us, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    api.api()
        .post_publish(Some("application/json"), deep.as_bytes())
        .await
        .assert_error(400, "deep nesting");
    env.assert_records(0, "nothing else reached Kafka").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_guards_publish() {
    let (env, api) =
        TestEnv::with_api("api_401", 1, &[("LOGAGG_API_TOKEN", "s3cret-token".into())]).await;
    let body = serde_json::to_vec(&event_json("auth", "e-1")).unwrap();
    for (what, auth) in [
        ("no header", None),
        ("wrong token", Some("Bearer s3cret-tokeN")),
        ("shorter token", Some("Bearer s3cret")),
        ("longer token", Some("Bearer s3cret-token-and-more")),
        ("empty bearer", Some("Bearer ")),
        ("basic scheme", Some("Basic czNjcmV0LXRva2Vu")),
        ("token without scheme", Some("s3cret-token")),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(auth.map(|a| ("authorization", a)));
        let reply = http("POST", &api.url("/publish"), &headers, Some(body.clone())).await;
        reply.assert_error(401, what);
        assert_eq!(
            reply.header("www-authenticate").as_deref(),
            Some("Bearer"),
            "{what}"
        );
    }
    env.assert_records(0, "nothing produced without the token")
        .await;

    let reply = http(
        "POST",
        &api.url("/publish"),
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer s3cret-token"),
        ],
        Some(body.clone()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The scheme is case-insensitive (RFC 9110).
    let reply = http(
        "POST",
        &api.url("/publish"),
        &[
            ("content-type", "application/json"),
            ("authorization", "bearer s3cret-token"),
        ],
        Some(body),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    env.assert_records(2, "nothing else reached Kafka").await;
    // LOGAGG_API_TOKEN has every scope: reads need it too (docs/SECURITY.md, migration note).
    assert_eq!(api.get("/events").await.0, 401);
    let bearer = [("authorization", "Bearer s3cret-token")];
    assert_eq!(
        logagg_testkit::http("GET", &api.url("/stats"), &bearer, None)
            .await
            .status,
        200
    );
    // Probes stay open.
    assert_eq!(api.get("/health").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_is_413() {
    let (env, api) =
        TestEnv::with_api("api_413", 1, &[("LOGAGG_MAX_BODY_BYTES", "2048".into())]).await;
    // Far over the limit: answered without reading the body, so the connection is closed.
    // Somewhat over the limit: read to its end, so the connection stays usable.
    for (pad, connection, what) in [
        (4096, Some("close"), "declared length, far over"),
        (2500, None, "declared length, slightly over"),
    ] {
        let body = padded_event("big", "e-1", pad);
        let reply = api
            .api()
            .post_publish(Some("application/json"), body.as_bytes())
            .await;
        reply.assert_error(413, what);
        assert_eq!(reply.header("connection").as_deref(), connection, "{what}");
    }
    let body = padded_event("big", "e-1", 4096);
    let (status, text) = post_chunked(api.port, body.as_bytes()).await;
    assert_eq!(status, 413, "chunked body over the limit: {text}");
    let error: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("413 body not JSON ({e}): {text:?}"));
    assert!(error["error"].is_string());

    // Under the limit, both ways of sending a body work.
    let small = serde_json::to_vec(&event_json("big", "small-1")).unwrap();
    assert_eq!(
        api.api()
            .post_publish(Some("application/json"), &small)
            .await
            .status,
        200
    );
    let small = serde_json::to_vec(&event_json("big", "small-2")).unwrap();
    let (status, text) = post_chunked(api.port, &small).await;
    assert_eq!(status, 200, "chunked body under the limit: {text}");
    env.assert_records(2, "only the two small events were produced")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn non_json_content_type_is_415() {
    let (env, api) = TestEnv::with_api("api_415", 1, &[]).await;
    let body = serde_json::to_vec(&event_json("ct", "e-1")).unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("json"),
        Some(""),
    ] {
        let reply = api.api().post_publish(content_type, &body).await;
        reply.assert_error(415, &format!("content type {content_type:?}"));
    }
    env.assert_records(0, "nothing else reached Kafka").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_events_are_422_with_per_item_details() {
    let (env, api) =
        TestEnv::with_api("api_422", 1, &[("LOGAGG_MAX_BATCH_EVENTS", "5".into())]).await;
    // A few of the cases of api/tests/publish_validation.rs, through the real process: the
    // status, the JSON body with per-item details, and nothing produced.
    let mut naive = event_json("v", "e-1");
    naive["timestamp"] = json!("2026-11-25T12:00:00");
    let mut unknown = event_json("v", "e-2");
    unknown["tpoic"] = json!("v");
    for (what, body, index, field) in [
        ("naive timestamp, single", naive.clone(), 0, "timestamp"),
        (
            "unknown field, second of an array",
            json!([event_json("v", "ok"), unknown]),
            1,
            "tpoic",
        ),
    ] {
        let error = api.publish(&body).await.assert_error(422, what);
        let details = error["details"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no details: {error}"));
        assert!(
            details.iter().all(|d| d["index"] == index
                && d["field"] == field
                && d["message"].as_str().is_some_and(|m| !m.is_empty())),
            "{what}: expected details for index {index} field {field}: {error}"
        );
    }
    let error = api.publish(&naive).await.json();
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("offset"),
        "{error}"
    );
    // Batch-level problems: empty, over the limit (5 here); details is always an array.
    let six = Value::Array((0..6).map(|i| event_json("v", &format!("e-{i}"))).collect());
    for (what, body) in [("empty array", json!([])), ("too many", six)] {
        let error = api.publish(&body).await.assert_error(422, what);
        assert!(error["details"].is_array(), "{what}: {error}");
    }
    let error = api.publish(&json!([])).await.json();
    assert!(
        error["error"].as_str().unwrap().contains("empty"),
        "{error}"
    );
    // Exactly the limit is fine.
    let five = Value::Array(
        (0..5)
            .map(|i| event_json("v", &format!("ok-{i}")))
            .collect(),
    );
    assert_eq!(api.publish(&five).await.status, 200);

    env.assert_records(5, "only the batch of exactly 5 valid events was produced")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_mixing_valid_and_invalid_events_stores_nothing() {
    let (env, api) = TestEnv::with_api("api_mixed", 3, &[]).await;
    let _consumer = env.spawn_consumer("c1").await;
    let mut bad_ts = event_json("mixed", "m-2");
    bad_ts["timestamp"] = json!("not-a-date");
    let mut bad_field = event_json("mixed", "m-4");
    bad_field["colour"] = json!("red");
    let batch = json!({"events": [event_json("mixed", "m-1"), bad_ts, event_json("mixed", "m-3"), bad_field]});

    let reply = api.publish(&batch).await;
    let error = reply.assert_error(422, "mixed batch");
    let named: BTreeSet<(i64, String)> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["index"].as_i64().unwrap(),
                d["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([(1, "timestamp".into()), (3, "colour".into())]),
        "{error}"
    );
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("nothing was published"),
        "{error}"
    );
    env.assert_records(0, "no record of the batch reached Kafka")
        .await;

    publish_sentinel_and_drain(&env, &api, 1).await;
    for id in ["m-1", "m-3"] {
        let reply = http("GET", &api.url(&format!("/events/mixed/{id}")), &[], None).await;
        reply.assert_error(404, id);
    }
    let (_, listed) = api.get("/events?topic=mixed").await;
    assert_eq!(listed, json!([]));
    assert_eq!(
        env.counts().await.received,
        1,
        "only the sentinel was ever consumed"
    );
}
