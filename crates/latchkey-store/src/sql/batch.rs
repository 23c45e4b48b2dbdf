//! Group commit for opaque access tokens. Each token must be durable before it is
//! returned, and with `synchronous = FULL` every commit is an fsync; committing the
//! tokens of concurrent requests together turns N fsyncs into one. A request waits for
//! the commit that contains its row, never longer than one batch.

use tokio::sync::{mpsc, oneshot};

use super::Pool;
use crate::{AccessTokenRecord, StoreError, StoreResult};

/// Most rows in one transaction.
const MAX_BATCH: usize = 256;
/// Queue bound: past it callers wait (back-pressure instead of unbounded memory).
const QUEUE: usize = 4096;

type Job = (AccessTokenRecord, oneshot::Sender<StoreResult<()>>);

/// Hands rows to the writer task and waits for their commit.
pub(super) struct TokenWriter {
    jobs: mpsc::Sender<Job>,
}

impl TokenWriter {
    pub(super) fn spawn(pool: Pool) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx));
        Self { jobs }
    }

    pub(super) async fn put(&self, record: AccessTokenRecord) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        let closed = || StoreError::Unavailable(sqlx::Error::PoolClosed);
        self.jobs.send((record, tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match insert_all(&pool, &batch).await {
            Ok(()) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Ok(()));
                }
            }
            // One bad row must not fail the others: retry them one by one.
            Err(_) if batch.len() > 1 => {
                for (record, reply) in batch.drain(..) {
                    let _ = reply.send(insert_all(&pool, &[(record, oneshot::channel().0)]).await);
                }
            }
            Err(e) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(clone_error(&e)));
                }
            }
        }
    }
}

/// One multi-row INSERT per batch: a statement per row costs a round trip to the
/// database worker each, which bounded the batch more than the fsync did.
async fn insert_all(pool: &Pool, rows: &[Job]) -> StoreResult<()> {
    let mut audiences = Vec::with_capacity(rows.len());
    for (t, _) in rows {
        audiences.push(serde_json::to_string(&t.audience).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    macro_rules! insert {
        ($p:expr, $db:ty) => {{
            let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                "INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, audience, \
                 issued_at, expires_at, revoked_at, jwt, username) ",
            );
            q.push_values(rows.iter().zip(&audiences), |mut b, ((t, _), aud)| {
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
            q.build().execute($p).await?;
            Ok(())
        }};
    }
    match pool {
        Pool::Sqlite(p) => insert!(p, sqlx::Sqlite),
        Pool::Postgres(p) => insert!(p, sqlx::Postgres),
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(sqlx::Error::PoolTimedOut),
        other => StoreError::Corrupt(other.to_string()),
    }
}
