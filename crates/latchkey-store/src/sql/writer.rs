//! Group commit for every SQLite write.
//!
//! SQLite has one writer at a time and, with `synchronous = FULL`, an fsync per commit.
//! Run one transaction per request and the writes of concurrent requests queue behind
//! each other's fsync (about 600 code exchanges/s at 50 connections, 80 ms each). Here
//! one task owns the write connection and runs the jobs waiting for it one after the
//! other inside one transaction, then commits once and only then answers each job.
//!
//! Each job is what one store method did in its own transaction: a single statement is
//! atomic by itself (SQLite undoes a failed statement, not the transaction), and a job
//! of several statements opens a nested transaction (`begin()` inside one is a
//! SAVEPOINT), so a failed job leaves no trace and does not fail the others. Jobs run
//! one at a time on one connection, so a compare-and-set (a code redeemed, a refresh
//! token rotated) sees every job before it. If the commit fails, every job of the batch
//! gets the error: none of them is durable.

use std::future::Future;
use std::pin::Pin;

use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, StoreResult};

/// Most jobs in one transaction.
const MAX_BATCH: usize = 256;
/// Queue bound: past it callers wait (back-pressure instead of unbounded memory).
const QUEUE: usize = 4096;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Hands the job's result to its caller once the batch's commit is known.
type Deliver = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Deliver> + Send>;

/// Runs write jobs on the one write connection, committing them in batches.
pub(super) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

impl SqliteWriter {
    pub(super) fn spawn(pool: SqlitePool) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx));
        Self { jobs }
    }

    /// Run `job` in the next batch; its result once the batch is committed.
    pub(super) async fn run<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let erased: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = job(conn).await;
                Box::new(move |commit: Result<(), &StoreError>| {
                    let _ = reply.send(match (result, commit) {
                        (Ok(_), Err(e)) => Err(clone_error(e)),
                        (result, _) => result,
                    });
                }) as Deliver
            })
        });
        let closed = || StoreError::Unavailable(sqlx::Error::PoolClosed);
        self.jobs.send(erased).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    loop {
        if rx.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            return;
        }
        let mut delivers = Vec::with_capacity(jobs.len());
        let commit = run_batch(&pool, &mut jobs, &mut delivers).await;
        for deliver in delivers {
            deliver(commit.as_ref().map(|_| ()));
        }
        // Jobs not run because the transaction could not start: their callers get the
        // error through their dropped reply channels (503).
        jobs.clear();
    }
}

async fn run_batch(pool: &SqlitePool, jobs: &mut Vec<Job>, delivers: &mut Vec<Deliver>) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    for job in jobs.drain(..) {
        delivers.push(job(&mut tx).await);
    }
    tx.commit().await?;
    Ok(())
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(sqlx::Error::PoolTimedOut),
        other => StoreError::Corrupt(other.to_string()),
    }
}
