//! Real headless Chromium logs in, approves consent and lands on the client's redirect
//! URI with a code. Needs Debian's `chromium` and `npm install` in tests/browser (both
//! done by .ci/run); elsewhere the test says it was skipped and why, unless CI=true.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use latchkey_core::pkce::s256_challenge;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

const VERIFIER: &str = "browser-verifier-0123456789-0123456789-0123456789";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("browser")
}

/// Why the browser test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is missing (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !browser_dir().join("node_modules").join("playwright-core").exists() {
        return Some(format!("run `npm install` in {}", browser_dir().display()));
    }
    None
}

/// A client's redirect target: answers every request and reports the first request line.
async fn callback_listener() -> (String, tokio::sync::oneshot::Receiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
    tokio::spawn(async move {
        // One task per connection: browsers open speculative connections that stay idle.
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_owned();
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                if !head.is_empty()
                    && let Some(tx) = tx.lock().unwrap().take()
                {
                    let _ = tx.send(head);
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn chromium_logs_in_approves_and_lands_on_the_redirect_uri_with_a_code() {
    if let Some(why) = missing() {
        assert!(std::env::var("CI").map(|v| v != "true").unwrap_or(true), "CI=true needs the browser test: {why}");
        let _ = writeln!(std::io::stderr(), "skipped the browser test: {why}");
        return;
    }
    let s = TestServer::start().await;
    let (redirect, seen) = callback_listener().await;
    let q = [
        ("response_type", "code"),
        ("client_id", "native"),
        ("redirect_uri", redirect.as_str()),
        ("scope", "profile"),
        ("state", "browser-state"),
        ("code_challenge", &s256_challenge(VERIFIER)),
        ("code_challenge_method", "S256"),
    ];
    let query: Vec<String> =
        q.iter().map(|(k, v)| format!("{k}={}", latchkey_core::form::encode_component(v))).collect();
    let url = format!("{}/authorize?{}", s.base, query.join("&"));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consent-page.png");
    // Off the runtime thread: the callback listener must keep serving meanwhile.
    let shot_arg = shot.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(browser_dir())
            .args(["flow.mjs", &url, "alice", ALICE_PASSWORD])
            .arg(&shot_arg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let landed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(landed.starts_with(&format!("{redirect}?")), "{landed}");
    let code = crate::user_flow::query_param(&landed, "code").unwrap();
    assert_eq!(crate::user_flow::query_param(&landed, "state").as_deref(), Some("browser-state"));
    assert_eq!(crate::user_flow::query_param(&landed, "iss").as_deref(), Some(s.base.as_str()));
    let request_line = tokio::time::timeout(std::time::Duration::from_secs(5), seen).await.unwrap().unwrap();
    assert!(request_line.starts_with("GET /cb?code="), "{request_line}");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", "native"),
    ];
    let (status, _, tokens) = s.post_form("token_endpoint", None, &form).await;
    assert_eq!(status, 200, "{tokens}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 2000, "screenshot of the consent page");
    let _ = writeln!(std::io::stderr(), "consent page screenshot: {}", shot.display());
}
