//! The HTTP contract of `logagg-api` (issue 4), against the real binary, a real Kafka broker
//! and a real PostgreSQL: every status code, the error bodies, the publish shapes, listing and
//! cursor paging, `/stats`, `/health`, `/metrics`, `/openapi.json` and request ids.

use std::collections::BTreeSet;
use std::time::Duration;

use logagg_e2e::{event_json, http, publish, wait_for, HttpReply, Service, TestEnv};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Asserts an error answer: the status, a JSON body with a non-empty `error` string.
fn assert_error(reply: &HttpReply, status: u16, what: &str) -> Value {
    assert_eq!(reply.status, status, "{what}: {}", reply.text());
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content-type {content_type:?}"
    );
    let body = reply.json();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: error body without an error message: {body}"
    );
    body
}

async fn post_raw(api: &Service, content_type: Option<&str>, body: &[u8]) -> HttpReply {
    let headers: Vec<(&str, &str)> = content_type
        .map(|c| ("content-type", c))
        .into_iter()
        .collect();
    http("POST", &api.url("/publish"), &headers, Some(body.to_vec())).await
}

/// Waits until `rows` events are stored.
async fn wait_rows(env: &TestEnv, rows: i64) {
    wait_for(TIMEOUT, &format!("{rows} stored events"), || async {
        (env.rows().await == rows).then_some(())
    })
    .await;
}

