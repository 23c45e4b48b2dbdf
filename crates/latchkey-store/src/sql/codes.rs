//! Batched authorization-code redemption: a grouped look-up, then a grouped
//! compare-and-set that saves the winners' grants and tokens.
//!
//! A code is looked up first and checked by the caller (client, redirect URI, PKCE),
//! and only then redeemed. Checking before marking means a request that fails the
//! check does not burn the code: a client that is not the code's, or a wrong
//! verifier, cannot spend another client's code (RFC 6749 §4.1.3 asks to refuse
//! them, not to consume the code). Single use stays exact: the redemption itself is
//! a compare-and-set on `used_at`, and of concurrent redemptions of one code exactly
//! one wins (RFC 9700 §4.2.4).

use std::collections::{HashMap, HashSet};

use sqlx::{Connection, Row};

use super::batch::{
    BatchOp, Conn, audiences_json, first_claims, grants_by_key, insert_access_rows, insert_refresh_rows, outcomes,
    push_access_rows, push_padded, push_refresh_rows, select_in, take_in_order,
};
use super::grant_lookups::joined_user;
use super::users::json_list;
use crate::{AccessTokenRecord, CodeLookup, CodeRecord, GrantRecord, Redemption, RefreshRecord, StoreResult};

/// Group look-up of codes by hash, each with its user (one query: the exchange does not
/// wait for a second look-up).
pub(super) struct CodesByHash;

