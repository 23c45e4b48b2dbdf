//! The store contract: what every backend must do, run on SQLite and on PostgreSQL
//! (skipped with a message when no PostgreSQL is reachable, required when CI=true).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_core::client::{AuthMethod, Client, GrantType};
use latchkey_core::scope::ScopeSet;
use latchkey_core::token::TokenFormat;
use latchkey_store::testing::TestDatabase;
use latchkey_store::{AccessTokenRecord, SqlStore, Store, StoreError, StoredKey, Synchronous};

/// Each named contract test runs once per backend, on a fresh database.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let (_dir, store) = super::sqlite().await;
                super::$name(&store).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(db) = TestDatabase::create(stringify!($name)).await else { return };
                let store = SqlStore::connect(&db.url, Synchronous::Full, 4).await.unwrap();
                super::$name(&store).await;
                store.close().await;
            }
        }
    )*};
}

contract!(
    clients_round_trip_and_ids_are_unique,
    upsert_updates_fields_but_keeps_created_at,
    deleting_a_client_deletes_its_tokens,
    tokens_are_found_by_hash_and_revoked_once,
    revoked_jtis_are_remembered_until_expiry_then_cleaned_up,
    adding_a_signing_key_retires_the_current_one,
);

async fn sqlite() -> (tempfile::TempDir, SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/dir/db.sqlite", dir.path().display());
    let store = SqlStore::connect(&url, Synchronous::Full, 4).await.unwrap();
    (dir, store)
}

fn client(id: &str, created_at: i64) -> Client {
    Client {
        id: id.into(),
        secret_hash: vec![1, 2, 3],
        grant_types: vec![GrantType::ClientCredentials],
        scopes: ScopeSet::parse("a b").unwrap(),
        auth_method: AuthMethod::ClientSecretPost,
        token_format: Some(TokenFormat::Opaque),
        audiences: vec!["https://api.example".into()],
        introspect: true,
        access_token_ttl: Some(60),
        created_at,
    }
}

fn token(hash: u8, client_id: &str, expires_at: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        token_hash: vec![hash; 32],
        jti: format!("jti-{hash}"),
        grant_id: format!("grant-{hash}"),
        client_id: client_id.into(),
        subject: client_id.into(),
        scope: "a".into(),
        audience: vec!["https://api.example".into()],
        issued_at: 100,
        expires_at,
        revoked_at: None,
    }
}

async fn clients_round_trip_and_ids_are_unique(s: &SqlStore) {
    s.insert_client(&client("c1", 10), 10).await.unwrap();
    assert_eq!(s.client("c1").await.unwrap(), Some(client("c1", 10)));
    assert!(matches!(s.insert_client(&client("c1", 11), 11).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.client("nope").await.unwrap(), None);
    assert_eq!(s.client("' OR '1'='1").await.unwrap(), None);
    s.insert_client(&client("c0", 10), 10).await.unwrap();
    let ids: Vec<String> = s.clients().await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["c0", "c1"]);
}

async fn upsert_updates_fields_but_keeps_created_at(s: &SqlStore) {
    s.upsert_client(&client("c", 10), 10).await.unwrap();
    let mut changed = client("c", 99);
    changed.scopes = ScopeSet::parse("z").unwrap();
    changed.token_format = None;
    s.upsert_client(&changed, 99).await.unwrap();
    let got = s.client("c").await.unwrap().unwrap();
    assert_eq!(got.scopes, ScopeSet::parse("z").unwrap());
    assert_eq!(got.token_format, None);
    assert_eq!(got.created_at, 10);
}

async fn deleting_a_client_deletes_its_tokens(s: &SqlStore) {
    s.insert_client(&client("c", 10), 10).await.unwrap();
    s.put_access_token(&token(1, "c", 500)).await.unwrap();
    s.put_access_token(&token(2, "other", 500)).await.unwrap();
    assert!(s.delete_client("c").await.unwrap());
    assert!(!s.delete_client("c").await.unwrap());
    assert_eq!(s.access_token(&[1; 32]).await.unwrap(), None);
    assert!(s.access_token(&[2; 32]).await.unwrap().is_some());
}

async fn tokens_are_found_by_hash_and_revoked_once(s: &SqlStore) {
    s.put_access_token(&token(1, "c", 500)).await.unwrap();
    assert_eq!(s.access_token(&[1; 32]).await.unwrap(), Some(token(1, "c", 500)));
    assert!(s.revoke_access_token(&[1; 32], 200).await.unwrap());
    assert!(!s.revoke_access_token(&[1; 32], 300).await.unwrap(), "already revoked");
    assert_eq!(s.access_token(&[1; 32]).await.unwrap().unwrap().revoked_at, Some(200));
    assert!(!s.revoke_access_token(&[9; 32], 200).await.unwrap());
}

async fn revoked_jtis_are_remembered_until_expiry_then_cleaned_up(s: &SqlStore) {
    s.revoke_jti("j1", "c", 100).await.unwrap();
    s.revoke_jti("j1", "c", 100).await.unwrap();
    s.revoke_jti("j2", "c", 1000).await.unwrap();
    s.put_access_token(&token(1, "c", 100)).await.unwrap();
    s.put_access_token(&token(2, "c", 1000)).await.unwrap();
    assert!(s.jti_revoked("j1").await.unwrap());
    assert_eq!(s.delete_expired(500, 1).await.unwrap(), 2, "one of each kind per batch");
    assert_eq!(s.delete_expired(500, 1).await.unwrap(), 0);
    assert!(!s.jti_revoked("j1").await.unwrap());
    assert!(s.jti_revoked("j2").await.unwrap());
    assert!(s.access_token(&[2; 32]).await.unwrap().is_some());
}

async fn adding_a_signing_key_retires_the_current_one(s: &SqlStore) {
    let key = |kid: &str, at: i64| StoredKey {
        kid: kid.into(),
        alg: "EdDSA".into(),
        public_jwk: "{}".into(),
        private_key_sealed: vec![0; 8],
        created_at: at,
        retired_at: None,
    };
    s.add_signing_key(&key("k1", 10)).await.unwrap();
    s.add_signing_key(&key("k2", 20)).await.unwrap();
    let keys = s.signing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| (k.kid.as_str(), k.retired_at)).collect::<Vec<_>>(),
        [("k2", None), ("k1", Some(20))]
    );
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    let s = SqlStore::connect(&url, Synchronous::Full, 2).await.unwrap();
    s.put_access_token(&token(7, "c", 500)).await.unwrap();
    s.close().await;
    let s = SqlStore::connect(&url, Synchronous::Full, 2).await.unwrap();
    assert!(s.access_token(&[7; 32]).await.unwrap().is_some());
}

#[tokio::test]
async fn unsupported_urls_are_config_errors() {
    for url in ["mysql://x", "sqlite://", "postgres://nobody@127.0.0.1:1/x"] {
        assert!(matches!(SqlStore::connect(url, Synchronous::Full, 1).await, Err(StoreError::Config(_))), "{url}");
    }
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}
