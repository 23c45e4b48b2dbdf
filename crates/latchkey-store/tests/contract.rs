//! The store contract: what every backend must do, run on SQLite and on PostgreSQL
//! (skipped with a message when no PostgreSQL is reachable, required when CI=true).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_core::client::{AuthMethod, Client, GrantType};
use latchkey_core::scope::ScopeSet;
use latchkey_core::token::TokenFormat;
use latchkey_core::user::User;
use latchkey_store::testing::TestDatabase;
use latchkey_store::{AccessTokenRecord, SqlStore, Store, StoreError, StoredKey, Synchronous};
use latchkey_store::{CodeLookup, CodeRecord, GrantRecord, Redemption, RefreshRecord, Rotation, Session, UserStore};

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
    deleting_a_client_leaves_its_tokens_to_expire,
    tokens_are_found_by_hash_and_revoked_once,
    revoked_jtis_are_remembered_until_expiry_then_cleaned_up,
    expired_tokens_are_purged_as_a_range_of_keys,
    adding_a_signing_key_retires_the_current_one,
    users_round_trip_and_deleting_one_revokes_its_grants,
    a_code_is_redeemed_once_even_concurrently,
    a_refresh_token_rotates_once_even_concurrently,
    sessions_and_consents,
    concurrent_token_writes_are_grouped_and_a_bad_row_fails_alone,
    a_rotation_that_cannot_save_its_tokens_fails_alone_and_spends_nothing,
    a_redemption_that_cannot_save_its_grant_fails_alone_and_spends_nothing,
);

async fn concurrent_token_writes_are_grouped_and_a_bad_row_fails_alone(s: &SqlStore) {
    s.put_access_token(token(1, "c", 500)).await.unwrap();
    // 50 concurrent writes, one of them a duplicate of the row above.
    let rows: Vec<AccessTokenRecord> = (0..50u8).map(|i| token(if i == 7 { 1 } else { 10 + i }, "c", 500)).collect();
    let writes = rows.iter().map(|r| s.put_access_token(r.clone()));
    let results = futures_join(writes).await;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.is_err(), i == 7, "write {i}: {r:?}");
    }
    for i in (0..50u8).filter(|i| *i != 7) {
        assert!(s.access_token(&[10 + i; 32]).await.unwrap().is_some(), "row {i} was committed");
    }
}

fn user(name: &str) -> User {
    User {
        id: format!("usr_{name}"),
        username: name.into(),
        email: None,
        password_hash: "$argon2id$x".into(),
        created_at: 10,
    }
}

fn grant(id: &str) -> GrantRecord {
    GrantRecord {
        id: id.into(),
        client_id: "c".into(),
        user_id: "usr_alice".into(),
        scope: "a".into(),
        resources: vec![],
        created_at: 10,
        expires_at: 10_000,
        revoked_at: None,
    }
}

fn refresh(hash: u8, grant_id: &str) -> RefreshRecord {
    RefreshRecord {
        token_hash: vec![hash; 32],
        grant_id: grant_id.into(),
        client_id: "c".into(),
        scope: "a".into(),
        issued_at: 10,
        expires_at: 10_000,
        used_at: None,
        revoked_at: None,
    }
}

/// An opaque access token of a grant.
fn grant_token(hash: u8, grant_id: &str) -> AccessTokenRecord {
    AccessTokenRecord { grant_id: grant_id.into(), ..token(hash, "c", 10_000) }
}

