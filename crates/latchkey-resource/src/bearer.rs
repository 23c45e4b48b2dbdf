//! Finding the bearer token in a request (RFC 6750 §2).

use axum::http::{HeaderMap, Uri, header};

use crate::AuthError;

/// Longest token accepted before any work is done.
const MAX_TOKEN_LEN: usize = 8192;

/// The bearer token of a request, or the RFC 6750 §3.1 error: no token (401 without an
/// error code), a malformed header or a token sent twice (`invalid_request`).
pub fn extract_bearer(headers: &HeaderMap, uri: &Uri, allow_query: bool) -> Result<String, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let header_token = match (values.next(), values.next()) {
        (Some(_), Some(_)) => return Err(AuthError::InvalidRequest("more than one Authorization header".into())),
        (Some(v), None) => parse_authorization(v.as_bytes())?,
        (None, _) => None,
    };
    let query_token = query_access_token(uri);
    match (header_token, query_token) {
        (Some(_), Some(_)) => Err(AuthError::InvalidRequest("the access token was sent more than once".into())),
        (Some(t), None) => Ok(t),
        (None, Some(t)) if allow_query => Ok(t),
        (None, Some(_)) => Err(AuthError::InvalidRequest(
            "access tokens in the query string are not accepted; use the Authorization header".into(),
        )),
        (None, None) => Err(AuthError::MissingToken),
    }
}

/// `Bearer <token68>`; another scheme counts as no token.
fn parse_authorization(value: &[u8]) -> Result<Option<String>, AuthError> {
    let value = std::str::from_utf8(value).map_err(|_| AuthError::InvalidRequest("malformed Authorization".into()))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if !is_token68(token) || token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::InvalidRequest("malformed bearer token".into()));
    }
    Ok(Some(token.to_owned()))
}

/// RFC 6750 §2.1 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fn query_access_token(uri: &Uri) -> Option<String> {
    let q = uri.query()?;
    q.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "access_token" && !v.is_empty()).then(|| latchkey_core::form::decode(v).unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn rfc6750_extraction_rules() {
        let plain = uri("/x");
        assert_eq!(extract_bearer(&headers(&["Bearer abc.def-_~+/=="]), &plain, false).unwrap(), "abc.def-_~+/==");
        assert_eq!(extract_bearer(&headers(&["bearer abc"]), &plain, false).unwrap(), "abc");
        assert!(matches!(extract_bearer(&headers(&[]), &plain, false), Err(AuthError::MissingToken)));
        assert!(matches!(extract_bearer(&headers(&["Basic abc"]), &plain, false), Err(AuthError::MissingToken)));
        for bad in ["Bearer", "Bearer a b", "Bearer a,b", "Bearer ===", "Bearer é"] {
            assert!(
                matches!(extract_bearer(&headers(&[bad]), &plain, false), Err(AuthError::InvalidRequest(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            extract_bearer(&headers(&["Bearer a", "Bearer b"]), &plain, false),
            Err(AuthError::InvalidRequest(_))
        ));
        let q = uri("/x?access_token=abc");
        assert!(matches!(extract_bearer(&headers(&[]), &q, false), Err(AuthError::InvalidRequest(_))));
        assert_eq!(extract_bearer(&headers(&[]), &q, true).unwrap(), "abc");
        assert!(matches!(extract_bearer(&headers(&["Bearer abc"]), &q, true), Err(AuthError::InvalidRequest(_))));
    }
}
