//! Helpers of the find_* tests: a Server-Sent Events reader and a Link follower.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use logagg_testkit::{http, Service};
use serde_json::Value;

/// One delivered SSE event: its id (the commit cursor) and its JSON data.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: String,
    pub data: Value,
}

impl SseEvent {
    /// The commit cursor `<tx>.<id>` as a sortable pair.
    pub fn cursor(&self) -> (u64, i64) {
        let (tx, id) = self.id.split_once('.').expect("cursor <tx>.<id>");
        (tx.parse().expect("tx"), id.parse().expect("id"))
    }

    pub fn key(&self) -> (String, String) {
        (
            self.data["topic"].as_str().expect("topic").to_owned(),
            self.data["event_id"].as_str().expect("event_id").to_owned(),
        )
    }
}

/// An open `GET /events/stream` response, read incrementally.
pub struct SseClient {
    response: reqwest::Response,
    buffer: String,
    pub events: Vec<SseEvent>,
    pub comments: usize,
}

impl SseClient {
    /// Opens the stream and waits for its first comment (the subscription is then in place).
    pub async fn open(api: &Service, path: &str, last_event_id: Option<&str>) -> Self {
        let mut request = reqwest::Client::new().get(api.url(path));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("stream request");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut client = Self {
            response,
            buffer: String::new(),
            events: Vec::new(),
            comments: 0,
        };
        client
            .read_until(Duration::from_secs(30), |c| c.comments > 0)
            .await;
        client
    }

    /// Reads until `done` holds; panics at the deadline.
    pub async fn read_until(&mut self, timeout: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "stream timed out with {} events",
                self.events.len()
            );
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&chunk));
                    self.parse();
                }
                Ok(Ok(None)) => panic!("stream ended after {} events", self.events.len()),
                Ok(Err(e)) => panic!("stream failed: {e}"),
                Err(_) => {}
            }
        }
    }

    fn parse(&mut self) {
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut id, mut data) = (None, String::new());
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if let Some(id) = id {
                let data = serde_json::from_str(&data).expect("event data is JSON");
                self.events.push(SseEvent { id, data });
            }
        }
    }
}

/// Follows `Link: rel="next"` from `path` to the last page; returns every row and the number
/// of pages.
pub async fn follow(api: &Service, path: &str) -> (Vec<Value>, usize) {
    let (mut rows, mut pages) = (Vec::new(), 0);
    let mut next = Some(path.to_owned());
    while let Some(path) = next {
        pages += 1;
        assert!(pages < 10_000, "too many pages from {path}");
        let reply = http("GET", &api.url(&path), &[], None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        rows.extend(reply.json().as_array().expect("array").iter().cloned());
        next = reply.header("link").map(|link| {
            link.split_once(';')
                .expect("Link has a rel")
                .0
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        });
    }
    (rows, pages)
}

/// `(topic, event_id)` of a row.
pub fn key(row: &Value) -> (String, String) {
    (
        row["topic"].as_str().expect("topic").to_owned(),
        row["event_id"].as_str().expect("event_id").to_owned(),
    )
}
