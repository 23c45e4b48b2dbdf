//! Protect an axum app with latchkey-resource in ten lines.
//!
//! ```sh
//! cargo run -p latchkey-resource --example protect_axum -- http://127.0.0.1:8080 rs RS_SECRET
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/hello
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::{Router, routing::get};
use latchkey_resource::{BearerAuth, ResourceConfig, TokenClaims, Validation};

async fn hello(claims: TokenClaims) -> String {
    format!("hello {} (scopes: {})\n", claims.sub, claims.scope.join(" "))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (issuer, client_id, secret) = (&args[1], &args[2], &args[3]);
    let config = ResourceConfig::new(issuer, "http://127.0.0.1:3000", Validation::Introspection)
        .with_credentials(client_id, secret)
        .with_audience(None);
    let auth = BearerAuth::new(config).expect("valid configuration");
    let app = Router::new().route("/hello", get(hello).layer(auth.layer())).merge(auth.metadata_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
