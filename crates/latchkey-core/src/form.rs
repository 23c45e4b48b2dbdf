//! Strict `application/x-www-form-urlencoded` parsing for OAuth endpoints.
//!
//! Lenient decoders replace bad bytes silently; an authorization server must not guess,
//! so malformed percent-encoding or non-UTF-8 is `invalid_request`.
//! RFC 6749 §3.1: parameters sent without a value are treated as omitted, and
//! parameters must not be included more than once.

use crate::OAuthError;

/// Most parameters one request may carry; real requests have fewer than 15.
pub const MAX_PARAMS: usize = 64;

/// Decoded form parameters, in order. Empty values are dropped (RFC 6749 §3.1).
#[derive(Debug, Default, Clone)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    /// Parse a form body or query string strictly.
    pub fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs = Vec::new();
        for part in input.split(|b| *b == b'&') {
            if part.is_empty() {
                continue;
            }
            if pairs.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            let (name, value) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            let name = decode_component(name)?;
            let value = decode_component(value)?;
            if !value.is_empty() {
                pairs.push((name, value));
            }
        }
        Ok(Self { pairs })
    }

    /// Build from already-decoded pairs (tests, other adapters).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self { pairs: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).filter(|(_, v)| !v.is_empty()).collect() }
    }

    /// The single value of `name`; a repeated parameter is `invalid_request`.
    pub fn single(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name {
                if found.is_some() {
                    return Err(OAuthError::invalid_request(format!("parameter `{name}` is repeated")));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// The single value of `name`, which must be present.
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.single(name)?.ok_or_else(|| OAuthError::invalid_request(format!("parameter `{name}` is missing")))
    }

    /// Every value of a parameter that may repeat (RFC 8707 `resource`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Refuse any parameter repeated, except those listed (RFC 6749 §3.2).
    pub fn verify_no_repeats(&self, may_repeat: &[&str]) -> Result<(), OAuthError> {
        for (i, (k, _)) in self.pairs.iter().enumerate() {
            if may_repeat.contains(&k.as_str()) {
                continue;
            }
            if self.pairs[..i].iter().any(|(earlier, _)| earlier == k) {
                return Err(OAuthError::invalid_request(format!("parameter `{}` is repeated", printable(k))));
            }
        }
        Ok(())
    }
}

/// A parameter name made safe to echo in an error description.
fn printable(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic()).take(40).collect()
}

/// Decode one `+`/percent-encoded component, refusing bad escapes and non-UTF-8.
fn decode_component(raw: &[u8]) -> Result<String, OAuthError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or_else(bad_escape)?;
                let hi = hex_value(hex[0]).ok_or_else(bad_escape)?;
                let lo = hex_value(hex[1]).ok_or_else(bad_escape)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| OAuthError::invalid_request("form data is not valid UTF-8"))
}

fn bad_escape() -> OAuthError {
    OAuthError::invalid_request("malformed percent-encoding in form data")
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encode a component for `application/x-www-form-urlencoded` (RFC 6749 §2.3.1
/// Basic credentials, redirect parameters).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decode one form-urlencoded component strictly (used for Basic credentials).
pub fn decode(raw: &str) -> Result<String, OAuthError> {
    decode_component(raw.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let f = FormParams::parse(b"a=b+c&d=%41%2f%e2%82%AC").unwrap();
        assert_eq!(f.single("a").unwrap(), Some("b c"));
        assert_eq!(f.single("d").unwrap(), Some("A/\u{20ac}"));
    }

    #[test]
    fn malformed_input_is_invalid_request() {
        for bad in [&b"a=%zz"[..], b"a=%4", b"a=%", b"a=%ff%fe", b"a=\xff"] {
            let err = FormParams::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn empty_values_count_as_omitted() {
        let f = FormParams::parse(b"scope=&grant_type=x&&=").unwrap();
        assert_eq!(f.single("scope").unwrap(), None);
        assert_eq!(f.single("grant_type").unwrap(), Some("x"));
    }

    #[test]
    fn repeated_parameter_is_refused_unless_allowed() {
        let f = FormParams::parse(b"resource=a&resource=b&scope=x&scope=y").unwrap();
        assert_eq!(f.single("scope").unwrap_err().code, ErrorCode::InvalidRequest);
        assert!(f.verify_no_repeats(&["resource", "scope"]).is_ok());
        assert!(f.verify_no_repeats(&["resource"]).is_err());
        assert_eq!(f.all("resource").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn too_many_parameters_is_invalid_request() {
        let body: String = (0..MAX_PARAMS + 1).map(|i| format!("p{i}=v&")).collect();
        assert_eq!(FormParams::parse(body.as_bytes()).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn encode_then_decode_round_trips() {
        for s in ["plain", "a b", "x:y%z+&=", "ünï €"] {
            assert_eq!(decode(&encode_component(s)).unwrap(), s);
        }
    }
}
