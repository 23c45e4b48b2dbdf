//! `latchkey demo-api`: a small protected API built only on `latchkey-resource`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::{Args, ValueEnum};
use latchkey_resource::{BearerAuth, ResourceConfig, TokenClaims, Validation};
use serde_json::json;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ValidateMode {
    Introspection,
    Jwt,
}

#[derive(Args)]
pub(crate) struct DemoApiArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The authorization server, and this API's client there (for introspection).
    #[command(flatten)]
    server: crate::token_cli::ServerArgs,
    /// How tokens are validated.
    #[arg(long, value_enum, default_value = "introspection")]
    validate: ValidateMode,
    /// Required audience; required with --validate jwt.
    #[arg(long)]
    audience: Option<String>,
    /// Longest time a validation result is cached (bounds how late a revocation is seen).
    #[arg(long = "cache-ttl", default_value = "5s", value_parser = humantime::parse_duration)]
    cache_ttl: Duration,
    /// Clock skew allowed for JWT exp/nbf.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    leeway: Duration,
    /// Least time between JWKS fetches caused by unknown key ids.
    #[arg(long = "jwks-min-refresh", default_value = "5s", value_parser = humantime::parse_duration)]
    jwks_min_refresh: Duration,
}

#[derive(Clone)]
struct Api {
    items: Arc<Mutex<Vec<serde_json::Value>>>,
}

pub(crate) async fn run(args: DemoApiArgs) -> ExitCode {
    let validation = match args.validate {
        ValidateMode::Introspection => Validation::Introspection,
        ValidateMode::Jwt => Validation::Jwt,
    };
    if matches!(args.validate, ValidateMode::Jwt) && args.audience.is_none() {
        eprintln!("error: --audience is required with --validate jwt");
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // RFC 9728: the resource identifier is where the metadata is served; the audience
    // is what tokens must be issued for (a resource indicator at the OAuth Server).
    let resource = format!("http://{addr}");
    let mut config = ResourceConfig::new(args.server.issuer, resource, validation)
        .with_credentials(args.server.client_id, args.server.client_secret)
        .with_audience(args.audience);
    config.cache_ttl = args.cache_ttl;
    config.leeway = args.leeway;
    config.jwks_min_refresh = args.jwks_min_refresh;
    let auth = match BearerAuth::new(config) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let api = Api { items: Arc::default() };
    println!("listening on http://{addr}");
    let app = Router::new()
        .route("/api/whoami", get(whoami.layer(auth.layer())))
        .route(
            "/api/items",
            get(list_items.layer(auth.require("items:read"))).post(create_item.layer(auth.require("items:write"))),
        )
        .route("/health/live", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .merge(auth.metadata_router())
        .with_state(api);
    match axum::serve(listener, app).with_graceful_shutdown(latchkey_server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn whoami(claims: TokenClaims) -> impl IntoResponse {
    axum::Json(json!({ "sub": claims.sub, "client_id": claims.client_id, "scope": claims.scope.join(" ") }))
}

async fn list_items(State(api): State<Api>) -> impl IntoResponse {
    let items = api.items.lock().map(|v| v.clone()).unwrap_or_default();
    axum::Json(items)
}

async fn create_item(State(api): State<Api>, claims: TokenClaims, body: Bytes) -> Response {
    let bad = |d: &str| {
        (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_request", "error_description": d})))
            .into_response()
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return bad("the body must be JSON like {\"name\": \"…\"}");
    };
    let Some(name) = value.get("name").and_then(|n| n.as_str()).filter(|n| !n.trim().is_empty() && n.len() <= 200)
    else {
        return bad("`name` must be a non-empty string of at most 200 bytes");
    };
    let Ok(mut items) = api.items.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let item = json!({ "id": items.len() + 1, "name": name, "owner": claims.sub });
    items.push(item.clone());
    (StatusCode::CREATED, axum::Json(item)).into_response()
}
