//! How every Kafka client logagg creates reaches the broker: `security.protocol`, SASL
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), TLS (CA, client certificate for mTLS, hostname
//! verification) and any other librdkafka property passed through from
//! `LOGAGG_KAFKA_PROPERTY_<NAME>`. Parsed and checked once at start, with errors naming the
//! variable; [`KafkaSecurity::properties`] is what the one Kafka client builder applies.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{flag, optional, parse, secret, ConfigError};
use crate::secret::Secret;

/// Prefix of the pass-through variables: `LOGAGG_KAFKA_PROPERTY_FETCH_MAX_BYTES=…` sets
/// librdkafka's `fetch.max.bytes`.
pub const PROPERTY_PREFIX: &str = "LOGAGG_KAFKA_PROPERTY_";

/// librdkafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Plaintext => "plaintext",
            Protocol::Ssl => "ssl",
            Protocol::SaslPlaintext => "sasl_plaintext",
            Protocol::SaslSsl => "sasl_ssl",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }
}

/// SASL mechanisms librdkafka is built with here (no GSSAPI/Kerberos).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// `FromStr` for a setting: any case of one of its `as_str` names, else an error listing them.
macro_rules! parse_by_name {
    ($setting:ty: $($value:expr),+) => {
        impl std::str::FromStr for $setting {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                one_of(s, &[$($value),+], <$setting>::as_str)
            }
        }
    };
}

parse_by_name!(
    Protocol: Protocol::Plaintext,
    Protocol::Ssl,
    Protocol::SaslPlaintext,
    Protocol::SaslSsl
);
parse_by_name!(Mechanism: Mechanism::Plain, Mechanism::ScramSha256, Mechanism::ScramSha512);

/// The value of `all` whose `name` is `s` in any case, or an error listing the names.
fn one_of<T: Copy>(s: &str, all: &[T], name: fn(T) -> &'static str) -> Result<T, String> {
    if let Some(value) = all
        .iter()
        .copied()
        .find(|v| name(*v).eq_ignore_ascii_case(s))
    {
        return Ok(value);
    }
    let names: Vec<String> = all.iter().map(|v| name(*v).to_ascii_uppercase()).collect();
    let (last, rest) = names.split_last().expect("at least one value");
    Err(format!("expected {} or {last}", rest.join(", ")))
}

/// SASL credentials. `Debug` hides the password.
#[derive(Debug, Clone)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: Secret,
}

/// TLS settings. Paths are checked to be readable at start.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub key_password: Option<Secret>,
    pub verify_hostname: bool,
}

/// Everything about how Kafka clients authenticate and encrypt. `Default` is PLAINTEXT.
#[derive(Clone, Default)]
pub struct KafkaSecurity {
    pub protocol: Protocol,
    pub sasl: Option<Sasl>,
    pub tls: Tls,
    /// librdkafka properties from `LOGAGG_KAFKA_PROPERTY_*`, applied last.
    pub extra: Vec<(String, Secret)>,
}

impl fmt::Debug for KafkaSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Pass-through values may be credentials (sasl.oauthbearer.client.secret): names only.
        let extra: Vec<&str> = self.extra.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("KafkaSecurity")
            .field("protocol", &self.protocol)
            .field("sasl", &self.sasl)
            .field("tls", &self.tls)
            .field("extra", &extra)
            .finish()
    }
}

fn invalid(name: &'static str, value: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        value: value.into(),
        reason: reason.into(),
    }
}

/// A path variable whose file must exist and be readable.
fn readable_file(name: &'static str) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = optional(name) else {
        return Ok(None);
    };
    std::fs::File::open(Path::new(&path))
        .map_err(|e| invalid(name, path.clone(), format!("cannot read the file: {e}")))?;
    Ok(Some(PathBuf::from(path)))
}

