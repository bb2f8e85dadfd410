//! An in-process registry for unit tests: a temp data directory, the bundled formats,
//! and a compiled-component cache shared by every test of the process run (compiling
//! the bundled plugins takes seconds in a debug build; loading them from the cache,
//! milliseconds). Requests go through the real router with `tower::ServiceExt::oneshot`:
//! no socket, no server task.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use http::{Request, Response};
use tower::ServiceExt;

use super::Registry;
use crate::config::Config;
use crate::db::owners::{self, OwnerKind};
use crate::db::tokens::{self, Scope};

/// A registry in a temp directory, removed when this drops.
pub struct TestRegistry {
    pub registry: Arc<Registry>,
    _dir: tempfile::TempDir,
}

/// Where compiled bundled components are kept for the tests of this build.
fn plugin_cache() -> PathBuf {
    let dir = std::env::temp_dir().join("wharf-unit-plugin-cache");
    std::fs::create_dir_all(&dir).expect("create the shared plugin cache");
    dir
}

impl TestRegistry {
    /// A registry with the default configuration.
    pub fn open() -> Self {
        Self::with(|_| {})
    }

    /// A registry with the default configuration changed by `configure`.
    pub fn with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.storage.data_dir = dir.path().to_path_buf();
        config.server.public_url = Some("http://wharf.test".to_string());
        configure(&mut config);
        std::os::unix::fs::symlink(plugin_cache(), dir.path().join("plugin-cache"))
            .expect("link the shared plugin cache");
        let registry = Registry::open(config).expect("open the registry");
        Self {
            registry,
            _dir: dir,
        }
    }

    /// A user `name` (password `{name}-password`) and a token of theirs with `scope`.
    pub fn user(&self, name: &str, scope: Scope) -> String {
        let hash = crate::auth::secrets::hash_password(&format!("{name}-password"));
        let token = crate::auth::secrets::new_token();
        let token_hash = crate::auth::secrets::token_hash(&token);
        let name = name.to_string();
        self.registry
            .db
            .write_sync(move |tx| {
                let id = owners::create(tx, &name, OwnerKind::User, Some(&hash), false, false)?;
                tokens::insert(tx, id, "test", &token_hash, scope, None).map(|_| ())
            })
            .expect("create the user");
        token
    }

    /// One request through the whole router, in process.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        crate::http::router(self.registry.clone())
            .oneshot(request)
            .await
            .expect("the router never fails")
    }

    /// A request to `uri`, with `token` in `Authorization` when given.
    pub fn request(method: &str, uri: &str, token: Option<&str>) -> http::request::Builder {
        let builder = Request::builder().method(method).uri(uri);
        match token {
            Some(token) => builder.header(http::header::AUTHORIZATION, format!("token {token}")),
            None => builder,
        }
    }

    /// An `Authorization: Basic` value for a user [`Self::user`] made, with their password.
    pub fn basic(name: &str) -> String {
        use base64::Engine;
        let pair = format!("{name}:{name}-password");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// The response body as text.
    pub async fn text(response: Response<Body>) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .expect("read the body");
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_goes_through_the_router_without_a_socket() {
        let t = TestRegistry::open();
        let token = t.user("alice", Scope::Write);
        let put = Request::put("/api/packages/alice/generic/tool/1.0/tool.txt")
            .header("authorization", format!("token {token}"))
            .body(Body::from("hello"))
            .unwrap();
        assert_eq!(t.send(put).await.status(), 201);
        let get = Request::get("/api/packages/alice/generic/tool/1.0/tool.txt")
            .body(Body::empty())
            .unwrap();
        let response = t.send(get).await;
        assert_eq!(response.status(), 200);
        assert_eq!(TestRegistry::text(response).await, "hello");
    }
}
