//! Introspection (RFC 7662): who may see what, and exactly `{"active":false}` otherwise.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

async fn resource_server_sees_every_field_of_an_active_token_in_both_formats() {
    let s = TestServer::start().await;
    let jwt = s.svc_token(&[("scope", "items:read")]).await["access_token"].as_str().unwrap().to_owned();
    let opaque = s.post_token().await;
    for (token, client, aud) in
        [(jwt.as_str(), "svc", json!("https://api.example")), (opaque.as_str(), "post", json!(s.base))]
    {
        let (status, headers, info) =
            s.post_form("introspection_endpoint", Some(("rs", RS_SECRET)), &[("token", token)]).await;
        assert_eq!(status, 200);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(info["active"], true);
        assert_eq!(info["client_id"], client);
        assert_eq!(info["sub"], client);
        assert_eq!(info["token_type"], "Bearer");
        assert_eq!(info["iss"], s.base.as_str());
        assert_eq!(info["aud"], aud);
        assert_eq!(info["scope"], "items:read");
        assert!(info["exp"].as_i64().unwrap() > info["iat"].as_i64().unwrap());
        assert!(info["jti"].is_string());
    }
}

async fn a_client_sees_only_its_own_tokens() {
    let s = TestServer::start().await;
    let token = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let (_, _, own) = s.post_form("introspection_endpoint", Some(("svc", SVC_SECRET)), &[("token", &token)]).await;
    assert_eq!(own["active"], true);
    let (status, _, foreign) =
        s.post_form("introspection_endpoint", Some(("other", OTHER_SECRET)), &[("token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(foreign, json!({"active": false}));
}

async fn unknown_tampered_and_garbage_tokens_are_exactly_inactive() {
    let s = TestServer::start().await;
    let token = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (header, claims) = token.split_once('.').unwrap();
    let resigned_claims = format!("{header}.{}", claims.replacen('e', "f", 1));
    let unknown_opaque = format!("lk_at_{}", "A".repeat(43));
    for t in [tampered.as_str(), resigned_claims.as_str(), unknown_opaque.as_str(), "garbage", "a.b.c", "' OR 1=1 --"] {
        let info = s.introspect_as_rs(t).await;
        assert_eq!(info, json!({"active": false}), "{t}");
    }
}

/// Each token is introspected while live first: with a cache TTL longer than the
/// tokens' lifetime, expiry must still be checked on every cached answer.
async fn expired_tokens_are_inactive_in_both_formats() {
    let s = TestServer::start_with("", &[("LATCHKEY_TOKENS__INTROSPECTION_CACHE_TTL", "60s")]).await;
    let mut tokens = Vec::new();
    at_start_of_second().await;
    for client in ["short-jwt", "short-opaque"] {
        let (status, _, body) =
            s.post_form("token_endpoint", Some((client, SVC_SECRET)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], 1);
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(s.introspect_as_rs(&token).await["active"], true);
        tokens.push(token);
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for t in &tokens {
        assert_eq!(s.introspect_as_rs(t).await, json!({"active": false}), "{t}");
    }
}

async fn introspection_requires_client_authentication_and_a_token() {
    let s = TestServer::start().await;
    let (status, headers, body) = s.post_form("introspection_endpoint", None, &[("token", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, body) =
        s.post_form("introspection_endpoint", Some(("rs", "wrong-secret-000000")), &[("token", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, _, body) = s.post_form("introspection_endpoint", Some(("rs", RS_SECRET)), &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

both_backends!(
    resource_server_sees_every_field_of_an_active_token_in_both_formats,
    a_client_sees_only_its_own_tokens,
    unknown_tampered_and_garbage_tokens_are_exactly_inactive,
    expired_tokens_are_inactive_in_both_formats,
    introspection_requires_client_authentication_and_a_token,
);
