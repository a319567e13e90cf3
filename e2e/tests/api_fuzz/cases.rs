//! The bad-input generator of the API fuzz run: mutated events (wrong types, missing and
//! extra fields, huge strings, bad timestamps, odd unicode, nested junk), non-JSON bytes,
//! wrong content types and methods, random paths and query strings.

use logagg_testkit::event_json;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Map, Value};

/// Events per request the API under test accepts.
pub const MAX_BATCH: usize = 20;
/// Body bytes the API under test accepts.
pub const MAX_BODY: usize = 64 * 1024;
const FIELDS: [&str; 5] = ["topic", "event_id", "timestamp", "source", "payload"];
const REQUIRED: [&str; 4] = ["topic", "event_id", "timestamp", "source"];

/// One generated request and what kind of input it is (for the report and the assertions).
#[derive(Debug, Clone)]
pub struct Case {
    pub kind: &'static str,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Case {
    fn publish(kind: &'static str, content_type: Option<&str>, body: Vec<u8>) -> Self {
        Self {
            kind,
            method: "POST".into(),
            path: "/publish".into(),
            headers: content_type
                .map(|c| ("content-type".to_owned(), c.to_owned()))
                .into_iter()
                .collect(),
            body: Some(body),
        }
    }

    pub fn is_publish(&self) -> bool {
        self.method == "POST" && self.path.split('?').next() == Some("/publish")
    }
}

/// Strings chosen to be awkward: control characters, RTL marks, combining marks, emoji,
/// replacement characters, surrogate-range escapes written out, very long and empty ones.
fn odd_string(rng: &mut StdRng) -> String {
    const PIECES: [&str; 16] = [
        "\u{202e}rtl",
        "e\u{301}\u{301}\u{301}",
        "💥🔥",
        "\u{feff}",
        "\u{fffd}",
        "\t\n\r",
        "\u{1}\u{7f}",
        "'; DROP TABLE events; --",
        "%00",
        "../../etc/passwd",
        "\\u0000",
        "{\"nested\": true}",
        "ℌ𝔢𝔩𝔩𝔬",
        "\u{200b}",
        "null",
        "ﷺ",
    ];
    let mut text = String::new();
    for _ in 0..rng.random_range(1..6) {
        if rng.random_bool(0.3) {
            text.push(char::from_u32(rng.random_range(0x20..0x2FFFF)).unwrap_or('?'));
        } else {
            text.push_str(PIECES.choose(rng).unwrap());
        }
    }
    text
}

fn huge_string(rng: &mut StdRng) -> String {
    let unit = ["x", "é", "💥", "ab/"].choose(rng).unwrap().to_string();
    unit.repeat(rng.random_range(256..20_000))
}

/// Valid JSON of an unexpected shape, possibly deeply nested.
fn junk(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..8) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>() * 1e300),
        4 => json!(odd_string(rng)),
        5 if depth < 40 => Value::Array(
            (0..rng.random_range(0..3))
                .map(|_| junk(rng, depth + 1))
                .collect(),
        ),
        6 if depth < 40 => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..3) {
                map.insert(odd_string(rng), junk(rng, depth + 1));
            }
            Value::Object(map)
        }
        _ => json!([[[[{"deep": [1, {"er": [null]}]}]]]]),
    }
}

fn bad_timestamp(rng: &mut StdRng) -> Value {
    const BAD: [&str; 14] = [
        "not-a-date",
        "2026-11-25T12:00:00",
        "2026-11-25 12:00:00",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-25T25:00:00Z",
        "2026-11-25T12:00:00+25:00",
        "",
        "yesterday",
        "1764072000",
        "2026-11-25",
        "12:00:00Z",
        "+002026-11-25T12:00:00Z",
        "2026-11-25T12:00:00.123456789123Zjunk",
    ];
    match rng.random_range(0..4) {
        0 => json!(rng.random::<i64>()),
        1 => json!(odd_string(rng)),
        _ => json!(BAD.choose(rng).unwrap()),
    }
}

