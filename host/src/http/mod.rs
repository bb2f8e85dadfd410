//! The HTTP surface: one router listing every route, grouped by caller.
//!
//! - `/api/v1/packages/…`: the management API (JSON, any format).
//! - `/api/v1/users/{username}/tokens…`, `/api/v1/admin/users`: accounts, Gitea's shapes.
//! - `/` and `/-/…`: the web UI for people in a browser (`ui`).
//! - `/healthz`, `/readyz`, `/metrics`: for operators' probes and scrapers (no format
//!   may mount over them; `config::RESERVED_PATHS`).
//! - everything else: a format's mount (`/api/packages/{owner}/{format}/…`, `/v2/…`),
//!   dispatched to its plugin by [`format::dispatch`].

mod conn;
mod download;
mod errors;
mod execute;
mod format;
mod gitea_shapes;
mod health;
mod length;
mod log;
mod management;
mod metrics;
mod query;
mod render;
mod reply;
mod sessions;
mod token;
mod ui;
mod upload;
mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::registry::Registry;

pub fn router(registry: Arc<Registry>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if registry.config.metrics.enabled {
        crate::metrics::install();
        router = router.route("/metrics", get(metrics::scrape));
    }
    router
        .route("/api/v1/packages/{owner}", get(management::list_packages))
        .route(
            "/api/v1/packages/{owner}/{format}/{name}",
            get(management::list_versions),
        )
        .route(
            "/api/v1/packages/{owner}/{format}/{name}/{version}",
            get(management::show_version).delete(management::delete_version),
        )
        .route(
            "/api/v1/packages/{owner}/{format}/{name}/{version}/files",
            get(management::list_files),
        )
        .route(
            "/api/v1/users/{username}/tokens",
            get(users::list_tokens).post(users::create_token),
        )
        .route(
            "/api/v1/users/{username}/tokens/{token}",
            axum::routing::delete(users::delete_token),
        )
        .route("/api/v1/admin/users", get(users::admin_list_users))
        .merge(ui::routes())
        .fallback(format::dispatch)
        .layer(middleware::from_fn_with_state(
            registry.clone(),
            log::log_request,
        ))
        // A body that stops coming fails its reader (uploads answer 408), so a stalled
        // upload frees what it holds.
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
            registry.config.server.body_timeout_secs,
        )))
        .with_state(registry)
}

/// The client's address, where the server recorded it (see [`serve`]).
fn peer(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish for up to
/// `grace`; uploads cut after that leave only temp files, removed at the next start.
pub async fn serve(
    registry: Arc<Registry>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(registry.config.server.shutdown_grace_secs);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(registry.clone());
    let flusher = tokio::spawn(flush_downloads(registry.clone()));
    let collector = match registry.config.gc.interval_secs {
        0 => None,
        secs => Some(tokio::spawn(crate::registry::gc::every(
            registry.clone(),
            Duration::from_secs(secs),
        ))),
    };
    let server = &registry.config.server;
    let timeouts = conn::Timeouts {
        header: Duration::from_secs(server.header_timeout_secs),
        idle: Duration::from_secs(server.idle_timeout_secs),
    };
    let server = tokio::spawn(conn::run(listener, app, timeouts, async move {
        shutdown.await;
        tracing::info!("shutting down; waiting for in-flight requests");
        let _ = stopping_tx.send(());
    }));
    tokio::pin!(server);
    let result = tokio::select! {
        result = &mut server => result.map_err(std::io::Error::other),
        _ = stopping_rx => match tokio::time::timeout(grace, &mut server).await {
            Ok(result) => result.map_err(std::io::Error::other),
            Err(_) => {
                tracing::warn!(
                    secs = grace.as_secs(),
                    "grace period over; dropping remaining requests"
                );
                server.abort();
                Ok(())
            }
        },
    };
    flusher.abort();
    if let Some(collector) = collector {
        collector.abort();
    }
    registry.downloads.flush(&registry.db).await;
    registry.token_use.flush(&registry.db).await;
    registry.proxies.flush_uses().await;
    result
}

/// Writes batched download counts (and token and proxy artifact uses) until the server
/// stops.
async fn flush_downloads(registry: Arc<Registry>) {
    let mut tick = tokio::time::interval(crate::registry::downloads::FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        registry.downloads.flush(&registry.db).await;
        registry.token_use.flush(&registry.db).await;
        registry.proxies.flush_uses().await;
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::StatusCode;

    use crate::db::tokens::Scope;
    use crate::registry::testing::TestRegistry;

    async fn get(t: &TestRegistry, path: &str) -> http::Response<Body> {
        let request = TestRegistry::request("GET", path, None);
        t.send(request.body(Body::empty()).unwrap()).await
    }

    /// Guards the router's split: the host's fixed routes answer themselves (management
    /// JSON, probes, metrics when enabled), while formats' paths go to `dispatch`.
    #[tokio::test]
    async fn fixed_routes_answer_before_any_format() {
        let t = TestRegistry::open();
        t.user("alice", Scope::Write);
        assert_eq!(get(&t, "/healthz").await.status(), StatusCode::OK);
        assert_eq!(get(&t, "/metrics").await.status(), StatusCode::OK);
        let packages = get(&t, "/api/v1/packages/alice").await;
        assert_eq!(packages.status(), StatusCode::OK);
        let listed: serde_json::Value =
            serde_json::from_str(&TestRegistry::text(packages).await).unwrap();
        assert!(listed.is_array(), "{listed}");
        let file = get(&t, "/api/packages/alice/generic/tool/1.0/tool.txt").await;
        assert_eq!(file.status(), StatusCode::NOT_FOUND, "the format's own 404");
        assert!(TestRegistry::text(file).await.contains("not found"));
    }

    /// Guards the fallback: a path no fixed route and no mount owns is a plain 404,
    /// and `/metrics` is no route at all when metrics are off.
    #[tokio::test]
    async fn paths_nothing_owns_are_404() {
        let t = TestRegistry::with(|c| c.metrics.enabled = false);
        for path in [
            "/nothing",
            "/api/packages/alice",
            "/api/v1/unknown",
            "/metrics",
        ] {
            let response = get(&t, path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(TestRegistry::text(response).await, "not found\n", "{path}");
        }
    }
}
