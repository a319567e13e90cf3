//! Secrets (passwords, tokens, private-key passphrases): a [`Secret`] wrapper whose `Debug`
//! and `Display` never show the value, the `*_FILE` convention (Docker secrets) for reading
//! one from a file, and [`redact_url`] for logging a connection URL without its password.

use std::fmt;
use std::path::Path;

/// A secret value. `Debug` and `Display` print `[redacted]`; [`Secret::expose`] is the one
/// way to the value, so every use is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: only for handing it to the library that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reads a secret file the way Docker secrets are mounted: the whole file, without the
/// trailing newline an editor or `echo` adds. The error names the path, never the content.
pub fn read_secret_file(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(format!("secret file {} is empty", path.display()));
    }
    Ok(Secret::new(value))
}

/// `url` with the password (userinfo after the first `:`) replaced by `***`, for logs and
/// errors. A URL without a password comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let redacted_tail = redact_query_password(tail);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return format!("{scheme}://{authority}{redacted_tail}");
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    if userinfo.contains(':') {
        format!("{scheme}://{user}:***@{host}{redacted_tail}")
    } else {
        format!("{scheme}://{user}@{host}{redacted_tail}")
    }
}

/// A `password=` query parameter (libpq accepts one) replaced by `***`.
fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.to_string(), "[redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://logagg:s3cret@db:5432/logagg?sslmode=verify-full"),
            "postgres://logagg:***@db:5432/logagg?sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("postgres://h/db?password=x&a=b"),
            "postgres://h/db?password=***&a=b"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn secret_files_drop_the_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("logagg-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("password");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap().expose(), "s3cret");
        std::fs::write(&path, "\n").unwrap();
        assert!(read_secret_file(&path).unwrap_err().contains("is empty"));
        let missing = read_secret_file(&dir.join("missing")).unwrap_err();
        assert!(missing.contains("cannot read secret file"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
