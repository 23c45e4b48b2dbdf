//! Users: the authorization code flow over HTTP (login form, consent form, redirect,
//! code exchange, refresh, rotation, reuse detection), every RFC 9700 rule around it,
//! and the password grant.

use std::time::Duration;

use latchkey_core::pkce::s256_challenge;
use serde_json::{Value, json};

use crate::support::*;

const CB: &str = "https://app.example/cb";
pub const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-abcdef";

/// A browser: keeps cookies, never follows redirects (we read `Location`).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no hidden {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| latchkey_core::form::decode(v).unwrap())
    })
}

struct Page {
    status: u16,
    location: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn get(b: &reqwest::Client, url: &str) -> Page {
    page(b.get(url).send().await.unwrap()).await
}

async fn post(b: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Page {
    page(b.post(url).form(form).send().await.unwrap()).await
}

async fn page(res: reqwest::Response) -> Page {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let location = headers.get("location").map(|v| v.to_str().unwrap().to_owned());
    Page { status, location, headers, body: res.text().await.unwrap() }
}

fn authorize_url(s: &TestServer, client: &str, extra: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, String)> = vec![("response_type", "code".into()), ("client_id", client.into())];
    for (k, v) in extra {
        params.push((k, v.to_string()));
    }
    let q: Vec<String> =
        params.iter().map(|(k, v)| format!("{k}={}", latchkey_core::form::encode_component(v))).collect();
    format!("{}/authorize?{}", s.base, q.join("&"))
}

fn app_params(scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("redirect_uri", CB.into()),
        ("scope", scope.into()),
        ("state", "st-123".into()),
        ("code_challenge", s256_challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Log in on a login page and follow to the next page.
async fn login(s: &TestServer, b: &reqwest::Client, login_page: &Page, user: &str, password: &str) -> Page {
    assert_eq!(login_page.status, 200, "{}", login_page.body);
    assert!(login_page.body.contains("name=\"username\"") && login_page.body.contains("name=\"password\""));
    let form = [
        ("csrf_token", hidden(&login_page.body, "csrf_token")),
        ("request", hidden(&login_page.body, "request")),
        ("username", user.into()),
        ("password", password.into()),
    ];
    let after = post(b, &format!("{}/authorize/login", s.base), &as_refs(&form)).await;
    assert_eq!(after.status, 303, "login: {}", after.body);
    get(b, &format!("{}{}", s.base, after.location.unwrap())).await
}

async fn decide(s: &TestServer, b: &reqwest::Client, consent_page: &Page, decision: &str) -> Page {
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    let form = [
        ("csrf_token", hidden(&consent_page.body, "csrf_token")),
        ("request", hidden(&consent_page.body, "request")),
        ("decision", decision.into()),
    ];
    post(b, &format!("{}/authorize/consent", s.base), &as_refs(&form)).await
}

/// The whole browser part for `app`: returns the redirect back to the client.
pub async fn approve(s: &TestServer, b: &reqwest::Client, scope: &str, user: &str, password: &str) -> String {
    let first = get(b, &authorize_url(s, "app", &as_refs(&app_params(scope)))).await;
    let consent = login(s, b, &first, user, password).await;
    if consent.status == 303 {
        // Consent remembered from an earlier run: straight back to the client.
        return consent.location.unwrap();
    }
    let done = decide(s, b, &consent, "approve").await;
    assert_eq!(done.status, 303, "{}", done.body);
    done.location.unwrap()
}

pub async fn exchange(s: &TestServer, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let (status, _, body) = s.post_form("token_endpoint", Some(("app", APP_SECRET)), &form).await;
    (status, body)
}

async fn refresh(s: &TestServer, token: &str, scope: Option<&str>) -> (u16, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    let (status, _, body) = s.post_form("token_endpoint", Some(("app", APP_SECRET)), &form).await;
    (status, body)
}

async fn the_code_flow_with_refresh_rotation_and_reuse_detection() {
    let s = TestServer::start().await;
    let b = browser();
    let first = get(&b, &authorize_url(&s, "app", &as_refs(&app_params("profile items:read")))).await;
    // Pages are not frameable and carry no referrer; the session cookie is HttpOnly, Lax.
    assert_eq!(first.headers["x-frame-options"], "DENY");
    assert!(first.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let cookie = first.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
    let consent = login(&s, &b, &first, "alice", ALICE_PASSWORD).await;
    assert!(consent.body.contains("Example App") && consent.body.contains("See your profile"), "{}", consent.body);
    assert!(consent.body.contains("Read your items") && consent.body.contains("value=\"deny\""));
    let done = decide(&s, &b, &consent, "approve").await;
    assert_eq!(done.status, 303);
    let location = done.location.unwrap();
    assert!(location.starts_with(CB), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&location, "iss").as_deref(), Some(s.base.as_str()), "RFC 9207");
    let code = query_param(&location, "code").unwrap();

    let (status, tokens) = exchange(&s, &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "items:read profile");
    let (access, r1) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
    assert!(r1.starts_with("lk_rt_"));
    let info = s.introspect_as_rs(access).await;
    assert_eq!((info["active"].as_bool(), info["username"].as_str()), (Some(true), Some("alice")));
    let sub = info["sub"].as_str().unwrap();
    assert!(sub.starts_with("usr_") && sub != "alice", "an opaque subject, not the username");
    assert_eq!(jwt_parts(access).1["sub"], sub);

    // Rotation: R1 → R2, narrowing allowed, widening refused.
    let (status, body) = refresh(&s, r1, Some("profile items:write")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    let (status, second) = refresh(&s, r1, Some("profile")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["scope"], "profile");
    let (a2, r2) = (second["access_token"].as_str().unwrap(), second["refresh_token"].as_str().unwrap());
    assert_ne!(r1, r2);
    // Replaying R1 is theft: invalid_grant, and the whole family dies.
    let (status, body) = refresh(&s, r1, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    for t in [access, a2, r2] {
        assert_eq!(s.introspect_as_rs(t).await, json!({"active": false}), "{t}");
    }
    assert_eq!(refresh(&s, r2, None).await.0, 400);
}

async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    for format in ["jwt", "opaque"] {
        let s = TestServer::start_with("", &[("LATCHKEY_TOKENS__ACCESS_TOKEN_FORMAT", format)]).await;
        let b = browser();
        let location = approve(&s, &b, "profile", "alice", ALICE_PASSWORD).await;
        let code = query_param(&location, "code").unwrap();
        let (status, first) = exchange(&s, &code, Some(VERIFIER)).await;
        assert_eq!(status, 200);
        let (status, second) = exchange(&s, &code, Some(VERIFIER)).await;
        assert_eq!((status, second["error"].as_str()), (400, Some("invalid_grant")));
        for t in [&first["access_token"], &first["refresh_token"]] {
            assert_eq!(s.introspect_as_rs(t.as_str().unwrap()).await["active"], false, "{format}");
        }
    }
}

async fn every_token_endpoint_binding_of_a_code_is_checked() {
    let s = TestServer::start().await;
    type Case<'a> = (&'a str, Option<&'a str>, Option<(&'a str, &'a str)>, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("wrong verifier", Some("wrong-verifier-0123456789-0123456789-0123456789"), None, Some(CB)),
        ("missing verifier", None, None, Some(CB)),
        ("redirect_uri mismatch", Some(VERIFIER), None, Some("http://127.0.0.1:7777/cb")),
        ("redirect_uri missing", Some(VERIFIER), None, None),
        ("another client", Some(VERIFIER), Some(("native", "")), Some(CB)),
    ];
    for (name, verifier, client, redirect) in cases {
        let b = browser();
        let location = approve(&s, &b, "profile", "bob", BOB_PASSWORD).await;
        let code = query_param(&location, "code").unwrap();
        let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str())];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        if let Some(r) = redirect {
            form.push(("redirect_uri", r));
        }
        let (status, body) = match client {
            Some((id, _)) => {
                form.push(("client_id", id));
                let (st, _, body) = s.post_form("token_endpoint", None, &form).await;
                (st, body)
            }
            None => {
                let (st, _, body) = s.post_form("token_endpoint", Some(("app", APP_SECRET)), &form).await;
                (st, body)
            }
        };
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{name}: {body}");
        // A refused attempt does not spend the code: its own client still redeems it, once.
        let (status, body) = exchange(&s, &code, Some(VERIFIER)).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(exchange(&s, &code, Some(VERIFIER)).await.0, 400, "{name}: single use");
    }
}

async fn pkce_is_required_s256_only_and_cannot_be_downgraded() {
    let s = TestServer::start().await;
    let b = browser();
    let base = [("redirect_uri", CB), ("state", "s1"), ("scope", "profile")];
    for (name, extra) in [
        ("missing", vec![]),
        ("plain", vec![("code_challenge", "x".repeat(43)), ("code_challenge_method", "plain".into())]),
        ("no method", vec![("code_challenge", s256_challenge(VERIFIER))]),
    ] {
        let mut params: Vec<(&str, &str)> = base.to_vec();
        params.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let res = get(&b, &authorize_url(&s, "app", &params)).await;
        assert_eq!(res.status, 303, "{name}");
        let loc = res.location.unwrap();
        assert!(loc.starts_with(CB), "{name}: {loc}");
        assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"), "{name}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("s1"));
        assert_eq!(query_param(&loc, "iss").as_deref(), Some(s.base.as_str()));
    }
    // The first-party client is exempt from PKCE; a verifier for its code is a downgrade.
    let res = get(&b, &authorize_url(&s, "first-party", &[("redirect_uri", "https://first.example/cb")])).await;
    let done = login(&s, &b, &res, "alice", ALICE_PASSWORD).await;
    assert_eq!(done.status, 303, "skip_consent goes straight back: {}", done.body);
    let code = query_param(done.location.as_deref().unwrap(), "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://first.example/cb"),
        ("code_verifier", VERIFIER),
    ];
    let (status, _, body) = s.post_form("token_endpoint", Some(("first-party", APP_SECRET)), &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "RFC 9700 §4.8.2");
}

