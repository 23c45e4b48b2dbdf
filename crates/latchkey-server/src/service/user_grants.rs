//! Grants that act for a user: authorization code, refresh token, password. Each
//! produces a grant (a token family) so that revoking one revokes all it issued.

use latchkey_core::ErrorCode;
use latchkey_core::OAuthError;
use latchkey_core::client::Client;
use latchkey_core::grant::authorization_code::{CodeGrant, issues_refresh_token};
use latchkey_core::grant::refresh_token::RefreshGrant;
use latchkey_core::grant::{self, Issue};
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::{Secret, new_expiring_token, token_key};
use latchkey_core::token::{TokenFormat, TokenResponse, new_jti, new_opaque_access_token};
use latchkey_core::user::{User, owner_since};
use latchkey_store::{AccessTokenRecord, CodeLookup, GrantRecord, Redemption, RefreshLookup, RefreshRecord, Rotation};

use crate::error::ErrorResponse;
use crate::extract::OAuthRequest;
use crate::state::AppState;
use crate::state::now;

/// Prefix of refresh tokens (recognisable by secret scanners).
pub const REFRESH_PREFIX: &str = "lk_rt_";
/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "lk_ac_";

fn invalid_grant(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, d)
}

/// An access token issued under a grant, and its row when it is opaque. A JWT has no
/// row: it names its grant (`grant_id` claim), and introspection refuses it once the
/// grant is revoked.
fn access_record(
    state: &AppState,
    issue: &Issue,
    grant_id: &str,
    username: &str,
) -> Result<(String, Option<AccessTokenRecord>), OAuthError> {
    let jti = new_jti();
    match issue.format {
        TokenFormat::Jwt => {
            let mut claims = issue.claims(&state.issuer, jti);
            claims.grant_id = Some(grant_id.to_owned());
            let token = state.keys.snapshot().signer.sign_jwt(&claims).map_err(OAuthError::server_error)?;
            Ok((token, None))
        }
        TokenFormat::Opaque => {
            let (token, key) = new_opaque_access_token(issue.expires_at);
            let row = super::access_row(issue, key, jti, grant_id, Some(username.to_owned()));
            Ok((token, Some(row)))
        }
    }
}

fn refresh_record(grant_id: &str, client_id: &str, scope: &str, now: i64, expires_at: i64) -> (String, RefreshRecord) {
    let (token, token_hash) = new_expiring_token(REFRESH_PREFIX, expires_at);
    let record = RefreshRecord {
        token_hash,
        grant_id: grant_id.to_owned(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        issued_at: now,
        expires_at,
        used_at: None,
        revoked_at: None,
    };
    (token, record)
}

fn response(access: String, issue: &Issue, refresh: Option<String>) -> TokenResponse {
    TokenResponse {
        access_token: access,
        token_type: "Bearer".into(),
        expires_in: issue.expires_in(),
        scope: issue.scope.to_string(),
        refresh_token: refresh,
    }
}

/// A new grant for a user: its record, its first tokens' rows, and the response that
/// hands the tokens out once the rows are saved (with the redeemed code, or alone for
/// the password grant).
struct NewGrant {
    response: TokenResponse,
    grant: GrantRecord,
    access: Option<AccessTokenRecord>,
    refresh: Option<RefreshRecord>,
}

fn new_grant(
    state: &AppState,
    client: &Client,
    user: &User,
    grant_id: String,
    issue: &Issue,
    resources: &[String],
    now: i64,
) -> Result<NewGrant, OAuthError> {
    let family_expires = now + state.ctx.config.refresh_token_ttl.as_secs() as i64;
    let (access, access_row) = access_record(state, issue, &grant_id, &user.username)?;
    let refresh = issues_refresh_token(client)
        .then(|| refresh_record(&grant_id, &client.id, &issue.scope.to_string(), now, family_expires));
    let grant = GrantRecord {
        id: grant_id,
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        scope: issue.scope.to_string(),
        resources: resources.to_vec(),
        created_at: now,
        expires_at: family_expires.max(issue.expires_at),
        revoked_at: None,
    };
    let (refresh_token, refresh) = refresh.unzip();
    Ok(NewGrant { response: response(access, issue, refresh_token), grant, access: access_row, refresh })
}

/// The grant's user ([`owner_since`] the grant was made), or `invalid_grant`.
fn live_user(user: Option<User>, since: i64) -> Result<User, OAuthError> {
    owner_since(user, since).ok_or_else(|| invalid_grant("the resource owner no longer exists"))
}

/// `grant_type=authorization_code`.
pub(super) async fn code(
    state: &AppState,
    client: &Client,
    code: &Secret<String>,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    // Refuse a client that may not use the grant before its request can burn a code.
    if !client.allows_grant(latchkey_core::client::GrantType::AuthorizationCode) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client is not registered for this grant"));
    }
    let now = now();
    let key = token_key(code.expose());
    let (record, user) = match state.store().code(&key).await? {
        CodeLookup::Live { code, user } => (code, user),
        CodeLookup::Used { grant_id } => return replayed(state, client, &grant_id, now).await,
        CodeLookup::Unknown => return Err(invalid_grant("unknown authorization code")),
    };
    let scope = ScopeSet::parse(&record.scope)?;
    let code_grant = CodeGrant {
        grant_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
        user_id: record.user_id.clone(),
        redirect_uri: record.redirect_uri.clone(),
        scope,
        resources: record.resources.clone(),
        code_challenge: record.code_challenge.clone(),
        expires_at: record.expires_at,
    };
    // Checked before the code is marked used (store `codes.rs`): a request that fails
    // here leaves the code to its rightful client.
    let issue = grant::authorization_code::decide(client, &code_grant, redirect_uri, verifier, &state.policy(), now)?;
    let user = live_user(user, record.created_at)?;
    let new = new_grant(state, client, &user, record.grant_id, &issue, &record.resources, now)?;
    match state.store().redeem_code(&key, new.grant, new.access, new.refresh, now).await? {
        Redemption::Redeemed => Ok(new.response),
        Redemption::Replayed { grant_id } => replayed(state, client, &grant_id, now).await,
        Redemption::Unknown => Err(invalid_grant("unknown authorization code")),
    }
}

