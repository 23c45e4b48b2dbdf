//! What both the server and the admin CLI need: the store, the system secrets and the
//! hashers derived from them. Opening it applies migrations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use latchkey_core::client::Client;
use latchkey_core::crypto::SystemSecrets;
use latchkey_core::secret::{SecretHasher, random_bytes};
use latchkey_store::{SqlStore, Store, StoreError};

use crate::config::{Config, StaticClient};

/// Name of the generated system-secret file, beside the database.
pub const SYSTEM_SECRET_FILE: &str = "system-secret";

/// Why latchkey could not start (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database cannot be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The system secret file cannot be read or written.
    #[error("system secret: {0}")]
    Secret(String),
    /// A page template cannot be read or does not parse.
    #[error("templates: {0}")]
    Templates(String),
    /// Signing keys cannot be loaded or created.
    #[error("signing keys: {0}")]
    Keys(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Opened resources shared by `serve` and the admin commands.
#[derive(Clone)]
pub struct Context {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The system secrets (seal private keys).
    pub secrets: SystemSecrets,
    /// Hashes client secrets.
    pub hasher: SecretHasher,
}

impl Context {
    /// Open the database and load (or create) the system secrets.
    pub async fn open(config: Config) -> Result<Self, StartError> {
        let store = SqlStore::connect(&config.database, config.synchronous, config.max_connections).await?;
        let secrets = if config.system_secrets.is_empty() {
            let path = latchkey_store::sqlite_path(&config.database)
                .map(|p| p.with_file_name(SYSTEM_SECRET_FILE))
                .ok_or_else(|| StartError::Secret("secrets.system must be configured".into()))?;
            SystemSecrets::new(vec![load_or_create_secret_file(&path)?])
        } else {
            SystemSecrets::new(config.system_secrets.clone())
        };
        let hasher = SecretHasher::new(secrets.derive("latchkey client-secret hash v1"));
        Ok(Self { config: Arc::new(config), store: Arc::new(store), secrets, hasher })
    }

    /// Create or update the clients and users declared in the configuration.
    pub async fn sync_static_config(&self, now: i64) -> Result<(), StoreError> {
        for c in &self.config.clients {
            self.store.upsert_client(&self.client_from_static(c, now), now).await?;
        }
        for u in &self.config.users {
            let password = u.password.clone();
            let hash = tokio::task::spawn_blocking(move || latchkey_core::user::hash_password(password.expose()))
                .await
                .map_err(|e| StoreError::Config(format!("password hashing failed: {e}")))?;
            let user = latchkey_core::user::User {
                id: latchkey_core::user::new_user_id(),
                username: u.username.clone(),
                email: u.email.clone(),
                password_hash: hash,
                created_at: now,
            };
            self.store.upsert_user(&user, now).await?;
        }
        Ok(())
    }

    fn client_from_static(&self, c: &StaticClient, now: i64) -> Client {
        Client {
            id: c.id.clone(),
            secret_hash: c.secret.as_ref().map(|s| self.hasher.hash(&c.id, s.expose())).unwrap_or_default(),
            grant_types: c.grant_types.clone(),
            scopes: c.scopes.clone(),
            auth_method: c.auth_method,
            token_format: c.token_format,
            audiences: c.audiences.clone(),
            introspect: c.introspect,
            access_token_ttl: c.access_token_ttl.map(|d| d.as_secs() as i64),
            created_at: now,
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            skip_consent: c.skip_consent,
            require_pkce: c.require_pkce,
        }
    }
}

/// Read the generated system secret, or create it readable only by its owner.
fn load_or_create_secret_file(path: &Path) -> Result<String, StartError> {
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= crate::config::MIN_SECRET_LEN => return Ok(s.trim().to_owned()),
        Ok(_) => return Err(StartError::Secret(format!("{} is too short", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StartError::Secret(format!("cannot read {}: {e}", path.display()))),
    }
    use base64::Engine;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    write_private_file(path, &secret)
        .map_err(|e| StartError::Secret(format!("cannot write {}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), "generated a system secret; back it up with the database");
    Ok(secret)
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// The folder that holds the database file, if it is SQLite.
pub fn data_dir(config: &Config) -> Option<PathBuf> {
    latchkey_store::sqlite_path(&config.database).and_then(|p| p.parent().map(Path::to_path_buf))
}
