//! [`SqlStore`]: one implementation of [`Store`] for every SQL backend.
//!
//! SQL is written once with `$1…$n` placeholders, which sqlx binds by number on
//! SQLite too, and `on_pool!` expands one body per backend (SQLite, PostgreSQL), so a
//! query is never written twice. Only types both share are used (TEXT, BIGINT, BLOB/BYTEA).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::client::{AuthMethod, Client, GrantType};
use latchkey_core::scope::ScopeSet;
use latchkey_core::token::TokenFormat;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row};

use crate::{AccessTokenRecord, Store, StoreError, StoreResult, StoredKey};

/// SQLite durability (https://sqlite.org/pragma.html#pragma_synchronous, WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync the WAL on every commit: a committed token survives power loss.
    Full,
    /// fsync only at checkpoints: survives a process crash, may lose the last commits
    /// on power loss or an OS crash.
    Normal,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$p` bound to the backend's pool; one arm per backend.
macro_rules! on_pool {
    ($self:expr, |$p:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

/// A write. `$body` runs with `$p` a `&mut` connection and evaluates to a `Result`.
/// On SQLite it joins the next group commit (`writer.rs`), so what it captures must be
/// owned; on PostgreSQL it runs on a pooled connection, and PostgreSQL shares the WAL
/// flush of concurrent commits by itself.
macro_rules! write {
    ($self:expr, |$p:ident| $body:expr) => {
        match &$self.writes {
            Writes::Sqlite(w) => {
                w.run(move |$p: &mut sqlx::SqliteConnection| {
                    Box::pin(async move {
                        let r = $body;
                        r.map_err(StoreError::from)
                    })
                })
                .await
            }
            Writes::Postgres(pool) => {
                async {
                    let mut conn = pool.acquire().await?;
                    let $p: &mut sqlx::PgConnection = &mut *conn;
                    let r = $body;
                    r.map_err(StoreError::from)
                }
                .await
            }
        }
    };
}

/// Where writes go: SQLite's group commit, or PostgreSQL's pool.
enum Writes {
    Sqlite(writer::SqliteWriter),
    Postgres(PgPool),
}

/// Longest wait for a connection: past it a request fails with 503 rather than hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether `url` selects PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The SQL store.
pub struct SqlStore {
    pool: Pool,
    /// The pool for writes: one connection of its own on SQLite, `pool` on PostgreSQL.
    writer: Pool,
    writes: Writes,
    insert_tokens: batch::Batcher<batch::InsertAccessTokens>,
    tokens_by_hash: batch::Batcher<batch::AccessTokensByHash>,
    revoked_jtis: batch::Batcher<batch::RevokedJtis>,
    rotations: batch::Batcher<batch::RotateRefresh>,
    codes_by_hash: batch::Batcher<codes::CodesByHash>,
    redemptions: batch::Batcher<codes::RedeemCodes>,
    refresh_by_hash: batch::Batcher<grant_lookups::RefreshTokensByHash>,
    users_by_id: batch::Batcher<grant_lookups::UsersById>,
}

/// The file behind a `sqlite://` URL: `sqlite://rel/x.db` is relative to the working
/// directory, `sqlite:///abs/x.db` absolute.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://")?;
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.is_empty() { None } else { Some(PathBuf::from(rest)) }
}

impl SqlStore {
    /// Open the database at `url`, creating the SQLite file and its folders, and apply
    /// migrations.
    pub async fn connect(url: &str, synchronous: Synchronous, max_connections: u32) -> StoreResult<Self> {
        if let Some(path) = sqlite_path(url) {
            return Self::open_sqlite(&path, synchronous, max_connections).await;
        }
        if is_postgres_url(url) {
            return Self::open_postgres(url, max_connections).await;
        }
        Err(StoreError::Config(format!(
            "unsupported database URL scheme in `{}` (expected sqlite://PATH or postgres://…)",
            url.split(':').next().unwrap_or("")
        )))
    }

