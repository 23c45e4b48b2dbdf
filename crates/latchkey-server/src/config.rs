//! Configuration: TOML file plus `LATCHKEY_*` environment overrides, parsed once into a
//! validated [`Config`]. Every error names the key it is about.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use latchkey_core::client::{AuthMethod, GrantType, is_valid_client_id};
use latchkey_core::jose::SigningAlg;
use latchkey_core::scope::ScopeSet;
use latchkey_core::token::TokenFormat;
use latchkey_store::Synchronous;
use serde::Deserialize;

/// Default listen address and issuer port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default database: an SQLite file under `./latchkey-data`.
pub const DEFAULT_DATABASE: &str = "sqlite://latchkey-data/latchkey.db";
/// Shortest accepted client secret or system secret.
pub const MIN_SECRET_LEN: usize = 16;

/// Environment variables with this prefix override config keys.
const ENV_PREFIX: &str = "LATCHKEY_";
/// `LATCHKEY_*` variables that are not config keys.
const ENV_NOT_CONFIG: &[&str] = &["LATCHKEY_LOG", "LATCHKEY_CONFIG"];
const ENV_NOT_CONFIG_PREFIX: &str = "LATCHKEY_TEST_";

/// A configuration error, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `tokens.access_token_ttl`; empty for file-level errors.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "configuration error: {}", self.message)
        } else {
            write!(f, "configuration error in `{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { key: key.into(), message: message.into() }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: Option<String>,
    listen: Option<String>,
    database: Option<String>,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    tokens: RawTokens,
    #[serde(default)]
    secrets: RawSecrets,
    #[serde(default)]
    clients: Vec<RawClient>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    synchronous: Option<String>,
    max_connections: Option<u32>,
    janitor_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    access_token_ttl: Option<String>,
    access_token_format: Option<String>,
    signing_alg: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    #[serde(default, deserialize_with = "one_or_many")]
    system: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    client_id: String,
    client_secret: String,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    access_token_format: Option<String>,
    access_token_ttl: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    introspect: bool,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A client declared in the configuration, created or updated at start.
#[derive(Clone)]
pub struct StaticClient {
    /// Client id.
    pub id: String,
    /// Secret in plain text (from the file); hashed before it is stored.
    pub secret: latchkey_core::secret::Secret<String>,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Scopes.
    pub scopes: ScopeSet,
    /// Authentication method.
    pub auth_method: AuthMethod,
    /// Token format override.
    pub token_format: Option<TokenFormat>,
    /// Access-token lifetime override.
    pub access_token_ttl: Option<Duration>,
    /// Audiences.
    pub audiences: Vec<String>,
    /// May introspect any token.
    pub introspect: bool,
}

/// The validated configuration.
#[derive(Clone)]
pub struct Config {
    /// Issuer identifier; `None` means `http://<bound address>`.
    pub issuer: Option<String>,
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL.
    pub database: String,
    /// SQLite durability.
    pub synchronous: Synchronous,
    /// Connection pool size.
    pub max_connections: u32,
    /// How often expired rows are deleted.
    pub janitor_interval: Duration,
    /// Default access-token lifetime.
    pub access_token_ttl: Duration,
    /// Default access-token format.
    pub access_token_format: TokenFormat,
    /// Signing algorithm for new keys.
    pub signing_alg: SigningAlg,
    /// System secrets; empty means "generate one beside the database".
    pub system_secrets: Vec<String>,
    /// Static clients.
    pub clients: Vec<StaticClient>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("listen", &self.listen)
            .field("database", &self.database)
            .field("clients", &self.clients.iter().map(|c| &c.id).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Load from an optional TOML file, then apply `LATCHKEY_*` from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| err("", format!("cannot read config file {}: {e}", path.display())))?;
                text.parse::<toml::Table>().map_err(|e| err("", format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut table, env)?;
        let raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| err(e.path().to_string().trim_start_matches('.'), e.inner().to_string()))?;
        raw.validate()
    }

    /// Load from a TOML string only (tests).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let table = text.parse::<toml::Table>().map_err(|e| err("", e.to_string()))?;
        let raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| err(e.path().to_string(), e.inner().to_string()))?;
        raw.validate()
    }

    /// The longest access-token lifetime any client can get.
    pub fn max_access_token_ttl(&self) -> Duration {
        self.clients.iter().filter_map(|c| c.access_token_ttl).fold(self.access_token_ttl, Duration::max)
    }
}