impl KafkaSecurity {
    /// Reads and cross-checks the `LOGAGG_KAFKA_SECURITY_PROTOCOL`, `_SASL_*`, `_SSL_*` and
    /// `LOGAGG_KAFKA_PROPERTY_*` variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let protocol: Protocol = parse("LOGAGG_KAFKA_SECURITY_PROTOCOL")?;
        let sasl = Self::sasl_from_env(protocol)?;
        let tls = Tls {
            ca_file: readable_file("LOGAGG_KAFKA_SSL_CA_FILE")?,
            cert_file: readable_file("LOGAGG_KAFKA_SSL_CERT_FILE")?,
            key_file: readable_file("LOGAGG_KAFKA_SSL_KEY_FILE")?,
            key_password: secret(
                "LOGAGG_KAFKA_SSL_KEY_PASSWORD",
                "LOGAGG_KAFKA_SSL_KEY_PASSWORD_FILE",
            )?,
            verify_hostname: flag("LOGAGG_KAFKA_SSL_VERIFY_HOSTNAME")?,
        };
        Self::check_tls(protocol, &tls)?;
        Ok(Self {
            protocol,
            sasl,
            tls,
            extra: pass_through(std::env::vars_os())?,
        })
    }

    fn sasl_from_env(protocol: Protocol) -> Result<Option<Sasl>, ConfigError> {
        let mechanism = optional("LOGAGG_KAFKA_SASL_MECHANISM");
        let username = optional("LOGAGG_KAFKA_SASL_USERNAME");
        let password = secret(
            "LOGAGG_KAFKA_SASL_PASSWORD",
            "LOGAGG_KAFKA_SASL_PASSWORD_FILE",
        )?;
        if !protocol.uses_sasl() {
            if let Some(name) = [
                ("LOGAGG_KAFKA_SASL_MECHANISM", mechanism.is_some()),
                ("LOGAGG_KAFKA_SASL_USERNAME", username.is_some()),
                ("LOGAGG_KAFKA_SASL_PASSWORD", password.is_some()),
            ]
            .into_iter()
            .find_map(|(name, set)| set.then_some(name))
            {
                // Credentials that would silently not be used: a misconfiguration.
                return Err(invalid(
                    name,
                    "(set)",
                    format!(
                        "SASL settings need LOGAGG_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT (it is {})",
                        protocol.as_str().to_ascii_uppercase()
                    ),
                ));
            }
            return Ok(None);
        }
        let required = |name: &'static str| {
            invalid(
                name,
                "",
                format!("required with {}", protocol.as_str().to_ascii_uppercase()),
            )
        };
        let mechanism: Mechanism = match mechanism {
            Some(value) => value
                .parse()
                .map_err(|reason: String| invalid("LOGAGG_KAFKA_SASL_MECHANISM", value, reason))?,
            None => return Err(required("LOGAGG_KAFKA_SASL_MECHANISM")),
        };
        Ok(Some(Sasl {
            mechanism,
            username: username.ok_or_else(|| required("LOGAGG_KAFKA_SASL_USERNAME"))?,
            password: password.ok_or_else(|| required("LOGAGG_KAFKA_SASL_PASSWORD"))?,
        }))
    }

    fn check_tls(protocol: Protocol, tls: &Tls) -> Result<(), ConfigError> {
        let set = [
            ("LOGAGG_KAFKA_SSL_CA_FILE", tls.ca_file.is_some()),
            ("LOGAGG_KAFKA_SSL_CERT_FILE", tls.cert_file.is_some()),
            ("LOGAGG_KAFKA_SSL_KEY_FILE", tls.key_file.is_some()),
            ("LOGAGG_KAFKA_SSL_KEY_PASSWORD", tls.key_password.is_some()),
        ];
        if !protocol.uses_tls() {
            if let Some((name, _)) = set.iter().find(|(_, set)| *set) {
                return Err(invalid(
                    name,
                    "(set)",
                    format!(
                        "TLS settings need LOGAGG_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL (it is {})",
                        protocol.as_str().to_ascii_uppercase()
                    ),
                ));
            }
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => Err(invalid(
                "LOGAGG_KAFKA_SSL_KEY_FILE",
                "",
                "required with LOGAGG_KAFKA_SSL_CERT_FILE",
            )),
            (None, Some(_)) => Err(invalid(
                "LOGAGG_KAFKA_SSL_CERT_FILE",
                "",
                "required with LOGAGG_KAFKA_SSL_KEY_FILE",
            )),
            _ => Ok(()),
        }
    }

    /// Sets [`Self::properties`] on an rdkafka client configuration.
    pub fn apply(&self, config: &mut rdkafka::ClientConfig) {
        for (name, value) in self.properties() {
            config.set(name, value);
        }
    }

    /// The librdkafka properties, in the order they must be set (pass-through last, so it
    /// can override anything). Values are exposed here: hand them to rdkafka only.
    pub fn properties(&self) -> Vec<(String, String)> {
        let mut out = vec![(
            "security.protocol".to_owned(),
            self.protocol.as_str().to_owned(),
        )];
        if let Some(sasl) = &self.sasl {
            out.push(("sasl.mechanism".into(), sasl.mechanism.as_str().into()));
            out.push(("sasl.username".into(), sasl.username.clone()));
            out.push(("sasl.password".into(), sasl.password.expose().into()));
        }
        if self.protocol.uses_tls() {
            let tls = &self.tls;
            let path = |p: &PathBuf| p.to_string_lossy().into_owned();
            if let Some(ca) = &tls.ca_file {
                out.push(("ssl.ca.location".into(), path(ca)));
            }
            if let Some(cert) = &tls.cert_file {
                out.push(("ssl.certificate.location".into(), path(cert)));
            }
            if let Some(key) = &tls.key_file {
                out.push(("ssl.key.location".into(), path(key)));
            }
            if let Some(password) = &tls.key_password {
                out.push(("ssl.key.password".into(), password.expose().into()));
            }
            let algorithm = if tls.verify_hostname { "https" } else { "none" };
            out.push((
                "ssl.endpoint.identification.algorithm".into(),
                algorithm.into(),
            ));
        }
        out.extend(
            self.extra
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_owned())),
        );
        out
    }
}