type CodeRow = (
    Vec<u8>,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    // The user, left-joined: id, username, email, password hash, created at.
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

impl BatchOp for CodesByHash {
    type In = Vec<u8>;
    type Out = CodeLookup;
    const RETRY_ALONE: bool = false;

    async fn run(&self, conn: &mut Conn, hashes: &[Vec<u8>]) -> StoreResult<Vec<CodeLookup>> {
        const Q: &str = "SELECT c.code_hash, c.grant_id, c.client_id, c.user_id, c.redirect_uri, c.scope, \
             c.resources, c.code_challenge, c.created_at, c.expires_at, c.used_at, \
             u.id, u.username, u.email, u.password_hash, u.created_at \
             FROM authorization_codes c LEFT JOIN users u ON u.id = c.user_id WHERE c.code_hash IN (";
        let found: HashMap<Vec<u8>, CodeRow> =
            select_in!(conn, Q, hashes, CodeRow).into_iter().map(|r| (r.0.clone(), r)).collect();
        take_in_order(hashes, found).into_iter().map(|row| row.map_or(Ok(CodeLookup::Unknown), lookup)).collect()
    }
}

fn lookup(r: CodeRow) -> StoreResult<CodeLookup> {
    if r.10.is_some() {
        return Ok(CodeLookup::Used { grant_id: r.1 });
    }
    let code = CodeRecord {
        code_hash: r.0,
        grant_id: r.1,
        client_id: r.2,
        user_id: r.3,
        redirect_uri: r.4,
        scope: r.5,
        resources: json_list(&r.6)?,
        code_challenge: r.7,
        created_at: r.8,
        expires_at: r.9,
    };
    Ok(CodeLookup::Live { code, user: joined_user(r.11, r.12, r.13, r.14, r.15) })
}

/// Push a multi-row INSERT of `$rows` (`&[&GrantRecord]`, not empty) onto `$q`.
macro_rules! push_grant_rows {
    ($q:expr, $rows:expr) => {{
        let rows: &[&GrantRecord] = $rows;
        $q.push("INSERT INTO grants (id, client_id, user_id, scope, resources, created_at, expires_at) ");
        $q.push_values(rows.iter().copied(), |mut b, g: &GrantRecord| {
            b.push_bind(&g.id)
                .push_bind(&g.client_id)
                .push_bind(&g.user_id)
                .push_bind(&g.scope)
                .push_bind(super::users::to_json(&g.resources))
                .push_bind(g.created_at)
                .push_bind(g.expires_at);
        });
    }};
}

/// One multi-row INSERT of `$rows` (`&[&GrantRecord]`, not empty) on `$exec`.
macro_rules! insert_grant_rows {
    ($exec:expr, $db:ty, $rows:expr) => {{
        let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new("");
        push_grant_rows!(q, $rows);
        q.build().execute($exec).await?;
    }};
}

/// A redemption: the code's key, and the grant and tokens it starts.
pub(super) struct RedeemJob {
    pub code_hash: Vec<u8>,
    pub grant: GrantRecord,
    /// The opaque access token's row; none for a JWT.
    pub access: Option<AccessTokenRecord>,
    pub refresh: Option<RefreshRecord>,
    pub now: i64,
}

/// Group redemption, in one transaction of at most five statements whatever the batch
/// size: an `UPDATE … RETURNING` marks every presented code used that is still unused,
/// three INSERTs save the winners' grants, opaque access tokens and refresh tokens, and a
/// SELECT tells the losers' grants (replay). The first job presenting an unused code
/// wins it. A failed INSERT fails the whole batch (and the batcher retries each job
/// alone), so no code is ever marked used without its grant. On SQLite the statements
/// go to the database in two commands (`claim.rs`), on PostgreSQL one by one.
pub(super) struct RedeemCodes;

impl BatchOp for RedeemCodes {
    type In = RedeemJob;
    type Out = Redemption;
    const RETRY_ALONE: bool = true;

    async fn run(&self, conn: &mut Conn, jobs: &[RedeemJob]) -> StoreResult<Vec<Redemption>> {
        let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
        let hashes: Vec<&Vec<u8>> = jobs.iter().map(|j| &j.code_hash).collect();
        let mut unused: HashSet<Vec<u8>> = HashSet::new();
        let winners: Vec<usize>;
        let mut seen: HashMap<Vec<u8>, String> = HashMap::new();
        macro_rules! redeem {
            ($p:expr, $db:ty) => {{
                let mut tx = $p.begin().await?;
                let mut q: sqlx::QueryBuilder<$db> =
                    sqlx::QueryBuilder::new("UPDATE authorization_codes SET used_at = ");
                q.push_bind(now);
                q.push(" WHERE used_at IS NULL AND code_hash IN (");
                push_padded(&mut q, &hashes);
                q.push(" RETURNING code_hash");
                for row in q.build().fetch_all(&mut *tx).await? {
                    unused.insert(row.try_get::<Vec<u8>, _>(0)?);
                }
                winners = first_claims(&hashes, unused);
                if !winners.is_empty() {
                    let grants: Vec<&GrantRecord> = winners.iter().map(|&i| &jobs[i].grant).collect();
                    insert_grant_rows!(&mut *tx, $db, &grants);
                    let access: Vec<&AccessTokenRecord> =
                        winners.iter().filter_map(|&i| jobs[i].access.as_ref()).collect();
                    if !access.is_empty() {
                        insert_access_rows!(&mut *tx, $db, &access);
                    }
                    let refresh: Vec<&RefreshRecord> =
                        winners.iter().filter_map(|&i| jobs[i].refresh.as_ref()).collect();
                    if !refresh.is_empty() {
                        insert_refresh_rows!(&mut *tx, $db, refresh);
                    }
                }
                if winners.len() < jobs.len() {
                    const Q: &str = "SELECT code_hash, grant_id FROM authorization_codes WHERE code_hash IN (";
                    seen = grants_by_key!(&mut *tx, $db, Q, &hashes);
                }
                tx.commit().await?;
            }};
        }
        match conn {
            Conn::Sqlite(c) => {
                const UNUSED: &str = " WHERE used_at IS NULL AND code_hash IN (";
                let claim = super::claim::claim("authorization_codes", "code_hash", UNUSED, now, &hashes);
                (winners, seen) = super::claim::claim_then_save(c, claim, |unused| {
                    let winners = first_claims(&hashes, unused);
                    let mut q = sqlx::QueryBuilder::new("");
                    if !winners.is_empty() {
                        let grants: Vec<&GrantRecord> = winners.iter().map(|&i| &jobs[i].grant).collect();
                        push_grant_rows!(q, &grants);
                        q.push("; ");
                        let access: Vec<&AccessTokenRecord> =
                            winners.iter().filter_map(|&i| jobs[i].access.as_ref()).collect();
                        if !access.is_empty() {
                            let audiences = audiences_json(access.iter().copied())?;
                            push_access_rows!(q, access, audiences);
                            q.push("; ");
                        }
                        let refresh: Vec<&RefreshRecord> =
                            winners.iter().filter_map(|&i| jobs[i].refresh.as_ref()).collect();
                        if !refresh.is_empty() {
                            push_refresh_rows!(q, refresh);
                            q.push("; ");
                        }
                    }
                    if winners.len() < jobs.len() {
                        super::claim::push_losers(&mut q, "authorization_codes", "code_hash", &hashes);
                    }
                    Ok((winners, q))
                })
                .await?;
            }
            Conn::Postgres(c) => redeem!(&mut **c, sqlx::Postgres),
        }
        Ok(outcomes(
            &hashes,
            &winners,
            &seen,
            Redemption::Redeemed,
            |grant_id| Redemption::Replayed { grant_id },
            Redemption::Unknown,
        ))
    }
}
