//! Routing and HTTP behaviour of `logagg-api` against the real binary: 404 and 405 with
//! `Allow`, the OpenAPI document against the routes it describes, request ids, and a refused
//! body that leaves the keep-alive connection usable.

use logagg_testkit::http::read_response;
use logagg_testkit::{http, openapi, padded_event, TestEnv};
use serde_json::json;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let (env, api) = TestEnv::with_api("api_404", 1, &[]).await;
    for (method, path) in [
        ("GET", "/console/nope.js"),
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
        reply.assert_error(404, &format!("{method} {path}"));
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
        ("POST", "/events/stream", "GET"),
        ("DELETE", "/topics", "GET"),
        ("GET", "/dead-letters/7/retry", "POST"),
        ("POST", "/", "GET"),
        ("DELETE", "/console", "GET"),
    ] {
        let reply = http(
            method,
            &api.url(path),
            &[("content-type", "application/json")],
            Some(b"{}".to_vec()),
        )
        .await;
        reply.assert_error(405, &format!("{method} {path}"));
        assert_eq!(
            reply.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
    }
    env.assert_records(0, "nothing else reached Kafka").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_describes_every_route() {
    let (_env, api) = TestEnv::with_api("api_openapi", 1, &[]).await;
    let (status, doc) = api.get("/openapi.json").await;
    assert_eq!(status, 200);
    let documented = openapi::operations(&doc);
    // That the document names exactly the route table is the api crate's unit test
    // (openapi::tests::documents_exactly_the_route_table); here: the served document is that
    // one, and every operation it names is really served.
    assert!(
        documented.contains(&("POST".to_owned(), "/publish".to_owned()))
            && documented.contains(&("GET".to_owned(), "/openapi.json".to_owned())),
        "{documented:?}"
    );
    // Every documented operation is served (not 404/405).
    for (method, path) in &documented {
        let concrete = match path.as_str() {
            // A bad filter gets an immediate 400 from the route instead of an endless stream.
            "/events/stream" => "/events/stream?q=x".to_owned(),
            _ => path
                .replace("{topic}", "t")
                .replace("{event_id}", "e")
                .replace("{id}", "1")
                .replace("{asset}", "app.js"),
        };
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
            "/dead-letters/{id}/retry" => {
                reply.status == 404
                    && reply.json()["error"]
                        .as_str()
                        .unwrap()
                        .contains("no dead letter")
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

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_echoed_or_generated() {
    let (_env, api) = TestEnv::with_api("api_reqid", 1, &[]).await;
    for path in ["/healthz", "/nope", "/events?limit=0"] {
        let reply = api
            .api()
            .get_with(path, &[("x-request-id", "client-chosen-42")])
            .await;
        assert_eq!(
            reply.header("x-request-id").as_deref(),
            Some("client-chosen-42"),
            "{path}"
        );
    }
    let reply = api.publish(&json!([])).await;
    let first = reply.header("x-request-id").expect("generated on a 422");
    let second = http("GET", &api.url("/healthz"), &[], None)
        .await
        .header("x-request-id")
        .expect("generated");
    assert!(!first.is_empty() && first != second, "{first} vs {second}");
    // An unusable id (too long) is replaced, not echoed.
    let long = "x".repeat(500);
    let reply = api
        .api()
        .get_with("/healthz", &[("x-request-id", &long)])
        .await;
    assert!(reply
        .header("x-request-id")
        .is_some_and(|id| id != long && !id.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_body_does_not_break_the_keep_alive_connection() {
    let (env, api) =
        TestEnv::with_api("api_keepalive", 1, &[("LOGAGG_API_TOKEN", "t0ken".into())]).await;
    // Large enough that it is still arriving when the refusal is ready.
    let body = padded_event("ka", "e-1", 2_000_000);
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
    env.assert_records(0, "nothing else reached Kafka").await;
}
