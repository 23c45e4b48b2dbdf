//! Metadata (RFC 8414), health and metrics.

use crate::support::*;

async fn metadata_lists_absolute_endpoints_under_the_issuer() {
    let s = TestServer::start().await;
    let meta = s.metadata().await;
    assert_eq!(meta["issuer"], s.base.as_str());
    for key in ["token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"] {
        let url = meta[key].as_str().unwrap_or_else(|| panic!("{key} missing"));
        assert!(url.starts_with(&s.base) && url.len() > s.base.len(), "{key}: {url}");
    }
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["authorization_code", "client_credentials", "refresh_token", "password"])
    );
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert!(meta["authorization_endpoint"].as_str().unwrap().starts_with(&s.base));
    assert_eq!(meta["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(meta["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let scopes: Vec<&str> = meta["scopes_supported"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(scopes.contains(&"items:read") && scopes.contains(&"items:write"), "{scopes:?}");
    let oidc: serde_json::Value =
        s.http.get(format!("{}/.well-known/openid-configuration", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(oidc["issuer"], meta["issuer"]);
    assert_eq!(oidc["token_endpoint"], meta["token_endpoint"]);
}

async fn health_and_metrics() {
    let s = TestServer::start().await;
    for path in ["/health/live", "/health/ready"] {
        assert_eq!(s.http.get(format!("{}{path}", s.base)).send().await.unwrap().status(), 200, "{path}");
    }
    s.svc_token(&[]).await;
    let res = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = res.text().await.unwrap();
    assert!(
        text.contains("latchkey_tokens_issued_total{grant_type=\"client_credentials\",format=\"jwt\"} 1"),
        "{text}"
    );
    assert!(text.contains("latchkey_http_requests_total{route=\"/token\",status=\"200\"} 1"), "{text}");
}

both_backends!(metadata_lists_absolute_endpoints_under_the_issuer, health_and_metrics,);
