//! Test helpers: a throw-away PostgreSQL database per test.
//!
//! The server is `LATCHKEY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Where it cannot be reached, tests are
//! skipped with a message saying why, unless `CI=true` (or `LATCHKEY_TEST_POSTGRES=1`),
//! where an unreachable server fails the test.
#![allow(clippy::panic, clippy::expect_used)] // test support: failing loudly is the point

use std::io::Write;
use std::time::Duration;

use sqlx::{Connection, PgConnection};

/// Default server for the PostgreSQL tests.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The admin URL tests connect to.
pub fn admin_url() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.into())
}

/// Whether PostgreSQL tests must run (CI).
pub fn postgres_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") || std::env::var("LATCHKEY_TEST_POSTGRES").is_ok()
}

/// Whether tests can use PostgreSQL: probed once per process. When it cannot be reached
/// the caller's `test` is reported skipped (on stderr, past the harness's capture), or,
/// when PostgreSQL is required, this panics.
pub async fn postgres_available(test: &str) -> bool {
    static PROBE: tokio::sync::OnceCell<Result<(), String>> = tokio::sync::OnceCell::const_new();
    let admin = admin_url();
    let probe = PROBE
        .get_or_init(|| async {
            match tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(&admin)).await {
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                    Ok(())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("connection timed out".into()),
            }
        })
        .await;
    match probe {
        Ok(()) => true,
        Err(e) if postgres_required() => {
            panic!("PostgreSQL is required here (CI=true) but {admin} cannot be used: {e}")
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test} on PostgreSQL: {admin} is not reachable ({e}); set CI=true to require it"
            );
            false
        }
    }
}

/// A database created for one test and dropped afterwards.
pub struct TestDatabase {
    /// URL of the new database.
    pub url: String,
    name: String,
    admin: String,
}

impl TestDatabase {
    /// Create a fresh database, or `None` (after saying so on stderr) when PostgreSQL is
    /// not reachable and not required.
    pub async fn create(test: &str) -> Option<Self> {
        if !postgres_available(test).await {
            return None;
        }
        let admin = admin_url();
        match Self::try_create(&admin).await {
            Ok(db) => Some(db),
            Err(e) => panic!("cannot create a test database on {admin}: {e}"),
        }
    }

    async fn try_create(admin: &str) -> Result<Self, sqlx::Error> {
        let mut conn = tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(admin))
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        let name = format!("lk_test_{}", hex(&latchkey_core::secret::random_bytes::<8>()));
        // The name is ours (hex), never input: safe to splice into DDL, which cannot bind it.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
        let _ = conn.close().await;
        let (base, query) = match admin.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin, String::new()),
        };
        let prefix = base.rsplit_once('/').map(|(p, _)| p).unwrap_or(base);
        Ok(Self { url: format!("{prefix}/{name}{query}"), name, admin: admin.to_owned() })
    }

    /// Run SQL against the admin database (e.g. to cut this database's connections).
    pub async fn admin_execute(&self, sql: String) -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect(&self.admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await?;
        conn.close().await
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block: use a thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
