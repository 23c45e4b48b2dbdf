//! Group look-ups on the path of the user grants: a refresh token with its grant and its
//! user, and a user by id. As with the other group look-ups (`batch.rs`), concurrent requests share
//! one `IN (…)` query, and reads stay exact: nothing is cached.

use std::collections::HashMap;

use latchkey_core::user::User;

use super::batch::{BatchOp, Conn, push_padded, select_in, take_in_order};
use super::users::{UserRow, json_list, user_from};
use crate::{GrantRecord, RefreshLookup, RefreshRecord, StoreResult};

/// Group look-up of refresh tokens, each with its grant and the grant's user: one query
/// where a rotation used to wait for two (the user's look-up queued behind the token's).
pub(super) struct RefreshTokensByHash;

/// A refresh token joined with its grant and (left join) its user: more columns than
/// sqlx decodes into a tuple.
#[derive(Clone, sqlx::FromRow)]
struct RefreshRow {
    token_hash: Vec<u8>,
    grant_id: String,
    client_id: String,
    scope: String,
    issued_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    g_user_id: String,
    g_scope: String,
    g_resources: String,
    g_created_at: i64,
    g_expires_at: i64,
    g_revoked_at: Option<i64>,
    u_id: Option<String>,
    u_username: Option<String>,
    u_email: Option<String>,
    u_password_hash: Option<String>,
    u_created_at: Option<i64>,
}

impl BatchOp for RefreshTokensByHash {
    type In = Vec<u8>;
    type Out = Option<RefreshLookup>;
    const RETRY_ALONE: bool = false;

    async fn run(&self, conn: &mut Conn, hashes: &[Vec<u8>]) -> StoreResult<Vec<Self::Out>> {
        const Q: &str = "SELECT r.token_hash, r.grant_id, r.client_id, r.scope, r.issued_at, r.expires_at, \
             r.used_at, r.revoked_at, g.user_id AS g_user_id, g.scope AS g_scope, g.resources AS g_resources, \
             g.created_at AS g_created_at, g.expires_at AS g_expires_at, g.revoked_at AS g_revoked_at, \
             u.id AS u_id, u.username AS u_username, u.email AS u_email, u.password_hash AS u_password_hash, \
             u.created_at AS u_created_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id \
             WHERE r.token_hash IN (";
        let found: HashMap<Vec<u8>, RefreshRow> =
            select_in!(conn, Q, hashes, RefreshRow).into_iter().map(|r| (r.token_hash.clone(), r)).collect();
        take_in_order(hashes, found).into_iter().map(|row| row.map(refresh_from).transpose()).collect()
    }
}

fn refresh_from(r: RefreshRow) -> StoreResult<RefreshLookup> {
    let grant = GrantRecord {
        id: r.grant_id.clone(),
        client_id: r.client_id.clone(),
        user_id: r.g_user_id,
        scope: r.g_scope,
        resources: json_list(&r.g_resources)?,
        created_at: r.g_created_at,
        expires_at: r.g_expires_at,
        revoked_at: r.g_revoked_at,
    };
    let token = RefreshRecord {
        token_hash: r.token_hash,
        grant_id: r.grant_id,
        client_id: r.client_id,
        scope: r.scope,
        issued_at: r.issued_at,
        expires_at: r.expires_at,
        used_at: r.used_at,
        revoked_at: r.revoked_at,
    };
    let user = joined_user(r.u_id, r.u_username, r.u_email, r.u_password_hash, r.u_created_at);
    Ok(RefreshLookup { token, grant, user })
}

/// The user of a left join: present when its key is.
pub(super) fn joined_user(
    id: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password_hash: Option<String>,
    created_at: Option<i64>,
) -> Option<User> {
    Some(user_from((id?, username?, email, password_hash?, created_at?)))
}

/// Group look-up of users by id (the `sub`).
pub(super) struct UsersById;

impl BatchOp for UsersById {
    type In = String;
    type Out = Option<User>;
    const RETRY_ALONE: bool = false;

    async fn run(&self, conn: &mut Conn, ids: &[String]) -> StoreResult<Vec<Option<User>>> {
        const Q: &str = "SELECT id, username, email, password_hash, created_at FROM users WHERE id IN (";
        let found: HashMap<String, User> =
            select_in!(conn, Q, ids, UserRow).into_iter().map(|r| (r.0.clone(), user_from(r))).collect();
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }
}
