//! API access control: every route of /openapi.json × {no token, unknown token, publish,
//! read, admin, LOGAGG_API_TOKEN}: 401 without a known token, 403 without the route's scope;
//! the per-token publish rate (429 + Retry-After, nothing produced, every event under the
//! limit acknowledged); the tokens file re-read on SIGHUP; token names, never tokens, in the
//! metrics and logs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use logagg_testkit::{event_json, http, wait_for, HttpReply, Service, TestEnv};
use serde_json::{json, Value};

const PUBLISHER: &str = "pub-7c1e0b1a-token";
const READER: &str = "read-5d2f9e3b-token";
const ADMIN: &str = "admin-9a8b7c6d-token";
const LIMITED: &str = "limited-1f2e3d4c-token";
const EVERYTHING: &str = "env-4b5a6978-token";
const UNKNOWN: &str = "unknown-0000-token";
/// Events per second allowed to the `limited` token.
const RATE: usize = 20;

fn sha256_hex(token: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(token.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("sha256sum output");
    String::from_utf8(out.stdout).expect("utf-8")[..64].to_owned()
}

fn tokens_file(dir: &Path, lines: &[(&str, &str, &str, &str)]) -> PathBuf {
    let mut text = String::from("# name scopes hash [rate=N]\n");
    for (name, scopes, token, options) in lines {
        text.push_str(&format!(
            "{name} {scopes} sha256:{} {options}\n",
            sha256_hex(token)
        ));
    }
    let path = dir.join("tokens");
    std::fs::write(&path, text).expect("tokens file");
    path
}

fn secrets_dir(env: &TestEnv) -> PathBuf {
    let dir = logagg_testkit::root()
        .join("target")
        .join("e2e-secrets")
        .join(&env.name);
    std::fs::create_dir_all(&dir).expect("secrets dir");
    dir
}

async fn spawn_guarded_api(env: &TestEnv) -> Service {
    let dir = secrets_dir(env);
    let tokens = tokens_file(
        &dir,
        &[
            ("publisher", "publish", PUBLISHER, ""),
            ("reader", "read", READER, ""),
            ("admin", "admin", ADMIN, ""),
            ("limited", "publish", LIMITED, &format!("rate={RATE}")),
        ],
    );
    let everything = dir.join("api-token");
    std::fs::write(&everything, format!("{EVERYTHING}\n")).expect("token file");
    env.spawn_api_with(&[
        ("LOGAGG_API_TOKENS_FILE", tokens.display().to_string()),
        ("LOGAGG_API_TOKEN_FILE", everything.display().to_string()),
    ])
    .await
}

/// One request to `method path` with `token` (if any); a publish carries one fresh event.
async fn call(api: &Service, method: &str, path: &str, token: Option<&str>, n: usize) -> HttpReply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer));
    }
    if path.starts_with("/events/stream") {
        return call_stream(&api.url(path), &headers).await;
    }
    let body = (method == "POST").then(|| {
        let id = format!("m-{n}");
        serde_json::to_vec(&event_json("matrix", &id)).expect("json")
    });
    http(method, &api.url(path), &headers, body).await
}

/// The live tail never ends, so its answer is judged by the status (an error body is read).
async fn call_stream(url: &str, headers: &[(&str, &str)]) -> HttpReply {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("stream request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = if (200..300).contains(&status) {
        Vec::new()
    } else {
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default()
    };
    HttpReply {
        status,
        headers,
        body,
    }
}

