//! The source document's flow, end to end, against real processes: the OAuth Server
//! (`latchkey serve`), the Resource Server (`latchkey demo-api`) and the Business Client
//! (`latchkey token …`). Run once per validation mode.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const API: &str = "https://api.example";

/// `latchkey token …` as the Business Client; returns (exit code, stdout JSON).
fn token_cli(args: &[&str]) -> (i32, Value) {
    let out = Command::new(BIN).arg("token").args(args).output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

fn client_credentials(issuer: &str, client: &str, secret: &str, scope: &str, resource: &str) -> (i32, Value) {
    token_cli(&[
        "client-credentials",
        "--issuer",
        issuer,
        "--client-id",
        client,
        "--client-secret",
        secret,
        "--scope",
        scope,
        "--resource",
        resource,
    ])
}

async fn call(http: &reqwest::Client, method: &str, url: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut req = match method {
        "POST" => http.post(url).json(&json!({"name": "widget"})),
        _ => http.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let www = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, www, res.json().await.unwrap_or(Value::Null))
}

async fn as_metrics(s: &TestServer) -> String {
    s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap()
}

async fn flow(mode: &str, client: &str, short_client: &str) {
    let s = TestServer::start().await;
    let api = DemoApi::start(&s.base, mode, &["--audience", API, "--cache-ttl", "1s", "--jwks-min-refresh", "1s"]);
    let http = reqwest::Client::new();

    // 1. Request Access Token: the client sends its credentials to the OAuth Server.
    let (code, response) = client_credentials(&s.base, client, SVC_SECRET, "items:read items:write", API);
    // 2. Verify Client: the right secret is accepted; a wrong one is refused.
    assert_eq!(code, 0, "{response}");
    let (bad_code, bad) = client_credentials(&s.base, client, "wrong-secret-wrong", "items:read", API);
    assert_eq!((bad_code, bad["error"].as_str()), (1, Some("invalid_client")));
    // 3. User Consent: the client credentials grant acts for the client itself, so there
    //    is no user to ask; the subject is the client.
    // 4. Returns Access Token: type, expiry and scope.
    assert_eq!(response["token_type"], "Bearer");
    assert_eq!(response["expires_in"], 3600);
    assert_eq!(response["scope"], "items:read items:write");
    let token = response["access_token"].as_str().unwrap().to_owned();
    let before = as_metrics(&s).await;

    // 5. Request Resource with the token in the Authorization header.
    let (status, _, me) = call(&http, "GET", &format!("{}/api/whoami", api.base), Some(&token)).await;
    // 6. Validate Token: the Resource Server asked the OAuth Server (introspection, or
    //    the JWKS plus a revocation check through introspection).
    let after = as_metrics(&s).await;
    let introspections = |m: &str| metric(m, "latchkey_introspections_total{active=\"true\"}");
    assert_eq!(introspections(&after), introspections(&before) + 1, "one introspection for a new token");
    if mode == "jwt" {
        assert!(metric(&after, "latchkey_http_requests_total{route=\"/.well-known/jwks.json\",status=\"200\"}") >= 1);
    }
    // 7. Valid Token: the OAuth Server confirmed it; the API knows who is calling.
    assert_eq!(status, 200, "{me}");
    assert_eq!(me, json!({"sub": client, "client_id": client, "scope": "items:read items:write"}));
    // 8. Returns Resource.
    let (status, _, item) = call(&http, "POST", &format!("{}/api/items", api.base), Some(&token)).await;
    assert_eq!((status, &item["name"], &item["owner"]), (201, &json!("widget"), &json!(client)));
    let (status, _, items) = call(&http, "GET", &format!("{}/api/items", api.base), Some(&token)).await;
    assert_eq!((status, items), (200, json!([item])));

    // Error branch. No token: a bare challenge pointing to the resource metadata.
    let (status, www, _) = call(&http, "GET", &format!("{}/api/items", api.base), None).await;
    assert_eq!(status, 401);
    let metadata_url = format!("{}/.well-known/oauth-protected-resource", api.base);
    assert!(www.starts_with("Bearer realm=") && !www.contains("error="), "{www}");
    assert!(www.contains(&format!("resource_metadata=\"{metadata_url}\"")), "{www}");
    let metadata: Value = http.get(&metadata_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["resource"], api.base.as_str());
    assert_eq!(metadata["authorization_servers"], json!([s.base]));
    // Missing scope.
    let (_, read_only) = client_credentials(&s.base, client, SVC_SECRET, "items:read", API);
    let read_only = read_only["access_token"].as_str().unwrap().to_owned();
    let (status, www, body) = call(&http, "POST", &format!("{}/api/items", api.base), Some(&read_only)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("insufficient_scope")));
    assert!(www.contains("error=\"insufficient_scope\"") && www.contains("scope=\"items:write\""), "{www}");
    // A token for another audience.
    let (_, other) = client_credentials(&s.base, client, SVC_SECRET, "items:read", "https://other.example");
    let other = other["access_token"].as_str().unwrap().to_owned();
    let (status, www, _) = call(&http, "GET", &format!("{}/api/items", api.base), Some(&other)).await;
    assert_eq!(status, 401);
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    // A tampered JWT (both modes see JWTs from `svc`).
    let (_, jwt) = client_credentials(&s.base, "svc", SVC_SECRET, "items:read", API);
    let mut tampered = jwt["access_token"].as_str().unwrap().to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, www, _) = call(&http, "GET", &format!("{}/api/whoami", api.base), Some(&tampered)).await;
    assert_eq!(status, 401);
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    // An expired token (a client with a one-second TTL).
    at_start_of_second().await;
    let (_, short) = client_credentials(&s.base, short_client, SVC_SECRET, "items:read", API);
    let short = short["access_token"].as_str().unwrap().to_owned();
    let (status, _, _) = call(&http, "GET", &format!("{}/api/items", api.base), Some(&short)).await;
    assert_eq!(status, 200, "valid before it expires");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, www, _) = call(&http, "GET", &format!("{}/api/items", api.base), Some(&short)).await;
    assert_eq!(status, 401, "expired");
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    // A revoked token: refused within the documented cache bound (--cache-ttl 1s here).
    let (code, _) =
        token_cli(&["revoke", "--issuer", &s.base, "--client-id", client, "--client-secret", SVC_SECRET, &token]);
    assert_eq!(code, 0);
    let revoked_seen = eventually(Duration::from_millis(2500), || async {
        call(&http, "GET", &format!("{}/api/whoami", api.base), Some(&token)).await.0 == 401
    })
    .await;
    assert!(revoked_seen, "revocation visible at the resource server within the cache bound");
    // The OAuth Server goes away: a token the API has not seen gets 503, never 200.
    let (_, fresh) = client_credentials(&s.base, client, SVC_SECRET, "items:read", API);
    let fresh = fresh["access_token"].as_str().unwrap().to_owned();
    drop(s);
    let (status, _, body) = call(&http, "GET", &format!("{}/api/items", api.base), Some(&fresh)).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("temporarily_unavailable")));
}