/// Overlay `LATCHKEY_A__B=value` as key `a.b`. Values are parsed as TOML values when they
/// are valid TOML (numbers, booleans, arrays), otherwise taken as strings.
fn apply_env(table: &mut toml::Table, env: impl IntoIterator<Item = (String, String)>) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with(ENV_PREFIX) && !ENV_NOT_CONFIG.contains(&k.as_str()) && !k.starts_with(ENV_NOT_CONFIG_PREFIX)
        })
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
        let key = path.join(".");
        if path.iter().any(String::is_empty) {
            return Err(err(key, format!("malformed environment variable name {name}")));
        }
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw));
        let mut node = &mut *table;
        for part in &path[..path.len() - 1] {
            let entry = node.entry(part.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            node = entry.as_table_mut().ok_or_else(|| err(key.clone(), format!("`{part}` is not a table")))?;
        }
        if let Some(last) = path.last() {
            node.insert(last.clone(), value);
        }
    }
    Ok(())
}

fn parse_duration(key: &str, s: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(s).map_err(|e| err(key, format!("`{s}` is not a duration like \"1h\": {e}")))?;
    if d.is_zero() {
        return Err(err(key, "must be longer than zero"));
    }
    Ok(d)
}

fn parse_format(key: &str, s: &str) -> Result<TokenFormat, ConfigError> {
    TokenFormat::parse(s).ok_or_else(|| err(key, format!("`{s}` is not \"jwt\" or \"opaque\"")))
}

