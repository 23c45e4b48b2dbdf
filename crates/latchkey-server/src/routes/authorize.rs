//! The authorization endpoint and its pages (RFC 6749 §4.1, RFC 7636, RFC 9207,
//! RFC 9700 §4.1-§4.16): validate, log in, ask consent, redirect back with a code.
//!
//! State lives server-side: a session (cookie holds a random id, the store its hash) and
//! a pending authorization request bound to that session, carrying a CSRF token that is
//! checked on every POST and consumed with the request (single use).

use std::sync::Arc;

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::OAuthError;
use latchkey_core::authorize::{self, AuthorizeError, AuthorizeRequest, error_redirect, redirect_with};
use latchkey_core::client::Client;
use latchkey_core::form::FormParams;
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::{digest_eq, new_token, random_token, token_key};
use latchkey_core::token::new_jti;
use latchkey_core::{ErrorCode, user::User};
use latchkey_store::{AuthRequestRecord, CodeRecord, Session};
use minijinja::context;
use serde::Deserialize;

use crate::error::ErrorResponse;
use crate::pages::secure_page_headers;
use crate::service::CODE_PREFIX;
use crate::state::{AppState, now};

/// How long a pending authorization request may wait for login and consent.
const REQUEST_TTL: i64 = 600;
const COOKIE: &str = "lk_session";
const SECURE_COOKIE: &str = "__Host-lk_session";

fn cookie_name(state: &AppState) -> &'static str {
    if state.issuer.starts_with("https://") { SECURE_COOKIE } else { COOKIE }
}

fn session_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name && !v.is_empty() && v.len() <= 128).then(|| v.to_owned())
    })
}

