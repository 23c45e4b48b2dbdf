//! `latchkey token …`: the Business Client, for people debugging their set-up.
//! Endpoints are found through the issuer's metadata (RFC 8414).

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use clap::{Args, Subcommand};
use latchkey_core::form::encode_component;

/// Where the authorization server is and who we are there (shared with `demo-api`).
#[derive(Args)]
pub(crate) struct ServerArgs {
    /// The authorization server's issuer URL.
    #[arg(long)]
    pub(crate) issuer: String,
    /// Client id at the authorization server.
    #[arg(long = "client-id")]
    pub(crate) client_id: String,
    /// Its secret.
    #[arg(long = "client-secret")]
    pub(crate) client_secret: String,
}

#[derive(Args)]
pub(crate) struct ClientArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Send the credentials in the body (client_secret_post) instead of HTTP Basic.
    #[arg(long = "auth-post")]
    auth_post: bool,
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Get a token with the client credentials grant; prints the token response JSON.
    ClientCredentials {
        #[command(flatten)]
        client: ClientArgs,
        /// Space-delimited scope (default: every scope of the client).
        #[arg(long)]
        scope: Option<String>,
        /// Resource indicator (RFC 8707), repeatable.
        #[arg(long)]
        resource: Vec<String>,
    },
    /// Introspect a token (RFC 7662); prints the introspection JSON.
    Introspect {
        #[command(flatten)]
        client: ClientArgs,
        /// The token.
        token: String,
    },
    /// Revoke a token (RFC 7009).
    Revoke {
        #[command(flatten)]
        client: ClientArgs,
        /// The token.
        token: String,
        /// access_token or refresh_token.
        #[arg(long)]
        hint: Option<String>,
    },
}

pub(crate) async fn run(cmd: TokenCommand) -> ExitCode {
    let http = match reqwest::Client::builder().timeout(Duration::from_secs(15)).build() {
        Ok(h) => h,
        Err(e) => return fail(&format!("HTTP client: {e}")),
    };
    let (client, endpoint_key, mut form) = match cmd {
        TokenCommand::ClientCredentials { client, scope, resource } => {
            let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
            form.extend(scope.map(|s| ("scope".to_owned(), s)));
            form.extend(resource.into_iter().map(|r| ("resource".to_owned(), r)));
            (client, "token_endpoint", form)
        }
        TokenCommand::Introspect { client, token } => (client, "introspection_endpoint", vec![("token".into(), token)]),
        TokenCommand::Revoke { client, token, hint } => {
            let mut form = vec![("token".to_owned(), token)];
            form.extend(hint.map(|h| ("token_type_hint".to_owned(), h)));
            (client, "revocation_endpoint", form)
        }
    };
    let issuer = client.server.issuer.trim_end_matches('/');
    let meta: serde_json::Value =
        match http.get(format!("{issuer}/.well-known/oauth-authorization-server")).send().await {
            Ok(r) if r.status().is_success() => match r.json().await {
                Ok(m) => m,
                Err(e) => return fail(&format!("metadata is not JSON: {e}")),
            },
            Ok(r) => return fail(&format!("metadata request answered {}", r.status())),
            Err(e) => return fail(&format!("cannot reach {issuer}: {e}")),
        };
    let Some(endpoint) = meta[endpoint_key].as_str() else {
        return fail(&format!("the server's metadata has no {endpoint_key}"));
    };
    let mut req = http.post(endpoint);
    if client.auth_post {
        form.push(("client_id".into(), client.server.client_id.clone()));
        form.push(("client_secret".into(), client.server.client_secret.clone()));
    } else {
        // RFC 6749 §2.3.1: form-urlencode id and secret before base64.
        let raw = format!(
            "{}:{}",
            encode_component(&client.server.client_id),
            encode_component(&client.server.client_secret)
        );
        req = req.header("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)));
    }
    let res = match req.form(&form).send().await {
        Ok(r) => r,
        Err(e) => return fail(&format!("request failed: {e}")),
    };
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if endpoint_key == "revocation_endpoint" && status.is_success() {
        println!("{}", serde_json::json!({ "revoked": true }));
        return ExitCode::SUCCESS;
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or(text)),
        Err(_) => println!("{text}"),
    }
    if status.is_success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: the server answered {status}");
        ExitCode::FAILURE
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}
