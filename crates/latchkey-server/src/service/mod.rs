//! The token, introspection and revocation use cases. These functions alone sequence
//! I/O: parse → authenticate → load → decide (pure, in core) → mint → save.

use std::sync::Arc;

use latchkey_core::OAuthError;
use latchkey_core::client::Client;
use latchkey_core::client_auth::{parse_client_credentials, verify_client};
use latchkey_core::grant::{self, Issue};
use latchkey_core::introspect::{Introspection, is_live, may_introspect, may_revoke};
use latchkey_core::jose::Expectations;
use latchkey_core::secret::{sha256, token_key};
use latchkey_core::token::{
    AccessTokenClaims, TokenFormat, TokenResponse, TokenShape, new_jti, new_opaque_access_token, token_shape,
};
use latchkey_core::token_request::TokenRequest;
use latchkey_core::user::owner_since;
use latchkey_store::{AccessTokenRecord, RefreshLookup};

use crate::error::ErrorResponse;
use crate::extract::OAuthRequest;
use crate::state::{AppState, now};

pub mod passwords;
mod user_grants;

pub use user_grants::{CODE_PREFIX, REFRESH_PREFIX};

/// Longest token string we look at; anything longer cannot be ours.
const MAX_TOKEN_LEN: usize = 8192;

/// Authenticate the client making an OAuth request (RFC 6749 §2.3).
pub async fn authenticate(state: &AppState, req: &OAuthRequest) -> Result<Arc<Client>, OAuthError> {
    let presented = parse_client_credentials(req.authorization.as_deref(), &req.form)?;
    let client = state.client(&presented.client_id).await?;
    verify_client(client, &presented, &state.ctx.hasher)
}

/// `POST /token` (RFC 6749 §4.1.3, §4.3, §4.4, §5, §6).
pub async fn exchange(state: &AppState, req: OAuthRequest) -> Result<TokenResponse, ErrorResponse> {
    let result = exchange_inner(state, req).await;
    if let Err(e) = &result {
        state.metrics.token_error(e.code().as_str());
    }
    result
}

async fn exchange_inner(state: &AppState, req: OAuthRequest) -> Result<TokenResponse, ErrorResponse> {
    let client = authenticate(state, &req).await?;
    let (grant_name, response) = match TokenRequest::parse(&req.form)? {
        TokenRequest::ClientCredentials { scope, resources } => {
            let issue = grant::client_credentials::decide(&client, scope.as_ref(), &resources, &state.policy(), now())?;
            let access_token = mint(state, &issue).await?;
            let response = TokenResponse {
                access_token,
                token_type: "Bearer".into(),
                expires_in: issue.expires_in(),
                scope: issue.scope.to_string(),
                refresh_token: None,
            };
            ("client_credentials", response)
        }
        TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
            let r = user_grants::code(state, &client, &code, redirect_uri.as_deref(), code_verifier.as_deref()).await?;
            ("authorization_code", r)
        }
        TokenRequest::RefreshToken { refresh_token, scope } => {
            ("refresh_token", user_grants::refresh(state, &client, &refresh_token, scope.as_ref()).await?)
        }
        TokenRequest::Password { username, password, scope, resources } => {
            let r =
                user_grants::password(state, &client, &req, &username, &password, scope.as_ref(), &resources).await?;
            ("password", r)
        }
    };
    let format =
        if response.access_token.starts_with(latchkey_core::token::OPAQUE_ACCESS_PREFIX) { "opaque" } else { "jwt" };
    state.metrics.token_issued(grant_name, format);
    Ok(response)
}

