//! Several nodes on one PostgreSQL, database outages, and the janitor.

use std::time::Duration;

use latchkey_store::testing::TestDatabase;
use serde_json::{Value, json};

use crate::support::*;

/// The node's own JWKS (not through metadata, whose URLs name the public issuer).
async fn jwks(s: &TestServer) -> Value {
    s.http.get(format!("{}/.well-known/jwks.json", s.base)).send().await.unwrap().json().await.unwrap()
}

/// Three nodes behind an imaginary load balancer: same database, same system secret.
/// They share one issuer (a real deployment's public URL) so any node's tokens are
/// every node's tokens.
#[tokio::test]
async fn three_nodes_on_one_postgresql_behave_as_one_server() {
    let Some(db) = TestDatabase::create("three_nodes").await else { return };
    // A public issuer name that is never resolved: tests talk to each node's address.
    let issuer = "https://auth.example.test";
    let node = |env: &[(&str, &str)]| {
        TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &format!("issuer = \"{issuer}\""), env)
    };
    // A trusts nothing it resolved; B and C keep live tokens for the default 1 s.
    let (a, b, c) = (node(&[("LATCHKEY_TOKENS__INTROSPECTION_CACHE_TTL", "0s")]), node(&[]), node(&[]));
    // Endpoints are under the public issuer; talk to each node directly instead.
    let at = |s: &TestServer, path: &str| format!("{}{path}", s.base);
    let http = reqwest::Client::new();
    let post = |url: String, id: &'static str, secret: &'static str, form: Vec<(&'static str, String)>| {
        let http = http.clone();
        async move {
            let res =
                http.post(url).header("Authorization", basic_header(id, secret)).form(&form).send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let cc = || vec![("grant_type", "client_credentials".to_owned())];

    // Issued on A (both formats), active on B.
    let (_, jwt) = post(at(&a, "/token"), "svc", SVC_SECRET, cc()).await;
    let (_, opaque) = post(at(&a, "/token"), "svc-opaque", SVC_SECRET, cc()).await;
    let tokens =
        [jwt["access_token"].as_str().unwrap().to_owned(), opaque["access_token"].as_str().unwrap().to_owned()];
    for t in &tokens {
        let (_, info) = post(at(&b, "/introspect"), "rs", RS_SECRET, vec![("token", t.clone())]).await;
        assert_eq!(info["active"], true, "{t}");
    }
    for t in &tokens {
        let (_, info) = post(at(&c, "/introspect"), "rs", RS_SECRET, vec![("token", t.clone())]).await;
        assert_eq!(info["active"], true, "{t}: C has it cached now");
    }
    // Revoked on C: inactive at once on C (its cache is emptied) and on A (no cache),
    // and on B, which cached both as live, within its cache TTL.
    post(at(&c, "/revoke"), "svc", SVC_SECRET, vec![("token", tokens[0].clone())]).await;
    post(at(&c, "/revoke"), "svc-opaque", SVC_SECRET, vec![("token", tokens[1].clone())]).await;
    let revoked_at = std::time::Instant::now();
    for node in [&c, &a] {
        for t in &tokens {
            let (_, info) = post(at(node, "/introspect"), "rs", RS_SECRET, vec![("token", t.clone())]).await;
            assert_eq!(info, json!({"active": false}), "{t}");
        }
    }
    for t in &tokens {
        let seen = eventually(Duration::from_secs(3), || async {
            post(at(&b, "/introspect"), "rs", RS_SECRET, vec![("token", t.clone())]).await.1 == json!({"active": false})
        })
        .await;
        assert!(seen, "{t}: B sees the revocation within its cache TTL");
    }
    assert!(revoked_at.elapsed() < Duration::from_millis(2500), "within the 1 s TTL, with slack for a busy machine");
    // A key rotated through A's database signs new tokens within the key refresh bound,
    // and they verify through B's JWKS.
    let (code, out, _) = a.cli(&["keys", "rotate", "--json"]);
    assert_eq!(code, 0);
    let kid = serde_json::from_str::<Value>(&out).unwrap()["kid"].as_str().unwrap().to_owned();
    let rotated = eventually(Duration::from_secs(3), || async {
        let (_, t) = post(at(&a, "/token"), "svc", SVC_SECRET, cc()).await;
        jwt_parts(t["access_token"].as_str().unwrap()).0["kid"] == kid.as_str()
    })
    .await;
    assert!(rotated, "A signs with the new key within the documented bound");
    let (_, t) = post(at(&a, "/token"), "svc", SVC_SECRET, cc()).await;
    let new_token = t["access_token"].as_str().unwrap().to_owned();
    let published = eventually(Duration::from_secs(3), || async {
        jwks(&b).await["keys"].as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str())
    })
    .await;
    assert!(published, "B publishes the new key within the documented bound");
    let (_, info) = post(at(&b, "/introspect"), "rs", RS_SECRET, vec![("token", new_token)]).await;
    assert_eq!(info["active"], true);
    // A client created through B works on A.
    let (code, out, _) = b.cli(&["client", "create", "--id", "from-b", "--grant-type", "client_credentials", "--json"]);
    assert_eq!(code, 0);
    let secret: &'static str =
        Box::leak(serde_json::from_str::<Value>(&out).unwrap()["client_secret"].as_str().unwrap().to_owned().into());
    let works =
        eventually(Duration::from_secs(3), || async { post(at(&a, "/token"), "from-b", secret, cc()).await.0 == 200 })
            .await;
    assert!(works);
    drop((a, b, c));
}

