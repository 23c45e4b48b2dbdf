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
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
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
        /// Name shown on the consent page.
        #[arg(long)]
        name: Option<String>,
        /// Redirect URI (repeatable), matched exactly.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (native app, SPA): no secret, PKCE always required.
        #[arg(long)]
        public: bool,
        /// First-party client: no consent page.
        #[arg(long = "skip-consent")]
        skip_consent: bool,
        /// Exempt this confidential client from PKCE (not allowed with --public).
        #[arg(long = "no-require-pkce")]
        no_require_pkce: bool,
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
        "name": c.name,
        "redirect_uris": c.redirect_uris,
        "skip_consent": c.skip_consent,
        "require_pkce": c.pkce_required(),
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
            name,
            redirect_uris,
            public,
            skip_consent,
            no_require_pkce,
            json,
        } => {
            if let Err((field, msg)) = verify_client_fields(&id, secret.as_deref(), &audiences) {
                return usage_error(format!("{field}: {msg}"));
            }
            for uri in &redirect_uris {
                if let Err(msg) = latchkey_server::config::verify_redirect_uri(uri) {
                    return usage_error(format!("--redirect-uri: {msg}"));
                }
            }
            if public && (secret.is_some() || no_require_pkce) {
                return usage_error("--public clients have no secret and always require PKCE");
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
            let auth_method = if public { "none".to_owned() } else { auth_method };
            let Some(auth_method) = AuthMethod::parse(&auth_method) else {
                return usage_error("--auth-method must be client_secret_basic, client_secret_post or none");
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
            let secret = (!public).then(|| secret.unwrap_or_else(|| random_token("")));
            let t = now();
            let client = Client {
                secret_hash: secret.as_ref().map(|s| ctx.hasher.hash(&id, s)).unwrap_or_default(),
                name,
                redirect_uris,
                skip_consent,
                require_pkce: !no_require_pkce,
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
                    print_client(&client, secret.as_deref(), json);
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

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the password is read from standard input (never an argument).
    Create {
        /// Username.
        #[arg(long)]
        username: String,
        /// Read the password from standard input.
        #[arg(long = "password-stdin", required = true)]
        password_stdin: bool,
        /// E-mail.
        #[arg(long)]
        email: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user; their tokens become inactive and their grants are revoked.
    Delete {
        /// Username.
        username: String,
    },
    /// List users (never their password hashes).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum ConsentCommand {
    /// List the consents a user gave.
    List {
        /// Username.
        #[arg(long)]
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a consent, and every token issued under it.
    Revoke {
        /// Username.
        #[arg(long)]
        user: String,
        /// Client id.
        #[arg(long)]
        client: String,
    },
}

pub(crate) async fn user(ctx: Context, cmd: UserCommand) -> ExitCode {
    use latchkey_core::user::{User, hash_password, is_valid_username, new_user_id};
    let store = ctx.store.as_ref();
    match cmd {
        UserCommand::Create { username, password_stdin: _, email, json } => {
            if !is_valid_username(&username) {
                return usage_error("--username must be 1-64 printable ASCII characters");
            }
            let mut password = String::new();
            if std::io::stdin().read_line(&mut password).is_err() {
                return usage_error("cannot read the password from standard input");
            }
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            if password.len() < 8 {
                return usage_error("the password must be at least 8 characters");
            }
            let hash = match tokio::task::spawn_blocking(move || hash_password(&password)).await {
                Ok(h) => h,
                Err(e) => return store_error(StoreError::Config(e.to_string())),
            };
            let t = now();
            let user = User { id: new_user_id(), username, email, password_hash: hash, created_at: t };
            match store.insert_user(&user, t).await {
                Ok(()) => {
                    let v = json!({"sub": user.id, "username": user.username, "email": user.email});
                    if json {
                        println!("{v}")
                    } else {
                        println!("created user {} (sub {})", user.username, user.id)
                    }
                    ExitCode::SUCCESS
                }
                Err(StoreError::Conflict(what)) => usage_error(format!("{what} already exists")),
                Err(e) => store_error(e),
            }
        }
        UserCommand::Delete { username } => match store.delete_user(&username, now()).await {
            Ok(Some(_)) => {
                println!("deleted user {username}; their tokens are no longer active");
                ExitCode::SUCCESS
            }
            Ok(None) => {
                eprintln!("error: no user `{username}`");
                ExitCode::FAILURE
            }
            Err(e) => store_error(e),
        },
        UserCommand::List { json } => match store.users().await {
            Ok(users) => {
                let rows: Vec<serde_json::Value> =
                    users.iter().map(|u| json!({"sub": u.id, "username": u.username, "email": u.email})).collect();
                if json {
                    println!("{}", serde_json::Value::Array(rows));
                } else {
                    for u in &users {
                        println!("{}\t{}\t{}", u.username, u.id, u.email.as_deref().unwrap_or(""));
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => store_error(e),
        },
    }
}

pub(crate) async fn consent(ctx: Context, cmd: ConsentCommand) -> ExitCode {
    let store = ctx.store.as_ref();
    let username = match &cmd {
        ConsentCommand::List { user, .. } | ConsentCommand::Revoke { user, .. } => user.clone(),
    };
    let user = match store.user_by_name(&username).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            eprintln!("error: no user `{username}`");
            return ExitCode::FAILURE;
        }
        Err(e) => return store_error(e),
    };
    match cmd {
        ConsentCommand::List { json, .. } => match store.consents(&user.id).await {
            Ok(list) => {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|c| json!({"client_id": c.client_id, "scope": c.scope, "granted_at": c.granted_at}))
                    .collect();
                if json {
                    println!("{}", serde_json::Value::Array(rows));
                } else {
                    for c in &list {
                        println!("{}\t{}", c.client_id, c.scope);
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => store_error(e),
        },
        ConsentCommand::Revoke { client, .. } => match store.revoke_consent(&user.id, &client, now()).await {
            Ok(true) => {
                println!("revoked the consent of {username} for {client}, and the tokens issued under it");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("error: {username} has no consent for {client}");
                ExitCode::FAILURE
            }
            Err(e) => store_error(e),
        },
    }
}