/// Publishes one valid sentinel event and waits until the consumer stored it: every record
/// written to the topic before it has then been consumed too.
async fn publish_sentinel_and_drain(env: &TestEnv, api: &Service, expected_rows: i64) {
    let reply = publish(api, &event_json("sentinel", "sentinel-1")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    wait_for(TIMEOUT, "the sentinel event stored", || async {
        (api.get("/events/sentinel/sentinel-1").await.0 == 200).then_some(())
    })
    .await;
    env.wait_counts(TIMEOUT, "the consumer to catch up", |c| c.received >= 1)
        .await;
    assert_eq!(env.rows().await, expected_rows);
}

/// Sends a raw HTTP/1.1 request with a chunked body (no Content-Length) and returns the status
/// line's code and the body text.
async fn post_chunked(api: &Service, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", api.port))
        .await
        .expect("connect");
    let mut request =
        b"POST /publish HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
        transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            .to_vec();
    for chunk in body.chunks(700) {
        request.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    // The server may answer 413 and close before reading everything: ignore a write error.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_accepts_single_bare_array_and_events_wrapper() {
    let env = TestEnv::new("api_shapes", 3).await;
    let api = env.spawn_api().await;

    let single = publish(&api, &event_json("shapes", "s-1")).await;
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

    let array = publish(
        &api,
        &json!([event_json("shapes", "a-1"), event_json("shapes", "a-2")]),
    )
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

    let wrapped = publish(
        &api,
        &json!({"events": [event_json("shapes", "w-1"), event_json("shapes", "w-2"), event_json("other", "w-3")]}),
    )
    .await;
    assert_eq!(wrapped.status, 200, "{}", wrapped.text());
    assert_eq!(wrapped.json()["accepted"], 3);

    // A charset parameter and a +json media type are JSON too; payload may be absent.
    let mut no_payload = event_json("shapes", "p-1");
    no_payload.as_object_mut().unwrap().remove("payload");
    let reply = post_raw(
        &api,
        Some("application/json; charset=utf-8"),
        no_payload.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = post_raw(
        &api,
        Some("application/vnd.logagg+json"),
        event_json("shapes", "p-2").to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    assert_eq!(
        env.high_watermarks(),
        8,
        "every accepted event is one record"
    );
    let _consumer = env.spawn_consumer("c1").await;
    wait_rows(&env, 8).await;
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
    let env = TestEnv::new("api_400", 1).await;
    let api = env.spawn_api().await;
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
        let reply = post_raw(&api, Some("application/json"), body).await;
        assert_error(
            &reply,
            400,
            &format!("body {:?}", String::from_utf8_lossy(body)),
        );
    }
    // JSON nested deeper than the parser's limit is malformed for us, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_error(
        &post_raw(&api, Some("application/json"), deep.as_bytes()).await,
        400,
        "deep nesting",
    );
    assert_eq!(env.high_watermarks(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_guards_publish() {
    let env = TestEnv::new("api_401", 1).await;
    let api = env
        .spawn_api_with(&[("LOGAGG_API_TOKEN", "s3cret-token".into())])
        .await;
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
        assert_error(&reply, 401, what);
        assert_eq!(
            reply.header("www-authenticate").as_deref(),
            Some("Bearer"),
            "{what}"
        );
    }
    assert_eq!(
        env.high_watermarks(),
        0,
        "nothing produced without the token"
    );

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
    assert_eq!(env.high_watermarks(), 2);
    // LOGAGG_API_TOKEN has every scope: reads need it too (docs/SECURITY.md, migration note).
    assert_eq!(api.get("/events").await.0, 401);
    let bearer = [("authorization", "Bearer s3cret-token")];
    assert_eq!(
        http("GET", &api.url("/stats"), &bearer, None).await.status,
        200
    );
    // Probes stay open.
    assert_eq!(api.get("/health").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_is_413() {
    let env = TestEnv::new("api_413", 1).await;
    let api = env
        .spawn_api_with(&[("LOGAGG_MAX_BODY_BYTES", "2048".into())])
        .await;
    let mut big = event_json("big", "e-1");
    big["payload"] = json!({"blob": "x".repeat(4096)});
    let body = serde_json::to_vec(&big).unwrap();

    let reply = post_raw(&api, Some("application/json"), &body).await;
    assert_error(&reply, 413, "declared length");
    // Far over the limit: answered without reading the body, so the connection is closed.
    assert_eq!(reply.header("connection").as_deref(), Some("close"));
    // Somewhat over the limit: read to its end, so the connection stays usable.
    let mut slightly = event_json("big", "e-2");
    slightly["payload"] = json!({"blob": "x".repeat(2500)});
    let reply = post_raw(
        &api,
        Some("application/json"),
        &serde_json::to_vec(&slightly).unwrap(),
    )
    .await;
    assert_error(&reply, 413, "declared length, slightly over");
    assert_eq!(
        reply.header("connection"),
        None,
        "keep-alive after a drained 413"
    );
    let (status, text) = post_chunked(&api, &body).await;
    assert_eq!(status, 413, "chunked body over the limit: {text}");
    let error: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("413 body not JSON ({e}): {text:?}"));
    assert!(error["error"].is_string());

    // Under the limit, both ways of sending a body work.
    let small = serde_json::to_vec(&event_json("big", "small-1")).unwrap();
    assert_eq!(
        post_raw(&api, Some("application/json"), &small)
            .await
            .status,
        200
    );
    let small = serde_json::to_vec(&event_json("big", "small-2")).unwrap();
    let (status, text) = post_chunked(&api, &small).await;
    assert_eq!(status, 200, "chunked body under the limit: {text}");
    assert_eq!(
        env.high_watermarks(),
        2,
        "only the two small events were produced"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_json_content_type_is_415() {
    let env = TestEnv::new("api_415", 1).await;
    let api = env.spawn_api().await;
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
        let reply = post_raw(&api, content_type, &body).await;
        assert_error(&reply, 415, &format!("content type {content_type:?}"));
    }
    assert_eq!(env.high_watermarks(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_events_are_422_with_per_item_details() {
    let env = TestEnv::new("api_422", 1).await;
    let api = env
        .spawn_api_with(&[("LOGAGG_MAX_BATCH_EVENTS", "5".into())])
        .await;
    let valid = || event_json("v", "e-1");
    let with = |field: &str, value: Value| {
        let mut e = valid();
        e[field] = value;
        e
    };
    let without = |field: &str| {
        let mut e = valid();
        e.as_object_mut().unwrap().remove(field);
        e
    };
    // (what, event, the field that must be named)
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing topic", without("topic"), "topic"),
        ("missing event_id", without("event_id"), "event_id"),
        ("missing timestamp", without("timestamp"), "timestamp"),
        ("missing source", without("source"), "source"),
        (
            "not-a-date",
            with("timestamp", json!("not-a-date")),
            "timestamp",
        ),
        (
            "naive timestamp",
            with("timestamp", json!("2026-11-25T12:00:00")),
            "timestamp",
        ),
        (
            "numeric timestamp",
            with("timestamp", json!(1_764_072_000)),
            "timestamp",
        ),
        ("unknown field", with("tpoic", json!("v")), "tpoic"),
        (
            "topic with a space",
            with("topic", json!("bad topic")),
            "topic",
        ),
        (
            "topic too long",
            with("topic", json!("t".repeat(256))),
            "topic",
        ),
        ("empty event_id", with("event_id", json!("")), "event_id"),
        (
            "event_id too long",
            with("event_id", json!("é".repeat(256))),
            "event_id",
        ),
        ("numeric event_id", with("event_id", json!(7)), "event_id"),
        ("null source", with("source", Value::Null), "source"),
        (
            "payload an array",
            with("payload", json!([1, 2])),
            "payload",
        ),
        ("payload a string", with("payload", json!("{}")), "payload"),
        (
            "NUL in event_id",
            with("event_id", json!("a\u{0}b")),
            "event_id",
        ),
        ("NUL in source", with("source", json!("\u{0}")), "source"),
        (
            "NUL in payload",
            with("payload", json!({"k": ["x\u{0}"]})),
            "payload",
        ),
        (
            "NUL in payload key",
            with("payload", json!({"k\u{0}": 1})),
            "payload",
        ),
    ];
    for (what, event, field) in cases {
        // Alone, as the second item of a bare array, and inside {"events": [...]}.
        for (shape, body, index) in [
            ("single", event.clone(), 0),
            ("array", json!([valid(), event.clone()]), 1),
            (
                "wrapper",
                json!({"events": [valid(), valid(), event.clone()]}),
                2,
            ),
        ] {
            let reply = publish(&api, &body).await;
            let error = assert_error(&reply, 422, &format!("{what} ({shape})"));
            let details = error["details"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no details: {error}"));
            assert!(
                details.iter().any(|d| d["index"] == index
                    && d["field"] == field
                    && d["message"].as_str().is_some_and(|m| !m.is_empty())),
                "{what} ({shape}): expected a detail for index {index} field {field}: {error}"
            );
            assert!(
                details.iter().all(|d| d["index"] == index),
                "{what} ({shape}): only the bad item is named: {error}"
            );
        }
    }
    // The timestamp messages say what is wrong.
    let error = publish(&api, &with("timestamp", json!("2026-11-25T12:00:00")))
        .await
        .json();
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("offset"),
        "{error}"
    );

    // Several bad fields of one event are all reported.
    let error = publish(
        &api,
        &json!({"topic": "no spaces!", "event_id": 1, "extra": true}),
    )
    .await
    .json();
    let fields: BTreeSet<&str> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    for field in ["topic", "event_id", "timestamp", "source", "extra"] {
        assert!(fields.contains(field), "{field} missing from {error}");
    }

    // Batch-level problems: empty, too many (limit 5 here), wrong shapes.
    for (what, body) in [
        ("empty array", json!([])),
        ("empty wrapper", json!({"events": []})),
        (
            "too many",
            Value::Array((0..6).map(|i| event_json("v", &format!("e-{i}"))).collect()),
        ),
        (
            "too many wrapped",
            json!({"events": (0..6).map(|i| event_json("v", &format!("e-{i}"))).collect::<Vec<_>>()}),
        ),
        ("events not an array", json!({"events": valid()})),
        (
            "events beside other fields",
            json!({"events": [valid()], "extra": 1}),
        ),
        ("a string", json!("event")),
        ("a number", json!(42)),
        ("null", Value::Null),
        ("array of non-objects", json!([1, "two", null])),
    ] {
        let error = assert_error(&publish(&api, &body).await, 422, what);
        assert!(
            error["details"].is_array(),
            "{what}: details is always an array: {error}"
        );
    }
    let error = publish(&api, &json!([])).await.json();
    assert!(
        error["error"].as_str().unwrap().contains("empty"),
        "{error}"
    );
    let error = publish(&api, &json!([1, "two", null])).await.json();
    let indices: BTreeSet<i64> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["index"].as_i64())
        .collect();
    assert_eq!(indices, BTreeSet::from([0, 1, 2]), "{error}");
    // Exactly the limit is fine.
    let five = Value::Array(
        (0..5)
            .map(|i| event_json("v", &format!("ok-{i}")))
            .collect(),
    );
    assert_eq!(publish(&api, &five).await.status, 200);

    assert_eq!(
        env.high_watermarks(),
        5,
        "only the batch of exactly 5 valid events was produced"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_mixing_valid_and_invalid_events_stores_nothing() {
    let env = TestEnv::new("api_mixed", 3).await;
    let api = env.spawn_api().await;
    let _consumer = env.spawn_consumer("c1").await;
    let mut bad_ts = event_json("mixed", "m-2");
    bad_ts["timestamp"] = json!("not-a-date");
    let mut bad_field = event_json("mixed", "m-4");
    bad_field["colour"] = json!("red");
    let batch = json!({"events": [event_json("mixed", "m-1"), bad_ts, event_json("mixed", "m-3"), bad_field]});

    let reply = publish(&api, &batch).await;
    let error = assert_error(&reply, 422, "mixed batch");
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
    assert_eq!(
        env.high_watermarks(),
        0,
        "no record of the batch reached Kafka"
    );

    publish_sentinel_and_drain(&env, &api, 1).await;
    for id in ["m-1", "m-3"] {
        let reply = http("GET", &api.url(&format!("/events/mixed/{id}")), &[], None).await;
        assert_error(&reply, 404, id);
    }
    let (_, listed) = api.get("/events?topic=mixed").await;
    assert_eq!(listed, json!([]));
    assert_eq!(
        env.counts().await.received,
        1,
        "only the sentinel was ever consumed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let env = TestEnv::new("api_404", 1).await;
    let api = env.spawn_api().await;
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/nope"),
        ("POST", "/nope"),
        ("GET", "/publish/extra"),
        ("GET", "/eventsx"),
        ("GET", "/events/only-a-topic"),
        ("GET", "/events/t/unknown-id"),
        ("GET", "/events/a/b/unknown-id"),
        ("DELETE", "/nope/deeper"),
        ("GET", "/stats/1"),
    ] {
        let reply = http(method, &api.url(path), &[], None).await;
        assert_error(&reply, 404, &format!("{method} {path}"));
    }
    for (method, path, allow) in [
        ("GET", "/publish", "POST"),
        ("PUT", "/publish", "POST"),
        ("DELETE", "/publish", "POST"),
        ("POST", "/events", "GET"),
        ("DELETE", "/events", "GET"),
        ("PUT", "/events/t/e-1", "GET"),
        ("POST", "/stats", "GET"),
        ("POST", "/health", "GET"),
        ("PATCH", "/healthz", "GET"),
        ("POST", "/metrics", "GET"),
        ("POST", "/openapi.json", "GET"),
        ("BREW", "/stats", "GET"),
    ] {
        let reply = http(
            method,
            &api.url(path),
            &[("content-type", "application/json")],
            Some(b"{}".to_vec()),
        )
        .await;
        assert_error(&reply, 405, &format!("{method} {path}"));
        assert_eq!(
            reply.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
    }
    assert_eq!(env.high_watermarks(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_listed_filtered_ordered_and_cursor_paged() {
    let env = TestEnv::new("api_events", 3).await;
    let api = env.spawn_api().await;
    let paged: Vec<Value> = (0..7)
        .map(|i| event_json("pg/a", &format!("p-{i}")))
        .collect();
    assert_eq!(publish(&api, &Value::Array(paged)).await.status, 200);
    let many: Vec<Value> = (0..105)
        .map(|i| event_json("many", &format!("m-{i:03}")))
        .collect();
    assert_eq!(publish(&api, &Value::Array(many)).await.status, 200);
    let _consumer = env.spawn_consumer("c1").await;
    wait_rows(&env, 112).await;

    // Defaults: every topic, newest first, 100 rows, a Link to the next page.
    let reply = http("GET", &api.url("/events"), &[], None).await;
    assert_eq!(reply.status, 200);
    let rows = reply.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 100);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(
        reply
            .header("link")
            .is_some_and(|l| l.contains("rel=\"next\"")),
        "{:?}",
        reply.header("link")
    );
    for row in rows {
        for field in [
            "topic",
            "event_id",
            "timestamp",
            "source",
            "payload",
            "processed_at",
            "partition",
            "offset",
        ] {
            assert!(!row[field].is_null(), "{field} missing from {row}");
        }
    }
    let first = &rows[0];
    assert!(first["payload"].is_object());
    assert!(chrono::DateTime::parse_from_rfc3339(first["processed_at"].as_str().unwrap()).is_ok());
    assert_eq!(first["timestamp"], "2026-11-25T12:00:00.000000Z");

    // Topic filter, asc = publish order; topics with '/' work in the query string.
    let (status, asc) = api.get("/events?topic=pg%2Fa&order=asc").await;
    assert_eq!(status, 200);
    let asc_ids: Vec<&str> = asc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        asc_ids,
        (0..7).map(|i| format!("p-{i}")).collect::<Vec<_>>()
    );
    let (_, desc) = api.get("/events?topic=pg/a").await;
    let desc_ids: Vec<&str> = desc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    let mut reversed = asc_ids.clone();
    reversed.reverse();
    assert_eq!(desc_ids, reversed);
    let offsets: Vec<i64> = asc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offset"].as_i64().unwrap())
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "publish order is offset order: {offsets:?}"
    );

    // Cursor paging both ways, following Link until there is none.
    for (start, expected) in [
        ("/events?topic=pg%2Fa&limit=3", reversed.clone()),
        ("/events?topic=pg%2Fa&limit=3&order=asc", asc_ids.clone()),
    ] {
        let collected = follow_links(&api, start).await;
        assert_eq!(
            collected
                .iter()
                .map(|(_, ids)| ids.len())
                .collect::<Vec<_>>(),
            [3, 3, 1],
            "{start}"
        );
        let flat: Vec<String> = collected.into_iter().flat_map(|(_, ids)| ids).collect();
        assert_eq!(flat, expected, "{start}");
    }
    // 105 events with the default limit: two pages, 100 + 5.
    let pages = follow_links(&api, "/events?topic=many").await;
    assert_eq!(
        pages.iter().map(|(_, ids)| ids.len()).collect::<Vec<_>>(),
        [100, 5]
    );
    let all: BTreeSet<String> = pages.into_iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(all.len(), 105);
    // An explicit cursor: after the 2nd event, asc.
    let second = asc.as_array().unwrap()[1]["id"].as_i64().unwrap();
    let (_, after) = api
        .get(&format!("/events?topic=pg/a&after={second}&limit=2"))
        .await;
    let after_ids: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(after_ids, ["p-2", "p-3"], "after= reads forward");
    let (_, before) = api
        .get(&format!("/events?topic=pg/a&before={second}"))
        .await;
    let before_ids: Vec<&str> = before
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(before_ids, ["p-0"]);

    // Limit bounds.
    assert_eq!(api.get("/events?limit=1000").await.0, 200);
    assert_eq!(
        api.get("/events?limit=1").await.1.as_array().unwrap().len(),
        1
    );
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=abc",
        "limit=",
        "order=up",
        "before=x",
        "colour=red",
    ] {
        let reply = http("GET", &api.url(&format!("/events?{bad}")), &[], None).await;
        assert_error(&reply, 400, bad);
    }
    // Unknown topic: an empty list, not an error.
    let (status, unknown) = api.get("/events?topic=never-published").await;
    assert_eq!((status, unknown), (200, json!([])));
    let (status, odd) = api.get("/events?topic=%00%FF").await;
    assert_eq!(
        (status, odd),
        (200, json!([])),
        "an impossible topic is just unknown"
    );

    // One event by key, also with '/' in the topic (raw or percent-encoded).
    for path in ["/events/pg/a/p-3", "/events/pg%2Fa/p-3"] {
        let (status, one) = api.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            (one["topic"].as_str(), one["event_id"].as_str()),
            (Some("pg/a"), Some("p-3")),
            "{path}"
        );
        assert_eq!(one["payload"], json!({"id": "p-3"}));
    }
    for path in ["/events/pg/a/p-99", "/events/pg/p-3", "/events/many/%00"] {
        assert_error(&http("GET", &api.url(path), &[], None).await, 404, path);
    }
}

/// Follows `Link: <...>; rel="next"` from `start` until a page has none; returns each page's
/// (path, event ids).
async fn follow_links(api: &Service, start: &str) -> Vec<(String, Vec<String>)> {
    let mut pages = Vec::new();
    let mut next = Some(start.to_owned());
    while let Some(path) = next {
        assert!(pages.len() < 50, "too many pages from {start}");
        let reply = http("GET", &api.url(&path), &[], None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let ids: Vec<String> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["event_id"].as_str().unwrap().to_owned())
            .collect();
        next = reply.header("link").map(|link| {
            let (target, rel) = link.split_once(';').expect("Link has a rel");
            assert_eq!(rel.trim(), "rel=\"next\"");
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        });
        assert!(
            !ids.is_empty() || next.is_none(),
            "an empty page must not link further ({path})"
        );
        pages.push((path, ids));
    }
    assert!(
        !pages.last().unwrap().1.is_empty() || pages.len() == 1,
        "the last page is not an empty one: {pages:?}"
    );
    pages
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_reports_counters_topics_lag_and_requests() {
    let env = TestEnv::new("api_stats", 3).await;
    let api = env.spawn_api().await;
    let events = json!([
        event_json("alpha", "a-1"),
        event_json("alpha", "a-2"),
        event_json("beta", "b-1")
    ]);
    assert_eq!(publish(&api, &events).await.status, 200);
    assert_eq!(
        publish(&api, &event_json("alpha", "a-1")).await.status,
        200,
        "a duplicate"
    );
    // A record that is not an event, written straight to Kafka: counted invalid.
    let producer = env.producer();
    let delivery = producer
        .enqueue("alpha", b"not an event")
        .await
        .expect("enqueue");
    logagg_producer::EventProducer::await_ack(delivery)
        .await
        .expect("ack");

    let (status, before) = api.get("/stats").await;
    assert_eq!(status, 200);
    assert_eq!(before["consumer_lag"], 5, "nothing consumed yet: {before}");
    let per_partition = before["lag_per_partition"]
        .as_object()
        .expect("lag per partition");
    assert_eq!(per_partition.len(), 3, "{before}");
    assert_eq!(
        per_partition
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        5
    );

    let _consumer = env.spawn_consumer("c1").await;
    let stats = wait_for(TIMEOUT, "all five records counted", || async {
        let (_, stats) = api.get("/stats").await;
        (stats["received"] == 5 && stats["consumer_lag"] == 0).then_some(stats)
    })
    .await;
    assert_eq!(stats["unique_processed"], 3, "{stats}");
    assert_eq!(stats["duplicate_dropped"], 1, "{stats}");
    assert_eq!(stats["invalid"], 1, "{stats}");
    assert_eq!(stats["replayed"], 0, "{stats}");
    assert_eq!(stats["topics"], json!(["alpha", "beta"]), "{stats}");
    assert_eq!(stats["per_topic"]["alpha"]["received"], 3, "{stats}");
    assert_eq!(
        stats["per_topic"]["alpha"]["unique_processed"], 2,
        "{stats}"
    );
    assert_eq!(
        stats["per_topic"]["alpha"]["duplicate_dropped"], 1,
        "{stats}"
    );
    assert_eq!(stats["per_topic"]["beta"]["unique_processed"], 1, "{stats}");
    assert!(stats["uptime_seconds"].is_u64(), "{stats}");
    let lag = stats["lag_per_partition"].as_object().unwrap();
    assert_eq!(lag.len(), 3);
    assert!(lag.values().all(|v| v == 0), "{stats}");
    assert!(
        stats["requests"]["POST /publish"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "{stats}"
    );
    assert!(
        stats["requests"]["GET /stats"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{stats}"
    );

    // Read from PostgreSQL: a second API instance answers the same counters.
    let other = env.spawn_api().await;
    let (_, again) = other.get("/stats").await;
    for field in [
        "received",
        "unique_processed",
        "duplicate_dropped",
        "invalid",
        "replayed",
        "topics",
        "per_topic",
    ] {
        assert_eq!(again[field], stats[field], "{field}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_healthz_and_metrics() {
    let env = TestEnv::new("api_health", 1).await;
    let api = env.spawn_api().await;
    let (status, health) = api.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["broker"], "ok", "{health}");
    assert_eq!(health["database"], "ok", "{health}");
    let (status, alive) = api.get("/healthz").await;
    assert_eq!((status, alive["status"].as_str()), (200, Some("alive")));

    assert_eq!(
        publish(&api, &json!([event_json("m", "1"), event_json("m", "2")]))
            .await
            .status,
        200
    );
    assert_eq!(publish(&api, &json!([])).await.status, 422);
    assert_eq!(
        http("GET", &api.url("/no/such/thing"), &[], None)
            .await
            .status,
        404
    );

    let reply = http("GET", &api.url("/metrics"), &[], None).await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = reply.text();
    for line in [
        "logagg_api_requests_total{route=\"POST /publish\",status=\"200\"} 1",
        "logagg_api_requests_total{route=\"POST /publish\",status=\"422\"} 1",
        "logagg_api_requests_total{route=\"GET other\",status=\"404\"} 1",
        "logagg_api_events_accepted_total 2",
        "# TYPE logagg_api_request_seconds histogram",
        "logagg_api_request_seconds_bucket{route=\"POST /publish\",le=\"+Inf\"} 2",
        "logagg_api_request_seconds_count{route=\"POST /publish\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_describes_every_route() {
    let env = TestEnv::new("api_openapi", 1).await;
    let api = env.spawn_api().await;
    let (status, doc) = api.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "{path}");
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
                    .contains(&method.as_str()),
                "{method} {path}"
            );
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: no responses"));
            assert!(!responses.is_empty());
            for (code, response) in responses {
                assert!(
                    code.len() == 3 && code.parse::<u16>().is_ok(),
                    "{method} {path}: {code}"
                );
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {code}: no description"
                );
            }
            // Every templated path segment is declared as a path parameter.
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                let declared = operation["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(
                    declared,
                    "{method} {path}: path parameter {name} undeclared"
                );
            }
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    check_refs(&doc, &doc);
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/publish"),
        ("GET", "/events"),
        ("GET", "/events/{topic}/{event_id}"),
        ("GET", "/stats"),
        ("GET", "/health"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(documented, expected);
    // Every documented operation is served (not 404/405).
    for (method, path) in &documented {
        let concrete = path.replace("{topic}", "t").replace("{event_id}", "e");
        let reply = http(
            method,
            &api.url(&concrete),
            &[("content-type", "application/json")],
            Some(b"{}".to_vec()),
        )
        .await;
        let routed = match path.as_str() {
            "/events/{topic}/{event_id}" => {
                reply.status == 404 && reply.json()["error"].as_str().unwrap().contains("no event")
            }
            _ => reply.status != 404 && reply.status != 405,
        };
        assert!(
            routed,
            "{method} {path} is documented but answers {}: {}",
            reply.status,
            reply.text()
        );
    }
}

/// Every `$ref` in the document points at something that exists.
fn check_refs(doc: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("external $ref {reference}"));
                assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_echoed_or_generated() {
    let env = TestEnv::new("api_reqid", 1).await;
    let api = env.spawn_api().await;
    for path in ["/healthz", "/nope", "/events?limit=0"] {
        let reply = http(
            "GET",
            &api.url(path),
            &[("x-request-id", "client-chosen-42")],
            None,
        )
        .await;
        assert_eq!(
            reply.header("x-request-id").as_deref(),
            Some("client-chosen-42"),
            "{path}"
        );
    }
    let reply = publish(&api, &json!([])).await;
    let first = reply.header("x-request-id").expect("generated on a 422");
    let second = http("GET", &api.url("/healthz"), &[], None)
        .await
        .header("x-request-id")
        .expect("generated");
    assert!(!first.is_empty() && first != second, "{first} vs {second}");
    // An unusable id (too long) is replaced, not echoed.
    let long = "x".repeat(500);
    let reply = http(
        "GET",
        &api.url("/healthz"),
        &[("x-request-id", &long)],
        None,
    )
    .await;
    assert!(reply
        .header("x-request-id")
        .is_some_and(|id| id != long && !id.is_empty()));
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns the status and the header
/// block.
async fn read_response<R: tokio::io::AsyncRead + Unpin>(stream: &mut R) -> (u16, String) {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("read");
        assert!(
            n == 1,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buffer).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("body");
    (head.split(' ').nth(1).unwrap().parse().unwrap(), head)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_body_does_not_break_the_keep_alive_connection() {
    let env = TestEnv::new("api_keepalive", 1).await;
    let api = env
        .spawn_api_with(&[("LOGAGG_API_TOKEN", "t0ken".into())])
        .await;
    // Large enough that it is still arriving when the refusal is ready.
    let mut event = event_json("ka", "e-1");
    event["payload"] = json!({"pad": "p".repeat(2_000_000)});
    let body = event.to_string();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", api.port))
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.split();
    // Refusals that do not need the body (401, 415, 405, 404), then a request that must still be
    // answered on the same connection.
    for (request_line, headers, status) in [
        ("POST /publish", "content-type: application/json\r\n", 401),
        (
            "POST /publish",
            "authorization: Bearer t0ken\r\ncontent-type: text/plain\r\n",
            415,
        ),
        ("PUT /stats", "content-type: application/json\r\n", 405),
        ("POST /nowhere", "content-type: application/json\r\n", 404),
    ] {
        let request = format!(
            "{request_line} HTTP/1.1\r\nhost: 127.0.0.1\r\n{headers}content-length: {}\r\n\r\n{body}",
            body.len()
        );
        let (written, (got, head)) = tokio::join!(
            writer.write_all(request.as_bytes()),
            read_response(&mut reader)
        );
        written.expect("the server read the whole request");
        assert_eq!(got, status, "{request_line}: {head}");
        assert!(
            !head.to_ascii_lowercase().contains("connection: close"),
            "{request_line} closed: {head}"
        );
    }
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        read_response(&mut reader).await.0,
        200,
        "the connection is still usable"
    );
    assert_eq!(env.high_watermarks(), 0);
}