/// A wrong value for `field`: a wrong type, or a string the rules refuse.
fn bad_value(rng: &mut StdRng, field: &str) -> Value {
    let wrong_type = || -> Vec<Value> {
        vec![
            json!(42),
            json!(true),
            json!([]),
            json!({"a": 1}),
            json!(1.5),
        ]
    };
    match field {
        "timestamp" => bad_timestamp(rng),
        "payload" => [
            json!([1, 2]),
            json!("text"),
            json!(7),
            json!(false),
            json!(odd_string(rng)),
        ]
        .choose(rng)
        .unwrap()
        .clone(),
        "topic" => match rng.random_range(0..5) {
            0 => json!(""),
            1 => json!("t".repeat(rng.random_range(256..2000))),
            2 => json!(format!("has space{}", odd_string(rng))),
            3 => json!(format!(
                "{}{}",
                odd_string(rng),
                ['#', '?', ':', '*', '\u{0}', 'é'].choose(rng).unwrap()
            )),
            _ => wrong_type().choose(rng).unwrap().clone(),
        },
        _ => match rng.random_range(0..4) {
            0 => json!(""),
            1 => json!(huge_string(rng)),
            2 => json!(format!("nul\u{0}{}", odd_string(rng))),
            _ => wrong_type().choose(rng).unwrap().clone(),
        },
    }
}

/// An event with at least one invalidating mutation, plus maybe some harmless oddities.
fn invalid_event(rng: &mut StdRng) -> Value {
    let mut event = event_json("fuzz", &format!("f-{}", rng.random::<u32>()));
    let object = event.as_object_mut().unwrap();
    // Harmless first: odd but valid values.
    if rng.random_bool(0.3) {
        object.insert(
            "source".into(),
            json!(odd_string(rng)
                .chars()
                .take(200)
                .collect::<String>()
                .replace('\0', "")),
        );
    }
    if rng.random_bool(0.3) {
        let mut payload = Map::new();
        payload.insert("junk".into(), junk(rng, 0));
        object.insert("payload".into(), Value::Object(payload));
    }
    for _ in 0..rng.random_range(1..4) {
        match rng.random_range(0..4) {
            0 => {
                object.remove(*REQUIRED.choose(rng).unwrap());
            }
            1 => {
                let field = *FIELDS.choose(rng).unwrap();
                object.insert(field.into(), bad_value(rng, field));
            }
            2 => {
                let name = format!(
                    "{}{}",
                    ["tpoic", "eventId", "ts", "extra", "", "PAYLOAD"]
                        .choose(rng)
                        .unwrap(),
                    odd_string(rng)
                );
                object.insert(name, junk(rng, 0));
            }
            _ => {
                let field = *REQUIRED.choose(rng).unwrap();
                object.insert(field.into(), Value::Null);
            }
        }
    }
    event
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serializable")
}

