//! [`UserStore`] for [`SqlStore`]: users, sessions, authorization requests and codes,
//! consents, grants and refresh tokens. Rows are read as tuples, which decode the same
//! way on every backend.

use async_trait::async_trait;
use latchkey_core::user::User;
use sqlx::Connection;

use super::batch::RotateJob;
use super::codes::RedeemJob;
use super::{INSERT_ACCESS_TOKEN, Pool, SqlStore, Writes};
use crate::{
    AccessTokenRecord, AuthRequestRecord, CodeLookup, CodeRecord, Consent, GrantRecord, Redemption, RefreshLookup,
    RefreshRecord, Rotation, Session, StoreError, StoreResult, UserStore,
};

pub(super) type UserRow = (String, String, Option<String>, String, i64);

pub(super) fn user_from(r: UserRow) -> User {
    User { id: r.0, username: r.1, email: r.2, password_hash: r.3, created_at: r.4 }
}

pub(super) fn json_list(s: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt("JSON list".into()))
}

pub(super) fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Bind a [`User`] to an INSERT of `(id, username, email, password_hash, created_at, updated_at)`.
macro_rules! bind_user {
    ($q:expr, $u:expr, $now:expr) => {
        $q.bind(&$u.id).bind(&$u.username).bind(&$u.email).bind(&$u.password_hash).bind($u.created_at).bind($now)
    };
}

/// Revoke the family of `$grant` at `$now` inside the transaction `$tx`: the grant's
/// row alone. Every read of a token checks its grant (the refresh-token look-up and
/// rotation, the opaque access-token look-up, a user's JWT by its `grant_id` claim), so
/// no token row changes: a rotation then writes no random page of a `grant_id` index,
/// which was most of its commit (docs/performance.md).
macro_rules! revoke_family {
    ($tx:expr, $grant:expr, $now:expr) => {{
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind($now)
            .bind($grant)
            .execute(&mut *$tx)
            .await?;
    }};
}

