//! Batching of the hot statements: concurrent requests share one database round trip.
//!
//! Writes (group commit): each opaque token must be durable before it is returned, and
//! with `synchronous = FULL` every commit is an fsync; committing the tokens of
//! concurrent requests together turns N fsyncs into one.
//!
//! Reads (group lookup): a point lookup costs SQLite microseconds, but handing it to
//! sqlx's per-connection worker thread and back costs two context switches, which
//! bounded introspection (docs/performance.md). One `IN (…)` query for every lookup
//! waiting pays that once per batch. Reads stay exact: nothing is cached, a batch only
//! starts after the request arrived, so it sees every commit made before.
//!
//! A request waits for at most the batch in flight plus its own. Under light load a
//! batch holds one job and costs one task hand-off more than a direct query.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::{Pool, SELECT_ACCESS_TOKENS, token_from_row};
use crate::{AccessTokenRecord, RefreshRecord, Rotation, StoreError, StoreResult};

/// Most jobs in one statement.
const MAX_BATCH: usize = 256;
/// Queue bound: past it callers wait (back-pressure instead of unbounded memory).
const QUEUE: usize = 4096;

/// One kind of batched statement.
pub(super) trait BatchOp: Send + Sync + 'static {
    type In: Send + 'static;
    type Out: Send + 'static;
    /// Retry a failed batch one job at a time, so one bad row cannot fail the others
    /// (writes). Reads fail together: their failure is the database's, not a row's.
    const RETRY_ALONE: bool;
    /// Run every input; one output per input, in order.
    fn run(&self, conn: &mut Conn, inputs: &[Self::In]) -> impl Future<Output = StoreResult<Vec<Self::Out>>> + Send;
}

type Job<O> = (<O as BatchOp>::In, oneshot::Sender<StoreResult<<O as BatchOp>::Out>>);

/// Hands jobs to the batch task and waits for their result.
pub(super) struct Batcher<O: BatchOp> {
    jobs: mpsc::Sender<Job<O>>,
}

