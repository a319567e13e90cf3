//! API access control: named bearer tokens with scopes (`publish`, `read`, `admin`), optionally
//! limited to topics, from `LOGAGG_API_TOKENS_FILE` (re-read on SIGHUP; `tokens`) and
//! `LOGAGG_API_TOKEN` (every scope), a per-token publish rate, and the check that finds the
//! caller of a route once (401/403 before any handler runs); the [`Caller`] then travels with
//! the request to its handler.
//!
//! Tokens are stored as SHA-256 hashes; a presented token is hashed and compared with every
//! stored hash in constant time. Only token names reach logs and metrics.

mod tokens;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, Opts};
use subtle::ConstantTimeEq;
use warp::http::{header, HeaderMap};

use crate::errors::ApiError;
use crate::route_table::{Access, Credential, Route};
pub use tokens::Topics;
use tokens::{sha256, Token};

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
    pub(crate) fn bit(self) -> u8 {
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

/// Name of the token `LOGAGG_API_TOKEN` defines.
pub const ENV_TOKEN_NAME: &str = "LOGAGG_API_TOKEN";

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

/// Who called: found once per request by [`Auth::check`], then handed to the handler (for
/// audit rows, logs, the publish rate and the topics it may see).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The token, or `None` on an open API or an open route.
    token: Option<Token>,
}

impl Caller {
    /// The token's name, or `anonymous`.
    pub fn name(&self) -> &str {
        self.token.as_ref().map_or("anonymous", |t| t.name.as_str())
    }

    /// The topics the caller is limited to, or `None` for every topic.
    pub fn topics(&self) -> Option<&Topics> {
        self.token.as_ref().and_then(|t| t.topics.as_ref())
    }

    /// Whether the caller may publish or read `topic`.
    pub fn may_see(&self, topic: &str) -> bool {
        self.topics().is_none_or(|topics| topics.matches(topic))
    }

    /// The 403 of a publish to a topic outside the caller's topics, if any.
    pub fn check_topics<'t>(
        &self,
        topics: impl IntoIterator<Item = &'t str>,
    ) -> Result<(), ApiError> {
        match topics.into_iter().find(|topic| !self.may_see(topic)) {
            None => Ok(()),
            Some(topic) => Err(ApiError::Forbidden(format!(
                "token {:?} may not publish to topic {topic:?} (its topics: {})",
                self.name(),
                self.topics().map(Topics::patterns).unwrap_or_default()
            ))),
        }
    }
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
                    topics: None,
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

    /// The token the request presents in one of `credentials`' forms, matched in constant
    /// time.
    fn find(&self, headers: &HeaderMap, credentials: &[Credential]) -> Option<Token> {
        let given = credentials
            .iter()
            .find_map(|credential| presented(*credential, headers))?;
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

    /// The caller of `route`: anonymous for an open route or an open API, else the token the
    /// request presents when it has the route's scope; otherwise the 401/403 to answer.
    pub fn check(&self, route: &Route, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Access::Scope(scope) = route.access else {
            return Ok(Caller::default());
        };
        if self.is_open() {
            return Ok(Caller::default());
        }
        let Some(token) = self.find(headers, route.credentials) else {
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
        Ok(Caller { token: Some(token) })
    }

    /// Charges `events` to the publishing caller's rate; 429 with the wait when over it.
    pub fn admit_publish(&self, caller: &Caller, events: usize) -> Result<(), ApiError> {
        let Some(token) = &caller.token else {
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

/// The token text a request presents in the form `credential`, if it does.
fn presented(credential: Credential, headers: &HeaderMap) -> Option<&str> {
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = authorization.trim().split_once(' ')?;
    let value = value.trim();
    match credential {
        // The scheme is case-insensitive (RFC 9110 section 11.1).
        Credential::Bearer => scheme.eq_ignore_ascii_case("bearer").then_some(value),
    }
    .filter(|token| !token.is_empty())
}

fn read_tokens(path: &Path) -> Result<Vec<Token>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read LOGAGG_API_TOKENS_FILE {}: {e}", path.display()))?;
    tokens::parse(&text, path, ENV_TOKEN_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route_table::{find, Found};
    use tokens::tests::hash_hex;
    use warp::http::Method;

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

    fn route(method: Method, path: &str) -> &'static Route {
        match find(&method, path) {
            Found::Route(route, _) => route,
            _ => panic!("{method} {path} is not served"),
        }
    }

    #[test]
    fn tokens_file_is_parsed_and_checked() {
        let file = format!(
            "# comment\nci publish sha256:{} rate=5 topics=pay.*\n\nops publish,read,admin sha256:{} # trailing\n",
            hash_hex("ci-secret"),
            hash_hex("ops-secret")
        );
        let auth = auth_with(&file);
        assert_eq!(auth.count(), 2);
        let (publish, events) = (
            route(Method::POST, "/publish"),
            route(Method::GET, "/events"),
        );
        let caller = auth.check(publish, &bearer("ci-secret")).unwrap();
        assert_eq!(caller.name(), "ci");
        assert!(caller.may_see("pay.eu") && !caller.may_see("audit"));
        let refused = caller.check_topics(["pay.eu", "audit"]).unwrap_err();
        assert!(refused.to_string().contains("\"audit\""), "{refused}");
        let denied = auth.check(events, &bearer("ci-secret"));
        assert!(matches!(denied, Err(ApiError::Forbidden(_))));
        let unknown = auth.check(events, &bearer("nope"));
        assert!(matches!(unknown, Err(ApiError::Unauthorized)));
        let missing = auth.check(events, &HeaderMap::new());
        assert!(matches!(missing, Err(ApiError::Unauthorized)));
        let ops = auth.check(events, &bearer("ops-secret")).unwrap();
        assert!(ops.topics().is_none() && ops.may_see("anything"));
        // An open route needs no token, and names nobody.
        let health = auth.check(route(Method::GET, "/health"), &HeaderMap::new());
        assert_eq!(health.unwrap().name(), "anonymous");
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
        let caller = auth
            .check(route(Method::POST, "/publish"), &HeaderMap::new())
            .unwrap();
        assert_eq!(caller.name(), "anonymous");
    }
}
