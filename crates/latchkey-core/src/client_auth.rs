//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3): parsing what the client presented, then verifying it.

use std::borrow::Borrow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::OAuthError;
use crate::client::{AuthMethod, Client, is_valid_client_id};
use crate::form::{self, FormParams};
use crate::secret::{Secret, SecretHasher};

/// Longest `Authorization` header value we decode.
const MAX_AUTHORIZATION_LEN: usize = 4096;

/// The one description for every failed authentication, so that an unknown client and
/// a wrong secret look the same (security checklist #2).
const AUTH_FAILED: &str = "client authentication failed";

/// Credentials as presented, before any look-up.
#[derive(Debug)]
pub struct PresentedCredentials {
    /// The client id.
    pub client_id: String,
    /// The secret; `None` for a public client (method `none`).
    pub secret: Option<Secret<String>>,
    /// The method used to present them.
    pub method: AuthMethod,
}

/// Extract client credentials from the `Authorization` header and the form.
///
/// The issue that specifies latchkey makes two methods at once `invalid_client`
/// (RFC 6749 §2.3 forbids it; §5.2 would call it `invalid_request`), so that every
/// authentication failure is one error; the description says what happened.
pub fn parse_client_credentials(
    authorization: Option<&[u8]>,
    form: &FormParams,
) -> Result<PresentedCredentials, OAuthError> {
    let body_id = form.single("client_id")?;
    let body_secret = form.single("client_secret")?;
    match authorization {
        Some(header) => {
            let fail = |d: &'static str| OAuthError::invalid_client(d).with_basic(true);
            let (id, secret) = parse_basic(header).ok_or_else(|| fail("malformed HTTP Basic credentials"))?;
            if body_secret.is_some() {
                return Err(fail("more than one client authentication method was used"));
            }
            if body_id.is_some_and(|b| b != id) {
                return Err(fail("client_id in the body does not match the Authorization header"));
            }
            if !is_valid_client_id(&id) {
                return Err(fail(AUTH_FAILED));
            }
            Ok(PresentedCredentials {
                client_id: id,
                secret: Some(Secret::new(secret)),
                method: AuthMethod::ClientSecretBasic,
            })
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) if is_valid_client_id(id) => Ok(PresentedCredentials {
                client_id: id.to_owned(),
                secret: Some(Secret::new(secret.to_owned())),
                method: AuthMethod::ClientSecretPost,
            }),
            // A public client identifies itself without a secret (RFC 6749 §3.2.1).
            (Some(id), None) if is_valid_client_id(id) => {
                Ok(PresentedCredentials { client_id: id.to_owned(), secret: None, method: AuthMethod::None })
            }
            (Some(_), _) => Err(OAuthError::invalid_client(AUTH_FAILED)),
            (None, _) => Err(OAuthError::invalid_client("client authentication is required")),
        },
    }
}

/// Decode `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
pub fn parse_basic(header: &[u8]) -> Option<(String, String)> {
    if header.len() > MAX_AUTHORIZATION_LEN {
        return None;
    }
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form::decode(id).ok()?;
    let secret = form::decode(secret).ok()?;
    if id.is_empty() || secret.is_empty() {
        return None;
    }
    Some((id, secret))
}