impl<O: BatchOp> Batcher<O> {
    pub(super) fn spawn(pool: Pool, op: O) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, Arc::new(op), rx));
        Self { jobs }
    }

    pub(super) async fn call(&self, input: O::In) -> StoreResult<O::Out> {
        let (tx, rx) = oneshot::channel();
        let closed = || StoreError::Unavailable(sqlx::Error::PoolClosed);
        self.jobs.send((input, tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

/// A connection taken from the pool for one or more batches.
pub(super) enum Conn {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

async fn acquire(pool: &Pool) -> Result<Conn, sqlx::Error> {
    Ok(match pool {
        Pool::Sqlite(p) => Conn::Sqlite(p.acquire().await?),
        Pool::Postgres(p) => Conn::Postgres(p.acquire().await?),
    })
}

/// Consecutive batches that may run on one connection without giving it back. Taking a
/// connection from sqlx's pool costs about 200 µs under load (docs/performance.md);
/// while jobs keep arriving the batcher keeps its connection, but at most this many
/// batches in a row, so others sharing the pool (SQLite's one write connection) wait
/// for a bounded time.
const MAX_STREAK: usize = 8;

async fn run<O: BatchOp>(pool: Pool, op: Arc<O>, mut rx: mpsc::Receiver<Job<O>>) {
    let mut inputs = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    let mut next: Option<Job<O>> = None;
    let mut held: Option<Conn> = None;
    let mut streak = 0;
    loop {
        let (first_in, first_reply) = match next.take() {
            Some(job) => job,
            None => {
                // Idle: never wait for work while holding a connection.
                held = None;
                match rx.recv().await {
                    Some(job) => job,
                    None => return,
                }
            }
        };
        inputs.push(first_in);
        replies.push(first_reply);
        while inputs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((i, r)) => {
                    inputs.push(i);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let mut conn = match held.take() {
            Some(c) => c,
            None => match acquire(&pool).await {
                Ok(c) => {
                    streak = 0;
                    c
                }
                Err(e) => {
                    let e = StoreError::from(e);
                    for reply in replies.drain(..) {
                        let _ = reply.send(Err(clone_error(&e)));
                    }
                    inputs.clear();
                    continue;
                }
            },
        };
        let result = op.run(&mut conn, &inputs).await;
        // How full batches run and how long one takes: what bounds a write-heavy case.
        tracing::trace!(op = std::any::type_name::<O>(), jobs = inputs.len(), micros = started.elapsed().as_micros());
        let healthy = result.is_ok();
        match result {
            Ok(outs) => {
                for (reply, out) in replies.drain(..).zip(outs) {
                    let _ = reply.send(Ok(out));
                }
            }
            Err(_) if O::RETRY_ALONE && inputs.len() > 1 => {
                for (input, reply) in inputs.drain(..).zip(replies.drain(..)) {
                    let out = op.run(&mut conn, std::slice::from_ref(&input)).await;
                    let _ = reply.send(out.map(|mut v| v.remove(0)));
                }
            }
            Err(e) => {
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(clone_error(&e)));
                }
            }
        }
        inputs.clear();
        // Keep the connection only while it works and more jobs are waiting.
        streak += 1;
        if healthy && streak < MAX_STREAK {
            if let Ok(job) = rx.try_recv() {
                next = Some(job);
                held = Some(conn);
            }
        } else if let Ok(job) = rx.try_recv() {
            next = Some(job);
        }
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(sqlx::Error::PoolTimedOut),
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// The smallest power of two ≥ `n`: lookups pad their `IN (…)` list to it (repeating
/// the last key), so a handful of statement shapes serve every batch size and stay in
/// sqlx's prepared-statement cache.
fn padded_len(n: usize) -> usize {
    n.next_power_of_two()
}

/// Group commit of opaque access tokens: one multi-row INSERT per batch (a statement
/// per row costs a round trip to the database worker each, which bounded the batch
/// more than the fsync did).
pub(super) struct InsertAccessTokens;

impl BatchOp for InsertAccessTokens {
    type In = AccessTokenRecord;
    type Out = ();
    const RETRY_ALONE: bool = true;

    async fn run(&self, conn: &mut Conn, rows: &[AccessTokenRecord]) -> StoreResult<Vec<()>> {
        let rows: Vec<&AccessTokenRecord> = rows.iter().collect();
        match conn {
            Conn::Sqlite(c) => insert_access_rows!(&mut **c, sqlx::Sqlite, &rows),
            Conn::Postgres(c) => insert_access_rows!(&mut **c, sqlx::Postgres, &rows),
        }
        Ok(vec![(); rows.len()])
    }
}

/// The audiences of access-token rows as JSON, for [`push_access_rows`].
pub(super) fn audiences_json<'r>(rows: impl IntoIterator<Item = &'r AccessTokenRecord>) -> StoreResult<Vec<String>> {
    rows.into_iter()
        .map(|t| serde_json::to_string(&t.audience).map_err(|e| crate::StoreError::Corrupt(e.to_string())))
        .collect()
}

/// Push a multi-row INSERT of `$rows` (`&[&AccessTokenRecord]`, not empty), whose
/// audiences are `$aud` ([`audiences_json`]), onto the query builder `$q`.
macro_rules! push_access_rows {
    ($q:expr, $rows:expr, $aud:expr) => {{
        $q.push(
            "INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, audience, \
             issued_at, expires_at, revoked_at, jwt, username) ",
        );
        $q.push_values($rows.iter().copied().zip($aud.iter()), |mut b, (t, aud): (&AccessTokenRecord, &String)| {
            b.push_bind(&t.token_hash)
                .push_bind(&t.jti)
                .push_bind(&t.grant_id)
                .push_bind(&t.client_id)
                .push_bind(&t.subject)
                .push_bind(&t.scope)
                .push_bind(aud)
                .push_bind(t.issued_at)
                .push_bind(t.expires_at)
                .push_bind(t.revoked_at)
                .push_bind(i64::from(t.jwt))
                .push_bind(&t.username);
        });
    }};
}
pub(super) use push_access_rows;

/// One multi-row INSERT of `$rows` (`&[&AccessTokenRecord]`, not empty) on `$exec`.
macro_rules! insert_access_rows {
    ($exec:expr, $db:ty, $rows:expr) => {{
        let rows: &[&AccessTokenRecord] = $rows;
        let audiences = $crate::sql::batch::audiences_json(rows.iter().copied())?;
        let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new("");
        $crate::sql::batch::push_access_rows!(q, rows, audiences);
        q.build().execute($exec).await?;
    }};
}
pub(super) use insert_access_rows;

/// Push a multi-row INSERT of `$rows` (`&[&RefreshRecord]`, not empty) onto `$q`.
macro_rules! push_refresh_rows {
    ($q:expr, $rows:expr) => {{
        $q.push(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, expires_at, used_at, \
             revoked_at) ",
        );
        $q.push_values($rows.iter().copied(), |mut b, r: &RefreshRecord| {
            b.push_bind(&r.token_hash)
                .push_bind(&r.grant_id)
                .push_bind(&r.client_id)
                .push_bind(&r.scope)
                .push_bind(r.issued_at)
                .push_bind(r.expires_at)
                .push_bind(r.used_at)
                .push_bind(r.revoked_at);
        });
    }};
}
pub(super) use push_refresh_rows;

/// One multi-row INSERT of `$rows` (`&[&RefreshRecord]`, not empty) on `$exec`.
macro_rules! insert_refresh_rows {
    ($exec:expr, $db:ty, $rows:expr) => {{
        let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new("");
        $crate::sql::batch::push_refresh_rows!(q, $rows);
        q.build().execute($exec).await?;
    }};
}
pub(super) use insert_refresh_rows;

/// A refresh-token rotation: the presented token's key, its successor and the new
/// access token, and the time.
pub(super) struct RotateJob {
    pub old_hash: Vec<u8>,
    pub new: RefreshRecord,
    /// The new access token's row; none for a JWT.
    pub access: Option<AccessTokenRecord>,
    pub now: i64,
}

/// Group rotation of refresh tokens, in one transaction of at most four statements
/// whatever the batch size: one compare-and-set `UPDATE … RETURNING` marks every
/// presented token used that is still live, one INSERT saves the winners' successor
/// refresh tokens and one their opaque access tokens, one SELECT tells the losers'
/// grants (reuse). As with one rotation at a time, of two uses of one token exactly one
/// wins: the UPDATE returns the row once, and the first job that presented it takes it.
/// A failed INSERT fails the whole batch, so no token is ever marked used without its
/// successor. On SQLite the statements go to the database in two commands (`claim.rs`),
/// on PostgreSQL one by one.
pub(super) struct RotateRefresh;

impl BatchOp for RotateRefresh {
    type In = RotateJob;
    type Out = Rotation;
    const RETRY_ALONE: bool = true;

    async fn run(&self, conn: &mut Conn, jobs: &[RotateJob]) -> StoreResult<Vec<Rotation>> {
        // Correlated on the grant's primary key: `grant_id IN (SELECT … WHERE revoked_at
        // IS NULL)` would read every grant.
        const CAS: &str = " WHERE used_at IS NULL AND revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM grants g \
             WHERE g.id = refresh_tokens.grant_id AND g.revoked_at IS NOT NULL) AND token_hash IN (";
        let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
        let hashes: Vec<&Vec<u8>> = jobs.iter().map(|j| &j.old_hash).collect();
        let mut live: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
        let winners: Vec<usize>;
        let mut seen: HashMap<Vec<u8>, String> = HashMap::new();
        macro_rules! rotate {
            ($p:expr, $db:ty) => {{
                let mut tx = $p.begin().await?;
                let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new("UPDATE refresh_tokens SET used_at = ");
                q.push_bind(now);
                q.push(CAS);
                push_padded(&mut q, &hashes);
                q.push(" RETURNING token_hash");
                for row in q.build().fetch_all(&mut *tx).await? {
                    live.insert(row.try_get::<Vec<u8>, _>(0)?);
                }
                // The first job presenting a live token wins it.
                winners = first_claims(&hashes, live);
                if !winners.is_empty() {
                    let refresh: Vec<&RefreshRecord> = winners.iter().map(|&i| &jobs[i].new).collect();
                    insert_refresh_rows!(&mut *tx, $db, refresh);
                    let access: Vec<&AccessTokenRecord> =
                        winners.iter().filter_map(|&i| jobs[i].access.as_ref()).collect();
                    if !access.is_empty() {
                        insert_access_rows!(&mut *tx, $db, &access);
                    }
                }
                if winners.len() < jobs.len() {
                    const Q: &str = "SELECT token_hash, grant_id FROM refresh_tokens WHERE token_hash IN (";
                    seen = grants_by_key!(&mut *tx, $db, Q, &hashes);
                }
                tx.commit().await?;
            }};
        }
        match conn {
            Conn::Sqlite(c) => {
                let claim = super::claim::claim("refresh_tokens", "token_hash", CAS, now, &hashes);
                (winners, seen) = super::claim::claim_then_save(c, claim, |live| {
                    let winners = first_claims(&hashes, live);
                    let mut q = sqlx::QueryBuilder::new("");
                    if !winners.is_empty() {
                        let refresh: Vec<&RefreshRecord> = winners.iter().map(|&i| &jobs[i].new).collect();
                        push_refresh_rows!(q, refresh);
                        q.push("; ");
                        let access: Vec<&AccessTokenRecord> =
                            winners.iter().filter_map(|&i| jobs[i].access.as_ref()).collect();
                        if !access.is_empty() {
                            let audiences = audiences_json(access.iter().copied())?;
                            push_access_rows!(q, access, audiences);
                            q.push("; ");
                        }
                    }
                    if winners.len() < jobs.len() {
                        super::claim::push_losers(&mut q, "refresh_tokens", "token_hash", &hashes);
                    }
                    Ok((winners, q))
                })
                .await?;
            }
            Conn::Postgres(c) => rotate!(&mut **c, sqlx::Postgres),
        }
        Ok(outcomes(
            &hashes,
            &winners,
            &seen,
            Rotation::Rotated,
            |grant_id| Rotation::Reused { grant_id },
            Rotation::Unknown,
        ))
    }
}

/// Group lookup of opaque access tokens by hash.
pub(super) struct AccessTokensByHash;

impl BatchOp for AccessTokensByHash {
    type In = Vec<u8>;
    type Out = Option<AccessTokenRecord>;
    const RETRY_ALONE: bool = false;

    async fn run(&self, conn: &mut Conn, hashes: &[Vec<u8>]) -> StoreResult<Vec<Option<AccessTokenRecord>>> {
        let mut found: HashMap<Vec<u8>, AccessTokenRecord> = HashMap::with_capacity(hashes.len());
        macro_rules! select {
            ($p:expr, $db:ty) => {{
                let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(SELECT_ACCESS_TOKENS);
                q.push(" WHERE a.token_hash IN (");
                push_padded(&mut q, hashes);
                for row in q.build().fetch_all($p).await? {
                    let t = token_from_row(&row)?;
                    found.insert(t.token_hash.clone(), t);
                }
            }};
        }
        match conn {
            Conn::Sqlite(c) => select!(&mut **c, sqlx::Sqlite),
            Conn::Postgres(c) => select!(&mut **c, sqlx::Postgres),
        }
        Ok(hashes.iter().map(|h| found.get(h).cloned()).collect())
    }
}

/// Group check of revoked JWTs: by `jti`, or by the grant a user's JWT names.
pub(super) struct RevokedJtis;

impl BatchOp for RevokedJtis {
    type In = (String, Option<String>);
    type Out = bool;
    const RETRY_ALONE: bool = false;

    async fn run(&self, conn: &mut Conn, jobs: &[(String, Option<String>)]) -> StoreResult<Vec<bool>> {
        use std::collections::HashSet;
        const JTIS: &str = "SELECT jti FROM revoked_jtis WHERE jti IN (";
        let jtis: Vec<&String> = jobs.iter().map(|(jti, _)| jti).collect();
        let revoked: HashSet<String> = select_in!(conn, JTIS, &jtis, (String,)).into_iter().map(|(j,)| j).collect();
        let grants: Vec<&String> = jobs.iter().filter_map(|(_, g)| g.as_ref()).collect();
        let mut revoked_grants = HashSet::new();
        if !grants.is_empty() {
            const GRANTS: &str = "SELECT id FROM grants WHERE revoked_at IS NOT NULL AND id IN (";
            revoked_grants = select_in!(conn, GRANTS, &grants, (String,)).into_iter().map(|(g,)| g).collect();
        }
        Ok(jobs
            .iter()
            .map(|(jti, grant)| revoked.contains(jti) || grant.as_ref().is_some_and(|g| revoked_grants.contains(g)))
            .collect())
    }
}

/// Of the jobs presenting `keys` (in batch order), the first to present each key that a
/// compare-and-set `taken` wins it: the winners' indexes. Later jobs with the same key lose.
pub(super) fn first_claims(keys: &[&Vec<u8>], mut taken: std::collections::HashSet<Vec<u8>>) -> Vec<usize> {
    keys.iter().enumerate().filter(|(_, k)| taken.remove(**k)).map(|(i, _)| i).collect()
}

/// Each job's outcome after a compare-and-set: `won` for the winners, `lost(grant)` for a
/// key that exists but was used before (`seen` maps it to its grant), `unknown` otherwise.
pub(super) fn outcomes<T: Clone>(
    keys: &[&Vec<u8>],
    winners: &[usize],
    seen: &HashMap<Vec<u8>, String>,
    won: T,
    lost: impl Fn(String) -> T,
    unknown: T,
) -> Vec<T> {
    let mut out: Vec<T> =
        keys.iter().map(|k| seen.get(*k).map_or_else(|| unknown.clone(), |g| lost(g.clone()))).collect();
    for &i in winners {
        out[i] = won.clone();
    }
    out
}

/// The grant of each of `$keys` that exists, by key: `$sql` (`SELECT key, grant_id FROM …
/// WHERE key IN (`) on `$exec`. After a compare-and-set, it tells the losers' outcomes.
macro_rules! grants_by_key {
    ($exec:expr, $db:ty, $sql:expr, $keys:expr) => {{
        let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new($sql);
        push_padded(&mut q, $keys);
        q.build_query_as::<(Vec<u8>, String)>().fetch_all($exec).await?.into_iter().collect::<HashMap<_, _>>()
    }};
}
pub(super) use grants_by_key;

/// The rows, decoded as the tuple `$row`, of `$sql` (which ends in `IN (`) for `$keys`
/// (padded, see [`padded_len`]) on `$conn`, a [`Conn`]: a group look-up on either backend.
macro_rules! select_in {
    ($conn:expr, $sql:expr, $keys:expr, $row:ty) => {
        match $conn {
            Conn::Sqlite(c) => {
                let mut q: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new($sql);
                push_padded(&mut q, $keys);
                q.build_query_as::<$row>().fetch_all(&mut **c).await?
            }
            Conn::Postgres(c) => {
                let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new($sql);
                push_padded(&mut q, $keys);
                q.build_query_as::<$row>().fetch_all(&mut **c).await?
            }
        }
    };
}
pub(super) use select_in;

/// Push `keys` as bind parameters, padded (see [`padded_len`]), and close the `IN (`.
pub(super) fn push_padded<'k, DB, T>(q: &mut sqlx::QueryBuilder<DB>, keys: &'k [T])
where
    DB: sqlx::Database,
    &'k T: sqlx::Encode<'k, DB> + sqlx::Type<DB>,
{
    let mut list = q.separated(", ");
    for i in 0..padded_len(keys.len()) {
        list.push_bind(&keys[i.min(keys.len() - 1)]);
    }
    list.push_unseparated(")");
}

/// The rows of a group look-up in the order of `keys`, each moved out of `found`: a key
/// asked for more than once in one batch (concurrent uses of one token or code, which
/// the later compare-and-set settles) gets a copy for all but its last asker.
pub(super) fn take_in_order<K: Eq + std::hash::Hash, V: Clone>(keys: &[K], mut found: HashMap<K, V>) -> Vec<Option<V>> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| if keys[i + 1..].contains(k) { found.get(k).cloned() } else { found.remove(k) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::padded_len;

    #[test]
    fn rows_go_to_every_asker_in_order() {
        let found = std::collections::HashMap::from([(1, "one"), (2, "two")]);
        assert_eq!(
            super::take_in_order(&[2, 9, 1, 2, 2], found),
            [Some("two"), None, Some("one"), Some("two"), Some("two")]
        );
    }

    #[test]
    fn lookups_use_few_statement_shapes() {
        let shapes: std::collections::BTreeSet<_> = (1..=super::MAX_BATCH).map(padded_len).collect();
        assert_eq!(shapes.len(), 9, "1, 2, 4, … 256");
        assert!((1..=super::MAX_BATCH).all(|n| padded_len(n) >= n));
    }
}
