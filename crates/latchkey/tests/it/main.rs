//! Integration tests: each boots the real server binary on an ephemeral port with its
//! own temporary SQLite database, and speaks HTTP to it. No shared state, any order.
#![allow(unreachable_pub)] // test modules share helpers with `pub`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failed step is a failed test

/// Run each named test once per backend, as `NAME::sqlite` and `NAME::postgres`
/// (the latter skipped with a message where PostgreSQL is not reachable, unless CI=true).
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                crate::support::BACKEND.scope(crate::support::Backend::Sqlite, super::$name()).await
            }
            #[tokio::test]
            async fn postgres() {
                if !crate::support::postgres_ready(module_path!()).await {
                    return;
                }
                crate::support::BACKEND.scope(crate::support::Backend::Postgres, super::$name()).await
            }
        }
    )*};
}

mod bad_input;
mod browser;
mod cli;
mod discovery;
mod flow;
mod introspect;
mod jwt;
mod nodes;
mod persistence;
mod resource;
mod revoke;
mod support;
mod token;
mod user_flow;