/// Check presented credentials against the registered client (`None`: unknown id).
/// An unknown client costs the same hash as a known one.
/// `client` is a `Client` or a shared one (`Arc<Client>`), returned as given.
pub fn verify_client<C: Borrow<Client>>(
    found: Option<C>,
    presented: &PresentedCredentials,
    hasher: &SecretHasher,
) -> Result<C, OAuthError> {
    let basic = presented.method == AuthMethod::ClientSecretBasic;
    let secret = presented.secret.as_ref().map(|s| s.expose().as_str());
    let Some(found) = found else {
        let _ = hasher.verify(&presented.client_id, secret.unwrap_or(""), &[0; 32]);
        return Err(OAuthError::invalid_client(AUTH_FAILED).with_basic(basic));
    };
    let client: &Client = found.borrow();
    match (client.is_public(), secret) {
        (true, None) => return Ok(found),
        (false, Some(s)) if hasher.verify(&client.id, s, &client.secret_hash) => {}
        (true, Some(_)) => {
            return Err(OAuthError::invalid_client("a public client has no secret").with_basic(basic));
        }
        (false, None) => return Err(OAuthError::invalid_client("client authentication is required")),
        (false, Some(_)) => return Err(OAuthError::invalid_client(AUTH_FAILED).with_basic(basic)),
    }
    if client.auth_method != presented.method {
        return Err(OAuthError::invalid_client(format!(
            "client is registered for {}, not {}",
            client.auth_method.as_str(),
            presented.method.as_str()
        ))
        .with_basic(basic));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::scope::ScopeSet;

    fn basic(id: &str, secret: &str) -> Vec<u8> {
        let raw = format!("{}:{}", form::encode_component(id), form::encode_component(secret));
        format!("Basic {}", STANDARD.encode(raw)).into_bytes()
    }

    fn client(hasher: &SecretHasher, method: AuthMethod) -> Client {
        Client {
            id: "svc:1".into(),
            secret_hash: hasher.hash("svc:1", "p@ss word"),
            grant_types: vec![],
            scopes: ScopeSet::default(),
            auth_method: method,
            token_format: None,
            audiences: vec![],
            introspect: false,
            access_token_ttl: None,
            created_at: 0,
            ..Client::default()
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = basic("svc:1", "p@ss word");
        assert_eq!(parse_basic(&h), Some(("svc:1".into(), "p@ss word".into())));
        assert_eq!(parse_basic(b"Basic !!!"), None);
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(&vec![b'a'; 5000]), None);
    }

    #[test]
    fn two_methods_at_once_is_invalid_client() {
        let form = FormParams::from_pairs([("client_secret", "x")]);
        let err = parse_client_credentials(Some(&basic("a", "b")), &form).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClient);
        assert!(err.basic_auth_tried);
    }

    #[test]
    fn no_credentials_is_invalid_client_but_a_public_client_needs_none() {
        assert_eq!(parse_client_credentials(None, &FormParams::default()).unwrap_err().code, ErrorCode::InvalidClient);
        let hasher = SecretHasher::new(vec![[7; 32]]);
        let only_id = parse_client_credentials(None, &FormParams::from_pairs([("client_id", "svc:1")])).unwrap();
        let confidential = client(&hasher, AuthMethod::ClientSecretBasic);
        assert_eq!(verify_client(Some(confidential), &only_id, &hasher).unwrap_err().code, ErrorCode::InvalidClient);
        let public = client(&hasher, AuthMethod::None);
        assert!(verify_client(Some(public.clone()), &only_id, &hasher).is_ok());
        let with_secret = parse_client_credentials(Some(&basic("svc:1", "p@ss word")), &FormParams::default()).unwrap();
        assert_eq!(verify_client(Some(public), &with_secret, &hasher).unwrap_err().code, ErrorCode::InvalidClient);
    }

    #[test]
    fn unknown_client_and_wrong_secret_get_the_same_error() {
        let hasher = SecretHasher::new(vec![[7; 32]]);
        let wrong = parse_client_credentials(Some(&basic("svc:1", "nope")), &FormParams::default()).unwrap();
        let e1 = verify_client(Some(client(&hasher, AuthMethod::ClientSecretBasic)), &wrong, &hasher).unwrap_err();
        let e2 = verify_client(None::<Client>, &wrong, &hasher).unwrap_err();
        assert_eq!((e1.code, e1.description.clone()), (e2.code, e2.description.clone()));
        let right = parse_client_credentials(Some(&basic("svc:1", "p@ss word")), &FormParams::default()).unwrap();
        assert!(verify_client(Some(client(&hasher, AuthMethod::ClientSecretBasic)), &right, &hasher).is_ok());
    }

    #[test]
    fn method_not_registered_is_invalid_client() {
        let hasher = SecretHasher::new(vec![[7; 32]]);
        let form = FormParams::from_pairs([("client_id", "svc:1"), ("client_secret", "p@ss word")]);
        let post = parse_client_credentials(None, &form).unwrap();
        let err = verify_client(Some(client(&hasher, AuthMethod::ClientSecretBasic)), &post, &hasher).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClient);
    }
}