async fn users_round_trip_and_deleting_one_revokes_its_grants(s: &SqlStore) {
    s.insert_user(&user("alice"), 10).await.unwrap();
    assert!(matches!(s.insert_user(&user("alice"), 11).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.user_by_name("alice").await.unwrap(), Some(user("alice")));
    assert_eq!(s.user("usr_alice").await.unwrap(), Some(user("alice")));
    let mut changed = user("alice");
    changed.id = "usr_other".into();
    changed.password_hash = "$argon2id$y".into();
    s.upsert_user(&changed, 12).await.unwrap();
    let got = s.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!((got.id.as_str(), got.password_hash.as_str()), ("usr_alice", "$argon2id$y"), "upsert keeps the subject");
    s.put_grant(&grant("g1"), Some(&grant_token(1, "g1")), Some(&refresh(2, "g1"))).await.unwrap();
    let found = s.refresh_token(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(found.user, Some(got.clone()), "a refresh token comes with its grant's user");
    s.put_code(&code(5, "g5")).await.unwrap();
    assert_eq!(s.code(&[5; 32]).await.unwrap(), CodeLookup::Live { code: code(5, "g5"), user: Some(got) });
    assert_eq!(s.delete_user("alice", 20).await.unwrap().as_deref(), Some("usr_alice"));
    assert_eq!(s.delete_user("alice", 20).await.unwrap(), None);
    assert_eq!(s.access_token(&[1; 32]).await.unwrap().unwrap().revoked_at, Some(20), "its access token");
    assert!(s.jwt_revoked("any-jti", Some("g1")).await.unwrap(), "a JWT naming the grant");
    let found = s.refresh_token(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(found.grant.revoked_at, Some(20), "its refresh token's grant");
    assert_eq!(found.user, None, "the grant's user is gone");
}

/// An authorization code of alice's, for grant `grant_id`.
fn code(hash: u8, grant_id: &str) -> CodeRecord {
    CodeRecord {
        code_hash: vec![hash; 32],
        grant_id: grant_id.into(),
        client_id: "c".into(),
        user_id: "usr_alice".into(),
        redirect_uri: Some("https://app.example/cb".into()),
        scope: "a".into(),
        resources: vec!["https://api.example".into()],
        code_challenge: None,
        created_at: 10,
        expires_at: 70,
    }
}

async fn a_code_is_redeemed_once_even_concurrently(s: &SqlStore) {
    let code = code(9, "g9");
    s.put_code(&code).await.unwrap();
    let live = CodeLookup::Live { code, user: None };
    assert_eq!(s.code(&[9; 32]).await.unwrap(), live, "looking a code up does not use it");
    assert_eq!(s.code(&[9; 32]).await.unwrap(), live);
    let attempts = (0..10u8).map(|i| {
        let access = AccessTokenRecord { jti: format!("jc{i}"), ..grant_token(120 + i, "g9") };
        let refresh = refresh(140 + i, "g9");
        async move { s.redeem_code(&[9; 32], grant("g9"), Some(access.clone()), Some(refresh.clone()), 20).await }
    });
    let results = futures_join(attempts).await;
    let redeemed = results.iter().filter(|r| matches!(r, Ok(Redemption::Redeemed))).count();
    let replays =
        results.iter().filter(|r| matches!(r, Ok(Redemption::Replayed { grant_id }) if grant_id == "g9")).count();
    assert_eq!((redeemed, replays), (1, 9), "{results:?}");
    assert_eq!(s.code(&[9; 32]).await.unwrap(), CodeLookup::Used { grant_id: "g9".into() });
    // The winner's grant and tokens were saved with the redemption: exactly one refresh
    // token of the family exists.
    let mut saved = Vec::new();
    for i in 140..150u8 {
        if let Some(found) = s.refresh_token(&[i; 32]).await.unwrap() {
            saved.push((i, found.grant.id));
        }
    }
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(saved[0].1, "g9");
    let grant_access = AccessTokenRecord { jti: "jc-other".into(), ..grant_token(119, "g8") };
    assert_eq!(
        s.redeem_code(&[8; 32], grant("g8"), Some(grant_access.clone()), None, 20).await.unwrap(),
        Redemption::Unknown
    );
    assert_eq!(s.code(&[8; 32]).await.unwrap(), CodeLookup::Unknown);
}

async fn a_refresh_token_rotates_once_even_concurrently(s: &SqlStore) {
    s.put_grant(&grant("g2"), Some(&grant_token(3, "g2")), Some(&refresh(4, "g2"))).await.unwrap();
    // Concurrent look-ups of one token (grouped into one query) each get the whole answer.
    let lookups = futures_join((0..6u8).map(|i| s.refresh_token(if i == 3 { &[5; 32] } else { &[4; 32] }))).await;
    for (i, found) in lookups.into_iter().enumerate() {
        let found = found.unwrap();
        if i == 3 {
            assert!(found.is_none(), "an unknown token among them");
        } else {
            let found = found.unwrap();
            assert_eq!((found.token.token_hash, found.grant.id, found.token.used_at), (vec![4; 32], "g2".into(), None));
        }
    }
    let attempts = (0..10u8).map(|i| {
        let next = refresh(100 + i, "g2");
        let access = grant_token(200 + i, "g2");
        async move {
            s.rotate_refresh(&[4; 32], next.clone(), Some(AccessTokenRecord { jti: format!("j{i}"), ..access }), 30)
                .await
        }
    });
    let results = futures_join(attempts).await;
    let rotated = results.iter().filter(|r| matches!(r, Ok(Rotation::Rotated))).count();
    let reused = results.iter().filter(|r| matches!(r, Ok(Rotation::Reused { .. }))).count();
    assert_eq!((rotated, reused), (1, 9), "{results:?}");
    assert!(!s.jwt_revoked("jti-3", Some("g2")).await.unwrap());
    s.revoke_grant("g2", 40).await.unwrap();
    assert!(s.jwt_revoked("jti-3", Some("g2")).await.unwrap(), "a JWT naming the revoked grant");
    assert!(!s.jwt_revoked("jti-3", None).await.unwrap(), "the same jti, not revoked by itself");
    assert_eq!(s.access_token(&[3; 32]).await.unwrap().unwrap().revoked_at, Some(40), "the grant's opaque token");
    let winner = (100..110u8).find(|i| matches!(results[usize::from(i - 100)], Ok(Rotation::Rotated))).unwrap();
    let next = refresh(99, "g2");
    assert!(
        matches!(s.rotate_refresh(&[winner; 32], next.clone(), None, 41).await, Ok(Rotation::Reused { .. })),
        "the successor of a revoked family does not rotate"
    );
}

/// Ten concurrent rotations of ten families share a batch; one successor's access token
/// collides with an existing row. That job fails, the others rotate, and its refresh
/// token was not spent by the failed attempt: it rotates afterwards. A family whose grant
/// was revoked in between does not rotate.
async fn a_rotation_that_cannot_save_its_tokens_fails_alone_and_spends_nothing(s: &SqlStore) {
    for i in 0..10u8 {
        let g = format!("gr{i}");
        s.put_grant(&grant(&g), Some(&grant_token(150 + i, &g)), Some(&refresh(50 + i, &g))).await.unwrap();
    }
    s.revoke_grant("gr9", 20).await.unwrap();
    let attempts = (0..10u8).map(|i| {
        let g = format!("gr{i}");
        let next = refresh(70 + i, &g);
        // Job 3's access token has the key of family 0's access token.
        let access = AccessTokenRecord { jti: format!("jr{i}"), ..grant_token(if i == 3 { 150 } else { 90 + i }, &g) };
        async move { s.rotate_refresh(&[50 + i; 32], next.clone(), Some(access.clone()), 30).await }
    });
    let results = futures_join(attempts).await;
    for (i, r) in results.iter().enumerate() {
        match i {
            3 => assert!(r.is_err(), "job 3 cannot save its access token: {r:?}"),
            9 => assert!(matches!(r, Ok(Rotation::Reused { grant_id }) if grant_id == "gr9"), "revoked: {r:?}"),
            _ => assert_eq!(r.as_ref().ok(), Some(&Rotation::Rotated), "job {i}"),
        }
    }
    assert!(s.refresh_token(&[73; 32]).await.unwrap().is_none(), "no successor for the failed job");
    let access = AccessTokenRecord { jti: "jr3-again".into(), ..grant_token(93, "gr3") };
    assert_eq!(
        s.rotate_refresh(&[53; 32], refresh(73, "gr3"), Some(access.clone()), 31).await.unwrap(),
        Rotation::Rotated
    );
    assert!(s.refresh_token(&[73; 32]).await.unwrap().is_some());
}

/// As above for codes: one of ten concurrent redemptions starts a grant whose id exists
/// already. It fails alone and its code stays unused.
async fn a_redemption_that_cannot_save_its_grant_fails_alone_and_spends_nothing(s: &SqlStore) {
    s.put_grant(&grant("taken"), Some(&grant_token(1, "taken")), None).await.unwrap();
    for i in 0..10u8 {
        let code = CodeRecord {
            code_hash: vec![30 + i; 32],
            grant_id: format!("gc{i}"),
            client_id: "c".into(),
            user_id: "usr_alice".into(),
            redirect_uri: None,
            scope: "a".into(),
            resources: vec![],
            code_challenge: None,
            created_at: 10,
            expires_at: 70,
        };
        s.put_code(&code).await.unwrap();
    }
    let attempts = (0..10u8).map(|i| {
        let g = if i == 4 { "taken".to_string() } else { format!("gc{i}") };
        let access = AccessTokenRecord { jti: format!("jcode{i}"), ..grant_token(60 + i, &g) };
        let refresh = (i % 2 == 0).then(|| refresh(80 + i, &g));
        async move { s.redeem_code(&[30 + i; 32], grant(&g), Some(access.clone()), refresh.clone(), 20).await }
    });
    let results = futures_join(attempts).await;
    for (i, r) in results.iter().enumerate() {
        if i == 4 {
            assert!(r.is_err(), "job 4 cannot save its grant: {r:?}");
        } else {
            assert_eq!(r.as_ref().ok(), Some(&Redemption::Redeemed), "job {i}");
        }
    }
    for i in (0..10u8).filter(|i| *i != 4) {
        assert_eq!(s.refresh_token(&[80 + i; 32]).await.unwrap().is_some(), i % 2 == 0, "refresh token of job {i}");
    }
    assert!(matches!(s.code(&[34; 32]).await.unwrap(), CodeLookup::Live { .. }), "the failed job's code is unused");
    let access = AccessTokenRecord { jti: "jcode4-again".into(), ..grant_token(64, "gc4") };
    assert_eq!(
        s.redeem_code(&[34; 32], grant("gc4"), Some(access.clone()), None, 21).await.unwrap(),
        Redemption::Redeemed
    );
}

async fn sessions_and_consents(s: &SqlStore) {
    let session = Session { user_id: Some("usr_alice".into()), authenticated_at: Some(5), expires_at: 100 };
    s.put_session(&[1; 32], &session, 5).await.unwrap();
    assert_eq!(s.session(&[1; 32], 50).await.unwrap(), Some(session));
    assert_eq!(s.session(&[1; 32], 100).await.unwrap(), None, "expired");
    s.put_consent("usr_alice", "c", "a b", 5).await.unwrap();
    assert_eq!(s.consent("usr_alice", "c").await.unwrap().as_deref(), Some("a b"));
    s.put_grant(&grant("g3"), Some(&grant_token(5, "g3")), None).await.unwrap();
    assert!(s.revoke_consent("usr_alice", "c", 9).await.unwrap());
    assert!(!s.revoke_consent("usr_alice", "c", 9).await.unwrap());
    assert_eq!(s.access_token(&[5; 32]).await.unwrap().unwrap().revoked_at, Some(9), "revoking a consent revokes");
    assert!(s.jwt_revoked("jti-5", Some("g3")).await.unwrap(), "its tokens of both formats");
}

/// Run futures concurrently on the current runtime.
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.expect("ready")).collect()
}

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
        name: Some("Client One".into()),
        redirect_uris: vec!["https://app.example/cb".into()],
        skip_consent: true,
        require_pkce: false,
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
        jwt: false,
        username: None,
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

async fn deleting_a_client_leaves_its_tokens_to_expire(s: &SqlStore) {
    // Inert once the client is gone (core's is_live, and the server's tests), and purged
    // at expiry: deleting them here would need an index every issuance pays for.
    s.insert_client(&client("c", 10), 10).await.unwrap();
    let t = AccessTokenRecord { token_hash: expiring_key(1, 500), ..token(1, "c", 500) };
    s.put_access_token(t.clone()).await.unwrap();
    assert!(s.delete_client("c").await.unwrap());
    assert!(!s.delete_client("c").await.unwrap());
    assert_eq!(s.client("c").await.unwrap(), None);
    assert_eq!(s.access_token(&t.token_hash).await.unwrap(), Some(t.clone()));
    assert_eq!(s.delete_expired(501, 100).await.unwrap(), 1);
    assert_eq!(s.access_token(&t.token_hash).await.unwrap(), None);
}

/// The key of a token that expires at `expires_at`, as
/// `latchkey_core::secret::new_expiring_token` makes them.
fn expiring_key(hash: u8, expires_at: i64) -> Vec<u8> {
    let mut key = latchkey_core::secret::expired_key_bound(expires_at);
    key[7] = hash; // microseconds of the second it was issued in
    key.extend_from_slice(&[hash; 32]);
    key
}

async fn expired_tokens_are_purged_as_a_range_of_keys(s: &SqlStore) {
    let expired = AccessTokenRecord { token_hash: expiring_key(1, 100), ..token(1, "c", 100) };
    let live = AccessTokenRecord { token_hash: expiring_key(2, 500), ..token(2, "c", 500) };
    let at_now = AccessTokenRecord { token_hash: expiring_key(3, 400), ..token(3, "c", 400) };
    // Rows keyed by issue time (before migration 5) are below the bound whether expired or not.
    let old_key = |hash: u8| [latchkey_core::secret::expired_key_bound(50), vec![hash; 32]].concat();
    let old_expired = AccessTokenRecord { token_hash: old_key(4), ..token(4, "c", 200) };
    let old_live = AccessTokenRecord { token_hash: old_key(5), ..token(5, "c", 1000) };
    for t in [&expired, &live, &at_now, &old_expired, &old_live] {
        s.put_access_token(t.clone()).await.unwrap();
    }
    let spent = RefreshRecord { token_hash: expiring_key(6, 300), expires_at: 300, ..refresh(6, "gp") };
    let kept = RefreshRecord { token_hash: expiring_key(7, 800), expires_at: 800, ..refresh(7, "gp") };
    s.put_grant(&grant("gp"), None, Some(&spent)).await.unwrap();
    s.put_grant(&grant("gq"), None, Some(&RefreshRecord { grant_id: "gq".into(), ..kept.clone() })).await.unwrap();

    assert_eq!(s.delete_expired(400, 100).await.unwrap(), 3, "two access tokens and a refresh token");
    for (t, there) in [(&expired, false), (&live, true), (&at_now, true), (&old_expired, false), (&old_live, true)] {
        assert_eq!(s.access_token(&t.token_hash).await.unwrap().is_some(), there, "{}", t.jti);
    }
    assert!(s.refresh_token(&spent.token_hash).await.unwrap().is_none());
    assert!(s.refresh_token(&kept.token_hash).await.unwrap().is_some());
    assert_eq!(s.delete_expired(400, 100).await.unwrap(), 0);
    assert_eq!(s.delete_expired(401, 1).await.unwrap(), 1, "the token that expired at 400");
    assert_eq!(s.delete_expired(401, 1).await.unwrap(), 0);
}

async fn tokens_are_found_by_hash_and_revoked_once(s: &SqlStore) {
    s.put_access_token(token(1, "c", 500)).await.unwrap();
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
    s.put_access_token(AccessTokenRecord { token_hash: expiring_key(1, 100), ..token(1, "c", 100) }).await.unwrap();
    s.put_access_token(AccessTokenRecord { token_hash: expiring_key(2, 1000), ..token(2, "c", 1000) }).await.unwrap();
    assert!(s.jwt_revoked("j1", None).await.unwrap());
    assert_eq!(s.delete_expired(500, 1).await.unwrap(), 2, "one of each kind per batch");
    assert_eq!(s.delete_expired(500, 1).await.unwrap(), 0);
    assert!(!s.jwt_revoked("j1", None).await.unwrap());
    assert!(s.jwt_revoked("j2", None).await.unwrap());
    assert!(s.access_token(&expiring_key(2, 1000)).await.unwrap().is_some());
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
    s.put_access_token(token(7, "c", 500)).await.unwrap();
    s.close().await;
    let s = SqlStore::connect(&url, Synchronous::Full, 2).await.unwrap();
    assert!(s.access_token(&[7; 32]).await.unwrap().is_some());
}

/// A database made before the token tables were rebuilt WITHOUT ROWID (migration 3)
/// keeps its tokens through the upgrade: found by key, revocable, rotatable.
#[tokio::test]
async fn tokens_survive_the_upgrade_to_keyed_token_tables() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true)).await.unwrap();
        sqlx::migrate!("./migrations/sqlite").run_to(2, &pool).await.unwrap();
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, audience, issued_at, \
             expires_at, jwt, username) VALUES (?, 'jti-old', 'g-old', 'c', 'usr_alice', 'a', '[]', 100, 10000, 0, \
             'alice')",
        )
        .bind(vec![7u8; 32])
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO grants (id, client_id, user_id, scope, resources, created_at, expires_at) \
             VALUES ('g-old', 'c', 'usr_alice', 'a', '[]', 10, 10000)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, expires_at) \
             VALUES (?, 'g-old', 'c', 'a', 10, 10000)",
        )
        .bind(vec![8u8; 32])
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let s = SqlStore::connect(&url, Synchronous::Full, 4).await.unwrap();
    let token = s.access_token(&[7; 32]).await.unwrap().expect("the access token survived");
    assert_eq!((token.jti.as_str(), token.username.as_deref()), ("jti-old", Some("alice")));
    let next = refresh(9, "g-old");
    let access = AccessTokenRecord { jti: "jti-new".into(), ..grant_token(10, "g-old") };
    assert_eq!(s.rotate_refresh(&[8; 32], next.clone(), Some(access.clone()), 50).await.unwrap(), Rotation::Rotated);
    assert!(s.revoke_access_token(&[7; 32], 60).await.unwrap());
    assert!(s.access_token(&[7; 32]).await.unwrap().unwrap().revoked_at.is_some());
    s.close().await;
}

