//! Integration tests: each boots the real server binary on an ephemeral port with its
//! own temporary SQLite database, and speaks HTTP to it. No shared state, any order.
#![allow(unreachable_pub)] // test modules share helpers with `pub`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failed step is a failed test

mod bad_input;
mod cli;
mod discovery;
mod flow;
mod introspect;
mod jwt;
mod persistence;
mod resource;
mod revoke;
mod support;
mod token;
