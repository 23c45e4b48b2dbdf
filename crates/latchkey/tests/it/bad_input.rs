//! Malformed, oversized and hostile input gets the right 4xx, and the server keeps serving.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

const FORM: &str = "application/x-www-form-urlencoded";

async fn raw_post(s: &TestServer, auth: Option<String>, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let url = s.endpoint("token_endpoint").await;
    let mut req = s.http.post(url).header("Content-Type", content_type).body(body);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// Send raw bytes on a fresh connection and return the status code of the answer.
async fn raw_http(s: &TestServer, request: &[u8]) -> u16 {
    let addr = s.base.strip_prefix("http://").unwrap();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before the whole request is written.
    let _ = conn.write_all(request).await;
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while n < 12 {
        match conn.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {head:?}"))
}

fn svc() -> Option<String> {
    Some(basic_header("svc", SVC_SECRET))
}

async fn oversized_bodies_get_413_with_or_without_content_length() {
    let s = TestServer::start().await;
    // A declared length over the limit is refused before any of the body is read. Only
    // the head is sent: a client still writing a megabyte when the server answers and
    // closes gets a broken pipe instead of the answer (reqwest did, now and then).
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        svc().unwrap(),
        1024 * 1024
    );
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), raw_http(&s, head.as_bytes())).await;
    assert_eq!(answer.expect("answered without waiting for the body"), 413);

    let mut chunked =
        format!("POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n")
            .into_bytes();
    for _ in 0..80 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend(std::iter::repeat_n(b'a', 0x400));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw_http(&s, &chunked).await, 413);
    s.svc_token(&[]).await;
}

async fn malformed_encodings_and_repeats_are_invalid_request() {
    let s = TestServer::start().await;
    let cases: &[(&str, &[u8])] = &[
        ("bad escape", b"grant_type=client_credentials&scope=%zz"),
        ("truncated escape", b"grant_type=client_credentials&scope=%4"),
        ("non-UTF-8 escape", b"grant_type=client_credentials&scope=%ff%fe"),
        ("non-UTF-8 byte", b"grant_type=client_credentials&scope=\xff"),
        ("repeated parameter", b"grant_type=client_credentials&grant_type=client_credentials"),
    ];
    for (name, body) in cases {
        let (status, json) = raw_post(&s, svc(), FORM, body.to_vec()).await;
        assert_eq!((status, json["error"].as_str()), (400, Some("invalid_request")), "{name}: {json}");
    }
    let many = "a=1&".repeat(10_000);
    let (status, json) = raw_post(&s, svc(), FORM, many.into_bytes()).await;
    assert_eq!((status, json["error"].as_str()), (400, Some("invalid_request")), "10,000 pairs");
    s.svc_token(&[]).await;
}

async fn huge_and_hostile_credentials_are_refused_cleanly() {
    let s = TestServer::start().await;
    let clients = |s: &TestServer| {
        let (_, out, _) = s.cli(&["client", "list", "--json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let before = clients(&s);
    assert!(before.as_array().unwrap().len() >= 6);
    let long_id = "a".repeat(10 * 1024);
    let body = format!("grant_type=client_credentials&client_id={long_id}&client_secret=whatever-whatever");
    let (status, json) = raw_post(&s, None, FORM, body.into_bytes()).await;
    assert_eq!((status, json["error"].as_str()), (401, Some("invalid_client")));
    let (status, json) = raw_post(
        &s,
        Some(basic_header(&long_id, "whatever-whatever")),
        FORM,
        b"grant_type=client_credentials".to_vec(),
    )
    .await;
    assert_eq!((status, json["error"].as_str()), (401, Some("invalid_client")));
    // A 100 KB Authorization header is refused by the HTTP layer or by us, never a 5xx.
    let huge = format!(
        "POST /token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Type: {FORM}\r\nContent-Length: 0\r\n\r\n",
        "A".repeat(100 * 1024)
    );
    let status = raw_http(&s, huge.as_bytes()).await;
    assert!((400..500).contains(&status), "{status}");
    for (name, auth, body) in [
        ("Basic garbage", Some("Basic !!!!".to_string()), "grant_type=client_credentials"),
        ("Bearer at token endpoint", Some("Bearer abc".to_string()), "grant_type=client_credentials"),
        ("SQL in client_id", Some(basic_header("' OR '1'='1", "x' OR '1'='1")), "grant_type=client_credentials"),
    ] {
        let (status, json) = raw_post(&s, auth, FORM, body.as_bytes().to_vec()).await;
        assert_eq!((status, json["error"].as_str()), (401, Some("invalid_client")), "{name}");
    }
    let sql = "grant_type=client_credentials&scope=%27%3B+DROP+TABLE+clients%3B--";
    let (status, json) = raw_post(&s, svc(), FORM, sql.as_bytes().to_vec()).await;
    assert_eq!((status, json["error"].as_str()), (400, Some("invalid_scope")));
    let sql = "grant_type=client_credentials&resource=https%3A%2F%2Fx%27%3B+DROP+TABLE+clients%3B--";
    let (status, json) = raw_post(&s, svc(), FORM, sql.as_bytes().to_vec()).await;
    assert_eq!((status, json["error"].as_str()), (400, Some("invalid_target")));
    let (status, _, json) =
        s.post_form("introspection_endpoint", Some(("rs", RS_SECRET)), &[("token", "lk_at_' OR 1=1; --")]).await;
    assert_eq!((status, json), (200, serde_json::json!({"active": false})));
    // Still serving, and nothing was dropped.
    s.svc_token(&[]).await;
    assert_eq!(clients(&s), before);
}

both_backends!(
    oversized_bodies_get_413_with_or_without_content_length,
    malformed_encodings_and_repeats_are_invalid_request,
    huge_and_hostile_credentials_are_refused_cleanly,
);