    async fn open_postgres(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?
            // A statement that hangs (a stalled primary) fails instead of holding the request.
            .options([("statement_timeout", "5000")])
            .application_name("latchkey");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Config(format!("cannot connect to PostgreSQL: {e}")))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Config(format!("migrations failed: {e}")))?;
        let writes = Writes::Postgres(pool.clone());
        Ok(Self::with_pools(Pool::Postgres(pool.clone()), Pool::Postgres(pool), writes))
    }

    async fn open_sqlite(path: &Path, synchronous: Synchronous, max_connections: u32) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create folder {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| StoreError::Config(e.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(5))
            // Statement journals (a multi-row INSERT inside the group commit needs one)
            // stay in memory instead of spilling to a temporary file.
            .pragma("temp_store", "memory")
            .foreign_keys(true);
        // A local file needs no liveness ping before each use (sqlx's default), which
        // costs a round trip to the connection's thread per statement.
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Config(format!("cannot open SQLite database {}: {e}", path.display())))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Config(format!("migrations failed: {e}")))?;
        // Every write goes through one connection (group commit, `write!`). SQLite
        // allows one writer at a time anyway: queueing for the connection is fair and
        // cheap where contending for the lock means sleeping in the busy handler; and
        // a connection that makes every commit keeps its page cache (one taken in turn
        // from the pool finds the database changed by the others and drops it).
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Config(format!("cannot open SQLite database {}: {e}", path.display())))?;
        let writes = Writes::Sqlite(writer::SqliteWriter::spawn(writer.clone()));
        Ok(Self::with_pools(Pool::Sqlite(pool), Pool::Sqlite(writer), writes))
    }

    /// `writer` serves every write; it may be `pool` itself.
    fn with_pools(pool: Pool, writer: Pool, writes: Writes) -> Self {
        Self {
            writes,
            insert_tokens: batch::Batcher::spawn(writer.clone(), batch::InsertAccessTokens),
            rotations: batch::Batcher::spawn(writer.clone(), batch::RotateRefresh),
            redemptions: batch::Batcher::spawn(writer.clone(), codes::RedeemCodes),
            codes_by_hash: batch::Batcher::spawn(pool.clone(), codes::CodesByHash),
            refresh_by_hash: batch::Batcher::spawn(pool.clone(), grant_lookups::RefreshTokensByHash),
            users_by_id: batch::Batcher::spawn(pool.clone(), grant_lookups::UsersById),
            tokens_by_hash: batch::Batcher::spawn(pool.clone(), batch::AccessTokensByHash),
            revoked_jtis: batch::Batcher::spawn(pool.clone(), batch::RevokedJtis),
            writer,
            pool,
        }
    }

    /// Close the pools, waiting for connections to finish.
    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await);
        match &self.writer {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

fn join_grants(g: &[GrantType]) -> String {
    g.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" ")
}

fn client_from_row<R>(row: &R) -> StoreResult<Client>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("client {id}: {what}"));
    let grant_types = row
        .try_get::<String, _>("grant_types")?
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| GrantType::parse(s).ok_or_else(|| corrupt("grant type")))
        .collect::<StoreResult<Vec<_>>>()?;
    let scopes = ScopeSet::parse(&row.try_get::<String, _>("scopes")?).map_err(|_| corrupt("scopes"))?;
    let auth_method = AuthMethod::parse(&row.try_get::<String, _>("auth_method")?).ok_or_else(|| corrupt("auth"))?;
    let token_format = match row.try_get::<Option<String>, _>("token_format")? {
        Some(f) => Some(TokenFormat::parse(&f).ok_or_else(|| corrupt("token format"))?),
        None => None,
    };
    let audiences: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("audiences")?).map_err(|_| corrupt("audiences"))?;
    let redirect_uris: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("redirect_uris")?).map_err(|_| corrupt("redirect_uris"))?;
    Ok(Client {
        name: row.try_get("name")?,
        redirect_uris,
        skip_consent: row.try_get::<i64, _>("skip_consent")? != 0,
        require_pkce: row.try_get::<i64, _>("require_pkce")? != 0,
        secret_hash: row.try_get("secret_hash")?,
        grant_types,
        scopes,
        auth_method,
        token_format,
        audiences,
        introspect: row.try_get::<i64, _>("introspect")? != 0,
        access_token_ttl: row.try_get("access_token_ttl")?,
        created_at: row.try_get("created_at")?,
        id,
    })
}

