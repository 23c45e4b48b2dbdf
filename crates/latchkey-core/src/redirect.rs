//! Redirect URI matching (RFC 9700 §4.1.3, RFC 8252 §7.3).

/// The registered URI that `requested` matches, if any: byte-for-byte equality, except
/// that for a registered `http` loopback IP literal (`127.0.0.1` or `[::1]`) the port
/// may differ (native apps bind an ephemeral port). `localhost` gets no exception
/// (RFC 8252 §8.3: it may resolve elsewhere).
pub fn match_redirect_uri<'a>(registered: &'a [String], requested: &str) -> Option<&'a str> {
    registered.iter().map(String::as_str).find(|r| *r == requested || same_loopback_but_port(r, requested))
}

fn same_loopback_but_port(registered: &str, requested: &str) -> bool {
    match (strip_loopback_port(registered), strip_loopback_port(requested)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `http://127.0.0.1[:port]rest` → `(host, rest)`; `None` unless a loopback IP literal
/// with a well-formed port.
fn strip_loopback_port(uri: &str) -> Option<(&'static str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let (host, after) = if let Some(r) = rest.strip_prefix("127.0.0.1") {
        ("127.0.0.1", r)
    } else if let Some(r) = rest.strip_prefix("[::1]") {
        ("[::1]", r)
    } else {
        return None;
    };
    let path = match after.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            &p[digits..]
        }
        None => after,
    };
    // The host must end here: `127.0.0.1.evil.example` or `127.0.0.1@evil` are other hosts.
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return None;
    }
    Some((host, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Vec<String> {
        vec!["https://app.example/cb".into(), "http://127.0.0.1:7777/cb".into(), "http://localhost:8000/cb".into()]
    }

    #[test]
    fn exact_match_only() {
        assert_eq!(match_redirect_uri(&reg(), "https://app.example/cb"), Some("https://app.example/cb"));
        for near_miss in [
            "https://app.example/cb/",
            "https://APP.example/cb",
            "https://app.example/CB",
            "https://app.example/cb?x=1",
            "https://app.example/cb#f",
            "https://app.example/cb/../x",
            "https://app.example/%2e%2e/cb",
            "http://app.example/cb",
            "https://app.example.evil/cb",
            "https://app.example@evil.example/cb",
            "https://evil.example/cb",
            "https://app.example:443/cb",
            "https://xn--pp-8ka.example/cb",
            "https://app.example/c",
            "https://app.example/cbx",
        ] {
            assert_eq!(match_redirect_uri(&reg(), near_miss), None, "{near_miss}");
        }
    }

    #[test]
    fn loopback_ip_literals_may_change_port_but_not_localhost() {
        assert!(match_redirect_uri(&reg(), "http://127.0.0.1:51234/cb").is_some());
        assert!(match_redirect_uri(&reg(), "http://127.0.0.1/cb").is_some());
        assert!(match_redirect_uri(&reg(), "http://127.0.0.1:7777/other").is_none());
        assert!(match_redirect_uri(&reg(), "http://127.0.0.1:7777@evil.example/cb").is_none());
        assert!(match_redirect_uri(&reg(), "http://127.0.0.1.evil.example:7777/cb").is_none());
        assert!(match_redirect_uri(&reg(), "https://127.0.0.1:7777/cb").is_none());
        assert!(match_redirect_uri(&reg(), "http://localhost:9999/cb").is_none(), "no port exception for localhost");
        assert!(match_redirect_uri(&reg(), "http://localhost:8000/cb").is_some());
        let v6 = vec!["http://[::1]:1/cb".to_string()];
        assert!(match_redirect_uri(&v6, "http://[::1]:2/cb").is_some());
        assert!(match_redirect_uri(&v6, "http://[::2]:1/cb").is_none());
    }
}