/// `Set-Cookie` for a session: HttpOnly, SameSite=Lax, Secure (and `__Host-`) under https.
fn set_cookie(state: &AppState, id: &str) -> HeaderValue {
    let secure = if state.issuer.starts_with("https://") { "; Secure" } else { "" };
    let max_age = state.ctx.config.session_ttl.as_secs();
    let v = format!("{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", cookie_name(state));
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn redirect(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    secure_page_headers(res.headers_mut());
    res
}

fn page_error(state: &AppState, status: StatusCode, e: OAuthError) -> Response {
    tracing::debug!(error = %e, "authorization request refused");
    state.pages.error(status, &e)
}

/// The session of this request, creating an anonymous one when there is none.
async fn ensure_session(state: &AppState, headers: &HeaderMap) -> Result<(String, Session, bool), ErrorResponse> {
    let t = now();
    if let Some(id) = session_cookie(headers, cookie_name(state))
        && let Some(s) = state.store().session(&token_key(&id), t).await.map_err(OAuthError::from)?
    {
        return Ok((id, s, false));
    }
    let id = new_token("");
    let s = Session {
        user_id: None,
        authenticated_at: None,
        expires_at: t + state.ctx.config.session_ttl.as_secs() as i64,
    };
    state.store().put_session(&token_key(&id), &s, t).await.map_err(OAuthError::from)?;
    Ok((id, s, true))
}

/// `GET /authorize`.
pub(super) async fn get_authorize(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = match FormParams::parse(q.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(e) => return page_error(&state, StatusCode::BAD_REQUEST, e),
    };
    let validated = async {
        let (client_id, redirect_uri) = authorize::parse_client_and_redirect(&query)?;
        let client = state.client(&client_id).await.map_err(|e| AuthorizeError::Page(e.into()))?;
        let redirect = authorize::verify_redirect(client.as_deref(), redirect_uri.as_deref())?;
        let client = client.ok_or_else(|| AuthorizeError::Page(OAuthError::invalid_client("unknown client")))?;
        let request = authorize::validate(&client, &query, redirect, redirect_uri.is_some())?;
        Ok::<_, AuthorizeError>((client, request))
    }
    .await;
    let (client, request) = match validated {
        Ok(v) => v,
        Err(AuthorizeError::Page(e)) => return page_error(&state, StatusCode::BAD_REQUEST, e),
        Err(AuthorizeError::Redirect { redirect_uri, error, state: s }) => {
            return redirect(&error_redirect(&redirect_uri, &error, s.as_deref(), &state.issuer));
        }
    };
    match start(&state, &headers, &client, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn start(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    request: AuthorizeRequest,
) -> Result<Response, ErrorResponse> {
    let (session_id, session, fresh) = ensure_session(state, headers).await?;
    let t = now();
    let (rid, csrf) = (new_token(""), random_token(""));
    let mut prompt = Vec::new();
    if request.prompt_login {
        prompt.push("login");
    }
    if request.prompt_consent {
        prompt.push("consent");
    }
    let record = AuthRequestRecord {
        id_hash: token_key(&rid),
        session_hash: token_key(&session_id),
        csrf_hash: token_key(&csrf),
        client_id: client.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        redirect_given: request.redirect_given,
        scope: request.scope.to_string(),
        state: request.state.clone(),
        code_challenge: request.code_challenge.clone(),
        resources: request.resources.clone(),
        prompt: prompt.join(" "),
        created_at: t,
        expires_at: t + REQUEST_TTL,
    };
    state.store().put_auth_request(&record).await.map_err(OAuthError::from)?;
    let mut res = proceed(state, client, &record, &rid, &csrf, &session).await?;
    if fresh {
        res.headers_mut().append(header::SET_COOKIE, set_cookie(state, &session_id));
    }
    Ok(res)
}

/// After validation or login: show the login page, the consent page, or finish.
async fn proceed(
    state: &AppState,
    client: &Client,
    record: &AuthRequestRecord,
    rid: &str,
    csrf: &str,
    session: &Session,
) -> Result<Response, ErrorResponse> {
    // `prompt=login` stays on the request until a login for it succeeds (rebind clears it).
    let fresh_login_needed = record.prompt.split(' ').any(|p| p == "login");
    let user = match (&session.user_id, fresh_login_needed) {
        (Some(id), false) => state.store().user(id).await.map_err(OAuthError::from)?,
        _ => None,
    };
    let Some(user) = user else {
        return Ok(login_page(state, client, rid, csrf, None, "", StatusCode::OK));
    };
    let requested = ScopeSet::parse(&record.scope)?;
    let remembered = state.store().consent(&user.id, &client.id).await.map_err(OAuthError::from)?;
    let covered = remembered.as_deref().map(ScopeSet::parse).transpose()?.is_some_and(|c| requested.is_subset(&c));
    let ask = record.prompt.split(' ').any(|p| p == "consent") || !covered;
    if client.skip_consent || !ask {
        if !state.store().consume_auth_request(&record.id_hash, now()).await.map_err(OAuthError::from)? {
            return Err(OAuthError::invalid_request("this authorization request was already completed").into());
        }
        return finish(state, record, &user).await;
    }
    let scopes: Vec<minijinja::Value> = requested
        .iter()
        .map(|s| {
            let description = state.ctx.config.scope_descriptions.get(s).cloned().unwrap_or_else(|| s.to_owned());
            context! { name => s, description => description }
        })
        .collect();
    Ok(state.pages.render(
        "consent.html",
        StatusCode::OK,
        context! {
            client_name => client.display_name(), username => user.username, scopes => scopes,
            request_id => rid, csrf_token => csrf, action => "/authorize/consent",
        },
    ))
}

fn login_page(
    state: &AppState,
    client: &Client,
    rid: &str,
    csrf: &str,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    state.pages.render(
        "login.html",
        status,
        context! {
            client_name => client.display_name(), request_id => rid, csrf_token => csrf, error => error,
            username => username, action => "/authorize/login",
        },
    )
}

/// Issue the code and redirect back with `code`, `state` and `iss` (RFC 9207).
async fn finish(state: &AppState, record: &AuthRequestRecord, user: &User) -> Result<Response, ErrorResponse> {
    let t = now();
    let code = new_token(CODE_PREFIX);
    let row = CodeRecord {
        code_hash: token_key(&code),
        grant_id: new_jti(),
        client_id: record.client_id.clone(),
        user_id: user.id.clone(),
        redirect_uri: record.redirect_given.then(|| record.redirect_uri.clone()),
        scope: record.scope.clone(),
        resources: record.resources.clone(),
        code_challenge: record.code_challenge.clone(),
        created_at: t,
        expires_at: t + state.ctx.config.authorization_code_ttl.as_secs() as i64,
    };
    state.store().put_code(&row).await.map_err(OAuthError::from)?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &record.state {
        params.push(("state", s));
    }
    params.push(("iss", &state.issuer));
    Ok(redirect(&redirect_with(&record.redirect_uri, &params)))
}

/// The posted forms.
#[derive(Deserialize)]
pub(super) struct ResumeQuery {
    request: String,
}

/// A pending authorization request a browser came back for, checked.
struct Pending {
    record: AuthRequestRecord,
    client: Arc<Client>,
    /// The request id from the form or URL.
    rid: String,
    session: Session,
    session_id: String,
    /// The CSRF token the form carried.
    csrf: String,
}

/// Load the request a form refers to and check it belongs to this session and carries
/// its CSRF token; `Origin`, when sent, must be ours.
async fn checked_request(
    state: &AppState,
    headers: &HeaderMap,
    form: &FormParams,
    need_csrf: bool,
) -> Result<Pending, Response> {
    let forbidden =
        |d: &'static str| page_error(state, StatusCode::FORBIDDEN, OAuthError::new(ErrorCode::AccessDenied, d));
    // Our pages send `Referrer-Policy: no-referrer`, under which browsers send
    // `Origin: null` with same-origin form posts; that says nothing, and the CSRF token
    // stays the check. A real foreign origin is refused outright.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && origin != "null"
        && origin.trim_end_matches('/') != origin_of(&state.issuer)
    {
        return Err(forbidden("cross-origin form submission refused"));
    }
    let bad = |d: &'static str| page_error(state, StatusCode::BAD_REQUEST, OAuthError::invalid_request(d));
    let rid = form.single("request").ok().flatten().ok_or_else(|| bad("the form is missing its request"))?.to_owned();
    let session_id =
        session_cookie(headers, cookie_name(state)).ok_or_else(|| forbidden("no session: enable cookies"))?;
    let t = now();
    let session = match state.store().session(&token_key(&session_id), t).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(forbidden("the session has expired")),
        Err(e) => return Err(ErrorResponse::from(OAuthError::from(e)).into_response()),
    };
    let record = match state.store().auth_request(&token_key(&rid), t).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(bad("this authorization request has expired or was already completed")),
        Err(e) => return Err(ErrorResponse::from(OAuthError::from(e)).into_response()),
    };
    if !digest_eq(&record.session_hash, &token_key(&session_id)) {
        return Err(forbidden("this form belongs to another session"));
    }
    let csrf = form.single("csrf_token").ok().flatten().unwrap_or("").to_owned();
    if need_csrf && !digest_eq(&record.csrf_hash, &token_key(&csrf)) {
        return Err(forbidden("missing or invalid CSRF token"));
    }
    let client = match state.client(&record.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(bad("the client no longer exists")),
        Err(e) => return Err(ErrorResponse::from(OAuthError::from(e)).into_response()),
    };
    Ok(Pending { record, client, rid, session, session_id, csrf })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

fn parse_form(body: &[u8]) -> Result<FormParams, OAuthError> {
    FormParams::parse(body)
}

/// `POST /authorize/login`.
pub(super) async fn post_login(
    State(state): State<AppState>,
    connect: axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return page_error(&state, StatusCode::BAD_REQUEST, e),
    };
    let Pending { record, client, rid, session_id: old_session_id, csrf, .. } =
        match checked_request(&state, &headers, &form, true).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let username = form.single("username").ok().flatten().unwrap_or("").to_owned();
    let password = form.single("password").ok().flatten().unwrap_or("").to_owned();
    let user = match state.store().user_by_name(&username).await {
        Ok(u) => u,
        Err(e) => return ErrorResponse::from(OAuthError::from(e)).into_response(),
    };
    let ip = Some(connect.0.ip());
    if let Err(refused) = state.passwords.verify(&username, user.as_ref(), &password, ip).await {
        state.metrics.login_failure();
        let status =
            if refused.retry_after.is_some() { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNAUTHORIZED };
        let message = if refused.retry_after.is_some() {
            refused.error.description.to_string()
        } else {
            "The username or password is incorrect.".to_owned()
        };
        return login_page(&state, &client, &rid, &csrf, Some(&message), &username, status);
    }
    let Some(user) = user else {
        return login_page(
            &state,
            &client,
            &rid,
            &csrf,
            Some("The username or password is incorrect."),
            &username,
            StatusCode::UNAUTHORIZED,
        );
    };
    // A new session id after login: a fixated or leaked pre-login id is worthless.
    let t = now();
    let new_id = new_token("");
    let session = Session {
        user_id: Some(user.id.clone()),
        authenticated_at: Some(t),
        expires_at: t + state.ctx.config.session_ttl.as_secs() as i64,
    };
    let saved = async {
        state.store().put_session(&token_key(&new_id), &session, t).await?;
        state.store().rebind_auth_request(&record.id_hash, &token_key(&new_id)).await?;
        state.store().delete_session(&token_key(&old_session_id)).await
    }
    .await;
    if let Err(e) = saved {
        return ErrorResponse::from(OAuthError::from(e)).into_response();
    }
    // RFC 9700 §4.12: 303 after a POST that carried credentials.
    let mut res = redirect(&format!("/authorize/resume?request={rid}"));
    res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, &new_id));
    res
}

