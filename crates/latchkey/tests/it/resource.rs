//! The resource-server library in process, against a real OAuth Server: bounded cache,
//! JWKS refetch rate limit, unreachable server.

use std::time::Duration;

use base64::Engine;
use latchkey_resource::{AuthError, BearerAuth, ResourceConfig, Validation};

use crate::support::*;

const API: &str = "https://api.example";

async fn a_flood_of_random_tokens_does_not_grow_the_cache_past_its_bound() {
    let s = TestServer::start().await;
    let mut config = ResourceConfig::new(&s.base, API, Validation::Introspection).with_credentials("rs", RS_SECRET);
    config.cache_capacity = 50;
    config.negative_cache_ttl = Duration::from_secs(60);
    let auth = BearerAuth::new(config).unwrap();
    for i in 0..400 {
        let t = format!("lk_at_random{i:040}");
        assert!(matches!(auth.validate(&t).await, Err(AuthError::InvalidToken(_))));
    }
    let entries = auth.cache_entries().await;
    assert!(entries <= 50, "{entries} cached entries with a bound of 50");
    assert!(entries > 0);
}

async fn unknown_kids_cause_at_most_one_jwks_fetch_per_interval() {
    let s = TestServer::start().await;
    let mut config = ResourceConfig::new(&s.base, API, Validation::Jwt).with_credentials("rs", RS_SECRET);
    config.jwks_min_refresh = Duration::from_secs(60);
    let auth = BearerAuth::new(config).unwrap();
    let good = s.svc_token(&[("resource", API)]).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(auth.validate(&good).await.unwrap().sub, "svc");
    let body = good.split('.').nth(1).unwrap().to_owned();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let hostile = ["../../etc/passwd", "' OR '1'='1", "nul\u{0}byte", &"k".repeat(8192)];
    for i in 0..200 {
        let kid = if i < hostile.len() { hostile[i].to_owned() } else { format!("random-{i}") };
        let header = b64(&serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}).to_string());
        let token = format!("{header}.{body}.c2lnbmF0dXJl");
        assert!(matches!(auth.validate(&token).await, Err(AuthError::InvalidToken(_))), "kid {i}");
    }
    assert!(auth.jwks_fetches() <= 2, "{} JWKS fetches", auth.jwks_fetches());
}

async fn jwt_mode_refuses_forgeries_without_asking_the_server() {
    let s = TestServer::start().await;
    let auth =
        BearerAuth::new(ResourceConfig::new(&s.base, API, Validation::Jwt).with_credentials("rs", RS_SECRET)).unwrap();
    let good = s.svc_token(&[("resource", API)]).await["access_token"].as_str().unwrap().to_owned();
    assert!(auth.validate(&good).await.is_ok());
    let (_, body) = good.split_once('.').unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let kid = jwt_parts(&good).0["kid"].as_str().unwrap().to_owned();
    for header in [
        serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
        serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
        serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
        serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
    ] {
        let forged = format!("{}.{body}", b64(&header.to_string()));
        assert!(matches!(auth.validate(&forged).await, Err(AuthError::InvalidToken(_))), "{header}");
    }
}

#[tokio::test]
async fn an_unreachable_authorization_server_is_unavailable_not_ok() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for mode in [Validation::Introspection, Validation::Jwt] {
        let auth = BearerAuth::new(ResourceConfig::new(&issuer, API, mode).with_credentials("rs", RS_SECRET)).unwrap();
        assert!(matches!(auth.validate("lk_at_whatever").await, Err(AuthError::Unavailable(_))));
        let res = auth.reject(AuthError::Unavailable("down".into()));
        assert_eq!(res.status(), 503);
    }
}

both_backends!(
    a_flood_of_random_tokens_does_not_grow_the_cache_past_its_bound,
    unknown_kids_cause_at_most_one_jwks_fetch_per_interval,
    jwt_mode_refuses_forgeries_without_asking_the_server,
);
