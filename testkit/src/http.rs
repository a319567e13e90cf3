//! HTTP for tests: any request with any method, headers and raw body ([`http()`], the whole
//! answer as [`HttpReply`]), raw HTTP/1.1 on a socket for what a client library will not send
//! (chunked bodies, pipelined refusals), and [`ApiClient`], the API's routes as calls typed by
//! the HTTP contract (`logagg_core::contract`).

use std::sync::OnceLock;
use std::time::Duration;

use logagg_core::contract::{ErrorBody, EventView, PublishResponse, StatsResponse};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// An HTTP answer as the tests inspect it: status, headers and the raw body.
#[derive(Debug)]
pub struct HttpReply {
    /// 0 when nothing answered (connection refused or reset).
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The body as JSON; panics (showing the body) when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts `status` and reads the body as the contract type `T`.
    pub fn typed<T: DeserializeOwned>(&self, status: u16) -> T {
        assert_eq!(self.status, status, "{}", self.text());
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not a {} ({e}): {}",
                self.status,
                std::any::type_name::<T>(),
                self.text()
            )
        })
    }

    /// Asserts an error answer: `status`, a JSON content type and a body with a non-empty
    /// `error` string; returns the body.
    pub fn assert_error(&self, status: u16, what: &str) -> Value {
        assert_eq!(self.status, status, "{what}: {}", self.text());
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{what}: content-type {content_type:?}"
        );
        let body = self.json();
        let typed: ErrorBody = self.typed(status);
        assert!(
            !typed.error.is_empty(),
            "{what}: error body without an error message: {body}"
        );
        body
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client")
    })
}

/// Sends any request (any method, headers, raw body) and returns the whole answer. A transport
/// failure is status 0 with the error text as body.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> HttpReply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method token");
    let mut request = client().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            HttpReply {
                status,
                headers,
                body,
            }
        }
        Err(error) => HttpReply {
            status: 0,
            headers: reqwest::header::HeaderMap::new(),
            body: format!("{error:?}").into_bytes(),
        },
    }
}

/// The `event_id`s of a JSON array of stored events, in order.
pub fn event_ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .unwrap_or_else(|| panic!("not an array of events: {rows}"))
        .iter()
        .map(|r| r["event_id"].as_str().expect("event_id").to_owned())
        .collect()
}

/// The API's routes as calls, on one base URL.
#[derive(Debug, Clone)]
pub struct ApiClient {
    pub base: String,
}

impl ApiClient {
    pub fn new(base: impl Into<String>) -> Self {
        Self { base: base.into() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` as `application/json` to `/publish`.
    pub async fn publish(&self, body: &Value) -> HttpReply {
        self.post_publish(
            Some("application/json"),
            &serde_json::to_vec(body).expect("serializable"),
        )
        .await
    }

    /// POSTs raw bytes to `/publish` with the given content type (or none).
    pub async fn post_publish(&self, content_type: Option<&str>, body: &[u8]) -> HttpReply {
        let headers: Vec<(&str, &str)> = content_type
            .map(|c| ("content-type", c))
            .into_iter()
            .collect();
        http("POST", &self.url("/publish"), &headers, Some(body.to_vec())).await
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> HttpReply {
        self.get_with(path, &[]).await
    }

    /// GET `path` with `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> HttpReply {
        http("GET", &self.url(path), headers, None).await
    }

    /// GET `path` that must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
        reply.json()
    }

    /// `GET /stats`, typed by the contract.
    pub async fn stats(&self) -> StatsResponse {
        self.get("/stats").await.typed(200)
    }

    /// `POST /publish` of `body`, which must be accepted (200); the typed answer.
    pub async fn publish_ok(&self, body: &Value) -> PublishResponse {
        self.publish(body).await.typed(200)
    }

    /// `GET /events?QUERY` (200), typed.
    pub async fn events(&self, query: &str) -> Vec<EventView> {
        self.get(&format!("/events?{query}")).await.typed(200)
    }

    /// `GET /events/{topic}/{event_id}`: the event, or None on 404.
    pub async fn event(&self, topic: &str, event_id: &str) -> Option<EventView> {
        let reply = self.get(&format!("/events/{topic}/{event_id}")).await;
        (reply.status != 404).then(|| reply.typed(200))
    }
}

/// Sends a raw HTTP/1.1 `POST /publish` with a chunked body (no Content-Length) to
/// 127.0.0.1:`port` and returns the status code and the body text.
pub async fn post_chunked(port: u16, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
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

/// Reads one HTTP/1.1 response with a Content-Length body; returns the status and the header
/// block.
pub async fn read_response<R: AsyncRead + Unpin>(stream: &mut R) -> (u16, String) {
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