/// One generated request.
pub fn generate(rng: &mut StdRng) -> Case {
    let json_type = [
        "application/json",
        "application/json; charset=utf-8",
        "application/problem+json",
    ];
    match rng.random_range(0..100) {
        // Invalid events in every publish shape, sometimes next to valid ones.
        0..=39 => {
            let bad = invalid_event(rng);
            let mut batch: Vec<Value> = (0..rng.random_range(0..5))
                .map(|i| event_json("fuzz", &format!("ok-{i}")))
                .collect();
            let at = rng.random_range(0..=batch.len());
            batch.insert(at, bad.clone());
            let body = match rng.random_range(0..4) {
                0 => bad,
                1 => Value::Array(batch),
                2 => json!({ "events": batch }),
                _ => {
                    let mut wrapper = Map::new();
                    wrapper.insert("events".into(), Value::Array(batch));
                    wrapper.insert(odd_string(rng), junk(rng, 0));
                    Value::Object(wrapper)
                }
            };
            Case::publish(
                "invalid event",
                Some(json_type.choose(rng).unwrap()),
                to_bytes(&body),
            )
        }
        // Shapes that are not events at all.
        40..=47 => {
            let body = match rng.random_range(0..6) {
                0 => json!([]),
                1 => json!({"events": []}),
                2 => Value::Array(
                    (0..MAX_BATCH + 1 + rng.random_range(0..30))
                        .map(|i| event_json("fuzz", &format!("many-{i}")))
                        .collect(),
                ),
                3 => json!({"events": junk(rng, 0)}),
                4 => Value::Array((0..rng.random_range(1..5)).map(|_| junk(rng, 0)).collect()),
                _ => junk(rng, 0),
            };
            // junk() objects only have odd keys: never an event.
            Case::publish("bad shape", Some("application/json"), to_bytes(&body))
        }
        // Not JSON: random bytes, truncated or garbled valid JSON, deep nesting.
        48..=59 => {
            let valid = to_bytes(&json!([
                event_json("fuzz", "x-1"),
                event_json("fuzz", "x-2")
            ]));
            let body = match rng.random_range(0..5) {
                0 => (0..rng.random_range(0..2000))
                    .map(|_| rng.random::<u8>())
                    .collect(),
                1 => valid[..rng.random_range(0..valid.len())].to_vec(),
                2 => {
                    let mut garbled = valid.clone();
                    for _ in 0..rng.random_range(1..4) {
                        let i = rng.random_range(0..garbled.len());
                        garbled[i] = *b"{}[]\",:\\\0\xff".choose(rng).unwrap();
                    }
                    // Garbling may keep it valid JSON by chance; make sure it is not.
                    garbled.extend(b"}{");
                    garbled
                }
                3 => format!(
                    "{}{}",
                    "[".repeat(rng.random_range(129..5000)),
                    "]".repeat(rng.random_range(0..5000))
                )
                .into_bytes(),
                _ => [
                    b"\xef\xbb\xbf{}".as_slice(),
                    b"{\"topic\": \"\xc3\x28\"}",
                    b"NaN",
                    b"{\"a\": 1e999}",
                    b"\"\\ud800\"",
                ]
                .choose(rng)
                .unwrap()
                .to_vec(),
            };
            Case::publish("not JSON", Some(json_type.choose(rng).unwrap()), body)
        }
        // A valid event with a content type that is not JSON (or none).
        60..=66 => {
            let content_type = [
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
                Some("multipart/form-data; boundary=zz"),
                Some("application/jsonx"),
                Some("text/json"),
                Some("*/*"),
                Some("application/octet-stream"),
                Some("json"),
                Some(";;;"),
            ];
            Case::publish(
                "wrong content type",
                *content_type.choose(rng).unwrap(),
                to_bytes(&event_json("fuzz", "ct-1")),
            )
        }
        // Bodies over the size limit.
        67..=70 => {
            let mut event = event_json("fuzz", "big-1");
            event["payload"] =
                json!({"blob": "y".repeat(MAX_BODY + rng.random_range(1..2 * MAX_BODY + 50_000))});
            Case::publish("oversized", Some("application/json"), to_bytes(&event))
        }
        // Wrong methods on known paths.
        71..=78 => {
            let (path, methods): (&str, &[&str]) = *[
                (
                    "/publish",
                    &["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "FROB"][..],
                ),
                ("/events", &["POST", "PUT", "DELETE", "PATCH"][..]),
                ("/events/fuzz/x", &["POST", "DELETE", "PUT"][..]),
                ("/stats", &["POST", "DELETE"][..]),
                ("/health", &["POST", "PUT"][..]),
                ("/healthz", &["DELETE"][..]),
                ("/metrics", &["POST"][..]),
                ("/openapi.json", &["PUT"][..]),
            ]
            .choose(rng)
            .unwrap();
            let body = rng
                .random_bool(0.5)
                .then(|| to_bytes(&event_json("fuzz", "m-1")));
            Case {
                kind: "wrong method",
                method: methods.choose(rng).unwrap().to_string(),
                path: path.into(),
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            }
        }
        // Random paths, any method except a POST that could reach /publish.
        79..=86 => {
            let segments: Vec<String> = (0..rng.random_range(1..5))
                .map(|_| percent(&odd_string(rng)))
                .collect();
            let prefix = [
                "",
                "events/",
                "publish/",
                "stats/",
                "events/fuzz/",
                "%2e%2e/",
            ]
            .choose(rng)
            .unwrap();
            Case {
                kind: "random path",
                method: ["GET", "DELETE", "PUT", "HEAD"]
                    .choose(rng)
                    .unwrap()
                    .to_string(),
                path: format!("/{prefix}{}", segments.join("/")),
                headers: vec![],
                body: None,
            }
        }
        // Random query strings on GET /events.
        _ => {
            let keys = [
                "topic", "limit", "before", "after", "order", "colour", "", "limit[]", "topic%00",
            ];
            let values = || -> Vec<String> {
                vec![
                    "0".into(),
                    "-1".into(),
                    "1001".into(),
                    "99999999999999999999999".into(),
                    "1e3".into(),
                    "asc".into(),
                    "desc".into(),
                    "ASC".into(),
                    "fuzz".into(),
                    "%00".into(),
                    "%FF%FE".into(),
                    "".into(),
                    "9223372036854775807".into(),
                    "-9223372036854775808".into(),
                    "1".into(),
                    "%2F%2F".into(),
                ]
            };
            let pairs: Vec<String> = (0..rng.random_range(0..5))
                .map(|_| {
                    let key = keys.choose(rng).unwrap();
                    let value = if rng.random_bool(0.3) {
                        percent(&odd_string(rng))
                    } else {
                        values().choose(rng).unwrap().clone()
                    };
                    format!("{key}={value}")
                })
                .collect();
            Case {
                kind: "random query",
                method: "GET".into(),
                path: format!("/events?{}", pairs.join("&")),
                headers: vec![],
                body: None,
            }
        }
    }
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
