//! Token endpoint requests (RFC 6749 §4.4.2, RFC 8707 §2), parsed into a closed enum:
//! one variant per grant, so the compiler lists every place a new grant touches.

use crate::form::FormParams;
use crate::scope::ScopeSet;
use crate::secret::Secret;
use crate::{ErrorCode, OAuthError};

/// Longest accepted `resource` value.
const MAX_RESOURCE_LEN: usize = 2048;

/// Parameters that may legitimately repeat at the token endpoint (RFC 8707 §2).
pub const REPEATABLE: &[&str] = &["resource"];

/// A parsed token request.
#[derive(Debug, Clone)]
pub enum TokenRequest {
    /// `grant_type=client_credentials`.
    ClientCredentials {
        /// Requested scope; `None` means all of the client's scopes.
        scope: Option<ScopeSet>,
        /// RFC 8707 resource indicators.
        resources: Vec<String>,
    },
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode {
        /// The code.
        code: Secret<String>,
        /// Must repeat the one sent to /authorize, if one was.
        redirect_uri: Option<String>,
        /// PKCE verifier.
        code_verifier: Option<String>,
    },
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: Secret<String>,
        /// Narrower scope, optional.
        scope: Option<ScopeSet>,
    },
    /// `grant_type=password` (RFC 6749 §4.3).
    Password {
        /// Username.
        username: String,
        /// Password.
        password: Secret<String>,
        /// Requested scope.
        scope: Option<ScopeSet>,
        /// RFC 8707 resource indicators.
        resources: Vec<String>,
    },
}

impl TokenRequest {
    /// Parse the grant-specific parameters. Client authentication is separate.
    pub fn parse(form: &FormParams) -> Result<Self, OAuthError> {
        form.verify_no_repeats(REPEATABLE)?;
        let grant_type = form.required("grant_type")?;
        match grant_type {
            "client_credentials" => Ok(Self::ClientCredentials {
                scope: form.single("scope")?.map(ScopeSet::parse).transpose()?,
                resources: parse_resources(form)?,
            }),
            "authorization_code" => Ok(Self::AuthorizationCode {
                code: Secret::new(form.required("code")?.to_owned()),
                redirect_uri: form.single("redirect_uri")?.map(str::to_owned),
                code_verifier: form.single("code_verifier")?.map(str::to_owned),
            }),
            "refresh_token" => Ok(Self::RefreshToken {
                refresh_token: Secret::new(form.required("refresh_token")?.to_owned()),
                scope: form.single("scope")?.map(ScopeSet::parse).transpose()?,
            }),
            "password" => Ok(Self::Password {
                username: form.required("username")?.to_owned(),
                password: Secret::new(form.required("password")?.to_owned()),
                scope: form.single("scope")?.map(ScopeSet::parse).transpose()?,
                resources: parse_resources(form)?,
            }),
            _ => Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "grant_type is not supported by this server")),
        }
    }
}

/// RFC 8707 §2: each `resource` is an absolute URI without a fragment.
fn parse_resources(form: &FormParams) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for r in form.all("resource") {
        if !is_absolute_uri(r) || r.contains('#') || r.len() > MAX_RESOURCE_LEN {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource must be an absolute URI without a fragment",
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_owned());
        }
    }
    Ok(out)
}

/// `scheme ":" …` with an RFC 3986 scheme and no whitespace or control characters.
fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<TokenRequest, OAuthError> {
        TokenRequest::parse(&FormParams::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn client_credentials_with_scope_and_resources() {
        let req = parse(&[
            ("grant_type", "client_credentials"),
            ("scope", "b a"),
            ("resource", "https://api.example"),
            ("resource", "https://api.example"),
        ])
        .unwrap();
        let TokenRequest::ClientCredentials { scope, resources } = req else { panic!("wrong variant") };
        assert_eq!(scope, Some(ScopeSet::parse("a b").unwrap()));
        assert_eq!(resources, vec!["https://api.example".to_string()]);
    }

    #[test]
    fn errors_by_rule() {
        let table: &[(&[(&str, &str)], ErrorCode)] = &[
            (&[], ErrorCode::InvalidRequest),
            (&[("grant_type", "implicit")], ErrorCode::UnsupportedGrantType),
            (&[("grant_type", "password"), ("username", "u")], ErrorCode::InvalidRequest),
            (&[("grant_type", "authorization_code")], ErrorCode::InvalidRequest),
            (&[("grant_type", "refresh_token")], ErrorCode::InvalidRequest),
            (&[("grant_type", "nonsense")], ErrorCode::UnsupportedGrantType),
            (&[("grant_type", "client_credentials"), ("grant_type", "client_credentials")], ErrorCode::InvalidRequest),
            (&[("grant_type", "client_credentials"), ("scope", "a"), ("scope", "b")], ErrorCode::InvalidRequest),
            (&[("grant_type", "client_credentials"), ("scope", "bad\"scope")], ErrorCode::InvalidScope),
            (&[("grant_type", "client_credentials"), ("resource", "relative/path")], ErrorCode::InvalidTarget),
            (
                &[("grant_type", "client_credentials"), ("resource", "https://a.example/#frag")],
                ErrorCode::InvalidTarget,
            ),
        ];
        for (pairs, code) in table {
            assert_eq!(parse(pairs).unwrap_err().code, *code, "{pairs:?}");
        }
    }
}
