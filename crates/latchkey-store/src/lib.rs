//! The storage seam of latchkey: the [`Store`] trait, whose methods are use cases
//! rather than tables, and [`SqlStore`], its SQL implementation.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod records;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;

pub use records::{
    AccessTokenRecord, AuthRequestRecord, CodeLookup, CodeRecord, Consent, GrantRecord, Redemption, RefreshLookup,
    RefreshRecord, Rotation, Session, StoredKey,
};
pub use sql::{SqlStore, Synchronous, is_postgres_url, sqlite_path};

use async_trait::async_trait;
use latchkey_core::OAuthError;
use latchkey_core::client::Client;
use latchkey_core::user::User;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or timed out: retryable, maps to 503.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A row with this key exists already.
    #[error("{0} already exists")]
    Conflict(String),
    /// Stored data could not be decoded (a bug or manual tampering).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The database URL or set-up is invalid.
    #[error("{0}")]
    Config(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e),
            sqlx::Error::Database(ref db) if db.is_unique_violation() => Self::Conflict("row".into()),
            sqlx::Error::Database(ref db) if db.code().is_some_and(|c| is_unavailable_sqlstate(&c)) => {
                Self::Unavailable(e)
            }
            other => Self::Database(other),
        }
    }
}

/// SQLSTATEs that mean "the database cannot serve now", not "this query is wrong":
/// connection exceptions (08), insufficient resources (53), operator intervention (57:
/// shutdown, cannot connect now, statement timeout) and a database not accepting
/// connections (55000). SQLite's busy/locked codes (5, 6) belong here too.
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57")
        || code == "55000"
        || code == "5"
        || code == "6"
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => OAuthError::unavailable(e),
            other => OAuthError::server_error(other),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything latchkey persists. Transactions stay inside a method.
#[async_trait]
pub trait Store: UserStore + Send + Sync + 'static {
    /// Check the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// A client by id.
    async fn client(&self, id: &str) -> StoreResult<Option<Client>>;
    /// Every client, by id.
    async fn clients(&self) -> StoreResult<Vec<Client>>;
    /// Register a new client; `Conflict` if the id is taken.
    async fn insert_client(&self, client: &Client, now: i64) -> StoreResult<()>;
    /// Create or update a client (static clients from the config). An update keeps
    /// `created_at`, so the client's live tokens stay live.
    async fn upsert_client(&self, client: &Client, now: i64) -> StoreResult<()>;
    /// Delete a client. Its tokens, in both formats, die with it (a token is live only
    /// while its client exists and existed when it was issued) and are purged at expiry.
    async fn delete_client(&self, id: &str) -> StoreResult<bool>;
    /// Replace a client's secret hash.
    async fn set_client_secret(&self, id: &str, secret_hash: &[u8], now: i64) -> StoreResult<bool>;

    /// Save an opaque access token; returns once durably committed.
    async fn put_access_token(&self, token: AccessTokenRecord) -> StoreResult<()>;
    /// An opaque access token by the hash of its value.
    async fn access_token(&self, token_hash: &[u8]) -> StoreResult<Option<AccessTokenRecord>>;
    /// Mark an opaque token revoked; false if unknown.
    async fn revoke_access_token(&self, token_hash: &[u8], now: i64) -> StoreResult<bool>;
    /// Remember a revoked JWT until it expires.
    async fn revoke_jti(&self, jti: &str, client_id: &str, expires_at: i64) -> StoreResult<()>;
    /// Whether a JWT was revoked: by its id, or with its grant (`grant_id`, the JWT's
    /// private claim, for tokens issued for a user).
    async fn jwt_revoked(&self, jti: &str, grant_id: Option<&str>) -> StoreResult<bool>;

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Add a key and make it the signer: other unretired keys are retired at `now`.
    async fn add_signing_key(&self, key: &StoredKey) -> StoreResult<()>;

    /// Delete up to `batch` expired tokens and revocation records; returns the count.
    async fn delete_expired(&self, now: i64, batch: i64) -> StoreResult<u64>;
}