/// `GET /authorize/resume`: after login, continue with consent or the code.
pub(super) async fn get_resume(
    State(state): State<AppState>,
    Query(q): Query<ResumeQuery>,
    headers: HeaderMap,
) -> Response {
    let form = FormParams::from_pairs([("request", q.request.as_str())]);
    let Pending { record, client, rid, session, .. } = match checked_request(&state, &headers, &form, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Only the token's hash is stored, so the next form gets a fresh one.
    let csrf = random_token("");
    if let Err(e) = state.store().renew_auth_request_csrf(&record.id_hash, &token_key(&csrf)).await {
        return ErrorResponse::from(OAuthError::from(e)).into_response();
    }
    match proceed(&state, &client, &record, &rid, &csrf, &session).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// `POST /authorize/consent`: `decision=approve` or `deny`; the request is consumed once.
pub(super) async fn post_consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return page_error(&state, StatusCode::BAD_REQUEST, e),
    };
    let Pending { record, session, .. } = match checked_request(&state, &headers, &form, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let user = match &session.user_id {
        Some(id) => state.store().user(id).await.ok().flatten(),
        None => None,
    };
    let Some(user) = user else {
        return page_error(&state, StatusCode::FORBIDDEN, OAuthError::new(ErrorCode::AccessDenied, "sign in first"));
    };
    match state.store().consume_auth_request(&record.id_hash, now()).await {
        Ok(true) => {}
        Ok(false) => {
            return page_error(
                &state,
                StatusCode::BAD_REQUEST,
                OAuthError::invalid_request("this form was already submitted"),
            );
        }
        Err(e) => return ErrorResponse::from(OAuthError::from(e)).into_response(),
    }
    match form.single("decision").ok().flatten() {
        Some("approve") => {
            let merged = match state.store().consent(&user.id, &record.client_id).await {
                Ok(Some(old)) => {
                    let old = ScopeSet::parse(&old).unwrap_or_default();
                    let new = ScopeSet::parse(&record.scope).unwrap_or_default();
                    ScopeSet::from_tokens(old.iter().chain(new.iter())).unwrap_or(new).to_string()
                }
                _ => record.scope.clone(),
            };
            if let Err(e) = state.store().put_consent(&user.id, &record.client_id, &merged, now()).await {
                return ErrorResponse::from(OAuthError::from(e)).into_response();
            }
            match finish(&state, &record, &user).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        }
        _ => {
            let e = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            redirect(&error_redirect(&record.redirect_uri, &e, record.state.as_deref(), &state.issuer))
        }
    }
}
