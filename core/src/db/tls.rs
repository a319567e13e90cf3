//! PostgreSQL over TLS, the libpq way: `sslmode` (disable, prefer, require, verify-ca,
//! verify-full), `sslrootcert`, `sslcert` and `sslkey` are read from `DATABASE_URL`, removed
//! from it (tokio-postgres knows only disable/prefer/require) and turned into an OpenSSL
//! connector; the connection is then handed to diesel-async.
//!
//! As in libpq: `prefer` (the default) and `require` encrypt without checking the server's
//! certificate (unless `sslrootcert` is given to `require`, which then checks the CA);
//! `verify-ca` checks the chain; `verify-full` also checks that the certificate names the host.
//! Without `sslrootcert` (or with `sslrootcert=system`) the system's trust store is used.

use std::path::PathBuf;

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::SslMode as WireSslMode;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl std::str::FromStr for SslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(SslMode::Disable),
            // libpq's `allow` (plain first, TLS if the server insists) is closest to prefer.
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )),
        }
    }
}

/// The TLS part of a `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `None`: the system trust store.
    pub root_cert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

const TLS_PARAMETERS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Splits `url` into the URL tokio-postgres understands (the TLS parameters removed) and the
/// TLS settings.
pub fn split_url(url: &str) -> Result<(String, TlsSettings), String> {
    let mut settings = TlsSettings {
        mode: SslMode::Prefer,
        root_cert: None,
        cert: None,
        key: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), settings));
    };
    let mut kept = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = param.split_once('=').unwrap_or((param, ""));
        if !TLS_PARAMETERS.contains(&key) {
            kept.push(param);
            continue;
        }
        let value = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| format!("{key} in DATABASE_URL is not UTF-8"))?
            .into_owned();
        match key {
            "sslmode" => settings.mode = value.parse()?,
            "sslrootcert" if value == "system" => settings.root_cert = None,
            "sslrootcert" => settings.root_cert = Some(value.into()),
            "sslcert" => settings.cert = Some(value.into()),
            _ => settings.key = Some(value.into()),
        }
    }
    if settings.cert.is_some() != settings.key.is_some() {
        return Err("DATABASE_URL: sslcert and sslkey go together".into());
    }
    let stripped = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((stripped, settings))
}

/// The OpenSSL connector for `settings` (not used with `sslmode=disable`).
fn connector(settings: &TlsSettings) -> Result<MakeTlsConnector, String> {
    let describe = |what: &str, e: openssl::error::ErrorStack| format!("{what}: {e}");
    let mut builder =
        SslConnector::builder(SslMethod::tls_client()).map_err(|e| describe("OpenSSL setup", e))?;
    let check_chain = match settings.mode {
        SslMode::VerifyCa | SslMode::VerifyFull => true,
        SslMode::Require => settings.root_cert.is_some(),
        SslMode::Prefer | SslMode::Disable => false,
    };
    if check_chain {
        builder.set_verify(SslVerifyMode::PEER);
        if let Some(root) = &settings.root_cert {
            builder
                .set_ca_file(root)
                .map_err(|e| describe(&format!("sslrootcert {}", root.display()), e))?;
        }
    } else {
        builder.set_verify(SslVerifyMode::NONE);
    }
    if let (Some(cert), Some(key)) = (&settings.cert, &settings.key) {
        builder
            .set_certificate_chain_file(cert)
            .map_err(|e| describe(&format!("sslcert {}", cert.display()), e))?;
        builder
            .set_private_key_file(key, SslFiletype::PEM)
            .map_err(|e| describe(&format!("sslkey {}", key.display()), e))?;
        builder
            .check_private_key()
            .map_err(|e| describe("sslkey does not match sslcert", e))?;
    }
    let mut connector = MakeTlsConnector::new(builder.build());
    if settings.mode != SslMode::VerifyFull {
        connector.set_callback(|config, _host| {
            config.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(connector)
}

/// An error and its causes on one line ("error performing TLS handshake: certificate verify
/// failed ..."): the cause is what an operator needs.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Opens one connection to `url` with the TLS its `sslmode` asks for. Errors name the server
/// (`host:port/database`, as on `/health` and at start) and the cause, never the password.
pub async fn establish(url: &str) -> Result<AsyncPgConnection, ConnectionError> {
    let bad = ConnectionError::BadConnection;
    let address = crate::config::database_address(url);
    let unreachable =
        |e: tokio_postgres::Error| bad(format!("PostgreSQL at {address}: {}", chain(&e)));
    let (stripped, settings) = split_url(url).map_err(bad)?;
    let mut config: tokio_postgres::Config = stripped
        .parse()
        .map_err(|e: tokio_postgres::Error| ConnectionError::InvalidConnectionUrl(e.to_string()))?;
    if settings.mode == SslMode::Disable {
        config.ssl_mode(WireSslMode::Disable);
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(unreachable)?;
        return AsyncPgConnection::try_from_client_and_connection(client, connection).await;
    }
    config.ssl_mode(if settings.mode == SslMode::Prefer {
        WireSslMode::Prefer
    } else {
        WireSslMode::Require
    });
    let (client, connection) = config
        .connect(connector(&settings).map_err(bad)?)
        .await
        .map_err(unreachable)?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_names_the_server_and_the_cause_never_the_password() {
        // Nothing listens on port 1 of the loopback: the connection is refused at once.
        let url = "postgres://logagg:s3cret-pw@127.0.0.1:1/logagg?sslmode=disable";
        let Err(error) = establish(url).await else {
            panic!("connected to port 1");
        };
        let text = error.to_string();
        assert!(text.contains("PostgreSQL at 127.0.0.1:1/logagg"), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert!(!text.contains("s3cret-pw"), "{text}");
    }

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (url, settings) = split_url(
            "postgres://u:p@db.example:5432/logagg?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u:p@db.example:5432/logagg?application_name=x"
        );
        assert_eq!(settings.mode, SslMode::VerifyFull);
        assert_eq!(settings.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let (url, settings) = split_url("postgres://u:p@h/db").unwrap();
        assert_eq!(
            (url.as_str(), settings.mode),
            ("postgres://u:p@h/db", SslMode::Prefer)
        );
        let (url, _) = split_url("postgres://u:p@h/db?sslmode=disable").unwrap();
        assert_eq!(url, "postgres://u:p@h/db");
    }

    #[test]
    fn bad_tls_parameters_are_refused() {
        let error = split_url("postgres://h/db?sslmode=verify").unwrap_err();
        assert!(error.contains("sslmode=verify"), "{error}");
        let error = split_url("postgres://h/db?sslcert=/c.pem").unwrap_err();
        assert!(error.contains("sslkey"), "{error}");
    }
}