/// Users and what acts for them: sessions, authorization requests and codes, consents,
/// grants and refresh tokens.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// A user by subject.
    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    /// A user by username.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    /// Every user, by username.
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Create a user; `Conflict` if the username is taken.
    async fn insert_user(&self, user: &User, now: i64) -> StoreResult<()>;
    /// Create or update by username (config users); an update keeps the subject.
    async fn upsert_user(&self, user: &User, now: i64) -> StoreResult<()>;
    /// Delete a user, revoking every grant, session and consent; returns the subject.
    async fn delete_user(&self, username: &str, now: i64) -> StoreResult<Option<String>>;

    /// Create or replace a session.
    async fn put_session(&self, id_hash: &[u8], session: &Session, now: i64) -> StoreResult<()>;
    /// A live session.
    async fn session(&self, id_hash: &[u8], now: i64) -> StoreResult<Option<Session>>;
    /// Delete a session (after login its id is replaced: no session fixation).
    async fn delete_session(&self, id_hash: &[u8]) -> StoreResult<()>;

    /// Save a pending authorization request.
    async fn put_auth_request(&self, request: &AuthRequestRecord) -> StoreResult<()>;
    /// A pending, unexpired, unconsumed authorization request.
    async fn auth_request(&self, id_hash: &[u8], now: i64) -> StoreResult<Option<AuthRequestRecord>>;
    /// Move a request to the session created by a login, which satisfies `prompt=login`.
    async fn rebind_auth_request(&self, id_hash: &[u8], session_hash: &[u8]) -> StoreResult<()>;
    /// Give a pending request a new CSRF token (hash), for the next form it renders.
    async fn renew_auth_request_csrf(&self, id_hash: &[u8], csrf_hash: &[u8]) -> StoreResult<()>;
    /// Consume a request once: false if it was already consumed (a replayed form).
    async fn consume_auth_request(&self, id_hash: &[u8], now: i64) -> StoreResult<bool>;

    /// Save a new authorization code.
    async fn put_code(&self, code: &CodeRecord) -> StoreResult<()>;
    /// A code, whether or not it was redeemed. Nothing is marked: the caller checks the
    /// code (PKCE, client, redirect URI) first, then [`redeem_code`](Self::redeem_code)s it.
    async fn code(&self, code_hash: &[u8]) -> StoreResult<CodeLookup>;
    /// Redeem a code and save the grant it starts with its first tokens, atomically:
    /// of concurrent redemptions exactly one wins; the others are told the grant to revoke.
    /// `access` is the opaque access token's row (a JWT has none).
    async fn redeem_code(
        &self,
        code_hash: &[u8],
        grant: GrantRecord,
        access: Option<AccessTokenRecord>,
        refresh: Option<RefreshRecord>,
        now: i64,
    ) -> StoreResult<Redemption>;

    /// The remembered consent of a user for a client (space-delimited scope).
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<String>>;
    /// Remember a consent (replacing the previous one).
    async fn put_consent(&self, user_id: &str, client_id: &str, scope: &str, now: i64) -> StoreResult<()>;
    /// A user's consents.
    async fn consents(&self, user_id: &str) -> StoreResult<Vec<Consent>>;
    /// Forget a consent and revoke every grant of that user and client.
    async fn revoke_consent(&self, user_id: &str, client_id: &str, now: i64) -> StoreResult<bool>;

    /// Save a grant with its first tokens' rows: an opaque access token, a refresh token.
    async fn put_grant(
        &self,
        grant: &GrantRecord,
        access: Option<&AccessTokenRecord>,
        refresh: Option<&RefreshRecord>,
    ) -> StoreResult<()>;
    /// Revoke a grant's whole family: its refresh tokens and access tokens (both
    /// formats). One row changes, the grant's: every read of a token checks its grant.
    async fn revoke_grant(&self, grant_id: &str, now: i64) -> StoreResult<()>;
    /// A refresh token, its grant and the grant's user.
    async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshLookup>>;
    /// Rotate: mark `old_hash` used (compare-and-set) and save its successors (the new
    /// refresh token, and the access token when it is opaque), atomically.
    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        new: RefreshRecord,
        access: Option<AccessTokenRecord>,
        now: i64,
    ) -> StoreResult<Rotation>;
}
