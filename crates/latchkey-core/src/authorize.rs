//! The authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 9207, RFC 9700).
//!
//! Validation is split in two because of what may be trusted when: until the client
//! and its `redirect_uri` are verified, errors are shown on a page and never redirected
//! (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2); after, errors go back to the client.

use crate::client::{Client, GrantType};
use crate::form::{FormParams, encode_component};
use crate::pkce::is_valid_s256_challenge;
use crate::redirect::match_redirect_uri;
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError};

/// Longest `state` accepted (it is echoed back).
const MAX_STATE_LEN: usize = 2048;

/// An error at the authorization endpoint, and where it goes.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown on an error page: the client or redirect URI cannot be trusted.
    Page(OAuthError),
    /// Sent back to the verified redirect URI with `state` and `iss`.
    Redirect {
        /// Verified redirect URI.
        redirect_uri: String,
        /// The error.
        error: OAuthError,
        /// `state` to echo.
        state: Option<String>,
    },
}

/// Stage 1: the client id and the redirect URI as sent (untrusted).
pub fn parse_client_and_redirect(q: &FormParams) -> Result<(String, Option<String>), AuthorizeError> {
    let client_id = q
        .single("client_id")
        .map_err(AuthorizeError::Page)?
        .ok_or_else(|| AuthorizeError::Page(OAuthError::invalid_request("client_id is missing")))?;
    let redirect = q.single("redirect_uri").map_err(AuthorizeError::Page)?;
    Ok((client_id.to_owned(), redirect.map(str::to_owned)))
}

/// Stage 1, continued: the registered redirect URI to use, or an error page.
/// Without `redirect_uri`, a client with exactly one registered URI uses it
/// (RFC 6749 §3.1.2.3).
pub fn verify_redirect(client: Option<&Client>, requested: Option<&str>) -> Result<String, AuthorizeError> {
    let client = client.ok_or_else(|| AuthorizeError::Page(OAuthError::invalid_client("unknown client")))?;
    match requested {
        Some(r) => match_redirect_uri(&client.redirect_uris, r)
            // A loopback URI is used with the port the app asked for.
            .map(|_| r.to_owned())
            .ok_or_else(|| {
                AuthorizeError::Page(OAuthError::invalid_request("redirect_uri is not registered for this client"))
            }),
        None if client.redirect_uris.len() == 1 => Ok(client.redirect_uris[0].clone()),
        None => Err(AuthorizeError::Page(OAuthError::invalid_request("redirect_uri is required"))),
    }
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// Client id.
    pub client_id: String,
    /// Where the response goes.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent (then it is required at the token endpoint).
    pub redirect_given: bool,
    /// Requested scope.
    pub scope: ScopeSet,
    /// `state` to echo.
    pub state: Option<String>,
    /// S256 code challenge.
    pub code_challenge: Option<String>,
    /// RFC 8707 resources.
    pub resources: Vec<String>,
    /// `prompt=login`: authenticate again.
    pub prompt_login: bool,
    /// `prompt=consent`: ask again.
    pub prompt_consent: bool,
}

/// Stage 2: validate everything else; errors go back to the client.
pub fn validate(
    client: &Client,
    q: &FormParams,
    redirect_uri: String,
    redirect_given: bool,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let state = q.single("state").ok().flatten().filter(|s| s.len() <= MAX_STATE_LEN).map(str::to_owned);
    let fail = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        state: state.clone(),
    };
    q.verify_no_repeats(&["resource"]).map_err(fail)?;
    if q.single("state").ok().flatten().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(fail(OAuthError::invalid_request("state is too long")));
    }
    match q.single("response_type").ok().flatten() {
        None => return Err(fail(OAuthError::invalid_request("response_type is missing"))),
        Some("code") => {}
        // RFC 9700 §2.1.2: no implicit grant, no hybrid flows.
        Some(_) => {
            return Err(fail(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(fail(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client is not registered for the authorization code grant",
        )));
    }
    let scope = match q.single("scope").ok().flatten() {
        Some(raw) => ScopeSet::parse(raw).map_err(fail)?,
        None => client.scopes.clone(),
    };
    if !scope.is_subset(&client.scopes) {
        return Err(fail(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope exceeds what the client may be granted: {}", scope.missing_from(&client.scopes)),
        )));
    }
    let challenge = q.single("code_challenge").ok().flatten();
    let method = q.single("code_challenge_method").ok().flatten();
    let code_challenge = match (challenge, method) {
        (Some(c), Some("S256")) if is_valid_s256_challenge(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => return Err(fail(OAuthError::invalid_request("malformed code_challenge"))),
        (Some(_), None | Some("plain")) => {
            return Err(fail(OAuthError::invalid_request("code_challenge_method must be S256 (plain is refused)")));
        }
        (Some(_), Some(_)) => return Err(fail(OAuthError::invalid_request("unsupported code_challenge_method"))),
        (None, Some(_)) => return Err(fail(OAuthError::invalid_request("code_challenge_method without a challenge"))),
        (None, None) if client.pkce_required() => {
            return Err(fail(OAuthError::invalid_request("PKCE is required: send code_challenge with S256")));
        }
        (None, None) => None,
    };
    let mut resources: Vec<String> = Vec::new();
    for r in q.all("resource") {
        if !client.audiences.iter().any(|a| a == r) {
            return Err(fail(OAuthError::new(ErrorCode::InvalidTarget, "client may not request this resource")));
        }
        if !resources.iter().any(|x| x == r) {
            resources.push(r.to_owned());
        }
    }
    let (mut prompt_login, mut prompt_consent) = (false, false);
    for p in q.single("prompt").ok().flatten().unwrap_or("").split(' ').filter(|p| !p.is_empty()) {
        match p {
            "login" => prompt_login = true,
            "consent" => prompt_consent = true,
            "select_account" => {}
            _ => return Err(fail(OAuthError::invalid_request(format!("unsupported prompt value: {p}")))),
        }
    }
    Ok(AuthorizeRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_given,
        scope,
        state: state.clone(),
        code_challenge,
        resources,
        prompt_login,
        prompt_consent,
    })
}

