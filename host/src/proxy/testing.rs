//! Test doubles for the engine: an upstream HTTP server on 127.0.0.1 that counts the
//! requests it gets, a plugin that plans and rewrites in a trivial text format, and an
//! engine over a temp database and store.
//!
//! The plugin's documents are text; `rewrite` prefixes the body with the base URL (and
//! the view, for views other than `doc`) and declares one artifact per line
//! `file NAME VERSION URL [ALGORITHM:HEX]`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response as HttpResponse;

use super::plugin::{
    ArtifactPlan, DeclaredArtifact, FetchPlan, ProxyPlugin, RewriteInput, Rewritten,
    UpstreamRequest,
};
use super::{Engine, ProxyConfig, ProxyOwner};
use crate::config::MinFree;
use crate::db::Db;
use crate::plugins::PluginFailure;
use crate::plugins::api::{
    Digest, FileRef, HashAlgorithm, IndexSpec, Method, Operation, PackageRef, Request, Response,
    Selector, ServeSpec, VersionRef,
};
use crate::store::BlobStore;

type Handler = dyn Fn(&http::request::Parts) -> HttpResponse + Send + Sync;

/// An upstream on 127.0.0.1, stopped when dropped.
pub struct Upstream {
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Serves every request with `handler`, recording `METHOD path?query`.
    pub async fn start(
        handler: impl Fn(&http::request::Parts) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (handler, recorded) = (handler.clone(), recorded.clone());
            async move {
                let (parts, _) = request.into_parts();
                recorded
                    .lock()
                    .unwrap()
                    .push(format!("{} {}", parts.method, parts.uri));
                handler(&parts)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, seen, task }
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response with `status`, `headers` and `body`.
pub fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> HttpResponse {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

/// A URL nothing listens on.
pub async fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// The plugin double (see the module docs).
#[derive(Default)]
pub struct TextPlugin {
    pub head_validator: Option<String>,
    pub artifact: Mutex<Option<ArtifactPlan>>,
    pub plans: AtomicUsize,
    pub rewrites: AtomicUsize,
}

impl ProxyPlugin for TextPlugin {
    async fn plan(
        &self,
        operation: &Operation,
        _request: &Request,
    ) -> Result<FetchPlan, PluginFailure> {
        self.plans.fetch_add(1, Ordering::SeqCst);
        Ok(match operation {
            Operation::RenderIndex(IndexSpec { pkg: Some(pkg), .. }) => {
                FetchPlan::Document(UpstreamRequest {
                    path: format!("/{}", pkg.name),
                    accept: Some("text/plain".into()),
                    head_validator: self.head_validator.clone(),
                })
            }
            Operation::Serve(_) => match self.artifact.lock().unwrap().clone() {
                Some(plan) => FetchPlan::Artifact(Box::new(plan)),
                None => FetchPlan::NotFound,
            },
            _ => FetchPlan::NotFound,
        })
    }

    async fn rewrite(&self, input: RewriteInput) -> Result<Rewritten, PluginFailure> {
        self.rewrites.fetch_add(1, Ordering::SeqCst);
        let text = String::from_utf8_lossy(&input.upstream.body).into_owned();
        let declares = text
            .lines()
            .filter_map(|line| {
                let mut words = line.strip_prefix("file ")?.split(' ');
                let (name, version, url) = (words.next()?, words.next()?, words.next()?);
                let digests = words
                    .filter_map(|d| {
                        let (algorithm, hex) = d.split_once(':')?;
                        let algorithm = match algorithm {
                            "sha1" => HashAlgorithm::Sha1,
                            "sha512" => HashAlgorithm::Sha512,
                            _ => HashAlgorithm::Sha256,
                        };
                        Some(Digest {
                            algorithm,
                            hex: hex.into(),
                        })
                    })
                    .collect();
                Some(DeclaredArtifact {
                    name: name.into(),
                    version: version.into(),
                    url: url.into(),
                    digests,
                })
            })
            .collect();
        let body = match &input.operation {
            Operation::RenderIndex(spec) if spec.view != "doc" => {
                format!("{}|{}|{text}", input.base_url, spec.view)
            }
            _ => format!("{}|{text}", input.base_url),
        };
        Ok(Rewritten {
            response: Response {
                status: 0,
                content_type: "text/plain".into(),
                headers: Vec::new(),
                body: body.into_bytes(),
            },
            declares,
        })
    }
}

/// An engine over a temp database and store, with a proxy owner `proxy`.
pub struct TestEngine {
    pub engine: Engine,
    pub db: Db,
    pub blobs: BlobStore,
    pub owner_id: i64,
    now: Arc<std::sync::atomic::AtomicI64>,
    _dir: tempfile::TempDir,
}

impl TestEngine {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        let blobs = BlobStore::open(dir.path(), MinFree::Bytes(0)).unwrap();
        let owner_id = db
            .write_sync(|tx| {
                crate::db::owners::create(
                    tx,
                    "proxy",
                    crate::db::owners::OwnerKind::User,
                    None,
                    false,
                    false,
                )
            })
            .unwrap();
        let now = Arc::new(std::sync::atomic::AtomicI64::new(crate::clock::now()));
        let mut engine = Engine::new(db.clone(), blobs.clone());
        let clock = now.clone();
        engine.clock = Arc::new(move || clock.load(Ordering::SeqCst));
        Self {
            engine,
            db,
            blobs,
            owner_id,
            now,
            _dir: dir,
        }
    }

    /// Moves the engine's clock forward.
    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn proxy(&self, config: ProxyConfig) -> ProxyOwner {
        ProxyOwner {
            id: self.owner_id,
            name: "proxy".into(),
            config: Arc::new(config),
        }
    }
}

/// The client's request, on the mount `base_url`.
pub fn request(base_url: &str) -> Request {
    Request {
        method: Method::Get,
        path: "/".into(),
        query: Vec::new(),
        headers: Vec::new(),
        owner: Some("proxy".into()),
        base_url: base_url.into(),
        user: None,
    }
}

/// `render-index` of package `name`'s view `doc`.
pub fn index(name: &str) -> Operation {
    index_view(name, "doc")
}

/// `render-index` of package `name`'s `view`.
pub fn index_view(name: &str, view: &str) -> Operation {
    Operation::RenderIndex(IndexSpec {
        pkg: Some(PackageRef {
            owner: "proxy".into(),
            name: name.into(),
        }),
        view: view.into(),
        params: Vec::new(),
        digest_of: None,
        listing: None,
    })
}

/// A file of a package version, as plans and selectors name it.
pub fn file_ref(package: &str, version: &str, name: &str) -> FileRef {
    FileRef {
        version: VersionRef {
            pkg: PackageRef {
                owner: "proxy".into(),
                name: package.into(),
            },
            version: version.into(),
        },
        name: name.into(),
    }
}

/// `serve` of a file.
pub fn serve(package: &str, version: &str, name: &str) -> Operation {
    Operation::Serve(ServeSpec {
        selector: Selector::File(file_ref(package, version, name)),
        digest_of: None,
    })
}
