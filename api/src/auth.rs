//! API access control: named bearer tokens with scopes (`publish`, `read`, `admin`) from
//! `LOGAGG_API_TOKENS_FILE` (re-read on SIGHUP) and `LOGAGG_API_TOKEN` (every scope), a
//! per-token publish rate, and the guard that answers 401/403 before any handler runs.
//!
//! Tokens are stored as SHA-256 hashes; a presented token is hashed and compared with every
//! stored hash in constant time. Only token names reach logs and metrics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, Opts};
use subtle::ConstantTimeEq;
use warp::http::{header, HeaderMap, Method};

use warp::filters::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::errors::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `POST /publish`.
    Publish,
    /// Every `GET` of stored data (events, stats, topics, dead letters).
    Read,
    /// Every route that changes or deletes stored data, other than publishing.
    Admin,
}

impl Scope {
    fn bit(self) -> u8 {
        match self {
            Scope::Publish => 1,
            Scope::Read => 2,
            Scope::Admin => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scope::Publish => "publish",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// Routes anyone may call: probes, scraping and the published contract (and the console's
/// files, `console::is_console_path`).
const OPEN_PATHS: &[&str] = &["/health", "/healthz", "/metrics", "/openapi.json"];

/// The scope a request needs, or `None` when it needs none: an open path, or a path/method
/// the router does not serve (it answers 404/405, which reveal nothing).
pub fn required_scope(method: &Method, path: &str) -> Option<Scope> {
    let trimmed = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    if OPEN_PATHS.contains(&trimmed) || crate::console::is_console_path(path) {
        return None;
    }
    let served = crate::route_table::allowed_methods(path)?;
    if !served.split(", ").any(|m| m == method.as_str()) {
        return None;
    }
    Some(match *method {
        Method::POST if trimmed == "/publish" => Scope::Publish,
        Method::GET | Method::HEAD => Scope::Read,
        _ => Scope::Admin,
    })
}

/// One configured token (its hash is not a secret: `Debug` may show it).
#[derive(Debug, Clone)]
struct Token {
    name: String,
    sha256: [u8; 32],
    scopes: u8,
    /// Events per second through `POST /publish`; `None` = unlimited.
    rate: Option<f64>,
}

/// Name of the token `LOGAGG_API_TOKEN` defines.
pub const ENV_TOKEN_NAME: &str = "LOGAGG_API_TOKEN";

fn sha256(bytes: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(bytes)
}

/// Parses a tokens file (format in docs/SECURITY.md). Errors name the line.
fn parse_tokens(text: &str, origin: &Path) -> Result<Vec<Token>, String> {
    let mut tokens: Vec<Token> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |reason: String| format!("{}:{}: {reason}", origin.display(), index + 1);
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, scopes, hash, options @ ..] = fields.as_slice() else {
            return Err(at("expected: name scopes sha256:<hex> [rate=N]".into()));
        };
        if name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(at(format!(
                "token name {name:?}: 1..=64 of A-Z a-z 0-9 . _ -"
            )));
        }
        if *name == ENV_TOKEN_NAME || tokens.iter().any(|t| t.name == *name) {
            return Err(at(format!("token name {name:?} is used twice")));
        }
        let mut bits = 0;
        for scope in scopes.split(',') {
            bits |= match scope {
                "publish" => Scope::Publish.bit(),
                "read" => Scope::Read.bit(),
                "admin" => Scope::Admin.bit(),
                other => {
                    return Err(at(format!(
                        "unknown scope {other:?} (publish, read, admin, comma-separated)"
                    )))
                }
            };
        }
        let sha256 = parse_hash(hash).ok_or_else(|| {
            at(
                "the hash must be sha256: followed by 64 hex digits (sha256sum of the token)"
                    .into(),
            )
        })?;
        let mut rate = None;
        for option in options {
            match option.split_once('=') {
                Some(("rate", value)) => {
                    let value: f64 = value
                        .parse()
                        .ok()
                        .filter(|v: &f64| v.is_finite() && *v > 0.0)
                        .ok_or_else(|| {
                            at(format!("rate={value}: a positive number of events/s"))
                        })?;
                    rate = Some(value);
                }
                _ => return Err(at(format!("unknown option {option:?} (rate=N)"))),
            }
        }
        tokens.push(Token {
            name: (*name).to_owned(),
            sha256,
            scopes: bits,
            rate,
        });
    }
    Ok(tokens)
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A token bucket of `rate` events/s holding at most one second of events.
struct Bucket {
    available: f64,
    updated: Instant,
}

impl Bucket {
    /// Takes `events` when the bucket holds them (a batch bigger than one second's worth needs
    /// a full bucket and leaves it in debt); else how long until it would.
    fn take(&mut self, rate: f64, events: usize, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now;
        self.available = (self.available + elapsed * rate).min(rate);
        let needed = (events as f64).min(rate);
        if self.available >= needed {
            self.available -= events as f64;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((needed - self.available) / rate))
        }
    }
}

/// The configured tokens, shared by every request. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    file: Option<PathBuf>,
    env_token: Option<Token>,
    tokens: RwLock<Vec<Token>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    decisions: IntCounterVec,
}

