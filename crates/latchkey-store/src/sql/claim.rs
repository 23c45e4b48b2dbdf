//! SQLite: a claim-and-save batch (refresh rotation, code redemption) in two commands to
//! sqlx's connection thread instead of five.
//!
//! Each command is a hand-off to that thread and back to the batch task, which waits its
//! turn on the runtime behind HTTP work. With the commit down to a few pages (migration
//! 4), those waits were about half of a rotation batch: `BEGIN`, the compare-and-set, two
//! INSERTs and `COMMIT` took 120 + 200 + 350 + 150 µs of hand-offs around 0.6 ms of work
//! (docs/performance.md). So the transaction opens with the compare-and-set, and the
//! saves, the look-up of the losers and `COMMIT` go as one command. SQLite runs the
//! statements of a command in order and binds `?` parameters left to right across them.
//! PostgreSQL's extended protocol takes one statement per command: it keeps the five.
//!
//! sqlx does not know of this transaction, so every failure rolls it back here before
//! the connection can go back to the pool.

use std::collections::{HashMap, HashSet};

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::batch::push_padded;
use crate::StoreResult;

/// Run `claim` (an `UPDATE … RETURNING key`) in a new write transaction, then `save`'s
/// statements (each ending in `; `, given the keys claimed) and `COMMIT`. `save` also
/// returns its caller's result (the winners). The rows of the one SELECT among `save`'s
/// statements, if any, come back as `key → grant id` (the losers' grants).
pub(super) async fn claim_then_save<W>(
    c: &mut SqliteConnection,
    mut claim: QueryBuilder<Sqlite>,
    save: impl FnOnce(HashSet<Vec<u8>>) -> StoreResult<(W, QueryBuilder<Sqlite>)>,
) -> StoreResult<(W, HashMap<Vec<u8>, String>)> {
    let result = async {
        let claimed: HashSet<Vec<u8>> = claim
            .build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|row| row.try_get::<Vec<u8>, _>(0))
            .collect::<Result<_, _>>()?;
        let (won, mut rest) = save(claimed)?;
        rest.push("COMMIT");
        let seen = rest.build_query_as::<(Vec<u8>, String)>().fetch_all(&mut *c).await?.into_iter().collect();
        Ok((won, seen))
    }
    .await;
    if result.is_err() {
        // Nothing of a failed batch may stay; "no transaction is active" is fine too.
        let _ = sqlx::query("ROLLBACK").execute(&mut *c).await;
    }
    result
}

/// A claim: open the write transaction with `UPDATE {table} SET used_at = now` where
/// `live` (a condition ending in `… IN (`) holds for `keys`, `RETURNING {key}`.
pub(super) fn claim(table: &str, key: &str, live: &str, now: i64, keys: &[&Vec<u8>]) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new(format!("BEGIN IMMEDIATE; UPDATE {table} SET used_at = "));
    q.push_bind(now);
    q.push(live);
    push_padded(&mut q, keys);
    q.push(format!(" RETURNING {key}"));
    q
}

/// After the saves, when some jobs lost: the grant of each of `keys` that exists, which
/// [`claim_then_save`] returns (the losers' outcomes).
pub(super) fn push_losers(q: &mut QueryBuilder<Sqlite>, table: &str, key: &str, keys: &[&Vec<u8>]) {
    q.push(format!("SELECT {key}, grant_id FROM {table} WHERE {key} IN ("));
    push_padded(q, keys);
    q.push("; ");
}