/// One code, and then one refresh token, presented concurrently to two nodes on one
/// PostgreSQL: exactly one request wins each race (security checklist, multi-node).
#[tokio::test]
async fn code_and_refresh_races_across_nodes_have_exactly_one_winner() {
    use crate::user_flow::{VERIFIER, approve, browser, exchange, query_param};
    let Some(db) = TestDatabase::create("node_races").await else { return };
    let strict = [("LATCHKEY_TOKENS__INTROSPECTION_CACHE_TTL", "0s")];
    let a = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), "", &strict);
    let b = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), "", &strict);
    let urls = [a.endpoint("token_endpoint").await, b.endpoint("token_endpoint").await];
    let one_winner = |results: &[(u16, Value)]| {
        assert_eq!(results.iter().filter(|(st, _)| *st == 200).count(), 1, "{results:?}");
        assert!(results.iter().all(|(st, body)| *st == 200 || body["error"] == "invalid_grant"), "{results:?}");
        results.iter().find(|(st, _)| *st == 200).unwrap().1.clone()
    };

    let location = approve(&a, &browser(), "profile", "alice", ALICE_PASSWORD).await;
    let code = query_param(&location, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "https://app.example/cb"),
        ("code_verifier", VERIFIER),
    ];
    let winner = one_winner(&race(&urls, &form, 10).await);
    // The replays revoked what the winner got (RFC 9700 §4.2.4), seen from both nodes.
    for node in [&a, &b] {
        assert_eq!(node.introspect_as_rs(winner["access_token"].as_str().unwrap()).await["active"], false);
    }

    let location = approve(&a, &browser(), "profile", "alice", ALICE_PASSWORD).await;
    let (status, tokens) = exchange(&b, &query_param(&location, "code").unwrap(), Some(VERIFIER)).await;
    assert_eq!(status, 200, "{tokens}");
    let form = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())];
    one_winner(&race(&urls, &form, 10).await);
}

#[tokio::test]
async fn a_database_outage_gives_503_then_recovers_without_losing_a_token() {
    let Some(db) = TestDatabase::create("outage").await else { return };
    let s = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), "", &[]);
    let url = s.endpoint("token_endpoint").await;
    let ready = format!("{}/health/ready", s.base);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    let issue = || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let res = http
                .post(url)
                .header("Authorization", basic_header("svc-opaque", SVC_SECRET))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let mut returned = Vec::new();
    for _ in 0..5 {
        let (status, body) = issue().await;
        assert_eq!(status, 200);
        returned.push(body["access_token"].as_str().unwrap().to_owned());
    }
    // The database goes away: no new connections, existing ones cut.
    let name = db.name().to_owned();
    db.admin_execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await.unwrap();
    db.admin_execute(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        .await
        .unwrap();
    let mut unavailable = 0;
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let (status, body) = issue().await;
        assert!(started.elapsed() < Duration::from_secs(10), "a request hung for {:?}", started.elapsed());
        match status {
            200 => returned.push(body["access_token"].as_str().unwrap().to_owned()),
            503 => {
                assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                unavailable += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(unavailable >= 4, "{unavailable} of 5 requests got 503 during the outage");
    assert_eq!(http.get(&ready).send().await.unwrap().status(), 503, "not ready without a database");
    // It comes back; latchkey recovers by itself.
    db.admin_execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await.unwrap();
    let recovered = eventually(Duration::from_secs(10), || async { issue().await.0 == 200 }).await;
    assert!(recovered, "token endpoint recovered");
    assert_eq!(http.get(&ready).send().await.unwrap().status(), 200);
    for t in &returned {
        assert_eq!(s.introspect_as_rs(t).await["active"], true, "a returned token was lost");
    }
    drop(s);
    drop(db);
}

async fn the_janitor_removes_expired_rows_and_keeps_live_ones() {
    let s = TestServer::start().await;
    let live = s.post_token().await;
    let live_jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[("token", live_jwt.as_str())]).await;
    for client in ["short-opaque", "short-jwt"] {
        for _ in 0..3 {
            let (status, _, body) = s
                .post_form("token_endpoint", Some((client, SVC_SECRET)), &[("grant_type", "client_credentials")])
                .await;
            assert_eq!(status, 200);
            if client == "short-jwt" {
                let t = body["access_token"].as_str().unwrap();
                s.post_form("revocation_endpoint", Some((client, SVC_SECRET)), &[("token", t)]).await;
            }
        }
    }
    let db = s.db().await;
    assert_eq!(db.scalar("SELECT COUNT(*) FROM access_tokens").await, 4);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM revoked_jtis").await, 4);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (code, out, err) = s.cli(&["janitor"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "deleted 6 expired rows");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM access_tokens").await, 1);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM revoked_jtis").await, 1);
    db.close().await;
    assert_eq!(s.introspect_as_rs(&live).await["active"], true);
    assert_eq!(s.introspect_as_rs(&live_jwt).await["active"], false, "the live revocation is kept");
}

both_backends!(the_janitor_removes_expired_rows_and_keeps_live_ones);