async fn bad_clients_and_redirect_uris_get_an_error_page_never_a_redirect() {
    let s = TestServer::start().await;
    let b = browser();
    let pkce = [("code_challenge", s256_challenge(VERIFIER)), ("code_challenge_method", "S256".into())];
    let near_misses = [
        "https://app.example/cb/",
        "https://app.example/CB",
        "https://APP.example/cb",
        "https://app.example/cb?x=1",
        "https://app.example/cb#frag",
        "https://app.example/cb/../x",
        "https://app.example/%2e%2e/cb",
        "https://app.example/c",
        "https://app.example/cbx",
        "http://app.example/cb",
        "https://app.example.evil.example/cb",
        "https://app.example@evil.example/cb",
        "https://evil.example/cb",
        "http://127.0.0.1:7777@evil.example/cb",
        "http://localhost:7777/cb",
        "https://xn--pp-8ka.example/cb",
    ];
    for uri in near_misses {
        let mut params = vec![("redirect_uri", uri)];
        params.extend(pkce.iter().map(|(k, v)| (*k, v.as_str())));
        let res = get(&b, &authorize_url(&s, "app", &params)).await;
        assert_eq!(res.status, 400, "{uri}");
        assert!(res.location.is_none(), "{uri} must not redirect");
        assert!(res.body.contains("<html") && res.headers["x-frame-options"] == "DENY", "{uri}");
    }
    let res = get(&b, &authorize_url(&s, "nobody", &[("redirect_uri", CB)])).await;
    assert_eq!((res.status, res.location.is_none()), (400, true), "unknown client");
    // Loopback IP literals may use any port (RFC 8252 §7.3).
    let mut params = vec![("redirect_uri", "http://127.0.0.1:51999/cb")];
    params.extend(pkce.iter().map(|(k, v)| (*k, v.as_str())));
    let res = get(&b, &authorize_url(&s, "native", &params)).await;
    assert_eq!(res.status, 200, "login page for a loopback redirect on another port");
}

