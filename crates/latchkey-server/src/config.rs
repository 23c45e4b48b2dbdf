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
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    scope_descriptions: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    ui: RawUi,
    #[serde(default)]
    login: RawLogin,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUi {
    templates_dir: Option<String>,
    session_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    max_failures_per_user: Option<u32>,
    max_failures_per_ip: Option<u32>,
    lockout: Option<String>,
    throttle_response: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: String,
    password: String,
    email: Option<String>,
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
    refresh_token_ttl: Option<String>,
    authorization_code_ttl: Option<String>,
    refresh_reuse_grace: Option<String>,
    introspection_cache_ttl: Option<String>,
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
    client_secret: Option<String>,
    name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    skip_consent: bool,
    require_pkce: Option<bool>,
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

/// A user declared in the configuration, created or updated at start.
#[derive(Clone)]
pub struct StaticUser {
    /// Username.
    pub username: String,
    /// Password in plain text (from the file); hashed with argon2id before it is stored.
    pub password: latchkey_core::secret::Secret<String>,
    /// E-mail.
    pub email: Option<String>,
}

/// How throttled logins are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleResponse {
    /// 429 Too Many Requests with Retry-After.
    TooManyRequests,
    /// 400 invalid_grant with a description saying so.
    InvalidGrant,
}

/// Brute-force protection for passwords (password grant and login page).
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Failures per username before a lockout.
    pub max_failures_per_user: u32,
    /// Failures per client IP before a lockout.
    pub max_failures_per_ip: u32,
    /// Base lockout; doubles with each further failure, up to 1 h.
    pub lockout: Duration,
    /// How a throttled attempt is answered.
    pub response: ThrottleResponse,
}

/// A client declared in the configuration, created or updated at start.
#[derive(Clone)]
pub struct StaticClient {
    /// Client id.
    pub id: String,
    /// Secret in plain text (from the file); hashed before it is stored. `None` for public clients.
    pub secret: Option<latchkey_core::secret::Secret<String>>,
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Skip the consent page (first-party).
    pub skip_consent: bool,
    /// Require PKCE (always for public clients).
    pub require_pkce: bool,
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
    /// Static users.
    pub users: Vec<StaticUser>,
    /// Refresh-token family lifetime.
    pub refresh_token_ttl: Duration,
    /// Authorization-code lifetime.
    pub authorization_code_ttl: Duration,
    /// Grace window for refresh-token reuse (zero: off).
    pub refresh_reuse_grace: Duration,
    /// How long this node trusts a live token it resolved (zero: off); bounds how late
    /// it sees a revocation made on another node.
    pub introspection_cache_ttl: Duration,
    /// Human descriptions of scopes for the consent page.
    pub scope_descriptions: std::collections::BTreeMap<String, String>,
    /// Folder with template overrides.
    pub templates_dir: Option<std::path::PathBuf>,
    /// Browser session lifetime.
    pub session_ttl: Duration,
    /// Password brute-force limits.
    pub login_limits: LoginLimits,
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
        Self::from_table(table)
    }

    /// Load from a TOML string only (tests).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_table(text.parse::<toml::Table>().map_err(|e| err("", e.to_string()))?)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| err(e.path().to_string().trim_start_matches('.'), e.inner().to_string()))?;
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
        let duration_or = |key: &str, v: Option<String>, default: u64| -> Result<Duration, ConfigError> {
            v.map(|s| parse_duration(key, &s)).transpose().map(|d| d.unwrap_or(Duration::from_secs(default)))
        };
        let refresh_token_ttl = duration_or("tokens.refresh_token_ttl", self.tokens.refresh_token_ttl, 30 * 86_400)?;
        let authorization_code_ttl =
            duration_or("tokens.authorization_code_ttl", self.tokens.authorization_code_ttl, 60)?;
        let zero_or = |key: &str, v: Option<&str>, default: Duration| match v {
            None => Ok(default),
            Some("0s") | Some("0") => Ok(Duration::ZERO),
            Some(s) => parse_duration(key, s),
        };
        let refresh_reuse_grace =
            zero_or("tokens.refresh_reuse_grace", self.tokens.refresh_reuse_grace.as_deref(), Duration::ZERO)?;
        let introspection_cache_ttl = zero_or(
            "tokens.introspection_cache_ttl",
            self.tokens.introspection_cache_ttl.as_deref(),
            Duration::from_secs(1),
        )?;
        if introspection_cache_ttl > Duration::from_secs(60) {
            // Past a minute a revocation on another node would wait too long to be seen.
            return Err(err("tokens.introspection_cache_ttl", "must be at most 60s"));
        }
        let session_ttl = duration_or("ui.session_ttl", self.ui.session_ttl, 8 * 3600)?;
        let login_limits = LoginLimits {
            max_failures_per_user: self.login.max_failures_per_user.unwrap_or(5),
            max_failures_per_ip: self.login.max_failures_per_ip.unwrap_or(100),
            lockout: duration_or("login.lockout", self.login.lockout, 30)?,
            response: match self.login.throttle_response.as_deref() {
                None | Some("429") => ThrottleResponse::TooManyRequests,
                Some("invalid_grant") => ThrottleResponse::InvalidGrant,
                Some(o) => {
                    return Err(err("login.throttle_response", format!("`{o}` is not \"429\" or \"invalid_grant\"")));
                }
            },
        };
        let mut users: Vec<StaticUser> = Vec::new();
        for (i, u) in self.users.into_iter().enumerate() {
            if !latchkey_core::user::is_valid_username(&u.username) {
                return Err(err(format!("users[{i}].username"), "must be 1-64 printable ASCII characters"));
            }
            if u.password.len() < 8 {
                return Err(err(format!("users[{i}].password"), "must be at least 8 characters"));
            }
            users.push(StaticUser {
                username: u.username,
                password: latchkey_core::secret::Secret::new(u.password),
                email: u.email,
            });
        }
        for scope in self.scope_descriptions.keys() {
            latchkey_core::scope::verify_scope_token(scope)
                .map_err(|_| err(format!("scope_descriptions.{scope}"), "is not a valid scope name"))?;
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
            users,
            refresh_token_ttl,
            authorization_code_ttl,
            refresh_reuse_grace,
            introspection_cache_ttl,
            scope_descriptions: self.scope_descriptions,
            templates_dir: self.ui.templates_dir.map(std::path::PathBuf::from),
            session_ttl,
            login_limits,
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

/// A redirect URI a client may register (RFC 9700 §2.6, RFC 8252): absolute, no
/// fragment, https, or http only on a loopback IP literal or localhost.
pub fn verify_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.contains('#') || !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("`{uri}` must be an absolute URI without fragment or spaces"));
    }
    let loopback = ["http://127.0.0.1", "http://[::1]", "http://localhost"];
    let ok = uri.starts_with("https://")
        || loopback.iter().any(|p| uri.strip_prefix(p).is_some_and(|r| r.is_empty() || r.starts_with([':', '/'])))
        || uri.split_once(':').is_some_and(|(scheme, rest)| scheme.contains('.') && rest.starts_with('/'));
    if ok { Ok(()) } else { Err(format!("`{uri}` must be https, a loopback http URI, or a private-use scheme")) }
}