/// Before migration 4 a family's revocation wrote every token row, and an access token
/// from a late refresh could outlive its grant. After it, revoking the grant alone still
/// revokes such a token, a JWT's bookkeeping row too, and the grant stays as long as they.
#[tokio::test]
async fn tokens_from_before_revocation_by_grant_are_revoked_with_their_grant() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true)).await.unwrap();
        sqlx::migrate!("./migrations/sqlite").run_to(3, &pool).await.unwrap();
        for q in [
            "INSERT INTO grants (id, client_id, user_id, scope, resources, created_at, expires_at) \
             VALUES ('g', 'c', 'usr_alice', 'a', '[]', 10, 10000)",
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, expires_at) \
             VALUES (x'08', 'g', 'c', 'a', 10, 10000)",
            // Opaque, from a refresh shortly before the family's end: outlives the grant.
            "INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, audience, issued_at, \
             expires_at, jwt, username) VALUES (x'07', 'j7', 'g', 'c', 'usr_alice', 'a', '[]', 9000, 12000, 0, 'alice')",
            // The row that stood for a JWT.
            "INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, audience, issued_at, \
             expires_at, jwt, username) VALUES (x'06', 'j6', 'g', 'c', 'usr_alice', 'a', '[]', 9000, 11000, 1, 'alice')",
        ] {
            sqlx::query(q).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let s = SqlStore::connect(&url, Synchronous::Full, 4).await.unwrap();
    let g = s.refresh_token(&[8]).await.unwrap().unwrap().grant;
    assert_eq!(g.expires_at, 12000, "the grant lasts as long as its latest access token");
    s.revoke_grant("g", 100).await.unwrap();
    assert_eq!(s.access_token(&[7]).await.unwrap().unwrap().revoked_at, Some(100));
    assert_eq!(s.access_token(&[6]).await.unwrap().unwrap().revoked_at, Some(100), "the JWT's row");
    s.delete_expired(11500, 100).await.unwrap();
    assert_eq!(s.access_token(&[7]).await.unwrap().unwrap().revoked_at, Some(100), "the grant was kept");
    s.close().await;
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
