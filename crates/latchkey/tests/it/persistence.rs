//! Durability across restarts, and no secret at rest in plain text.

use serde_json::Value;

use crate::support::*;

async fn tokens_and_keys_survive_a_restart() {
    let mut s = TestServer::start().await;
    let mut opaque = Vec::new();
    for _ in 0..5 {
        opaque.push(s.post_token().await);
    }
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let jwks_before: Value = s.http.get(s.endpoint("jwks_uri").await).send().await.unwrap().json().await.unwrap();
    s.restart();
    for t in &opaque {
        assert_eq!(s.introspect_as_rs(t).await["active"], true, "{t}");
    }
    assert_eq!(s.introspect_as_rs(&jwt).await["active"], true);
    let jwks_after: Value = s.http.get(s.endpoint("jwks_uri").await).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks_before, jwks_after, "the signing key is persisted");
}

/// DER object identifiers of the private-key algorithms we use: a PKCS#8 private key
/// stored in clear would contain one of them.
const KEY_OIDS: &[&[u8]] = &[
    &[0x06, 0x03, 0x2b, 0x65, 0x70],                                     // Ed25519
    &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],             // id-ecPublicKey
    &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01], // rsaEncryption
];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

async fn no_token_secret_or_private_key_is_stored_in_plain_text() {
    let mut s = TestServer::start_with("", &[("LATCHKEY_TOKENS__SIGNING_ALG", "RS256")]).await;
    let mut needles: Vec<String> =
        vec![SVC_SECRET.into(), POST_SECRET.into(), RS_SECRET.into(), OTHER_SECRET.into(), SYSTEM_SECRET.into()];
    needles.push(s.post_token().await);
    needles.push(s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned());
    let (_, out, _) = s.cli(&["client", "create", "--id", "cli", "--grant-type", "client_credentials", "--json"]);
    needles.push(serde_json::from_str::<Value>(&out).unwrap()["client_secret"].as_str().unwrap().to_owned());
    // Passwords, authorization codes (redeemed and not) and refresh tokens.
    needles.push(ALICE_PASSWORD.into());
    needles.push(BOB_PASSWORD.into());
    let b = crate::user_flow::browser();
    let pending = crate::user_flow::approve(&s, &b, "profile", "alice", ALICE_PASSWORD).await;
    needles.push(crate::user_flow::query_param(&pending, "code").unwrap());
    let b = crate::user_flow::browser();
    let redeemed = crate::user_flow::approve(&s, &b, "profile", "alice", ALICE_PASSWORD).await;
    let code = crate::user_flow::query_param(&redeemed, "code").unwrap();
    let (_, tokens) = crate::user_flow::exchange(&s, &code, Some(crate::user_flow::VERIFIER)).await;
    needles.push(code);
    needles.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    needles.push(tokens["access_token"].as_str().unwrap().to_owned());
    let form = [("grant_type", "password"), ("username", "bob"), ("password", BOB_PASSWORD)];
    let (_, _, pw) = s.post_form("token_endpoint", Some(("pw", APP_SECRET)), &form).await;
    needles.push(pw["refresh_token"].as_str().unwrap().to_owned());
    let (_, out, _) = s.cli(&["client", "rotate-secret", "post", "--json"]);
    needles.push(serde_json::from_str::<Value>(&out).unwrap()["client_secret"].as_str().unwrap().to_owned());
    assert_eq!(s.cli(&["keys", "rotate"]).0, 0);
    assert!(s.stop().success());

    // Every column of every table.
    let db = s.db().await;
    let cells = db.cells().await;
    db.close().await;
    assert!(cells.len() > 50, "scanned {} cells", cells.len());
    for (table, column, bytes) in &cells {
        for n in &needles {
            assert!(!contains(bytes, n.as_bytes()), "{table}.{column} holds a secret");
        }
        for oid in KEY_OIDS {
            assert!(!contains(bytes, oid), "{table}.{column} holds a private key");
        }
        assert!(!contains(bytes, b"PRIVATE KEY"), "{table}.{column}");
    }

    // And, on SQLite, the raw files, including the WAL and any free pages.
    for entry in std::fs::read_dir(s.db_path().parent().unwrap()).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("latchkey.db") {
            let bytes = std::fs::read(&path).unwrap();
            for n in &needles {
                assert!(!contains(&bytes, n.as_bytes()), "{} holds a secret", path.display());
            }
        }
    }
    // Nor in the server's logs (which run at debug level in tests).
    let logs = s.logs();
    assert!(!logs.is_empty());
    for n in &needles {
        assert!(!logs.contains(n.as_str()), "a secret appears in the logs");
    }
}

both_backends!(tokens_and_keys_survive_a_restart, no_token_secret_or_private_key_is_stored_in_plain_text,);
