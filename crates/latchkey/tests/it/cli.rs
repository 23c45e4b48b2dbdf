//! The admin CLI on a running server's database, configuration errors, and shutdown.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

async fn token_status(s: &TestServer, id: &str, secret: &str) -> u16 {
    s.post_form("token_endpoint", Some((id, secret)), &[("grant_type", "client_credentials")]).await.0
}

async fn a_created_client_works_on_the_running_server_and_is_never_shown_with_its_secret() {
    let s = TestServer::start().await;
    let (code, out, err) = s.cli(&[
        "client",
        "create",
        "--id",
        "new",
        "--grant-type",
        "client_credentials",
        "--scope",
        "x:read",
        "--token-format",
        "opaque",
        "--audience",
        "https://api.example",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "256-bit generated secret");
    assert!(eventually(Duration::from_secs(2), || async { token_status(&s, "new", &secret).await == 200 }).await);
    let (_, _, body) =
        s.post_form("token_endpoint", Some(("new", &secret)), &[("grant_type", "client_credentials")]).await;
    assert!(body["access_token"].as_str().unwrap().starts_with("lk_at_"));
    for args in [
        &["client", "list", "--json"][..],
        &["client", "show", "new", "--json"],
        &["client", "list"],
        &["client", "show", "new"],
    ] {
        let (code, out, _) = s.cli(args);
        assert_eq!(code, 0);
        assert!(out.contains("new") && !out.contains(&secret), "{args:?} printed a secret");
    }
    let (_, shown, _) = s.cli(&["client", "show", "new", "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["scopes"], json!(["x:read"]));
    assert_eq!(shown["access_token_format"], "opaque");
    assert!(shown.get("client_secret").is_none());
    let (code, _, _) = s.cli(&["client", "create", "--id", "new", "--grant-type", "client_credentials"]);
    assert_ne!(code, 0, "duplicate id refused");
}

async fn rotating_a_secret_retires_the_old_one_within_two_seconds() {
    let s = TestServer::start().await;
    assert_eq!(token_status(&s, "svc", SVC_SECRET).await, 200);
    let (code, out, _) = s.cli(&["client", "rotate-secret", "svc", "--json"]);
    assert_eq!(code, 0);
    let new_secret = serde_json::from_str::<Value>(&out).unwrap()["client_secret"].as_str().unwrap().to_owned();
    assert!(eventually(Duration::from_secs(2), || async { token_status(&s, "svc", SVC_SECRET).await == 401 }).await);
    assert_eq!(token_status(&s, "svc", &new_secret).await, 200);
}

async fn deleting_a_client_makes_its_tokens_inactive_in_both_formats() {
    let s = TestServer::start().await;
    let jwt = s.svc_token(&[]).await["access_token"].as_str().unwrap().to_owned();
    let opaque = s.post_token().await;
    for id in ["svc", "post"] {
        let (code, out, _) = s.cli(&["client", "delete", id, "--json"]);
        assert_eq!(code, 0);
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["deleted"], true);
    }
    for t in [&jwt, &opaque] {
        let gone =
            eventually(Duration::from_secs(2), || async { s.introspect_as_rs(t).await == json!({"active": false}) })
                .await;
        assert!(gone, "{t}");
    }
    assert_eq!(token_status(&s, "svc", SVC_SECRET).await, 401);
    assert_eq!(s.cli(&["client", "delete", "svc"]).0, 1, "deleting twice reports not found");
}

async fn environment_overrides_the_file() {
    let s = TestServer::start_with("", &[("LATCHKEY_TOKENS__ACCESS_TOKEN_TTL", "5m")]).await;
    assert_eq!(s.svc_token(&[]).await["expires_in"], 300);
}

fn run_with_config(toml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .current_dir(dir.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn configuration_errors_name_the_key_and_exit_2() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("surprise = true\n", &[], "surprise"),
        ("[tokens]\naccess_token_ttl = \"soon\"\n", &[], "tokens.access_token_ttl"),
        ("[tokens]\nsigning_alg = \"none\"\n", &[], "tokens.signing_alg"),
        (
            "listen = \"127.0.0.1:0\"\n",
            &[("LATCHKEY_TOKENS__ACCESS_TOKEN_FORMAT", "paseto")],
            "tokens.access_token_format",
        ),
        ("database = \"sqlite:///dev/null/nope/x.db\"\nlisten = \"127.0.0.1:0\"\n", &[], "database"),
        ("database = \"mysql://x\"\n", &[], "database"),
        ("this is not toml", &[], "configuration error"),
    ];
    for (toml, env, needle) in cases {
        let (code, stderr) = run_with_config(toml, env);
        assert_eq!(code, 2, "{toml}: {stderr}");
        assert!(stderr.contains(needle), "{toml}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

async fn sigterm_drains_and_exits_zero() {
    let mut s = TestServer::start().await;
    s.svc_token(&[]).await;
    assert!(s.stop().success());
}

#[tokio::test]
async fn serve_with_no_configuration_creates_its_data_folder() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // The defaults, except the port: 8080 may be taken on a shared machine.
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let meta: Value =
        reqwest::get(format!("{base}/.well-known/oauth-authorization-server")).await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], base.as_str());
    let data = dir.path().join("latchkey-data");
    assert!(data.join("latchkey.db").is_file());
    assert!(data.join("latchkey.db-wal").is_file(), "WAL mode");
    let mode = std::fs::metadata(data.join("system-secret")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the generated system secret is readable only by its owner");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(child.wait().unwrap().success());
}

both_backends!(
    a_created_client_works_on_the_running_server_and_is_never_shown_with_its_secret,
    rotating_a_secret_retires_the_old_one_within_two_seconds,
    deleting_a_client_makes_its_tokens_inactive_in_both_formats,
    environment_overrides_the_file,
    sigterm_drains_and_exits_zero,
);