impl RawClient {
    fn validate(self, i: usize) -> Result<StaticClient, ConfigError> {
        let k = |f: &str| format!("clients[{i}].{f}");
        verify_client_fields(&self.client_id, self.client_secret.as_deref(), &self.audiences)
            .map_err(|(f, m)| err(k(&f), m))?;
        for uri in &self.redirect_uris {
            verify_redirect_uri(uri).map_err(|m| err(k("redirect_uris"), m))?;
        }
        let grant_types = self
            .grant_types
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| err(k("grant_types"), format!("unsupported grant type `{g}`"))))
            .collect::<Result<Vec<_>, _>>()?;
        let scopes = ScopeSet::from_tokens(&self.scopes).map_err(|e| err(k("scopes"), e.description.to_string()))?;
        let auth_method = match self.token_endpoint_auth_method.as_deref() {
            None => AuthMethod::ClientSecretBasic,
            Some(m) => AuthMethod::parse(m).ok_or_else(|| {
                err(
                    k("token_endpoint_auth_method"),
                    format!("`{m}` is not client_secret_basic, client_secret_post or none"),
                )
            })?,
        };
        match (auth_method, &self.client_secret) {
            (AuthMethod::None, Some(_)) => return Err(err(k("client_secret"), "a public client (none) has no secret")),
            (AuthMethod::None, None) => {}
            (_, None) => return Err(err(k("client_secret"), "is required for a confidential client")),
            (_, Some(_)) => {}
        }
        if auth_method == AuthMethod::None && self.require_pkce == Some(false) {
            return Err(err(k("require_pkce"), "public clients always require PKCE"));
        }
        let token_format = self.access_token_format.map(|f| parse_format(&k("access_token_format"), &f)).transpose()?;
        let access_token_ttl = self.access_token_ttl.map(|d| parse_duration(&k("access_token_ttl"), &d)).transpose()?;
        Ok(StaticClient {
            id: self.client_id,
            secret: self.client_secret.map(latchkey_core::secret::Secret::new),
            name: self.name,
            redirect_uris: self.redirect_uris,
            skip_consent: self.skip_consent,
            require_pkce: self.require_pkce.unwrap_or(true),
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
        assert_eq!(c.introspection_cache_ttl, Duration::from_secs(1));
    }

    #[test]
    fn the_introspection_cache_can_be_turned_off_or_lengthened_up_to_a_minute() {
        for (value, want) in
            [("0s", Duration::ZERO), ("60s", Duration::from_secs(60)), ("250ms", Duration::from_millis(250))]
        {
            let c = Config::load(None, env(&[("LATCHKEY_TOKENS__INTROSPECTION_CACHE_TTL", value)])).unwrap();
            assert_eq!(c.introspection_cache_ttl, want, "{value}");
        }
        let c = Config::from_toml("[tokens]\nintrospection_cache_ttl = \"0\"").unwrap();
        assert_eq!(c.introspection_cache_ttl, Duration::ZERO);
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
            ("[tokens]\nintrospection_cache_ttl = \"61s\"", "tokens.introspection_cache_ttl"),
            ("[tokens]\nintrospection_cache_ttl = \"soon\"", "tokens.introspection_cache_ttl"),
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