/// Stores one dead letter (a record that is not JSON) and returns its id, for the retry route.
async fn dead_letter_id(env: &TestEnv, api: &Service) -> String {
    env.produce_raw(Some(0), Some(b"matrix-key"), b"not json")
        .await;
    let id: i64 = wait_for(Duration::from_secs(60), "the dead letter", || async {
        let reply = call(api, "GET", "/dead-letters", Some(EVERYTHING), 0).await;
        reply.json()[0]["id"].as_i64()
    })
    .await;
    id.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_each_kind_of_caller_as_its_scope_says() {
    let env = TestEnv::new("sec_matrix", 1).await;
    let api = spawn_guarded_api(&env).await;
    let seed = call(&api, "POST", "/publish", Some(PUBLISHER), 0).await;
    assert_eq!(seed.status, 200, "{}", seed.text());
    let _consumer = env.spawn_consumer("c1").await;
    env.wait_counts(Duration::from_secs(60), "the seed event", |c| {
        c.received >= 1
    })
    .await;

    let dead_letter = dead_letter_id(&env, &api).await;
    let (_, document) = api.get("/openapi.json").await;
    let paths = document["paths"]
        .as_object()
        .expect("paths in /openapi.json");
    assert!(paths.len() >= 8, "{document}");
    // Probes, scraping, the contract and the console's files (which hold no data).
    let open = [
        "/health",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/",
        "/console",
        "/console/{asset}",
    ];
    let mut n = 1;
    for (template, methods) in paths {
        let path = template
            .replace("{topic}", "matrix")
            .replace("{event_id}", "m-0")
            .replace("{id}", &dead_letter)
            .replace("{asset}", "app.js");
        for method in methods.as_object().expect("methods").keys() {
            let method = method.to_ascii_uppercase();
            let scope = if open.contains(&template.as_str()) {
                None
            } else if method == "POST" && template == "/publish" {
                Some("publish")
            } else if method == "GET" {
                Some("read")
            } else {
                Some("admin")
            };
            for (caller, token) in [
                ("none", None),
                ("unknown", Some(UNKNOWN)),
                ("publish", Some(PUBLISHER)),
                ("read", Some(READER)),
                ("admin", Some(ADMIN)),
                ("LOGAGG_API_TOKEN", Some(EVERYTHING)),
            ] {
                n += 1;
                let reply = call(&api, &method, &path, token, n).await;
                let what = format!(
                    "{method} {path} as {caller}: {} {}",
                    reply.status,
                    reply.text()
                );
                let expected_denial = match scope {
                    None => None,
                    Some(_) if matches!(caller, "none" | "unknown") => Some(401),
                    Some(scope) if caller == scope || caller == "LOGAGG_API_TOKEN" => None,
                    Some(_) => Some(403),
                };
                match expected_denial {
                    Some(status) => {
                        assert_eq!(reply.status, status, "{what}");
                        assert!(reply.json()["error"].is_string(), "{what}");
                    }
                    None => assert!(
                        (200..300).contains(&reply.status),
                        "{what} (a caller with the scope gets the route's answer)"
                    ),
                }
            }
        }
    }
    // Only the publishes that were allowed reached the broker.
    // The seed, the dead-lettered record, then publish + LOGAGG_API_TOKEN, and the retries of
    // admin + LOGAGG_API_TOKEN.
    let allowed_publishes = 1 + 1 + 2 + 2;
    assert_eq!(env.high_watermarks().await, allowed_publishes);

    // Names, never tokens, in the metrics and the log.
    let metrics = http("GET", &api.url("/metrics"), &[], None).await.text();
    assert!(
        metrics.contains(r#"logagg_api_auth_total{outcome="forbidden",token="reader"}"#),
        "{metrics}"
    );
    let log = std::fs::read_to_string(&api.log).expect("api log");
    assert!(
        log.contains("publisher"),
        "the token name is in the request log"
    );
    for secret in [PUBLISHER, READER, ADMIN, EVERYTHING, UNKNOWN] {
        assert!(
            !metrics.contains(secret) && !log.contains(secret),
            "{secret} leaked"
        );
    }
}

async fn publish_batch(api: &Service, token: &str, first: usize, count: usize) -> HttpReply {
    let events: Vec<Value> = (first..first + count)
        .map(|i| event_json("rated", &format!("r-{i}")))
        .collect();
    http(
        "POST",
        &api.url("/publish"),
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {token}")),
        ],
        Some(serde_json::to_vec(&json!({ "events": events })).expect("json")),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_publish_rate_answers_429_with_retry_after_and_admits_what_is_under_it() {
    let env = TestEnv::new("sec_rate", 1).await;
    let api = spawn_guarded_api(&env).await;
    let mut accepted = 0;

    // A full second's worth at once, then more straight away: over the rate.
    let reply = publish_batch(&api, LIMITED, 0, RATE).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    accepted += RATE;
    let refused = publish_batch(&api, LIMITED, 1000, 5).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert!(refused.json()["error"]
        .as_str()
        .unwrap()
        .contains("limited"));
    // Another token is not slowed down by this one.
    assert_eq!(publish_batch(&api, PUBLISHER, 2000, 5).await.status, 200);
    accepted += 5;

    // After the wait, half the rate for three seconds: every request acknowledged.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    for step in 0..6 {
        let reply = publish_batch(&api, LIMITED, 3000 + step * 5, 5).await;
        assert_eq!(reply.status, 200, "step {step}: {}", reply.text());
        accepted += 5;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        env.high_watermarks().await,
        accepted as i64,
        "nothing refused was produced"
    );
    let metrics = http("GET", &api.url("/metrics"), &[], None).await.text();
    assert!(
        metrics.contains(r#"logagg_api_auth_total{outcome="rate_limited",token="limited"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tokens_file_is_re_read_on_sighup() {
    let env = TestEnv::new("sec_sighup", 1).await;
    let api = spawn_guarded_api(&env).await;
    assert_eq!(
        call(&api, "GET", "/stats", Some(READER), 0).await.status,
        200
    );
    let replacement = "read-replacement-77-token";
    tokens_file(&secrets_dir(&env), &[("reader2", "read", replacement, "")]);
    // Before the signal the file is not looked at.
    assert_eq!(
        call(&api, "GET", "/stats", Some(replacement), 0)
            .await
            .status,
        401
    );
    api.signal("HUP");
    wait_for(
        Duration::from_secs(10),
        "the new token accepted",
        || async {
            (call(&api, "GET", "/stats", Some(replacement), 0)
                .await
                .status
                == 200)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        call(&api, "GET", "/stats", Some(READER), 0).await.status,
        401
    );
    // A broken file keeps the tokens in force.
    std::fs::write(secrets_dir(&env).join("tokens"), "broken line\n").expect("write");
    api.signal("HUP");
    wait_for(
        Duration::from_secs(10),
        "the refused reload in the log",
        || async {
            let log = std::fs::read_to_string(&api.log).unwrap_or_default();
            log.contains("API tokens not reloaded").then_some(())
        },
    )
    .await;
    assert_eq!(
        call(&api, "GET", "/stats", Some(replacement), 0)
            .await
            .status,
        200
    );
}
