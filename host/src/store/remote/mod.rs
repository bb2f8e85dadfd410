//! Blob bytes in an S3-compatible object store (`storage.blobs = "s3://bucket/prefix"`).
//!
//! The store's layout is the data dir's, below the prefix: `blobs/sha256/<aa>/<hex>`
//! for stored blobs, `trash/sha256/<hex>` for those the collector is deleting. Keys are
//! built from validated sha256 hex only. Uploads are still staged and hashed on local
//! disk (plugins read them by range); this module copies finished files up, reads
//! ranges back as streams, and does the collector's walk, trash, restore and purge.
//!
//! All I/O runs on a small runtime of its own (`connector`), so the server's async
//! tasks, its blocking pool and `wharf gc` (which has no runtime) can all call in:
//! async callers await, blocking ones wait on a channel; response bodies cross over
//! through a bounded channel, so a slow reader pauses the object store. A failed
//! request (after a few quick retries) is logged and surfaces as an [`Unavailable`]
//! I/O error, which the HTTP layer answers with 503; a missing object is `NotFound`.

mod cache;
mod collect;
mod connector;
mod read;
mod sessions;
mod upload;

pub use sessions::part_name;

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, Checksum};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, RetryConfig};

use crate::config::{BlobBackend, StorageConfig};
use cache::BlobCache;

/// How long one request (not a streamed body) may take before the store counts as
/// unavailable. Large transfers are split into parts, each bounded by this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An object store holding the blob bytes; clones share the connection pool.
#[derive(Clone)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    /// Presigns download URLs when `storage.redirect_downloads` is on (S3 can; test
    /// stores cannot).
    signer: Option<Arc<dyn Signer>>,
    /// The key prefix, with its trailing `/` when not empty.
    prefix: String,
    /// Small blobs this node read lately (`storage.blob_cache`).
    cache: BlobCache,
    io: Arc<IoRuntime>,
    /// For logs: `s3://bucket/prefix`.
    name: String,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").field("name", &self.name).finish()
    }
}

/// A failed request to the object store, already logged: the store is unreachable,
/// answers 5xx, or refuses the credentials. Callers answer 503, never lose data.
#[derive(Debug)]
pub struct Unavailable(String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the blob object store is unavailable: {}", self.0)
    }
}

impl std::error::Error for Unavailable {}

/// Whether `e` is an object store's [`Unavailable`].
pub fn is_unavailable(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Unavailable>())
}