/// `redirect_uri` with response parameters appended to its query (RFC 6749 §4.1.2),
/// always including `iss` (RFC 9207).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = redirect_uri.to_owned();
    let mut sep = if redirect_uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&encode_component(v));
        sep = '&';
    }
    out
}

/// The error redirect for `error`.
pub fn error_redirect(redirect_uri: &str, error: &OAuthError, state: Option<&str>, issuer: &str) -> String {
    let mut params = vec![("error", error.code.as_str()), ("error_description", error.description.as_ref())];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::AuthMethod;

    fn client() -> Client {
        Client {
            id: "app".into(),
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: ScopeSet::parse("profile items:read").unwrap(),
            redirect_uris: vec!["https://app.example/cb".into()],
            require_pkce: true,
            ..Client::default()
        }
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn run(pairs: &[(&str, &str)]) -> Result<AuthorizeRequest, AuthorizeError> {
        let q = FormParams::from_pairs(pairs.iter().copied());
        validate(&client(), &q, "https://app.example/cb".into(), true)
    }

    fn code_of(r: Result<AuthorizeRequest, AuthorizeError>) -> ErrorCode {
        match r {
            Err(AuthorizeError::Redirect { error, .. }) => error.code,
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_validates() {
        let r = run(&[
            ("response_type", "code"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "profile"),
        ])
        .unwrap();
        assert_eq!(r.scope.to_string(), "profile");
        assert_eq!(r.state.as_deref(), Some("xyz"));
    }

    #[test]
    fn pkce_rules() {
        let base = [("response_type", "code")];
        assert_eq!(code_of(run(&base)), ErrorCode::InvalidRequest, "missing challenge");
        let plain = [("response_type", "code"), ("code_challenge", CHALLENGE), ("code_challenge_method", "plain")];
        assert_eq!(code_of(run(&plain)), ErrorCode::InvalidRequest, "plain refused");
        let implicit_plain = [("response_type", "code"), ("code_challenge", CHALLENGE)];
        assert_eq!(code_of(run(&implicit_plain)), ErrorCode::InvalidRequest, "no method means plain");
        let mut exempt = client();
        exempt.require_pkce = false;
        let q = FormParams::from_pairs(base);
        assert!(validate(&exempt, &q, "https://app.example/cb".into(), true).is_ok());
        exempt.auth_method = AuthMethod::None;
        assert!(validate(&exempt, &q, "https://app.example/cb".into(), true).is_err(), "public clients always");
    }

    #[test]
    fn response_type_scope_and_prompt_rules() {
        let pkce = [("code_challenge", CHALLENGE), ("code_challenge_method", "S256")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v: Vec<(&str, &str)> = pkce.to_vec();
            v.extend_from_slice(extra);
            run(&v)
        };
        assert_eq!(code_of(with(&[("response_type", "token")])), ErrorCode::UnsupportedResponseType);
        assert_eq!(code_of(with(&[])), ErrorCode::InvalidRequest);
        assert_eq!(code_of(with(&[("response_type", "code"), ("scope", "admin")])), ErrorCode::InvalidScope);
        assert_eq!(code_of(with(&[("response_type", "code"), ("prompt", "bogus")])), ErrorCode::InvalidRequest);
        let r = with(&[("response_type", "code"), ("prompt", "login consent")]).unwrap();
        assert!(r.prompt_login && r.prompt_consent);
    }

    #[test]
    fn unknown_client_and_bad_redirect_are_pages() {
        assert!(matches!(verify_redirect(None, Some("https://app.example/cb")), Err(AuthorizeError::Page(_))));
        let c = client();
        assert!(matches!(verify_redirect(Some(&c), Some("https://evil.example/cb")), Err(AuthorizeError::Page(_))));
        assert_eq!(verify_redirect(Some(&c), None).unwrap(), "https://app.example/cb");
    }

    #[test]
    fn redirects_carry_state_and_iss() {
        let e = OAuthError::new(ErrorCode::AccessDenied, "denied");
        let url = error_redirect("https://app.example/cb?x=1", &e, Some("a b"), "https://as.example");
        assert_eq!(
            url,
            "https://app.example/cb?x=1&error=access_denied&error_description=denied&state=a+b&iss=https%3A%2F%2Fas.example"
        );
    }
}
