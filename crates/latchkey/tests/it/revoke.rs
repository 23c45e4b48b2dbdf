//! Revocation (RFC 7009).

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_client_revokes_its_own_tokens_in_both_formats() {
    let s = TestServer::start().await;
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let (status, headers, body) =
        s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[("token", &jwt)]).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::Value::Null, "empty body");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(s.introspect_as_rs(&jwt).await, json!({"active": false}));

    let opaque = s.post_token().await;
    let (status, _, _) = s
        .post_form(
            "revocation_endpoint",
            None,
            &[("token", &opaque), ("client_id", "post"), ("client_secret", POST_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.introspect_as_rs(&opaque).await, json!({"active": false}));
}

#[tokio::test]
async fn other_clients_tokens_and_unknown_tokens_get_200_and_nothing_changes() {
    let s = TestServer::start().await;
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let opaque = s.post_token().await;
    for token in [&jwt, &opaque] {
        for (id, secret) in [("other", OTHER_SECRET), ("rs", RS_SECRET)] {
            let (status, _, _) =
                s.post_form("revocation_endpoint", Some((id, secret)), &[("token", token.as_str())]).await;
            assert_eq!(status, 200);
        }
        assert_eq!(s.introspect_as_rs(token).await["active"], true, "{token}");
    }
    let (status, _, _) =
        s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[("token", "no-such-token")]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_wrong_token_type_hint_does_not_prevent_revocation() {
    let s = TestServer::start().await;
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let (status, _, _) = s
        .post_form(
            "revocation_endpoint",
            Some(("svc", SVC_SECRET)),
            &[("token", &jwt), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.introspect_as_rs(&jwt).await["active"], false);
}

#[tokio::test]
async fn revocation_requires_authentication_and_a_token() {
    let s = TestServer::start().await;
    let (status, _, body) = s.post_form("revocation_endpoint", None, &[("token", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, _, body) = s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn a_revoked_jwt_is_remembered_until_it_would_have_expired() {
    let s = TestServer::start().await;
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let exp = jwt_parts(&jwt).1["exp"].as_i64().unwrap();
    let jti = jwt_parts(&jwt).1["jti"].as_str().unwrap().to_owned();
    s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[("token", &jwt)]).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", s.db_path().display())).await.unwrap();
    let row: (String, i64) = sqlx::query_as("SELECT jti, expires_at FROM revoked_jtis").fetch_one(&pool).await.unwrap();
    assert_eq!(row, (jti, exp));
    pool.close().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}
