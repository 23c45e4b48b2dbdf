//! Revocation (RFC 7009).

use serde_json::json;

use crate::support::*;

/// Each token is introspected first, so this node has it cached as live: a revocation
/// made through the node must still be seen at once.
async fn a_client_revokes_its_own_tokens_in_both_formats() {
    let s = TestServer::start_with("", &[("LATCHKEY_TOKENS__INTROSPECTION_CACHE_TTL", "60s")]).await;
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.introspect_as_rs(&jwt).await["active"], true);
    let (status, headers, body) =
        s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[("token", &jwt)]).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::Value::Null, "empty body");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(s.introspect_as_rs(&jwt).await, json!({"active": false}));

    let opaque = s.post_token().await;
    assert_eq!(s.introspect_as_rs(&opaque).await["active"], true);
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

async fn revocation_requires_authentication_and_a_token() {
    let s = TestServer::start().await;
    let (status, _, body) = s.post_form("revocation_endpoint", None, &[("token", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, _, body) = s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

async fn a_revoked_jwt_is_remembered_until_it_would_have_expired() {
    let s = TestServer::start().await;
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let exp = jwt_parts(&jwt).1["exp"].as_i64().unwrap();
    let jti = jwt_parts(&jwt).1["jti"].as_str().unwrap().to_owned();
    s.post_form("revocation_endpoint", Some(("svc", SVC_SECRET)), &[("token", &jwt)]).await;
    let db = s.db().await;
    let column = |name: &str, cells: &[(String, String, Vec<u8>)]| -> Vec<Vec<u8>> {
        cells.iter().filter(|(t, c, _)| t == "revoked_jtis" && c == name).map(|(_, _, v)| v.clone()).collect()
    };
    let cells = db.cells().await;
    db.close().await;
    assert_eq!(column("jti", &cells), vec![jti.into_bytes()]);
    assert_eq!(column("expires_at", &cells), vec![exp.to_string().into_bytes()]);
}

both_backends!(
    a_client_revokes_its_own_tokens_in_both_formats,
    other_clients_tokens_and_unknown_tokens_get_200_and_nothing_changes,
    a_wrong_token_type_hint_does_not_prevent_revocation,
    revocation_requires_authentication_and_a_token,
    a_revoked_jwt_is_remembered_until_it_would_have_expired,
);