/// Who called, once authenticated.
#[derive(Debug)]
pub struct Caller {
    pub name: String,
}

impl Auth {
    /// Reads the tokens file (when configured); an unreadable or invalid file stops the start.
    pub fn load(
        env_token: Option<&logagg_core::secret::Secret>,
        file: Option<PathBuf>,
    ) -> Result<Self, String> {
        let tokens = match &file {
            Some(path) => read_tokens(path)?,
            None => Vec::new(),
        };
        let decisions = IntCounterVec::new(
            Opts::new(
                "logagg_api_auth_total",
                "Access decisions by token name (\"-\" for none or unknown) and outcome.",
            ),
            &["token", "outcome"],
        )
        .expect("valid metric");
        Ok(Self {
            inner: Arc::new(Inner {
                file,
                env_token: env_token.map(|secret| Token {
                    name: ENV_TOKEN_NAME.into(),
                    sha256: sha256(secret.expose().as_bytes()),
                    scopes: Scope::Publish.bit() | Scope::Read.bit() | Scope::Admin.bit(),
                    rate: None,
                }),
                tokens: RwLock::new(tokens),
                buckets: Mutex::new(HashMap::new()),
                decisions,
            }),
        })
    }

    /// The access-decision counter, for the metrics registry.
    pub fn metric(&self) -> IntCounterVec {
        self.inner.decisions.clone()
    }

    /// No token configured at all: every route is open (local use).
    pub fn is_open(&self) -> bool {
        self.inner.file.is_none() && self.inner.env_token.is_none()
    }

    /// How many tokens are configured.
    pub fn count(&self) -> usize {
        let file_tokens = self.inner.tokens.read().expect("tokens lock").len();
        file_tokens + usize::from(self.inner.env_token.is_some())
    }

    /// Re-reads the tokens file; on error the tokens in force stay.
    pub fn reload(&self) -> Result<usize, String> {
        let Some(path) = &self.inner.file else {
            return Ok(self.count());
        };
        let tokens = read_tokens(path)?;
        *self.inner.tokens.write().expect("tokens lock") = tokens;
        Ok(self.count())
    }

