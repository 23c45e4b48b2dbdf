//! Pure OAuth 2.0 protocol logic for latchkey.
//!
//! Nothing here does I/O: parsing untrusted input into types, the rules that decide a
//! grant, the one error model, token formats and JOSE. Time is always a parameter so that
//! tests can pin it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authorize;
pub mod client;
pub mod client_auth;
pub mod crypto;
pub mod error;
pub mod form;
pub mod grant;
pub mod introspect;
pub mod jose;
pub mod pkce;
pub mod redirect;
pub mod scope;
pub mod secret;
pub mod token;
pub mod token_request;
pub mod user;

pub use error::{ErrorCode, OAuthError};