/// `LOGAGG_KAFKA_PROPERTY_<NAME>=value` pairs as (librdkafka name, value): the suffix
/// lower-cased with `_` read as `.`. Sorted by name, so the result does not depend on the
/// environment's order.
fn pass_through(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Vec<(String, Secret)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in vars {
        let Some(suffix) = name.to_str().and_then(|n| n.strip_prefix(PROPERTY_PREFIX)) else {
            continue;
        };
        let value = value.into_string().map_err(|_| {
            invalid(
                "LOGAGG_KAFKA_PROPERTY_<name>",
                suffix.to_owned(),
                "the value is not UTF-8",
            )
        })?;
        if suffix.is_empty()
            || !suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(
                "LOGAGG_KAFKA_PROPERTY_<name>",
                suffix.to_owned(),
                "the name after the prefix must be letters, digits and _ (for example SOCKET_KEEPALIVE_ENABLE)",
            ));
        }
        out.push((
            suffix.to_ascii_lowercase().replace('_', "."),
            Secret::new(value),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(
        pairs: &[(&str, &str)],
    ) -> impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn protocols_and_mechanisms_parse_in_any_case_and_errors_list_them() {
        assert_eq!("sasl_ssl".parse::<Protocol>(), Ok(Protocol::SaslSsl));
        assert_eq!("SSL".parse::<Protocol>(), Ok(Protocol::Ssl));
        assert_eq!(
            "scram-sha-512".parse::<Mechanism>(),
            Ok(Mechanism::ScramSha512)
        );
        assert_eq!(
            "tls".parse::<Protocol>(),
            Err("expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL".into())
        );
        assert_eq!(
            "gssapi".parse::<Mechanism>(),
            Err("expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512".into())
        );
    }

    #[test]
    fn pass_through_names_map_to_librdkafka_properties() {
        let extra = pass_through(vars(&[
            ("LOGAGG_KAFKA_PROPERTY_SOCKET_KEEPALIVE_ENABLE", "true"),
            ("LOGAGG_KAFKA_PROPERTY_CLIENT_RACK", "eu-1a"),
            ("LOGAGG_KAFKA_BROKERS", "ignored"),
        ]))
        .unwrap();
        let names: Vec<_> = extra
            .iter()
            .map(|(n, v)| (n.as_str(), v.expose()))
            .collect();
        assert_eq!(
            names,
            [
                ("client.rack", "eu-1a"),
                ("socket.keepalive.enable", "true")
            ]
        );
        let error = pass_through(vars(&[("LOGAGG_KAFKA_PROPERTY_a.b", "x")])).unwrap_err();
        assert!(
            error.to_string().contains("LOGAGG_KAFKA_PROPERTY_<name>"),
            "{error}"
        );
    }

    #[test]
    fn properties_carry_sasl_and_tls_and_debug_hides_secrets() {
        let security = KafkaSecurity {
            protocol: Protocol::SaslSsl,
            sasl: Some(Sasl {
                mechanism: Mechanism::ScramSha512,
                username: "logagg".into(),
                password: Secret::new("pa55word"),
            }),
            tls: Tls {
                ca_file: Some("/ca.pem".into()),
                verify_hostname: true,
                ..Tls::default()
            },
            extra: vec![("sasl.oauthbearer.client.secret".into(), Secret::new("xyz"))],
        };
        let properties = security.properties();
        let get = |name: &str| {
            properties
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get("sasl.password"), Some("pa55word"));
        assert_eq!(get("ssl.ca.location"), Some("/ca.pem"));
        assert_eq!(get("ssl.endpoint.identification.algorithm"), Some("https"));
        let debug = format!("{security:?}");
        assert!(
            !debug.contains("pa55word") && !debug.contains("xyz"),
            "{debug}"
        );
        assert!(debug.contains("sasl.oauthbearer.client.secret"), "{debug}");
    }

    #[test]
    fn plaintext_sets_only_the_protocol() {
        assert_eq!(
            KafkaSecurity::default().properties(),
            [("security.protocol".to_owned(), "plaintext".to_owned())]
        );
    }

    #[test]
    fn protocol_and_mechanism_parse_case_insensitively() {
        assert_eq!("sasl_ssl".parse::<Protocol>(), Ok(Protocol::SaslSsl));
        assert!("TLS".parse::<Protocol>().is_err());
        assert_eq!(
            "scram-sha-512".parse::<Mechanism>(),
            Ok(Mechanism::ScramSha512)
        );
        assert!("GSSAPI".parse::<Mechanism>().is_err());
    }
}