impl Remote {
    /// Connects to the object store `storage.blobs` names (`None` for `"fs"`).
    /// Credentials come from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` or the rest of
    /// the usual chain (web identity, container and instance metadata), which
    /// `object_store` walks; nothing is requested until the first use.
    pub fn connect(storage: &StorageConfig) -> anyhow::Result<Option<Self>> {
        let BlobBackend::S3 { bucket, prefix } = storage.blob_backend()? else {
            return Ok(None);
        };
        let io = Arc::new(IoRuntime::new()?);
        let region = storage
            .s3_region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_region(region)
            .with_http_connector(connector::BoundedConnector::new(io.handle()))
            .with_retry(RetryConfig {
                // A store that is down should cost a request seconds, not minutes:
                // the client gets 503 and retries on its own.
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(1),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    // Downloads stream for as long as the client reads; requests are
                    // bounded one by one instead (REQUEST_TIMEOUT).
                    .with_timeout_disabled()
                    .with_allow_http(
                        storage
                            .s3_endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        builder = match &storage.s3_endpoint {
            // Self-hosted servers are addressed path-style (endpoint/bucket/key).
            Some(endpoint) => builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false),
            None => builder.with_virtual_hosted_style_request(true),
        };
        if storage.s3_checksums {
            builder = builder.with_checksum_algorithm(Checksum::SHA256);
        }
        let s3 = Arc::new(builder.build()?);
        Ok(Some(Self {
            store: s3.clone(),
            signer: storage.redirect_downloads.then_some(s3 as Arc<dyn Signer>),
            prefix: key_prefix(&prefix),
            cache: BlobCache::new(storage.blob_cache.0),
            io,
            name: format!("s3://{bucket}/{prefix}"),
        }))
    }

    /// A remote over any object store, without presigning (unit tests use `InMemory`).
    #[cfg(test)]
    pub fn over(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            signer: None,
            prefix: key_prefix(prefix),
            cache: BlobCache::new(crate::config::DEFAULT_BLOB_CACHE.0),
            io: Arc::new(IoRuntime::new().expect("a runtime")),
            name: format!("test://{prefix}"),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `prefix/blobs/sha256/<aa>/<hex>`; `sha256` is validated hex.
    fn key(&self, sha256: &str) -> Path {
        Path::from(format!(
            "{}blobs/sha256/{}/{sha256}",
            self.prefix,
            &sha256[..2]
        ))
    }

    fn trash_key(&self, sha256: &str) -> Path {
        Path::from(format!("{}trash/sha256/{sha256}", self.prefix))
    }

    fn blobs_dir(&self) -> Path {
        Path::from(format!("{}blobs/sha256", self.prefix))
    }

    fn trash_dir(&self) -> Path {
        Path::from(format!("{}trash/sha256", self.prefix))
    }

    /// The object's metadata, `None` if there is none.
    async fn head(&self, key: &Path) -> io::Result<Option<ObjectMeta>> {
        match self.timed("head", self.store.head(key)).await {
            Ok(meta) => Ok(Some(meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the blob is stored (blocking).
    pub fn contains(&self, sha256: &str) -> io::Result<bool> {
        self.stored_size(sha256).map(|size| size.is_some())
    }

    /// The stored blob's size, if it is there (blocking).
    pub fn stored_size(&self, sha256: &str) -> io::Result<Option<u64>> {
        let this = self.clone();
        let key = self.key(sha256);
        self.block_on(async move { Ok(this.head(&key).await?.map(|meta| meta.size)) })
    }

    /// A URL that fetches the blob without credentials for `expires_in`, if downloads
    /// are redirected.
    pub async fn presigned_get(
        &self,
        sha256: &str,
        expires_in: Duration,
    ) -> io::Result<Option<String>> {
        let Some(signer) = self.signer.clone() else {
            return Ok(None);
        };
        let key = self.key(sha256);
        let url = self
            .timed("presign", async move {
                signer.signed_url(http::Method::GET, &key, expires_in).await
            })
            .await?;
        Ok(Some(url.to_string()))
    }

    /// Runs one request with [`REQUEST_TIMEOUT`], mapping its error (see [`io_error`]).
    async fn timed<T>(
        &self,
        op: &'static str,
        request: impl Future<Output = object_store::Result<T>>,
    ) -> io::Result<T> {
        match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(result) => result.map_err(|e| self.io_error(op, e)),
            Err(_) => Err(self.unavailable(op, "no answer in time".into())),
        }
    }

    /// `NotFound` and `AlreadyExists` keep their kinds; anything else is logged here and
    /// becomes [`Unavailable`].
    fn io_error(&self, op: &'static str, e: object_store::Error) -> io::Error {
        match e {
            object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
            object_store::Error::AlreadyExists { .. } => {
                io::Error::new(io::ErrorKind::AlreadyExists, e)
            }
            e => self.unavailable(op, e.to_string()),
        }
    }

    fn unavailable(&self, op: &'static str, detail: String) -> io::Error {
        tracing::warn!(store = %self.name, op, error = %detail, "blob object store request failed");
        io::Error::other(Unavailable(format!("{op} failed")))
    }

    /// Runs `work` on the I/O runtime and waits for it on this thread, whatever the
    /// thread is (a blocking-pool thread, `wharf gc`'s main thread, or briefly an async
    /// worker at startup).
    fn block_on<T: Send + 'static>(
        &self,
        work: impl Future<Output = io::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.io.handle().spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| io::Error::other("the object store's runtime stopped"))?
    }
}

fn key_prefix(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    }
}

/// The object store's own runtime. Dropped without waiting: in-flight requests of a
/// stopping server are abandoned like its connections (nothing is committed on them).
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wharf-s3")
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.0
            .as_ref()
            .expect("the runtime lives until drop")
            .handle()
            .clone()
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    #[test]
    fn keys_follow_the_data_dir_layout_below_the_prefix() {
        let remote = Remote::over(Arc::new(InMemory::new()), "/team/blobs-a/");
        let hex = "ab".repeat(32);
        assert_eq!(
            remote.key(&hex).as_ref(),
            format!("team/blobs-a/blobs/sha256/ab/{hex}")
        );
        assert_eq!(
            remote.trash_key(&hex).as_ref(),
            format!("team/blobs-a/trash/sha256/{hex}")
        );
        let bare = Remote::over(Arc::new(InMemory::new()), "");
        assert_eq!(bare.blobs_dir().as_ref(), "blobs/sha256");
    }

    #[test]
    fn failures_other_than_missing_are_unavailable() {
        let remote = Remote::over(Arc::new(InMemory::new()), "p");
        let missing = remote.io_error(
            "get",
            object_store::Error::NotFound {
                path: "x".into(),
                source: "gone".into(),
            },
        );
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(!is_unavailable(&missing));
        let down = remote.io_error(
            "get",
            object_store::Error::Generic {
                store: "S3",
                source: "connection refused".into(),
            },
        );
        assert!(is_unavailable(&down));
        assert!(
            crate::error::Error::from(down)
                .to_string()
                .contains("unavailable")
        );
    }
}