async fn the_whole_flow_with_introspection() {
    flow("introspection", "svc-opaque", "short-opaque").await;
}

async fn the_whole_flow_with_local_jwt_validation() {
    flow("jwt", "svc", "short-jwt").await;
}

async fn a_third_party_oauth2_client_gets_a_token_and_calls_the_api() {
    use oauth2::basic::BasicClient;
    use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
    let s = TestServer::start().await;
    let api = DemoApi::start(&s.base, "introspection", &["--audience", API]);
    let client = BasicClient::new(ClientId::new("svc".into()))
        .set_client_secret(ClientSecret::new(SVC_SECRET.into()))
        .set_token_uri(TokenUrl::new(s.endpoint("token_endpoint").await).unwrap());
    let http = oauth2::reqwest::Client::builder().redirect(oauth2::reqwest::redirect::Policy::none()).build().unwrap();
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("items:read".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(token.token_type().as_ref(), "bearer");
    assert_eq!(token.scopes().unwrap()[0].as_str(), "items:read");
    assert!(token.expires_in().unwrap() > Duration::from_secs(3500));
    let (status, _, items) =
        call(&reqwest::Client::new(), "GET", &format!("{}/api/items", api.base), Some(token.access_token().secret()))
            .await;
    assert_eq!((status, items), (200, json!([])));
}

async fn concurrent_requests_with_one_new_token_cause_one_introspection() {
    let s = TestServer::start().await;
    let api = DemoApi::start(&s.base, "introspection", &["--audience", API]);
    let token = s.svc_token(&[("resource", API)]).await["access_token"].as_str().unwrap().to_owned();
    let before = metric(&as_metrics(&s).await, "latchkey_introspections_total{active=\"true\"}");
    let http = reqwest::Client::new();
    let url = format!("{}/api/whoami", api.base);
    let calls = (0..20).map(|_| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move { call(&http, "GET", &url, Some(&token)).await }
    });
    for (status, _, _) in futures_join_all(calls).await {
        assert_eq!(status, 200);
    }
    let after = metric(&as_metrics(&s).await, "latchkey_introspections_total{active=\"true\"}");
    assert_eq!(after - before, 1);
}

/// Await every future concurrently (tokio tasks; no extra dependency).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

both_backends!(
    the_whole_flow_with_introspection,
    the_whole_flow_with_local_jwt_validation,
    a_third_party_oauth2_client_gets_a_token_and_calls_the_api,
    concurrent_requests_with_one_new_token_cause_one_introspection,
);
