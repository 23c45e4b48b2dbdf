//! Rows as the rest of latchkey sees them.

use latchkey_core::token::{AccessTokenClaims, Audience};
use latchkey_core::user::User;

/// A stored opaque access token. The token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// Token id.
    pub jti: String,
    /// The grant this token belongs to (its own `jti` for client credentials); a read
    /// of the token tells it revoked once the grant is.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// `sub`.
    pub subject: String,
    /// Scope, space-delimited.
    pub scope: String,
    /// Audiences.
    pub audience: Vec<String>,
    /// Issued at.
    pub issued_at: i64,
    /// Expires at.
    pub expires_at: i64,
    /// Revoked at, if revoked.
    pub revoked_at: Option<i64>,
    /// A bookkeeping row for a JWT issued under a grant, keyed by `jwt:{jti}`: written
    /// before JWTs carried their grant (migration 4), read for those until they expire.
    pub jwt: bool,
    /// The resource owner's username, for introspection.
    pub username: Option<String>,
}

impl AccessTokenRecord {
    /// The claims this token stands for.
    pub fn claims(&self, issuer: &str) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: issuer.to_owned(),
            sub: self.subject.clone(),
            aud: Audience::from_list(self.audience.clone()),
            exp: self.expires_at,
            iat: self.issued_at,
            nbf: None,
            jti: self.jti.clone(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            username: self.username.clone(),
            grant_id: None,
        }
    }
}

/// A signing key as stored: public JWK in clear, private key sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// Public JWK, JSON.
    pub public_jwk: String,
    /// PKCS#8 private key sealed under a system secret.
    pub private_key_sealed: Vec<u8>,
    /// Created at.
    pub created_at: i64,
    /// When a newer key replaced it as the signer.
    pub retired_at: Option<i64>,
}

/// A browser session at the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The logged-in user, if any.
    pub user_id: Option<String>,
    /// When the user last authenticated.
    pub authenticated_at: Option<i64>,
    /// Expiry.
    pub expires_at: i64,
}

/// A validated authorization request waiting for login or consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequestRecord {
    /// SHA-256 of the request id.
    pub id_hash: Vec<u8>,
    /// SHA-256 of the session id it belongs to.
    pub session_hash: Vec<u8>,
    /// SHA-256 of its CSRF token.
    pub csrf_hash: Vec<u8>,
    /// Client.
    pub client_id: String,
    /// Verified redirect URI.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent.
    pub redirect_given: bool,
    /// Requested scope.
    pub scope: String,
    /// `state`.
    pub state: Option<String>,
    /// S256 challenge.
    pub code_challenge: Option<String>,
    /// Resources.
    pub resources: Vec<String>,
    /// `prompt` values.
    pub prompt: String,
    /// Created at.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// An authorization code (stored by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// The grant the code starts.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: String,
    /// `redirect_uri` sent to /authorize, if any.
    pub redirect_uri: Option<String>,
    /// Approved scope.
    pub scope: String,
    /// Resources.
    pub resources: Vec<String>,
    /// S256 challenge.
    pub code_challenge: Option<String>,
    /// Created at.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// What a code's hash finds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per look-up and moved once to its caller: a Box would add an allocation on the token path"
)]
pub enum CodeLookup {
    /// Not redeemed yet (it may have expired: the caller checks `expires_at`).
    Live {
        /// The code.
        code: CodeRecord,
        /// Its user as the user is now; `None` once deleted. Read with the code, in one
        /// look-up, so the exchange does not wait for a second one.
        user: Option<User>,
    },
    /// Already redeemed: a replay (RFC 9700 §4.2.4); the grant should be revoked.
    Used {
        /// Grant to revoke.
        grant_id: String,
    },
    /// No such code.
    Unknown,
}

/// Outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// This call redeemed the code and saved its grant and tokens.
    Redeemed,
    /// Another redemption came first: a replay; the grant should be revoked.
    Replayed {
        /// Grant to revoke.
        grant_id: String,
    },
    /// No such code (deleted since it was looked up).
    Unknown,
}

/// A grant: one authorization and the token family it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// Id.
    pub id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: String,
    /// Granted scope.
    pub scope: String,
    /// Resources.
    pub resources: Vec<String>,
    /// Created at.
    pub created_at: i64,
    /// Absolute expiry of the family.
    pub expires_at: i64,
    /// Revoked at.
    pub revoked_at: Option<i64>,
}

/// A refresh token (stored by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// Family.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// Scope (that of the grant).
    pub scope: String,
    /// Issued at.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When it was rotated.
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// A refresh token found by its hash, with its grant and the grant's user as the user is
/// now (`None` once deleted): what a rotation or an introspection checks, read in one
/// look-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLookup {
    /// The token.
    pub token: RefreshRecord,
    /// Its grant (its family).
    pub grant: GrantRecord,
    /// The grant's user.
    pub user: Option<User>,
}

/// Outcome of rotating a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Rotated: the new tokens are saved.
    Rotated,
    /// Already rotated or revoked: a replay; the family should be revoked.
    Reused {
        /// Family to revoke.
        grant_id: String,
    },
    /// No such token.
    Unknown,
}

/// A remembered consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Client.
    pub client_id: String,
    /// Approved scope.
    pub scope: String,
    /// When.
    pub granted_at: i64,
}