/// RFC 8414 §2: the issuer is an https (or, for development, http) URL without query
/// or fragment.
pub fn verify_issuer(issuer: &str) -> Result<(), String> {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host".into());
    }
    if issuer.contains('?') || issuer.contains('#') {
        return Err("must not have a query or fragment (RFC 8414 §2)".into());
    }
    if !issuer.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(())
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let issuer = match self.issuer {
            Some(i) => {
                verify_issuer(&i).map_err(|m| err("issuer", m))?;
                Some(i.trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let listen_raw = self.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_raw
            .parse()
            .map_err(|_| err("listen", format!("`{listen_raw}` is not an address like 127.0.0.1:8080")))?;
        let database = self.database.unwrap_or_else(|| DEFAULT_DATABASE.into());
        let postgres = latchkey_store::is_postgres_url(&database);
        if latchkey_store::sqlite_path(&database).is_none() && !postgres {
            return Err(err(
                "database",
                "must be sqlite://PATH (relative), sqlite:///PATH (absolute) or postgres://USER@HOST/DB",
            ));
        }
        if postgres && self.secrets.system.is_empty() {
            // Every node must seal and open keys with the same secret; a generated file
            // would differ per node.
            return Err(err("secrets.system", "must be configured when the database is PostgreSQL"));
        }
        let synchronous = match self.storage.synchronous.as_deref() {
            None | Some("full") => Synchronous::Full,
            Some("normal") => Synchronous::Normal,
            Some(other) => return Err(err("storage.synchronous", format!("`{other}` is not \"full\" or \"normal\""))),
        };
        let max_connections = self.storage.max_connections.unwrap_or(8);
        if max_connections == 0 {
            return Err(err("storage.max_connections", "must be at least 1"));
        }
        let janitor_interval = match self.storage.janitor_interval {
            Some(s) => parse_duration("storage.janitor_interval", &s)?,
            None => Duration::from_secs(60),
        };
        let access_token_ttl = match self.tokens.access_token_ttl {
            Some(s) => parse_duration("tokens.access_token_ttl", &s)?,
            None => Duration::from_secs(3600),
        };
        let access_token_format = match self.tokens.access_token_format {
            Some(s) => parse_format("tokens.access_token_format", &s)?,
            None => TokenFormat::Jwt,
        };
        let signing_alg = match self.tokens.signing_alg {
            Some(s) => SigningAlg::parse(&s)
                .ok_or_else(|| err("tokens.signing_alg", format!("`{s}` is not EdDSA, ES256 or RS256")))?,
            None => SigningAlg::EdDSA,
        };
        for (i, s) in self.secrets.system.iter().enumerate() {
            if s.len() < MIN_SECRET_LEN {
                return Err(err(
                    format!("secrets.system[{i}]"),
                    format!("must be at least {MIN_SECRET_LEN} characters"),
                ));
            }
        }
        let mut clients: Vec<StaticClient> = Vec::new();
        for (i, c) in self.clients.into_iter().enumerate() {
            let client = c.validate(i)?;
            if clients.iter().any(|o| o.id == client.id) {
                return Err(err(format!("clients[{i}].client_id"), format!("duplicate client id `{}`", client.id)));
            }
            clients.push(client);
        }
        Ok(Config {
            issuer,
            listen,
            database,
            synchronous,
            max_connections,
            janitor_interval,
            access_token_ttl,
            access_token_format,
            signing_alg,
            system_secrets: self.secrets.system,
            clients,
        })
    }
}

/// Shared rules for a client's registration fields (config and CLI).
pub fn verify_client_fields(id: &str, secret: Option<&str>, audiences: &[String]) -> Result<(), (String, String)> {
    if !is_valid_client_id(id) {
        return Err(("client_id".into(), "must be 1-255 printable ASCII characters".into()));
    }
    if secret.is_some_and(|s| s.len() < MIN_SECRET_LEN) {
        return Err(("client_secret".into(), format!("must be at least {MIN_SECRET_LEN} characters")));
    }
    for a in audiences {
        if verify_issuer(a).is_err() && !a.contains(':') {
            return Err(("audiences".into(), format!("`{a}` is not an absolute URI")));
        }
    }
    Ok(())
}

impl RawClient {
    fn validate(self, i: usize) -> Result<StaticClient, ConfigError> {
        let k = |f: &str| format!("clients[{i}].{f}");
        verify_client_fields(&self.client_id, Some(&self.client_secret), &self.audiences)
            .map_err(|(f, m)| err(k(&f), m))?;
        let grant_types = self
            .grant_types
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| err(k("grant_types"), format!("unsupported grant type `{g}`"))))
            .collect::<Result<Vec<_>, _>>()?;
        let scopes = ScopeSet::from_tokens(&self.scopes).map_err(|e| err(k("scopes"), e.description.to_string()))?;
        let auth_method = match self.token_endpoint_auth_method.as_deref() {
            None => AuthMethod::ClientSecretBasic,
            Some(m) => AuthMethod::parse(m).ok_or_else(|| {
                err(k("token_endpoint_auth_method"), format!("`{m}` is not client_secret_basic or client_secret_post"))
            })?,
        };
        let token_format = self.access_token_format.map(|f| parse_format(&k("access_token_format"), &f)).transpose()?;
        let access_token_ttl = self.access_token_ttl.map(|d| parse_duration(&k("access_token_ttl"), &d)).transpose()?;
        Ok(StaticClient {
            id: self.client_id,
            secret: latchkey_core::secret::Secret::new(self.client_secret),
            grant_types,
            scopes,
            auth_method,
            token_format,
            access_token_ttl,
            audiences: self.audiences,
            introspect: self.introspect,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::load(None, vec![]).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.database, DEFAULT_DATABASE);
        assert_eq!(c.access_token_ttl, Duration::from_secs(3600));
        assert_eq!(c.signing_alg, SigningAlg::EdDSA);
    }

    #[test]
    fn environment_wins_over_file_and_nests_with_double_underscore() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[tokens]\naccess_token_ttl = \"1h\"\nsigning_alg = \"ES256\"\n").unwrap();
        let c = Config::load(
            Some(&path),
            env(&[
                ("LATCHKEY_TOKENS__ACCESS_TOKEN_TTL", "5m"),
                ("LATCHKEY_LISTEN", "127.0.0.1:9000"),
                ("LATCHKEY_LOG", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.access_token_ttl, Duration::from_secs(300));
        assert_eq!(c.signing_alg, SigningAlg::ES256);
        assert_eq!(c.listen.port(), 9000);
    }

    #[test]
    fn errors_name_the_key() {
        let table = [
            ("bogus = 1", "bogus"),
            ("[tokens]\naccess_token_ttl = \"forever\"", "tokens.access_token_ttl"),
            ("[tokens]\nsigning_alg = \"HS256\"", "tokens.signing_alg"),
            ("[tokens]\nnope = 1", "tokens.nope"),
            ("listen = \"nowhere\"", "listen"),
            ("issuer = \"ftp://x\"", "issuer"),
            ("[secrets]\nsystem = [\"short\"]", "secrets.system[0]"),
            ("database = \"postgres://u@h/db\"", "secrets.system"),
            ("database = \"mysql://u@h/db\"", "database"),
            ("[[clients]]\nclient_id = \"a\"\nclient_secret = \"short\"", "clients[0].client_secret"),
            (
                "[[clients]]\nclient_id = \"a\"\nclient_secret = \"long-enough-secret\"\ngrant_types = [\"implicit\"]",
                "clients[0].grant_types",
            ),
        ];
        for (toml, key) in table {
            let e = Config::from_toml(toml).map(|_| ()).unwrap_err();
            assert!(e.key.contains(key), "{toml}: got {e}");
        }
        let e = Config::load(None, env(&[("LATCHKEY_UNKNOWN_THING", "1")])).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("unknown_thing"), "{e}");
    }

    #[test]
    fn full_example_parses() {
        let c = Config::from_toml(
            r#"
issuer = "http://127.0.0.1:9000"
listen = "127.0.0.1:9000"
database = "sqlite://path/to/db.sqlite"
[tokens]
access_token_ttl = "1h"
access_token_format = "jwt"
signing_alg = "EdDSA"
[secrets]
system = ["long-random-string"]
[[clients]]
client_id = "svc"
client_secret = "at-least-16-chars-secret"
grant_types = ["client_credentials"]
scopes = ["items:read", "items:write"]
token_endpoint_auth_method = "client_secret_basic"
access_token_format = "opaque"
audiences = ["https://api.example"]
introspect = true
"#,
        )
        .unwrap();
        assert_eq!(c.clients.len(), 1);
        assert_eq!(c.clients[0].token_format, Some(TokenFormat::Opaque));
        assert!(c.clients[0].introspect);
    }
}