    /// Re-reads the tokens file on every SIGHUP, for the life of the process.
    pub fn reload_on_sighup(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup())?;
        let auth = self.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match auth.reload() {
                    Ok(count) => tracing::info!(tokens = count, "API tokens reloaded (SIGHUP)"),
                    Err(error) => {
                        tracing::error!(%error, "API tokens not reloaded; the previous tokens stay in force")
                    }
                }
            }
        });
        Ok(())
    }

    /// The token presented in `Authorization: Bearer …`, matched in constant time.
    fn find(&self, headers: &HeaderMap) -> Option<Token> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.trim().split_once(' '))
            // The scheme is case-insensitive (RFC 9110 section 11.1).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())?;
        let hash = sha256(given.as_bytes());
        let tokens = self.inner.tokens.read().expect("tokens lock");
        let mut found = None;
        // Every stored hash is compared, so the time taken does not depend on which matched.
        for token in tokens.iter().chain(self.inner.env_token.as_ref()) {
            if bool::from(token.sha256.ct_eq(&hash)) {
                found = Some(token.clone());
            }
        }
        found
    }

    fn count_decision(&self, token: &str, outcome: &str) {
        self.inner
            .decisions
            .with_label_values(&[token, outcome])
            .inc();
    }

    /// Whether the request may proceed: `Ok(None)` for an open route or an open API,
    /// `Ok(Some(caller))` for an authorized token, else the 401/403 to answer.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Option<Caller>, ApiError> {
        let Some(scope) = required_scope(method, path) else {
            return Ok(None);
        };
        if self.is_open() {
            return Ok(None);
        }
        let Some(token) = self.find(headers) else {
            self.count_decision("-", "unauthorized");
            return Err(ApiError::Unauthorized);
        };
        // The name (never the token) goes on the request's span, so its log lines carry it.
        tracing::Span::current().record("token", token.name.as_str());
        if token.scopes & scope.bit() == 0 {
            self.count_decision(&token.name, "forbidden");
            return Err(ApiError::Forbidden(format!(
                "token {:?} does not have the {} scope",
                token.name,
                scope.name()
            )));
        }
        self.count_decision(&token.name, "allowed");
        Ok(Some(Caller { name: token.name }))
    }

    /// Charges `events` to the publishing token's rate; 429 with the wait when over it.
    pub fn admit_publish(&self, headers: &HeaderMap, events: usize) -> Result<(), ApiError> {
        let Some(token) = self.find(headers) else {
            return Ok(());
        };
        let Some(rate) = token.rate else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = self.inner.buckets.lock().expect("buckets lock");
        let bucket = buckets.entry(token.name.clone()).or_insert(Bucket {
            available: rate,
            updated: now,
        });
        bucket.take(rate, events, now).map_err(|wait| {
            self.count_decision(&token.name, "rate_limited");
            ApiError::TooManyRequests {
                message: format!(
                    "token {:?} is over its publish rate of {rate} events/s",
                    token.name
                ),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }
}

fn read_tokens(path: &Path) -> Result<Vec<Token>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read LOGAGG_API_TOKENS_FILE {}: {e}", path.display()))?;
    parse_tokens(&text, path)
}

/// The guard in front of every route: answers a request its token does not allow (401/403,
/// body drained so the connection stays usable), and rejects (hands on to the routes) every
/// other request.
pub fn deny_unless_allowed(
    auth: Auth,
    body_limit: u64,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and_then(move |method: Method, path: FullPath, headers: HeaderMap| {
            let auth = auth.clone();
            async move {
                match auth.check(&method, path.as_str(), &headers) {
                    Ok(_) => Err(warp::reject::not_found()),
                    Err(error) => Ok(error),
                }
            }
        })
        .and(warp::body::stream())
        .then(move |error: ApiError, body| async move {
            let complete = crate::body::drain(std::pin::pin!(body), body_limit).await;
            let response = error.into_response();
            if complete {
                response
            } else {
                crate::body::close_connection(response)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_hex(token: &str) -> String {
        sha256(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn auth_with(file: &str) -> Auth {
        let dir = std::env::temp_dir().join(format!("logagg-auth-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens");
        std::fs::write(&path, file).unwrap();
        Auth::load(None, Some(path)).unwrap()
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn scopes_follow_method_and_path() {
        assert_eq!(
            required_scope(&Method::POST, "/publish"),
            Some(Scope::Publish)
        );
        assert_eq!(required_scope(&Method::GET, "/events"), Some(Scope::Read));
        assert_eq!(
            required_scope(&Method::GET, "/events/t/e"),
            Some(Scope::Read)
        );
        assert_eq!(required_scope(&Method::GET, "/stats"), Some(Scope::Read));
        assert_eq!(required_scope(&Method::GET, "/health"), None);
        assert_eq!(required_scope(&Method::GET, "/metrics"), None);
        // The console's files hold no data; its pages call the routes above with a token.
        assert_eq!(required_scope(&Method::GET, "/console/app.js"), None);
        assert_eq!(required_scope(&Method::GET, "/"), None);
        for read in [
            "/events/stream",
            "/events/export",
            "/topics",
            "/dead-letters",
        ] {
            assert_eq!(
                required_scope(&Method::GET, read),
                Some(Scope::Read),
                "{read}"
            );
        }
        assert_eq!(
            required_scope(&Method::POST, "/dead-letters/3/retry"),
            Some(Scope::Admin)
        );
        // Not served: the router's 404/405 answers.
        assert_eq!(required_scope(&Method::PUT, "/stats"), None);
        assert_eq!(required_scope(&Method::GET, "/nowhere"), None);
    }

    #[test]
    fn tokens_file_is_parsed_and_checked() {
        let file = format!(
            "# comment\nci publish sha256:{} rate=5\n\nops publish,read,admin sha256:{} # trailing\n",
            hash_hex("ci-secret"),
            hash_hex("ops-secret")
        );
        let auth = auth_with(&file);
        assert_eq!(auth.count(), 2);
        let caller = auth
            .check(&Method::POST, "/publish", &bearer("ci-secret"))
            .unwrap()
            .unwrap();
        assert_eq!(caller.name, "ci");
        let denied = auth.check(&Method::GET, "/events", &bearer("ci-secret"));
        assert!(matches!(denied, Err(ApiError::Forbidden(_))));
        let unknown = auth.check(&Method::GET, "/events", &bearer("nope"));
        assert!(matches!(unknown, Err(ApiError::Unauthorized)));
        let missing = auth.check(&Method::GET, "/events", &HeaderMap::new());
        assert!(matches!(missing, Err(ApiError::Unauthorized)));
        assert!(auth
            .check(&Method::GET, "/events", &bearer("ops-secret"))
            .is_ok());
    }

    #[test]
    fn bad_lines_name_their_line() {
        let path = Path::new("tokens");
        for (text, expected) in [
            ("a publish", "tokens:1: expected"),
            ("a write sha256:00", "unknown scope"),
            ("a read sha256:00", "64 hex digits"),
            ("a\u{e9} read sha256:00", "token name"),
        ] {
            let error = parse_tokens(text, path).err().unwrap();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let twice = format!("a read sha256:{h}\na read sha256:{h}", h = hash_hex("x"));
        assert!(parse_tokens(&twice, path).unwrap_err().contains("tokens:2"));
    }

    #[test]
    fn the_bucket_admits_the_rate_and_names_the_wait() {
        let start = Instant::now();
        let mut bucket = Bucket {
            available: 10.0,
            updated: start,
        };
        assert!(bucket.take(10.0, 6, start).is_ok());
        assert!(bucket.take(10.0, 4, start).is_ok());
        let wait = bucket.take(10.0, 5, start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert!(bucket
            .take(10.0, 5, start + Duration::from_millis(500))
            .is_ok());
    }

    #[test]
    fn no_tokens_means_open() {
        let auth = Auth::load(None, None).unwrap();
        assert!(auth.is_open());
        assert!(auth
            .check(&Method::POST, "/publish", &HeaderMap::new())
            .is_ok());
    }
}
