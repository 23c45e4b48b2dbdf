//! Extractors for the OAuth endpoints: a strict form body plus the `Authorization`
//! header, with every rejection an OAuth error.

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{Method, Request, StatusCode, header};
use latchkey_core::OAuthError;
use latchkey_core::form::FormParams;

use crate::error::ErrorResponse;

/// Largest accepted request body on the OAuth endpoints.
pub const MAX_BODY: usize = 64 * 1024;

/// A POSTed `application/x-www-form-urlencoded` request (RFC 6749 §3.2).
pub struct OAuthRequest {
    /// The parsed form.
    pub form: FormParams,
    /// The raw `Authorization` header, if one was sent.
    pub authorization: Option<Vec<u8>>,
    /// The peer address (not forwarded headers: trusting those needs a proxy list).
    pub client_ip: Option<std::net::IpAddr>,
}

impl<S: Send + Sync> FromRequest<S> for OAuthRequest {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request<Body>, _state: &S) -> Result<Self, Self::Rejection> {
        if req.method() != Method::POST {
            return Err(ErrorResponse::with_status(
                OAuthError::invalid_request("this endpoint accepts only POST"),
                StatusCode::METHOD_NOT_ALLOWED,
            ));
        }
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(OAuthError::invalid_request("Content-Type must be application/x-www-form-urlencoded").into());
        }
        let client_ip = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        let mut auth_headers = req.headers().get_all(header::AUTHORIZATION).iter();
        let authorization = auth_headers.next().map(|v| v.as_bytes().to_vec());
        if auth_headers.next().is_some() {
            return Err(OAuthError::invalid_request("more than one Authorization header").into());
        }
        let too_large = || {
            ErrorResponse::with_status(
                OAuthError::invalid_request(format!("request body exceeds {MAX_BODY} bytes")),
                StatusCode::PAYLOAD_TOO_LARGE,
            )
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY).await.map_err(|_| too_large())?;
        let form = FormParams::parse(&bytes)?;
        Ok(Self { form, authorization, client_ip })
    }
}