/// Create the access token an [`Issue`] describes; an opaque token is returned only
/// after its row is committed.
async fn mint(state: &AppState, issue: &Issue) -> Result<String, OAuthError> {
    let jti = new_jti();
    match issue.format {
        TokenFormat::Jwt => {
            let claims = issue.claims(&state.issuer, jti);
            state.keys.snapshot().signer.sign_jwt(&claims).map_err(OAuthError::server_error)
        }
        TokenFormat::Opaque => {
            let (token, key) = new_opaque_access_token(issue.expires_at);
            // A client-credentials token is its own grant.
            let record = access_row(issue, key, jti.clone(), &jti, None);
            state.store().put_access_token(record).await?;
            Ok(token)
        }
    }
}

/// The stored row for an opaque access token described by `issue`.
fn access_row(
    issue: &Issue,
    token_hash: Vec<u8>,
    jti: String,
    grant_id: &str,
    username: Option<String>,
) -> AccessTokenRecord {
    AccessTokenRecord {
        token_hash,
        jti,
        grant_id: grant_id.to_owned(),
        client_id: issue.client_id.clone(),
        subject: issue.subject.clone(),
        scope: issue.scope.to_string(),
        audience: issue.audience.clone(),
        issued_at: issue.issued_at,
        expires_at: issue.expires_at,
        revoked_at: None,
        jwt: false,
        username,
    }
}

/// The claims of a live access token of ours, or `None` (unknown, expired, revoked,
/// tampered, or its client is gone). A live token is remembered for the token cache's
/// TTL, so repeated introspections of one token skip the database and the signature
/// check; expiry is checked on every use.
pub async fn resolve(state: &AppState, token: &str) -> Result<Option<AccessTokenClaims>, OAuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let now = now();
    let key = sha256(token.as_bytes());
    let generation = match state.tokens.get(&key) {
        Ok(claims) => return Ok(Some(claims).filter(|c| c.exp > now)),
        Err(generation) => generation,
    };
    let claims = resolve_uncached(state, token, now).await?;
    if let Some(c) = &claims {
        state.tokens.insert(key, c.clone(), generation);
    }
    Ok(claims)
}

async fn resolve_uncached(state: &AppState, token: &str, now: i64) -> Result<Option<AccessTokenClaims>, OAuthError> {
    let claims = match token_shape(token) {
        TokenShape::OpaqueAccess => match state.store().access_token(&token_key(token)).await? {
            Some(r) if r.revoked_at.is_none() => r.claims(&state.issuer),
            _ => return Ok(None),
        },
        TokenShape::Jwt => {
            let want = Expectations { issuer: &state.issuer, audience: None, now, leeway: 0 };
            let keys = state.keys.snapshot();
            match keys.verifying.verify(token, &want) {
                Ok(c) if !jwt_revoked(state, &c).await? => c,
                Ok(_) => return Ok(None),
                Err(why) => {
                    tracing::debug!(%why, "JWT not accepted");
                    return Ok(None);
                }
            }
        }
        TokenShape::Unknown => return Ok(None),
    };
    let client = state.client(&claims.client_id).await?;
    if !is_live(&claims, client.as_deref(), now) {
        return Ok(None);
    }
    user_claims(state, claims).await
}

/// Whether a verified JWT of ours was revoked: by its `jti` (RFC 7009), or with its
/// grant. A user's JWT names its grant; one issued before JWTs did (migration 4) is
/// found through the row that was written for it then, until it expires.
async fn jwt_revoked(state: &AppState, claims: &AccessTokenClaims) -> Result<bool, OAuthError> {
    if claims.grant_id.is_none() && latchkey_core::user::is_user_sub(&claims.sub) {
        let legacy = state.store().access_token(&token_key(&format!("jwt:{}", claims.jti))).await?;
        if legacy.is_some_and(|row| row.revoked_at.is_some()) {
            return Ok(true);
        }
    }
    Ok(state.store().jwt_revoked(&claims.jti, claims.grant_id.as_deref()).await?)
}

