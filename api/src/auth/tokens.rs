//! The tokens file (format in docs/SECURITY.md): one named token a line with its scopes, the
//! SHA-256 of the token, and options (`rate=N` events/s, `topics=a.*,b` topic patterns).

use std::path::Path;

use super::Scope;

/// One configured token (its hash is not a secret: `Debug` may show it).
#[derive(Debug, Clone)]
pub struct Token {
    pub name: String,
    pub sha256: [u8; 32],
    pub scopes: u8,
    /// Events per second through `POST /publish`; `None` = unlimited.
    pub rate: Option<f64>,
    /// The topics it may publish and read; `None` = every topic.
    pub topics: Option<Topics>,
}

/// Topic patterns: a topic matches when it matches one of them; `*` in a pattern stands for
/// any run of characters (`payments.*` matches `payments.eu` and `payments.eu/refunds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics(Vec<String>);

impl Topics {
    pub fn matches(&self, topic: &str) -> bool {
        self.0.iter().any(|pattern| glob(pattern, topic))
    }

    /// The patterns, comma-separated as the tokens file writes them.
    pub fn patterns(&self) -> String {
        self.0.join(",")
    }

    /// Topics the patterns name literally (no `*`): a filter by those alone needs no scan.
    pub fn literals(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|p| !p.contains('*'))
            .cloned()
            .collect()
    }

    pub fn all_literal(&self) -> bool {
        self.0.iter().all(|p| !p.contains('*'))
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(bytes)
}

/// Parses a tokens file. Errors name the line.
pub fn parse(text: &str, origin: &Path, reserved_name: &str) -> Result<Vec<Token>, String> {
    let mut tokens: Vec<Token> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |reason: String| format!("{}:{}: {reason}", origin.display(), index + 1);
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, scopes, hash, options @ ..] = fields.as_slice() else {
            return Err(at(
                "expected: name scopes sha256:<hex> [rate=N] [topics=a,b.*]".into(),
            ));
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
        if *name == reserved_name || tokens.iter().any(|t| t.name == *name) {
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
        let mut token = Token {
            name: (*name).to_owned(),
            sha256,
            scopes: bits,
            rate: None,
            topics: None,
        };
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
                    token.rate = Some(value);
                }
                Some(("topics", value)) => token.topics = Some(parse_topics(value).map_err(at)?),
                _ => {
                    return Err(at(format!(
                        "unknown option {option:?} (rate=N, topics=a,b.*)"
                    )))
                }
            }
        }
        if token.topics.is_some() && bits & Scope::Admin.bit() != 0 {
            // Admin routes (retention, deletes, retries) are not per topic.
            return Err(at(
                "topics= cannot limit an admin token (admin routes are not per topic)".into(),
            ));
        }
        tokens.push(token);
    }
    Ok(tokens)
}

fn parse_topics(value: &str) -> Result<Topics, String> {
    let patterns: Vec<String> = value.split(',').map(str::to_owned).collect();
    for pattern in &patterns {
        let literal = pattern.replace('*', "");
        if pattern.is_empty()
            || !(literal.is_empty() || logagg_core::event::topic_chars_valid(&literal))
        {
            return Err(format!(
                "topics={value}: comma-separated topic patterns of letters, digits, . _ / - and *"
            ));
        }
    }
    Ok(Topics(patterns))
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn hash_hex(token: &str) -> String {
        sha256(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn bad_lines_name_their_line() {
        let path = Path::new("tokens");
        let h = hash_hex("x");
        for (text, expected) in [
            ("a publish".to_owned(), "tokens:1: expected"),
            ("a write sha256:00".to_owned(), "unknown scope"),
            ("a read sha256:00".to_owned(), "64 hex digits"),
            ("a\u{e9} read sha256:00".to_owned(), "token name"),
            (format!("a read sha256:{h} topics="), "topic patterns"),
            (format!("a read sha256:{h} topics=a,,b"), "topic patterns"),
            (format!("a read sha256:{h} topics=a b"), "unknown option"),
            (format!("a admin sha256:{h} topics=a"), "admin"),
        ] {
            let error = parse(&text, path, "ENV").err().unwrap();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let twice = format!("a read sha256:{h}\na read sha256:{h}");
        assert!(parse(&twice, path, "ENV").unwrap_err().contains("tokens:2"));
    }

    #[test]
    fn topic_patterns_match_as_globs() {
        let topics = parse_topics("payments.*,audit,*-eu").unwrap();
        for topic in ["payments.x", "payments.x/y", "audit", "orders-eu"] {
            assert!(topics.matches(topic), "{topic}");
        }
        for topic in ["payments", "audit2", "xaudit", "orders-eu2", "paymentsx"] {
            assert!(!topics.matches(topic), "{topic}");
        }
        assert!(glob("a*b*c", "a-b-c") && !glob("a*b*c", "a-c"));
        assert!(glob("*", "anything") && glob("ab*", "ab"));
        assert_eq!(topics.literals(), ["audit"]);
    }
}