fn token_from_row<R>(row: &R) -> StoreResult<AccessTokenRecord>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let audience = serde_json::from_str(&row.try_get::<String, _>("audience")?)
        .map_err(|_| StoreError::Corrupt("access token audience".into()))?;
    Ok(AccessTokenRecord {
        token_hash: row.try_get("token_hash")?,
        jti: row.try_get("jti")?,
        grant_id: row.try_get("grant_id")?,
        client_id: row.try_get("client_id")?,
        subject: row.try_get("subject")?,
        scope: row.try_get("scope")?,
        audience,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        jwt: row.try_get::<i64, _>("jwt")? != 0,
        username: row.try_get("username")?,
    })
}

/// Every access-token column, for [`token_from_row`], from `access_tokens a`; a `WHERE`
/// follows. A token counts as revoked once its grant is: revoking a family marks the
/// grant alone (the grant outlives its tokens, so the join finds it while they live).
const SELECT_ACCESS_TOKENS: &str = "SELECT a.token_hash, a.jti, a.grant_id, a.client_id, a.subject, a.scope, \
     a.audience, a.issued_at, a.expires_at, COALESCE(a.revoked_at, g.revoked_at) AS revoked_at, a.jwt, a.username \
     FROM access_tokens a LEFT JOIN grants g ON g.id = a.grant_id";

const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, \
     scope, audience, issued_at, expires_at, revoked_at, jwt, username) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// Bind an [`AccessTokenRecord`] to [`INSERT_ACCESS_TOKEN`]; evaluates to a `Result`.
macro_rules! bind_access_token {
    ($q:expr, $t:expr) => {
        serde_json::to_string(&$t.audience).map_err(|e| StoreError::Corrupt(e.to_string())).map(|audience| {
            $q.bind(&$t.token_hash)
                .bind(&$t.jti)
                .bind(&$t.grant_id)
                .bind(&$t.client_id)
                .bind(&$t.subject)
                .bind(&$t.scope)
                .bind(audience)
                .bind($t.issued_at)
                .bind($t.expires_at)
                .bind($t.revoked_at)
                .bind(i64::from($t.jwt))
                .bind(&$t.username)
        })
    };
}

/// An INSERT of a [`crate::RefreshRecord`], ready to execute.
macro_rules! insert_refresh {
    ($r:expr) => {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, expires_at, used_at, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&$r.token_hash)
        .bind(&$r.grant_id)
        .bind(&$r.client_id)
        .bind(&$r.scope)
        .bind($r.issued_at)
        .bind($r.expires_at)
        .bind($r.used_at)
        .bind($r.revoked_at)
    };
}

/// `SELECT <every client column> FROM clients <tail>`, as a `&'static str`.
macro_rules! select_clients {
    ($tail:literal) => {
        concat!(
            "SELECT id, secret_hash, grant_types, scopes, auth_method, token_format, audiences, introspect, ",
            "access_token_ttl, created_at, name, redirect_uris, skip_consent, require_pkce FROM clients ",
            $tail
        )
    };
}

