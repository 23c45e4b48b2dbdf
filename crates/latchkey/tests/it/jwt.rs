//! JWT access tokens checked by an independent JOSE implementation (`jwt-simple`,
//! pure-Rust backends) against the served JWKS, and key rotation.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use jwt_simple::prelude::*;
use serde_json::Value;

use crate::support::*;

type Extra = HashMap<String, Value>;

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
}

/// Verify `token` with jwt-simple using the JWK of its `kid` from `jwks`.
fn verify_independently(jwks: &Value, token: &str, issuer: &str, audience: &str) -> JWTClaims<Extra> {
    let kid = jwt_parts(token).0["kid"].as_str().unwrap().to_owned();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("kid in JWKS");
    let options = VerificationOptions {
        required_signature_type: Some("at+jwt".into()),
        allowed_issuers: Some(HashSet::from_strings(&[issuer])),
        allowed_audiences: Some(HashSet::from_strings(&[audience])),
        ..Default::default()
    };
    match jwk["alg"].as_str().unwrap() {
        "EdDSA" => {
            assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
            Ed25519PublicKey::from_bytes(&b64(&jwk["x"])).unwrap().verify_token::<Extra>(token, Some(options)).unwrap()
        }
        "ES256" => {
            assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
            let mut point = vec![4u8];
            point.extend(b64(&jwk["x"]));
            point.extend(b64(&jwk["y"]));
            ES256PublicKey::from_bytes(&point).unwrap().verify_token::<Extra>(token, Some(options)).unwrap()
        }
        "RS256" => {
            assert_eq!(jwk["kty"], "RSA");
            RS256PublicKey::from_components(&b64(&jwk["n"]), &b64(&jwk["e"]))
                .unwrap()
                .verify_token::<Extra>(token, Some(options))
                .unwrap()
        }
        other => panic!("unexpected alg {other}"),
    }
}

async fn jwks(s: &TestServer) -> Value {
    let url = s.endpoint("jwks_uri").await;
    s.http.get(url).send().await.unwrap().json().await.unwrap()
}

async fn every_signing_alg_verifies_with_an_independent_implementation() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let s = TestServer::start_with("", &[("LATCHKEY_TOKENS__SIGNING_ALG", alg)]).await;
        let token = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt_parts(&token).0["alg"], alg);
        let keys = jwks(&s).await;
        for k in keys["keys"].as_array().unwrap() {
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(k.get(private).is_none(), "JWKS must not publish private parameter {private}");
            }
        }
        let claims = verify_independently(&keys, &token, &s.base, "https://api.example");
        assert_eq!(claims.subject.as_deref(), Some("svc"));
        assert_eq!(claims.custom["client_id"], "svc");
        assert_eq!(claims.custom["scope"], "items:read items:write");
        assert!(claims.jwt_id.is_some());
        // Tampering with the claims breaks the signature for the independent verifier too.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&serde_json::json!({"sub": "admin"})).unwrap());
        parts[1] = &forged;
        let tampered = parts.join(".");
        let outcome =
            std::panic::catch_unwind(|| verify_independently(&keys, &tampered, &s.base, "https://api.example"));
        assert!(outcome.is_err(), "{alg}: tampered token verified");
    }
}

async fn key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_kid() {
    let s = TestServer::start().await;
    let old = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let old_kid = jwt_parts(&old).0["kid"].as_str().unwrap().to_owned();
    let (code, out, err) = s.cli(&["keys", "rotate", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let new_kid: Value = serde_json::from_str(&out).unwrap();
    let new_kid = new_kid["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let switched = eventually(Duration::from_secs(2), || async {
        let t = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
        jwt_parts(&t).0["kid"] == new_kid.as_str()
    })
    .await;
    assert!(switched, "the running server signs with the new key within 2 s");
    let new = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_parts(&new).0["kid"], new_kid.as_str());
    let keys = jwks(&s).await;
    let kids: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    verify_independently(&keys, &old, &s.base, "https://api.example");
    verify_independently(&keys, &new, &s.base, "https://api.example");
    assert_eq!(s.introspect_as_rs(&old).await["active"], true);
    assert_eq!(s.introspect_as_rs(&new).await["active"], true);
    let (_, list, _) = s.cli(&["keys", "list", "--json"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    let status = |kid: &str| list.as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["status"].clone();
    assert_eq!(status(&new_kid), "current");
    assert_eq!(status(&old_kid), "published");
}

both_backends!(
    every_signing_alg_verifies_with_an_independent_implementation,
    key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_kid,
);