/// A token for a user is live only while the user exists (and existed when it was
/// issued); introspection also tells the username.
async fn user_claims(state: &AppState, mut claims: AccessTokenClaims) -> Result<Option<AccessTokenClaims>, OAuthError> {
    if !latchkey_core::user::is_user_sub(&claims.sub) {
        return Ok(Some(claims));
    }
    match owner_since(state.store().user(&claims.sub).await?, claims.iat) {
        Some(u) => {
            claims.username = Some(u.username);
            Ok(Some(claims))
        }
        None => Ok(None),
    }
}

/// Introspection of a refresh token (RFC 7662 §2.2 with `token_type: refresh_token`).
async fn refresh_introspection(state: &AppState, caller: &Client, token: &str) -> Result<Introspection, OAuthError> {
    let now = now();
    let Some(RefreshLookup { token: r, grant: g, user }) = state.store().refresh_token(&token_key(token)).await? else {
        return Ok(Introspection::inactive());
    };
    let live = r.used_at.is_none() && r.revoked_at.is_none() && g.revoked_at.is_none() && r.expires_at > now;
    if !live || !may_introspect(caller, &r.client_id) {
        return Ok(Introspection::inactive());
    }
    let Some(user) = owner_since(user, g.created_at) else {
        return Ok(Introspection::inactive());
    };
    Ok(Introspection {
        active: true,
        scope: Some(r.scope),
        client_id: Some(r.client_id),
        username: Some(user.username),
        token_type: Some("refresh_token".into()),
        exp: Some(r.expires_at),
        iat: Some(r.issued_at),
        sub: Some(g.user_id),
        aud: None,
        iss: Some(state.issuer.to_string()),
        jti: None,
    })
}

/// `POST /introspect` (RFC 7662).
pub async fn introspect(state: &AppState, req: OAuthRequest) -> Result<Introspection, OAuthError> {
    let caller = authenticate(state, &req).await?;
    req.form.verify_no_repeats(&[])?;
    let token = req.form.required("token")?;
    let result = if token.starts_with(REFRESH_PREFIX) {
        refresh_introspection(state, &caller, token).await?
    } else {
        match resolve(state, token).await? {
            Some(claims) if may_introspect(&caller, &claims.client_id) => Introspection::active(claims),
            _ => Introspection::inactive(),
        }
    };
    state.metrics.introspection(result.active);
    Ok(result)
}

/// `POST /revoke` (RFC 7009). Unknown tokens and other clients' tokens succeed and
/// change nothing (§2.2). The `token_type_hint` only orders the look-ups; both token
/// kinds are always considered, so a wrong hint changes nothing.
pub async fn revoke(state: &AppState, req: OAuthRequest) -> Result<(), OAuthError> {
    let caller = authenticate(state, &req).await?;
    req.form.verify_no_repeats(&[])?;
    let token = req.form.required("token")?;
    if token.len() > MAX_TOKEN_LEN {
        return Ok(());
    }
    if token.starts_with(REFRESH_PREFIX) {
        // RFC 7009 §2.1: revoking a refresh token revokes its family's access tokens.
        let hash = token_key(token);
        if let Some(RefreshLookup { token: r, .. }) = state.store().refresh_token(&hash).await?
            && may_revoke(&caller, &r.client_id)
        {
            state.revoke_grant(&r.grant_id, now()).await?;
            state.metrics.revocation();
        }
        return Ok(());
    }
    match token_shape(token) {
        TokenShape::OpaqueAccess => {
            let hash = token_key(token);
            if let Some(record) = state.store().access_token(&hash).await?
                && may_revoke(&caller, &record.client_id)
                && state.revoke_access_token(&hash, now()).await?
            {
                state.metrics.revocation();
            }
        }
        TokenShape::Jwt => {
            if let Some(claims) = resolve(state, token).await?
                && may_revoke(&caller, &claims.client_id)
            {
                state.revoke_jti(&claims.jti, &claims.client_id, claims.exp).await?;
                state.metrics.revocation();
            }
        }
        TokenShape::Unknown => {}
    }
    Ok(())
}
