//! The token endpoint: client authentication, RFC 6749 §5.2 errors, scope and
//! resource rules, both token formats.

use serde_json::json;

use crate::support::*;

async fn basic_auth_issues_rfc9068_jwt_with_all_scopes_and_first_audience() {
    let s = TestServer::start().await;
    let url = s.endpoint("token_endpoint").await;
    let res = s
        .http
        .post(url)
        .header("Authorization", basic_header("svc", SVC_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "items:read items:write");
    let (header, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], s.base.as_str());
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["client_id"], "svc");
    assert_eq!(claims["aud"], "https://api.example");
    assert_eq!(claims["scope"], "items:read items:write");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
}

async fn body_auth_issues_opaque_token_with_prefix() {
    let s = TestServer::start().await;
    let (status, headers, body) = s
        .post_form(
            "token_endpoint",
            None,
            &[("grant_type", "client_credentials"), ("client_id", "post"), ("client_secret", POST_SECRET)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("lk_at_") && token.len() >= 6 + 43, "{token}");
    assert_eq!(body["scope"], "items:read");
    let info = s.introspect_as_rs(token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], "post");
    assert_eq!(info["aud"], s.base.as_str(), "no audiences registered: aud is the issuer");
}

async fn scope_subset_is_granted_exactly_and_wider_scope_is_refused() {
    let s = TestServer::start().await;
    let body = s.svc_token(&[("scope", "items:read")]).await;
    assert_eq!(body["scope"], "items:read");
    assert_eq!(jwt_parts(body["access_token"].as_str().unwrap()).1["scope"], "items:read");
    let (status, _, err) = s
        .post_form(
            "token_endpoint",
            Some(("svc", SVC_SECRET)),
            &[("grant_type", "client_credentials"), ("scope", "items:read admin")],
        )
        .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_scope")));
}

async fn resource_indicators_become_aud() {
    let s = TestServer::start().await;
    let one = s.svc_token(&[("resource", "https://other.example")]).await;
    assert_eq!(jwt_parts(one["access_token"].as_str().unwrap()).1["aud"], "https://other.example");
    let two = s.svc_token(&[("resource", "https://api.example"), ("resource", "https://other.example")]).await;
    assert_eq!(
        jwt_parts(two["access_token"].as_str().unwrap()).1["aud"],
        json!(["https://api.example", "https://other.example"])
    );
    let (status, _, err) = s
        .post_form(
            "token_endpoint",
            Some(("svc", SVC_SECRET)),
            &[("grant_type", "client_credentials"), ("resource", "https://evil.example")],
        )
        .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_target")));
}

async fn every_section_5_2_error() {
    let s = TestServer::start().await;
    let cc = ("grant_type", "client_credentials");
    let svc = Some(("svc", SVC_SECRET));
    type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("missing grant_type", svc, vec![], 400, "invalid_request"),
        ("repeated grant_type", svc, vec![cc, cc], 400, "invalid_request"),
        ("repeated scope", svc, vec![cc, ("scope", "items:read"), ("scope", "items:write")], 400, "invalid_request"),
        ("wrong secret", Some(("svc", "wrong-secret-wrong")), vec![cc], 401, "invalid_client"),
        ("unknown client", Some(("nobody", "wrong-secret-wrong")), vec![cc], 401, "invalid_client"),
        ("no authentication", None, vec![cc], 401, "invalid_client"),
        (
            "method not registered",
            None,
            vec![cc, ("client_id", "svc"), ("client_secret", SVC_SECRET)],
            401,
            "invalid_client",
        ),
        ("two methods at once", svc, vec![cc, ("client_secret", SVC_SECRET)], 401, "invalid_client"),
        ("unsupported grant", svc, vec![("grant_type", "implicit")], 400, "unsupported_grant_type"),
        (
            "grant not registered",
            svc,
            vec![("grant_type", "password"), ("username", "alice"), ("password", "x")],
            400,
            "unauthorized_client",
        ),
        (
            "invalid grant",
            Some(("app", APP_SECRET)),
            vec![("grant_type", "refresh_token"), ("refresh_token", "lk_rt_nope")],
            400,
            "invalid_grant",
        ),
        (
            "unknown code",
            Some(("app", APP_SECRET)),
            vec![("grant_type", "authorization_code"), ("code", "lk_ac_nope")],
            400,
            "invalid_grant",
        ),
        ("unknown grant", svc, vec![("grant_type", "urn:x:nope")], 400, "unsupported_grant_type"),
        ("client without grant", Some(("other", OTHER_SECRET)), vec![cc], 400, "unauthorized_client"),
        ("scope too wide", svc, vec![cc, ("scope", "admin")], 400, "invalid_scope"),
        ("malformed scope", svc, vec![cc, ("scope", "bad\\scope")], 400, "invalid_scope"),
        ("resource not allowed", svc, vec![cc, ("resource", "https://evil.example")], 400, "invalid_target"),
        ("relative resource", svc, vec![cc, ("resource", "/relative")], 400, "invalid_target"),
    ];
    for (name, auth, form, status, code) in cases {
        let (got, headers, body) = s.post_form("token_endpoint", auth, &form).await;
        assert_eq!((got, body["error"].as_str()), (status, Some(code)), "{name}: {body}");
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{name}");
        assert_eq!(headers["cache-control"], "no-store", "{name}");
        if status == 401 {
            assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"), "{name}");
        }
    }
}

async fn unknown_client_and_wrong_secret_are_indistinguishable() {
    let s = TestServer::start().await;
    let cc = [("grant_type", "client_credentials")];
    let (_, _, wrong) = s.post_form("token_endpoint", Some(("svc", "wrong-secret-wrong")), &cc).await;
    let (_, _, unknown) = s.post_form("token_endpoint", Some(("ghost", "wrong-secret-wrong")), &cc).await;
    assert_eq!(wrong, unknown);
}

async fn wrong_method_and_content_type_are_invalid_request() {
    let s = TestServer::start().await;
    let url = s.endpoint("token_endpoint").await;
    let res = s.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"], "invalid_request");
    let res = s
        .http
        .post(&url)
        .header("Authorization", basic_header("svc", SVC_SECRET))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"], "invalid_request");
}

async fn basic_credentials_are_form_urlencoded() {
    let s = TestServer::start().await;
    let (code, out, err) = s.cli(&[
        "client",
        "create",
        "--id",
        "odd id:é",
        "--secret",
        "p@ss:word with spaces+&=",
        "--grant-type",
        "client_credentials",
        "--scope",
        "a",
    ]);
    assert_eq!(code, 2, "non-ASCII client ids are refused: {out}{err}");
    let (code, out, err) = s.cli(&[
        "client",
        "create",
        "--id",
        "odd id:1",
        "--secret",
        "p@ss:word with spaces+&=",
        "--grant-type",
        "client_credentials",
        "--scope",
        "a",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let ok = eventually(std::time::Duration::from_secs(3), || async {
        let (status, _, _) = s
            .post_form(
                "token_endpoint",
                Some(("odd id:1", "p@ss:word with spaces+&=")),
                &[("grant_type", "client_credentials")],
            )
            .await;
        status == 200
    })
    .await;
    assert!(ok);
}

both_backends!(
    basic_auth_issues_rfc9068_jwt_with_all_scopes_and_first_audience,
    body_auth_issues_opaque_token_with_prefix,
    scope_subset_is_granted_exactly_and_wider_scope_is_refused,
    resource_indicators_become_aud,
    every_section_5_2_error,
    unknown_client_and_wrong_secret_are_indistinguishable,
    wrong_method_and_content_type_are_invalid_request,
    basic_credentials_are_form_urlencoded,
);