macro_rules! bind_client {
    ($q:expr, $c:expr, $now:expr) => {
        $q.bind(&$c.id)
            .bind(&$c.secret_hash)
            .bind(join_grants(&$c.grant_types))
            .bind($c.scopes.to_string())
            .bind($c.auth_method.as_str())
            .bind($c.token_format.map(|f| f.as_str()))
            .bind(serde_json::to_string(&$c.audiences).unwrap_or_else(|_| "[]".into()))
            .bind(i64::from($c.introspect))
            .bind($c.access_token_ttl)
            .bind($now)
            .bind(&$c.name)
            .bind(serde_json::to_string(&$c.redirect_uris).unwrap_or_else(|_| "[]".into()))
            .bind(i64::from($c.skip_consent))
            .bind(i64::from($c.require_pkce))
    };
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |p| sqlx::query("SELECT 1").execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        const Q: &str = select_clients!("WHERE id = $1");
        on_pool!(self, |p| {
            let row = sqlx::query(Q).bind(id).fetch_optional(p).await?;
            row.as_ref().map(client_from_row).transpose()
        })
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        const Q: &str = select_clients!("ORDER BY id");
        on_pool!(self, |p| {
            let rows = sqlx::query(Q).fetch_all(p).await?;
            rows.iter().map(client_from_row).collect()
        })
    }

    async fn insert_client(&self, client: &Client, now: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let client = client.clone();
        const Q: &str = "INSERT INTO clients (id, secret_hash, grant_types, scopes, auth_method, token_format, \
             audiences, introspect, access_token_ttl, created_at, updated_at, name, redirect_uris, skip_consent, \
             require_pkce) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14)";
        let conflict = format!("client {}", client.id);
        write!(self, |p| bind_client!(sqlx::query(Q), client, now).execute(p).await.map(|r| r.rows_affected()))
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict(conflict),
                other => other,
            })?;
        Ok(())
    }

    async fn upsert_client(&self, client: &Client, now: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let client = client.clone();
        const Q: &str = "INSERT INTO clients (id, secret_hash, grant_types, scopes, auth_method, token_format, \
             audiences, introspect, access_token_ttl, created_at, updated_at, name, redirect_uris, skip_consent, \
             require_pkce) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14) \
             ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, name = excluded.name, \
             redirect_uris = excluded.redirect_uris, skip_consent = excluded.skip_consent, \
             require_pkce = excluded.require_pkce, \
             grant_types = excluded.grant_types, scopes = excluded.scopes, auth_method = excluded.auth_method, \
             token_format = excluded.token_format, audiences = excluded.audiences, \
             introspect = excluded.introspect, access_token_ttl = excluded.access_token_ttl, \
             updated_at = excluded.updated_at";
        write!(self, |p| bind_client!(sqlx::query(Q), client, now).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        // Its tokens stay until they expire, inert: a token is live only while the client
        // it was issued to exists and existed when it was issued (core's `is_live`), so
        // deleting them here would need an index on `client_id` that every issuance pays
        // for (migration 5). Owned: the write runs in the group-commit task.
        let id = id.to_owned();
        let n = write!(self, |p| sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(&id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    async fn set_client_secret(&self, id: &str, secret_hash: &[u8], now: i64) -> StoreResult<bool> {
        // Owned: the write runs in the group-commit task.
        let id = id.to_owned();
        let secret_hash = secret_hash.to_vec();
        const Q: &str = "UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE id = $3";
        let n = write!(self, |p| sqlx::query(Q)
            .bind(&secret_hash)
            .bind(now)
            .bind(&id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    async fn put_access_token(&self, t: AccessTokenRecord) -> StoreResult<()> {
        // Group commit: concurrent inserts share one transaction and one fsync.
        self.insert_tokens.call(t).await
    }

    async fn access_token(&self, token_hash: &[u8]) -> StoreResult<Option<AccessTokenRecord>> {
        // Group lookup: concurrent introspections share one query.
        self.tokens_by_hash.call(token_hash.to_vec()).await
    }

    async fn revoke_access_token(&self, token_hash: &[u8], now: i64) -> StoreResult<bool> {
        // Owned: the write runs in the group-commit task.
        let token_hash = token_hash.to_vec();
        const Q: &str = "UPDATE access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL";
        let n =
            write!(self, |p| sqlx::query(Q).bind(now).bind(&token_hash).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    async fn revoke_jti(&self, jti: &str, client_id: &str, expires_at: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let jti = jti.to_owned();
        let client_id = client_id.to_owned();
        const Q: &str =
            "INSERT INTO revoked_jtis (jti, client_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING";
        write!(self, |p| sqlx::query(Q)
            .bind(&jti)
            .bind(&client_id)
            .bind(expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn jwt_revoked(&self, jti: &str, grant_id: Option<&str>) -> StoreResult<bool> {
        self.revoked_jtis.call((jti.to_owned(), grant_id.map(str::to_owned))).await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        const Q: &str = "SELECT kid, alg, public_jwk, private_key_sealed, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid";
        on_pool!(self, |p| {
            let rows = sqlx::query(Q).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(StoredKey {
                        kid: r.try_get("kid")?,
                        alg: r.try_get("alg")?,
                        public_jwk: r.try_get("public_jwk")?,
                        private_key_sealed: r.try_get("private_key_sealed")?,
                        created_at: r.try_get("created_at")?,
                        retired_at: r.try_get("retired_at")?,
                    })
                })
                .collect()
        })
    }

    async fn add_signing_key(&self, key: &StoredKey) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let key = key.clone();
        const RETIRE: &str = "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL";
        const INSERT: &str = "INSERT INTO signing_keys (kid, alg, public_jwk, private_key_sealed, created_at, \
             retired_at) VALUES ($1, $2, $3, $4, $5, NULL)";
        write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(RETIRE).bind(key.created_at).execute(&mut *tx).await?;
            sqlx::query(INSERT)
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.public_jwk)
                .bind(&key.private_key_sealed)
                .bind(key.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    async fn delete_expired(&self, now: i64, batch: i64) -> StoreResult<u64> {
        // One statement per table, each bounded by `batch` rows. Token rows are keyed by
        // when they expire (latchkey_core::secret::new_expiring_token): the expired ones
        // are a range at the start of the primary key, below `$3`, and no expiry index is
        // kept for them (migration 5). `expires_at` is checked as well, for rows keyed by
        // issue time before that (they are all in the range; the live ones stay).
        const STATEMENTS: &[&str] = &[
            "DELETE FROM access_tokens WHERE token_hash IN \
             (SELECT token_hash FROM access_tokens WHERE token_hash < $3 AND expires_at < $1 LIMIT $2)",
            "DELETE FROM refresh_tokens WHERE token_hash IN \
             (SELECT token_hash FROM refresh_tokens WHERE token_hash < $3 AND expires_at < $1 LIMIT $2)",
            "DELETE FROM revoked_jtis WHERE jti IN (SELECT jti FROM revoked_jtis WHERE expires_at < $1 LIMIT $2)",
            "DELETE FROM authorization_codes WHERE code_hash IN \
             (SELECT code_hash FROM authorization_codes WHERE expires_at < $1 LIMIT $2)",
            "DELETE FROM auth_requests WHERE id_hash IN (SELECT id_hash FROM auth_requests WHERE expires_at < $1 LIMIT $2)",
            "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT $2)",
            "DELETE FROM grants WHERE id IN (SELECT id FROM grants WHERE expires_at < $1 LIMIT $2)",
        ];
        let bound = latchkey_core::secret::expired_key_bound(now);
        let mut total = 0;
        for &q in STATEMENTS {
            // PostgreSQL refuses a parameter the statement does not use: `$3` only where named.
            let bound = q.contains("$3").then(|| bound.clone()); // moved into the write task
            total += write!(self, |p| {
                let query = sqlx::query(q).bind(now).bind(batch);
                match &bound {
                    Some(b) => query.bind(b),
                    None => query,
                }
                .execute(p)
                .await
                .map(|r| r.rows_affected())
            })?;
        }
        Ok(total)
    }
}

// After the macros it uses (macro_rules! are scoped textually).
mod batch;
mod claim;
mod codes;
mod grant_lookups;
mod users;
mod writer;