/// A code redeemed a second time: RFC 9700 §4.2.4, revoke what the first redemption issued.
async fn replayed(state: &AppState, client: &Client, grant_id: &str, now: i64) -> Result<TokenResponse, OAuthError> {
    tracing::warn!(client = %client.id, "authorization code replayed; revoking its grant");
    state.revoke_grant(grant_id, now).await?;
    Err(invalid_grant("the authorization code was already used"))
}

/// `grant_type=refresh_token`: rotate on every use; a reused token revokes the family.
pub(super) async fn refresh(
    state: &AppState,
    client: &Client,
    token: &Secret<String>,
    scope: Option<&ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(latchkey_core::client::GrantType::RefreshToken) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client is not registered for refresh tokens"));
    }
    let now = now();
    let hash = token_key(token.expose());
    let Some(RefreshLookup { token: old, grant, user }) = state.store().refresh_token(&hash).await? else {
        return Err(invalid_grant("unknown refresh token"));
    };
    if grant.client_id != client.id {
        // Another client's token: refuse without touching the family (RFC 9700 §4.14.2).
        return Err(invalid_grant("the refresh token was issued to another client"));
    }
    if old.revoked_at.is_some() || grant.revoked_at.is_some() {
        return Err(invalid_grant("the refresh token was revoked"));
    }
    if let Some(used_at) = old.used_at {
        let grace = state.ctx.config.refresh_reuse_grace.as_secs() as i64;
        if grace > 0 && now - used_at <= grace {
            // Within the grace window a lost response is not treated as theft: the
            // family stays, the client is told to use the newer token.
            return Err(invalid_grant("the refresh token was already rotated"));
        }
        tracing::warn!(client = %client.id, "refresh token reused; revoking its family");
        state.revoke_grant(&grant.id, now).await?;
        return Err(invalid_grant("the refresh token was already used"));
    }
    let family = RefreshGrant {
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        scope: ScopeSet::parse(&grant.scope)?,
        resources: grant.resources.clone(),
        expires_at: old.expires_at.min(grant.expires_at),
    };
    let issue = grant::refresh_token::decide(client, &family, scope, &state.policy(), now)?;
    let user = live_user(user, grant.created_at)?;
    let (access, access_row) = access_record(state, &issue, &grant.id, &user.username)?;
    let (new_refresh, new_row) = refresh_record(&grant.id, &client.id, &grant.scope, now, family.expires_at);
    match state.store().rotate_refresh(&hash, new_row, access_row, now).await? {
        Rotation::Rotated => Ok(response(access, &issue, Some(new_refresh))),
        Rotation::Reused { grant_id } => {
            // Lost a race with another use of the same token: indistinguishable from replay.
            state.revoke_grant(&grant_id, now).await?;
            Err(invalid_grant("the refresh token was already used"))
        }
        Rotation::Unknown => Err(invalid_grant("unknown refresh token")),
    }
}

/// `grant_type=password`.
pub(super) async fn password(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    username: &str,
    password: &Secret<String>,
    scope: Option<&ScopeSet>,
    resources: &[String],
) -> Result<TokenResponse, ErrorResponse> {
    grant::password::verify_client_allowed(client)?;
    let user = state.store().user_by_name(username).await.map_err(OAuthError::from)?;
    if let Err(refused) = state.passwords.verify(username, user.as_ref(), password.expose(), req.client_ip).await {
        state.metrics.login_failure();
        return Err(ErrorResponse::refused(refused));
    }
    let Some(user) = user else { return Err(invalid_grant("the username or password is incorrect").into()) };
    let now = now();
    let issue = grant::password::decide(client, &user.id, scope, resources, &state.policy(), now)?;
    let new = new_grant(state, client, &user, new_jti(), &issue, resources, now)?;
    state.store().put_grant(&new.grant, new.access.as_ref(), new.refresh.as_ref()).await.map_err(OAuthError::from)?;
    Ok(new.response)
}
