//! Starting and stopping the server.

use crate::context::{Context, StartError};
use crate::keys::{KEY_REFRESH, KeyRing};
use crate::metrics::Metrics;
use crate::routes::router;
use crate::state::{AppState, State, client_cache, now, token_cache};

/// How many expired rows one cleanup statement deletes: small batches keep each
/// transaction short, so cleanup never holds up the token endpoint.
pub const JANITOR_BATCH: i64 = 1000;

/// A bound, ready server.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: AppState,
}

impl Server {
    /// Open everything and bind; after this returns the server can be reached.
    pub async fn bind(ctx: Context) -> Result<Self, StartError> {
        let t = now();
        ctx.sync_static_config(t).await?;
        let keys = KeyRing::load(
            ctx.store.as_ref(),
            &ctx.secrets,
            ctx.config.signing_alg,
            ctx.config.max_access_token_ttl(),
            t,
        )
        .await?;
        let listener = tokio::net::TcpListener::bind(ctx.config.listen)
            .await
            .map_err(|source| StartError::Bind { addr: ctx.config.listen.to_string(), source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind { addr: "?".into(), source })?;
        let issuer = match &ctx.config.issuer {
            Some(i) => i.as_str().to_owned(),
            None => format!("http://{local}"),
        };
        let pages = crate::pages::Pages::load(ctx.config.templates_dir.as_deref())?;
        let passwords = crate::service::passwords::PasswordGuard::new(ctx.config.login_limits.clone());
        let tokens = token_cache(ctx.config.introspection_cache_ttl);
        let state = AppState::new(State {
            ctx,
            issuer,
            keys,
            clients: client_cache(),
            tokens,
            metrics: Metrics::default(),
            passwords,
            pages,
        });
        Ok(Self { listener, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Serve until `shutdown` completes, then drain in-flight requests.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let state = self.state.clone();
        let background = tokio::spawn(background_tasks(state.clone()));
        let app = router(state.clone());
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let result = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        background.abort();
        result
    }
}

async fn background_tasks(state: AppState) {
    let mut key_tick = tokio::time::interval(KEY_REFRESH);
    let mut janitor_tick = tokio::time::interval(state.ctx.config.janitor_interval);
    loop {
        tokio::select! {
            _ = key_tick.tick() => {
                let ctx = &state.ctx;
                if let Err(e) = state.keys.refresh(ctx.store.as_ref(), &ctx.secrets, ctx.config.max_access_token_ttl(), now()).await {
                    tracing::warn!(error = %e, "key refresh failed; keeping the previous keys");
                }
            }
            _ = janitor_tick.tick() => {
                match janitor(state.store(), now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "expired rows cleaned up"),
                    Err(e) => tracing::warn!(error = %e, "cleanup failed"),
                }
            }
        }
    }
}

/// Delete expired tokens and revocation records in batches of [`JANITOR_BATCH`],
/// yielding between batches; returns how many rows were deleted.
pub async fn janitor(store: &dyn latchkey_store::Store, now: i64) -> Result<u64, latchkey_store::StoreError> {
    let mut total = 0;
    loop {
        let n = store.delete_expired(now, JANITOR_BATCH).await?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Completes on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: draining in-flight requests");
}
