//! Group look-ups on the path of the user grants: a refresh token with its grant, and a
//! user by id. As with the other group look-ups (`batch.rs`), concurrent requests share
//! one `IN (…)` query, and reads stay exact: nothing is cached.

use std::collections::HashMap;

use latchkey_core::user::User;

use super::batch::{BatchOp, Conn, push_padded, select_in};
use super::users::{UserRow, json_list, user_from};
use crate::{GrantRecord, RefreshRecord, StoreResult};

/// Group look-up of refresh tokens, each with its grant.
pub(super) struct RefreshTokensByHash;

type RefreshRow = (
    Vec<u8>,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

impl BatchOp for RefreshTokensByHash {
    type In = Vec<u8>;
    type Out = Option<(RefreshRecord, GrantRecord)>;
    const RETRY_ALONE: bool = false;

    async fn run(&self, conn: &mut Conn, hashes: &[Vec<u8>]) -> StoreResult<Vec<Self::Out>> {
        const Q: &str = "SELECT r.token_hash, r.grant_id, r.client_id, r.scope, r.issued_at, r.expires_at, \
             r.used_at, r.revoked_at, g.user_id, g.scope, g.resources, g.created_at, g.expires_at, g.revoked_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.token_hash IN (";
        let found: HashMap<Vec<u8>, RefreshRow> =
            select_in!(conn, Q, hashes, RefreshRow).into_iter().map(|r| (r.0.clone(), r)).collect();
        hashes.iter().map(|h| found.get(h).cloned().map(refresh_from).transpose()).collect()
    }
}

fn refresh_from(r: RefreshRow) -> StoreResult<(RefreshRecord, GrantRecord)> {
    let grant = GrantRecord {
        id: r.1.clone(),
        client_id: r.2.clone(),
        user_id: r.8,
        scope: r.9,
        resources: json_list(&r.10)?,
        created_at: r.11,
        expires_at: r.12,
        revoked_at: r.13,
    };
    let refresh = RefreshRecord {
        token_hash: r.0,
        grant_id: r.1,
        client_id: r.2,
        scope: r.3,
        issued_at: r.4,
        expires_at: r.5,
        used_at: r.6,
        revoked_at: r.7,
    };
    Ok((refresh, grant))
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
