//! Admin commands: clients and signing keys, working directly on the database.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use latchkey_core::client::{AuthMethod, Client, GrantType};
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::random_token;
use latchkey_core::token::TokenFormat;
use latchkey_server::Context;
use latchkey_server::config::verify_client_fields;
use latchkey_server::keys::{is_published, rotate};
use latchkey_store::StoreError;
use serde_json::json;

#[derive(Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a client and print its secret (shown only here).
    Create {
        /// Client id.
        #[arg(long)]
        id: String,
        /// Secret (at least 16 characters); generated with 256 bits of entropy if omitted.
        #[arg(long)]
        secret: Option<String>,
        /// Grant type it may use (repeatable).
        #[arg(long = "grant-type", required = true)]
        grant_types: Vec<String>,
        /// Scope it may be granted (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// client_secret_basic (default) or client_secret_post.
        #[arg(long = "auth-method", default_value = "client_secret_basic")]
        auth_method: String,
        /// Access-token format: jwt or opaque (default: the server's).
        #[arg(long = "token-format")]
        token_format: Option<String>,
        /// Resource indicator it may request (repeatable); the first is the default `aud`.
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// May introspect any token (resource servers).
        #[arg(long)]
        introspect: bool,
        /// Access-token lifetime, e.g. "10m" (default: the server's).
        #[arg(long = "access-token-ttl")]
        access_token_ttl: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List clients (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one client (never its secret).
    Show {
        /// Client id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a client; its tokens become inactive.
    Delete {
        /// Client id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Generate a new secret for a client and print it (shown only here).
    RotateSecret {
        /// Client id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// List signing keys and whether they are published.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a new key the signer; old keys stay published until their tokens expire.
    Rotate {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn store_error(e: StoreError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

fn client_json(c: &Client) -> serde_json::Value {
    json!({
        "client_id": c.id,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scopes": c.scopes.iter().collect::<Vec<_>>(),
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "access_token_format": c.token_format.map(|f| f.as_str()),
        "access_token_ttl": c.access_token_ttl,
        "audiences": c.audiences,
        "introspect": c.introspect,
        "created_at": c.created_at,
    })
}

fn print_client(c: &Client, secret: Option<&str>, as_json: bool) {
    if as_json {
        let mut v = client_json(c);
        if let Some(s) = secret {
            v["client_secret"] = s.into();
        }
        println!("{v}");
        return;
    }
    println!("client_id:        {}", c.id);
    if let Some(s) = secret {
        println!("client_secret:    {s}    (shown only now: store it safely)");
    }
    println!("grant_types:      {}", c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" "));
    println!("scopes:           {}", c.scopes);
    println!("auth_method:      {}", c.auth_method.as_str());
    println!("token_format:     {}", c.token_format.map(|f| f.as_str()).unwrap_or("(server default)"));
    if let Some(ttl) = c.access_token_ttl {
        println!("access_token_ttl: {ttl}s");
    }
    println!("audiences:        {}", c.audiences.join(" "));
    println!("introspect:       {}", c.introspect);
}

pub(crate) async fn client(ctx: Context, cmd: ClientCommand) -> ExitCode {
    let store = ctx.store.as_ref();
    match cmd {
        ClientCommand::Create {
            id,
            secret,
            grant_types,
            scopes,
            auth_method,
            token_format,
            audiences,
            introspect,
            access_token_ttl,
            json,
        } => {
            if let Err((field, msg)) = verify_client_fields(&id, secret.as_deref(), &audiences) {
                return usage_error(format!("{field}: {msg}"));
            }
            let mut grants = Vec::new();
            for g in &grant_types {
                match GrantType::parse(g) {
                    Some(g) => grants.push(g),
                    None => return usage_error(format!("--grant-type: unsupported grant type `{g}`")),
                }
            }
            let scopes = match ScopeSet::from_tokens(&scopes) {
                Ok(s) => s,
                Err(e) => return usage_error(format!("--scope: {}", e.description)),
            };
            let Some(auth_method) = AuthMethod::parse(&auth_method) else {
                return usage_error("--auth-method must be client_secret_basic or client_secret_post");
            };
            let token_format = match token_format.as_deref().map(TokenFormat::parse) {
                None => None,
                Some(Some(f)) => Some(f),
                Some(None) => return usage_error("--token-format must be jwt or opaque"),
            };
            let ttl = match access_token_ttl.as_deref().map(humantime_secs) {
                None => None,
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => return usage_error(format!("--access-token-ttl: {e}")),
            };
            let secret = secret.unwrap_or_else(|| random_token(""));
            let t = now();
            let client = Client {
                secret_hash: ctx.hasher.hash(&id, &secret),
                id,
                grant_types: grants,
                scopes,
                auth_method,
                token_format,
                audiences,
                introspect,
                access_token_ttl: ttl,
                created_at: t,
            };
            match store.insert_client(&client, t).await {
                Ok(()) => {
                    print_client(&client, Some(&secret), json);
                    ExitCode::SUCCESS
                }
                Err(StoreError::Conflict(what)) => usage_error(format!("{what} already exists")),
                Err(e) => store_error(e),
            }
        }
        ClientCommand::List { json } => match store.clients().await {
            Ok(list) if json => {
                println!("{}", serde_json::Value::Array(list.iter().map(client_json).collect()));
                ExitCode::SUCCESS
            }
            Ok(list) => {
                for c in &list {
                    println!(
                        "{}\t{}\t{}",
                        c.id,
                        c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(","),
                        c.scopes
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => store_error(e),
        },
        ClientCommand::Show { id, json } => match store.client(&id).await {
            Ok(Some(c)) => {
                print_client(&c, None, json);
                ExitCode::SUCCESS
            }
            Ok(None) => not_found(&id),
            Err(e) => store_error(e),
        },
        ClientCommand::Delete { id, json } => match store.delete_client(&id).await {
            Ok(true) => {
                if json {
                    println!("{}", json!({ "client_id": id, "deleted": true }));
                } else {
                    println!("deleted client {id}; its tokens are no longer active");
                }
                ExitCode::SUCCESS
            }
            Ok(false) => not_found(&id),
            Err(e) => store_error(e),
        },
        ClientCommand::RotateSecret { id, json } => {
            let secret = random_token("");
            match store.set_client_secret(&id, &ctx.hasher.hash(&id, &secret), now()).await {
                Ok(true) => {
                    if json {
                        println!("{}", json!({ "client_id": id, "client_secret": secret }));
                    } else {
                        println!("client_id:     {id}\nclient_secret: {secret}    (shown only now: store it safely)");
                    }
                    ExitCode::SUCCESS
                }
                Ok(false) => not_found(&id),
                Err(e) => store_error(e),
            }
        }
    }
}

fn not_found(id: &str) -> ExitCode {
    eprintln!("error: no client with id `{id}`");
    ExitCode::FAILURE
}

fn humantime_secs(s: &str) -> Result<i64, String> {
    let d: Duration = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d.as_secs() as i64)
}

pub(crate) async fn keys(ctx: Context, cmd: KeysCommand) -> ExitCode {
    let store = ctx.store.as_ref();
    match cmd {
        KeysCommand::List { json } => match store.signing_keys().await {
            Ok(keys) => {
                let t = now();
                let max_ttl = ctx.config.max_access_token_ttl();
                let rows: Vec<serde_json::Value> = keys
                    .iter()
                    .map(|k| {
                        let status = if k.retired_at.is_none() {
                            "current"
                        } else if is_published(k, max_ttl, t) {
                            "published"
                        } else {
                            "expired"
                        };
                        json!({"kid": k.kid, "alg": k.alg, "status": status, "created_at": k.created_at, "retired_at": k.retired_at})
                    })
                    .collect();
                if json {
                    println!("{}", serde_json::Value::Array(rows));
                } else {
                    for r in rows {
                        println!(
                            "{}\t{}\t{}",
                            r["kid"].as_str().unwrap_or(""),
                            r["alg"].as_str().unwrap_or(""),
                            r["status"].as_str().unwrap_or("")
                        );
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => store_error(e),
        },
        KeysCommand::Rotate { json } => match rotate(store, &ctx.secrets, ctx.config.signing_alg, now()).await {
            Ok(kid) => {
                if json {
                    println!("{}", json!({ "kid": kid, "alg": ctx.config.signing_alg.as_str() }));
                } else {
                    println!("new signing key {kid} ({}); running servers switch within 2 s", ctx.config.signing_alg);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