#[async_trait]
impl UserStore for SqlStore {
    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        self.users_by_id.call(id.to_owned()).await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        const Q: &str = "SELECT id, username, email, password_hash, created_at FROM users WHERE username = $1";
        let row: Option<UserRow> = on_pool!(self, |p| sqlx::query_as(Q).bind(username).fetch_optional(p).await)?;
        Ok(row.map(user_from))
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        const Q: &str = "SELECT id, username, email, password_hash, created_at FROM users ORDER BY username";
        let rows: Vec<UserRow> = on_pool!(self, |p| sqlx::query_as(Q).fetch_all(p).await)?;
        Ok(rows.into_iter().map(user_from).collect())
    }

    async fn insert_user(&self, u: &User, now: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let u = u.clone();
        const Q: &str = "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        let conflict = format!("user {}", u.username);
        write!(self, |p| bind_user!(sqlx::query(Q), u, now).execute(p).await.map(|r| r.rows_affected())).map_err(
            |e| match e {
                StoreError::Conflict(_) => StoreError::Conflict(conflict),
                other => other,
            },
        )?;
        Ok(())
    }

    async fn upsert_user(&self, u: &User, now: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let u = u.clone();
        const Q: &str = "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO UPDATE SET email = excluded.email, \
             password_hash = excluded.password_hash, updated_at = excluded.updated_at";
        write!(self, |p| bind_user!(sqlx::query(Q), u, now).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn delete_user(&self, username: &str, now: i64) -> StoreResult<Option<String>> {
        // Owned: the write runs in the group-commit task.
        let username = username.to_owned();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let id: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE username = $1")
                .bind(&username)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((id,)) = id else { return Ok::<_, StoreError>(None) };
            let grants: Vec<(String,)> =
                sqlx::query_as("SELECT id FROM grants WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(&id)
                    .fetch_all(&mut *tx)
                    .await?;
            for (g,) in &grants {
                revoke_family!(tx, g, now);
            }
            for q in [
                "DELETE FROM sessions WHERE user_id = $1",
                "DELETE FROM consents WHERE user_id = $1",
                "DELETE FROM users WHERE id = $1",
            ] {
                sqlx::query(q).bind(&id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(Some(id))
        })
    }

    async fn put_session(&self, id_hash: &[u8], s: &Session, now: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let id_hash = id_hash.to_vec();
        let s = s.clone();
        const Q: &str = "INSERT INTO sessions (id_hash, user_id, authenticated_at, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, \
             authenticated_at = excluded.authenticated_at, expires_at = excluded.expires_at";
        write!(self, |p| sqlx::query(Q)
            .bind(&id_hash)
            .bind(&s.user_id)
            .bind(s.authenticated_at)
            .bind(now)
            .bind(s.expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn session(&self, id_hash: &[u8], now: i64) -> StoreResult<Option<Session>> {
        const Q: &str =
            "SELECT user_id, authenticated_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2";
        let row: Option<(Option<String>, Option<i64>, i64)> =
            on_pool!(self, |p| sqlx::query_as(Q).bind(id_hash).bind(now).fetch_optional(p).await)?;
        Ok(row.map(|r| Session { user_id: r.0, authenticated_at: r.1, expires_at: r.2 }))
    }

    async fn delete_session(&self, id_hash: &[u8]) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let id_hash = id_hash.to_vec();
        const Q: &str = "DELETE FROM sessions WHERE id_hash = $1";
        write!(self, |p| sqlx::query(Q).bind(&id_hash).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn put_auth_request(&self, r: &AuthRequestRecord) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let r = r.clone();
        const Q: &str = "INSERT INTO auth_requests (id_hash, session_hash, csrf_hash, client_id, redirect_uri, \
             redirect_given, scope, state, code_challenge, resources, prompt, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        write!(self, |p| sqlx::query(Q)
            .bind(&r.id_hash)
            .bind(&r.session_hash)
            .bind(&r.csrf_hash)
            .bind(&r.client_id)
            .bind(&r.redirect_uri)
            .bind(i64::from(r.redirect_given))
            .bind(&r.scope)
            .bind(&r.state)
            .bind(&r.code_challenge)
            .bind(to_json(&r.resources))
            .bind(&r.prompt)
            .bind(r.created_at)
            .bind(r.expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn auth_request(&self, id_hash: &[u8], now: i64) -> StoreResult<Option<AuthRequestRecord>> {
        const Q: &str = "SELECT id_hash, session_hash, csrf_hash, client_id, redirect_uri, redirect_given, scope, \
             state, code_challenge, resources, prompt, created_at, expires_at FROM auth_requests \
             WHERE id_hash = $1 AND expires_at > $2 AND consumed_at IS NULL";
        type Row = (
            Vec<u8>,
            Vec<u8>,
            Vec<u8>,
            String,
            String,
            i64,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            i64,
            i64,
        );
        let row: Option<Row> = on_pool!(self, |p| sqlx::query_as(Q).bind(id_hash).bind(now).fetch_optional(p).await)?;
        row.map(|r| {
            Ok(AuthRequestRecord {
                id_hash: r.0,
                session_hash: r.1,
                csrf_hash: r.2,
                client_id: r.3,
                redirect_uri: r.4,
                redirect_given: r.5 != 0,
                scope: r.6,
                state: r.7,
                code_challenge: r.8,
                resources: json_list(&r.9)?,
                prompt: r.10,
                created_at: r.11,
                expires_at: r.12,
            })
        })
        .transpose()
    }

    async fn rebind_auth_request(&self, id_hash: &[u8], session_hash: &[u8]) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let id_hash = id_hash.to_vec();
        let session_hash = session_hash.to_vec();
        // The user just authenticated for this request: `prompt=login` is satisfied.
        const Q: &str = "UPDATE auth_requests SET session_hash = $1, prompt = TRIM(REPLACE(prompt, 'login', '')) \
             WHERE id_hash = $2";
        write!(self, |p| sqlx::query(Q)
            .bind(&session_hash)
            .bind(&id_hash)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn renew_auth_request_csrf(&self, id_hash: &[u8], csrf_hash: &[u8]) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let id_hash = id_hash.to_vec();
        let csrf_hash = csrf_hash.to_vec();
        const Q: &str = "UPDATE auth_requests SET csrf_hash = $1 WHERE id_hash = $2 AND consumed_at IS NULL";
        write!(self, |p| sqlx::query(Q).bind(&csrf_hash).bind(&id_hash).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn consume_auth_request(&self, id_hash: &[u8], now: i64) -> StoreResult<bool> {
        // Owned: the write runs in the group-commit task.
        let id_hash = id_hash.to_vec();
        const Q: &str = "UPDATE auth_requests SET consumed_at = $1 WHERE id_hash = $2 AND consumed_at IS NULL";
        let n = write!(self, |p| sqlx::query(Q).bind(now).bind(&id_hash).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    async fn put_code(&self, c: &CodeRecord) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let c = c.clone();
        const Q: &str = "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, redirect_uri, \
             scope, resources, code_challenge, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        write!(self, |p| sqlx::query(Q)
            .bind(&c.code_hash)
            .bind(&c.grant_id)
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.redirect_uri)
            .bind(&c.scope)
            .bind(to_json(&c.resources))
            .bind(&c.code_challenge)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn code(&self, code_hash: &[u8]) -> StoreResult<CodeLookup> {
        self.codes_by_hash.call(code_hash.to_vec()).await
    }

    async fn redeem_code(
        &self,
        code_hash: &[u8],
        grant: GrantRecord,
        access: Option<AccessTokenRecord>,
        refresh: Option<RefreshRecord>,
        now: i64,
    ) -> StoreResult<Redemption> {
        // Group redemption (codes.rs): concurrent redemptions share one transaction.
        let job = RedeemJob { code_hash: code_hash.to_vec(), grant, access, refresh, now };
        self.redemptions.call(job).await
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<String>> {
        const Q: &str = "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2";
        let row: Option<(String,)> =
            on_pool!(self, |p| sqlx::query_as(Q).bind(user_id).bind(client_id).fetch_optional(p).await)?;
        Ok(row.map(|r| r.0))
    }

    async fn put_consent(&self, user_id: &str, client_id: &str, scope: &str, now: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let user_id = user_id.to_owned();
        let client_id = client_id.to_owned();
        let scope = scope.to_owned();
        const Q: &str = "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at";
        write!(self, |p| sqlx::query(Q)
            .bind(&user_id)
            .bind(&client_id)
            .bind(&scope)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        const Q: &str = "SELECT client_id, scope, granted_at FROM consents WHERE user_id = $1 ORDER BY client_id";
        let rows: Vec<(String, String, i64)> = on_pool!(self, |p| sqlx::query_as(Q).bind(user_id).fetch_all(p).await)?;
        Ok(rows.into_iter().map(|r| Consent { client_id: r.0, scope: r.1, granted_at: r.2 }).collect())
    }

    async fn revoke_consent(&self, user_id: &str, client_id: &str, now: i64) -> StoreResult<bool> {
        // Owned: the write runs in the group-commit task.
        let user_id = user_id.to_owned();
        let client_id = client_id.to_owned();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(&user_id)
                .bind(&client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let grants: Vec<(String,)> =
                sqlx::query_as("SELECT id FROM grants WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL")
                    .bind(&user_id)
                    .bind(&client_id)
                    .fetch_all(&mut *tx)
                    .await?;
            for (g,) in &grants {
                revoke_family!(tx, g, now);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(n > 0)
        })
    }

    async fn put_grant(
        &self,
        g: &GrantRecord,
        access: Option<&AccessTokenRecord>,
        refresh: Option<&RefreshRecord>,
    ) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let g = g.clone();
        let access = access.cloned();
        let refresh = refresh.cloned();
        const GRANT: &str = "INSERT INTO grants (id, client_id, user_id, scope, resources, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(GRANT)
                .bind(&g.id)
                .bind(&g.client_id)
                .bind(&g.user_id)
                .bind(&g.scope)
                .bind(to_json(&g.resources))
                .bind(g.created_at)
                .bind(g.expires_at)
                .execute(&mut *tx)
                .await?;
            if let Some(a) = &access {
                bind_access_token!(sqlx::query(INSERT_ACCESS_TOKEN), a)?.execute(&mut *tx).await?;
            }
            if let Some(r) = refresh {
                insert_refresh!(r).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> StoreResult<()> {
        // Owned: the write runs in the group-commit task.
        let grant_id = grant_id.to_owned();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            revoke_family!(tx, &grant_id, now);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshLookup>> {
        self.refresh_by_hash.call(token_hash.to_vec()).await
    }

    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        new: RefreshRecord,
        access: Option<AccessTokenRecord>,
        now: i64,
    ) -> StoreResult<Rotation> {
        // Group rotation (batch.rs): concurrent rotations share one transaction of four
        // statements; of concurrent uses of one token exactly one wins.
        let job = RotateJob { old_hash: old_hash.to_vec(), new, access, now };
        self.rotations.call(job).await
    }
}