async fn a_public_native_client_completes_the_flow_with_pkce_and_no_secret() {
    let s = TestServer::start().await;
    let b = browser();
    let redirect = "http://127.0.0.1:51999/cb";
    let params = [
        ("redirect_uri", redirect.to_owned()),
        ("code_challenge", s256_challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ];
    let first = get(&b, &authorize_url(&s, "native", &as_refs(&params))).await;
    let consent = login(&s, &b, &first, "bob", BOB_PASSWORD).await;
    let done = decide(&s, &b, &consent, "approve").await;
    let loc = done.location.unwrap();
    assert!(loc.starts_with(redirect), "{loc}");
    let code = query_param(&loc, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
        ("client_id", "native"),
    ];
    let (status, _, tokens) = s.post_form("token_endpoint", None, &form).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].as_str().unwrap().starts_with("lk_at_"));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", "native"),
    ];
    let (status, _, _) = s.post_form("token_endpoint", None, &form).await;
    assert_eq!(status, 200, "public clients rotate refresh tokens too");
}

async fn csrf_origin_replay_and_deny() {
    let s = TestServer::start().await;
    let b = browser();
    let first = get(&b, &authorize_url(&s, "app", &as_refs(&app_params("profile")))).await;
    let consent = login(&s, &b, &first, "alice", ALICE_PASSWORD).await;
    let request = hidden(&consent.body, "request");
    let csrf = hidden(&consent.body, "csrf_token");
    let url = format!("{}/authorize/consent", s.base);
    // Missing or wrong CSRF token.
    for token in ["", "forged-token"] {
        let res = post(&b, &url, &[("csrf_token", token), ("request", &request), ("decision", "approve")]).await;
        assert_eq!(res.status, 403, "csrf {token:?}");
    }
    // Another session (another browser) with the right token.
    let other = browser();
    let res = post(&other, &url, &[("csrf_token", &csrf), ("request", &request), ("decision", "approve")]).await;
    assert_eq!(res.status, 403, "another session");
    // A foreign Origin.
    let res = page(
        b.post(&url)
            .header("Origin", "https://evil.example")
            .form(&[("csrf_token", csrf.as_str()), ("request", &request), ("decision", "approve")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, 403, "foreign origin");
    // Deny: access_denied back to the client, with state and iss.
    let res = post(&b, &url, &[("csrf_token", &csrf), ("request", &request), ("decision", "deny")]).await;
    assert_eq!(res.status, 303);
    let loc = res.location.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(s.base.as_str()));
    // Replaying the (consumed) consent form.
    let res = post(&b, &url, &[("csrf_token", &csrf), ("request", &request), ("decision", "approve")]).await;
    assert_eq!(res.status, 400, "replay");
    assert!(res.location.is_none());
}

async fn a_failed_login_shows_the_form_again_with_401() {
    let s = TestServer::start().await;
    let b = browser();
    let first = get(&b, &authorize_url(&s, "app", &as_refs(&app_params("profile")))).await;
    let form = [
        ("csrf_token", hidden(&first.body, "csrf_token")),
        ("request", hidden(&first.body, "request")),
        ("username", "alice".into()),
        ("password", "wrong-password".into()),
    ];
    let res = post(&b, &format!("{}/authorize/login", s.base), &as_refs(&form)).await;
    assert_eq!(res.status, 401);
    assert!(res.location.is_none());
    assert!(res.body.contains("incorrect") && res.body.contains("name=\"password\""));
    let form = [
        ("request", hidden(&first.body, "request")),
        ("username", "alice".into()),
        ("password", ALICE_PASSWORD.into()),
    ];
    let res = post(&b, &format!("{}/authorize/login", s.base), &as_refs(&form)).await;
    assert_eq!(res.status, 403, "login without its CSRF token");
}

async fn consent_is_remembered_prompt_forces_pages_and_revoking_it_revokes_tokens() {
    let s = TestServer::start().await;
    let b = browser();
    let location = approve(&s, &b, "profile items:read", "alice", ALICE_PASSWORD).await;
    let (_, tokens) = exchange(&s, &query_param(&location, "code").unwrap(), Some(VERIFIER)).await;
    // A subset of the consented scopes: no login (session) and no consent page.
    let again = get(&b, &authorize_url(&s, "app", &as_refs(&app_params("profile")))).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(query_param(again.location.as_deref().unwrap(), "code").is_some());
    // More scope than consented: the page again.
    let wider = get(&b, &authorize_url(&s, "app", &as_refs(&app_params("profile items:write")))).await;
    assert!(wider.status == 200 && wider.body.contains("value=\"approve\""));
    // prompt=consent and prompt=login force their pages.
    let mut p = app_params("profile");
    p.push(("prompt", "consent".into()));
    let forced = get(&b, &authorize_url(&s, "app", &as_refs(&p))).await;
    assert!(forced.status == 200 && forced.body.contains("value=\"approve\""));
    let mut p = app_params("profile");
    p.push(("prompt", "login".into()));
    let forced = get(&b, &authorize_url(&s, "app", &as_refs(&p))).await;
    assert!(forced.status == 200 && forced.body.contains("name=\"password\""));
    // The CLI lists and revokes; the tokens issued under it die.
    let (code, out, _) = s.cli(&["consent", "list", "--user", "alice", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()[0]["client_id"], "app");
    assert_eq!(s.cli(&["consent", "revoke", "--user", "alice", "--client", "app"]).0, 0);
    for t in ["access_token", "refresh_token"] {
        assert_eq!(s.introspect_as_rs(tokens[t].as_str().unwrap()).await["active"], false, "{t}");
    }
    let asked = get(&b, &authorize_url(&s, "app", &as_refs(&app_params("profile")))).await;
    assert!(asked.status == 200 && asked.body.contains("value=\"approve\""), "consent asked again");
}

async fn twenty_concurrent_refreshes_have_exactly_one_winner_and_no_5xx() {
    let s = TestServer::start().await;
    let b = browser();
    let location = approve(&s, &b, "profile", "alice", ALICE_PASSWORD).await;
    let (_, tokens) = exchange(&s, &query_param(&location, "code").unwrap(), Some(VERIFIER)).await;
    let r1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    let url = s.endpoint("token_endpoint").await;
    let results = race(&[url], &[("grant_type", "refresh_token"), ("refresh_token", r1.as_str())], 20).await;
    let ok: Vec<&Value> = results.iter().filter(|(st, _)| *st == 200).map(|(_, b)| b).collect();
    assert_eq!(ok.len(), 1, "exactly one winner: {results:?}");
    assert!(results.iter().all(|(st, b)| *st == 200 || (*st == 400 && b["error"] == "invalid_grant")), "{results:?}");
    // The losers presented an already-rotated token: the documented outcome is that the
    // family is revoked, the winner's new tokens included (reuse cannot be told from theft).
    let winner = ok[0];
    assert_eq!(s.introspect_as_rs(winner["refresh_token"].as_str().unwrap()).await["active"], false);
}

async fn the_password_grant_and_its_brute_force_throttle() {
    let s = TestServer::start().await;
    let pw = |user: &'static str, password: &'static str| {
        let s = &s;
        async move {
            let form = [("grant_type", "password"), ("username", user), ("password", password), ("scope", "profile")];
            s.post_form("token_endpoint", Some(("pw", APP_SECRET)), &form).await
        }
    };
    let (status, _, ok) = pw("alice", ALICE_PASSWORD).await;
    assert_eq!(status, 200, "{ok}");
    assert!(ok["refresh_token"].is_string());
    assert_eq!(s.introspect_as_rs(ok["access_token"].as_str().unwrap()).await["username"], "alice");
    // Unknown user and wrong password: the same answer.
    let (_, _, unknown) = pw("mallory", "whatever-password").await;
    let (_, _, wrong) = pw("bob", "whatever-password").await;
    assert_eq!(unknown, wrong);
    assert_eq!(wrong["error"], "invalid_grant");
    let mut throttled = 0;
    let mut retry_after = None;
    for _ in 0..50 {
        let (status, headers, body) = pw("alice", "wrong-password-0").await;
        match status {
            400 => assert_eq!(body["error"], "invalid_grant"),
            429 => {
                throttled += 1;
                retry_after = headers.get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(throttled >= 45, "{throttled} of 50 throttled");
    assert!(retry_after.is_some_and(|r| r.parse::<u64>().unwrap() > 0));
    let (status, _, _) = pw("alice", ALICE_PASSWORD).await;
    assert_eq!(status, 429, "the right password is refused while throttled");
    let (status, _, body) = pw("bob", BOB_PASSWORD).await;
    assert_eq!(status, 200, "another user is not locked out: {body}");
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metric(&metrics, "latchkey_login_failures_total") >= 50);
}

async fn refresh_tokens_introspect_and_revoking_one_revokes_its_family() {
    let s = TestServer::start().await;
    let form = [("grant_type", "password"), ("username", "alice"), ("password", ALICE_PASSWORD)];
    let (_, _, tokens) = s.post_form("token_endpoint", Some(("pw", APP_SECRET)), &form).await;
    let (access, refresh) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
    let info = s.introspect_as_rs(refresh).await;
    assert_eq!(
        (info["active"].as_bool(), info["token_type"].as_str(), info["username"].as_str(), info["client_id"].as_str()),
        (Some(true), Some("refresh_token"), Some("alice"), Some("pw"))
    );
    // Another client cannot revoke it; its own client can, and that kills the access token too.
    s.post_form("revocation_endpoint", Some(("app", APP_SECRET)), &[("token", refresh)]).await;
    assert_eq!(s.introspect_as_rs(refresh).await["active"], true);
    let (status, _, _) = s
        .post_form(
            "revocation_endpoint",
            Some(("pw", APP_SECRET)),
            &[("token", refresh), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.introspect_as_rs(refresh).await, json!({"active": false}));
    assert_eq!(s.introspect_as_rs(access).await, json!({"active": false}), "RFC 7009 §2.1: the family goes");
}

async fn deleting_a_user_makes_their_tokens_inactive() {
    let s = TestServer::start().await;
    let form = [("grant_type", "password"), ("username", "bob"), ("password", BOB_PASSWORD)];
    let (_, _, tokens) = s.post_form("token_endpoint", Some(("pw", APP_SECRET)), &form).await;
    // Two codes of bob's (each login in a browser of its own): one redeemed before the
    // deletion, for its refresh token, one kept.
    let mut codes = Vec::new();
    for _ in 0..2 {
        let location = approve(&s, &browser(), "profile", "bob", BOB_PASSWORD).await;
        codes.push(query_param(&location, "code").unwrap());
    }
    let (_, first) = exchange(&s, &codes[0], Some(VERIFIER)).await;
    let (code, _, err) = s.cli(&["user", "delete", "bob"]);
    assert_eq!(code, 0, "{err}");
    for t in ["access_token", "refresh_token"] {
        assert_eq!(s.introspect_as_rs(tokens[t].as_str().unwrap()).await, json!({"active": false}), "{t}");
    }
    // Neither a code issued before the deletion nor a refresh token gets new tokens.
    let (status, body) = exchange(&s, &codes[1], Some(VERIFIER)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, body) = refresh(&s, first["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (_, out, _) = s.cli(&["user", "list", "--json"]);
    let names: Vec<String> = serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].to_string())
        .collect();
    assert!(!names.iter().any(|n| n.contains("bob")));
    tokio::time::sleep(Duration::from_millis(1)).await;
}

both_backends!(
    the_code_flow_with_refresh_rotation_and_reuse_detection,
    a_replayed_code_fails_and_revokes_what_it_issued,
    every_token_endpoint_binding_of_a_code_is_checked,
    pkce_is_required_s256_only_and_cannot_be_downgraded,
    bad_clients_and_redirect_uris_get_an_error_page_never_a_redirect,
    a_public_native_client_completes_the_flow_with_pkce_and_no_secret,
    csrf_origin_replay_and_deny,
    a_failed_login_shows_the_form_again_with_401,
    consent_is_remembered_prompt_forces_pages_and_revoking_it_revokes_tokens,
    twenty_concurrent_refreshes_have_exactly_one_winner_and_no_5xx,
    the_password_grant_and_its_brute_force_throttle,
    deleting_a_user_makes_their_tokens_inactive,
    refresh_tokens_introspect_and_revoking_one_revokes_its_family,
);
