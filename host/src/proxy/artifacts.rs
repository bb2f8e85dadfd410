//! Artifacts: fetched once, streamed to every client while they are stored, verified,
//! and committed as files of the proxy owner's packages (the warm path is then the
//! hosted serve).
//!
//! Concurrent misses of one file join one download ([`super::download`]); its leader
//! is a detached task, so no client hanging up cuts it short. Hashing and writing run
//! on the blocking pool, fed by the upstream body through a small bounded channel.
//! Bytes that do not match every digest the plan or the declaring document states are
//! never committed, and the mismatch is logged with both digests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use reqwest::Method;
use tokio::sync::{mpsc, watch};

use super::download::{Body, Download, Progress};
use super::plugin::{ArtifactPlan, ArtifactSource, FetchPlan, ProxyPlugin, UpstreamRequest};
use super::upstream::{Answer, Upstreams, Validators};
use super::{Engine, ProxyConfig, ProxyError, ProxyOwner, declarations, documents::broken};
use crate::db::packages::{self, FileRow, NewFile};
use crate::db::{self, Db};
use crate::error::Error;
use crate::plugins::api::{Operation, Request};
use crate::store::{Algorithm, BlobStore, HashedBlob, StagedBlob};

/// Upstream pieces waiting for the writer; bounds a download's memory.
const QUEUED_CHUNKS: usize = 16;

/// What [`Engine::artifact`] answers.
pub enum ArtifactBody {
    /// Stored: serve this file as a hosted serve would.
    Stored(FileRow),
    /// Arriving now.
    Streaming(Download),
}

/// Downloads under way, by (owner, package, version, file) in lower case.
pub(super) type Key = (i64, String, String, String);

#[derive(Default)]
pub(super) struct Artifacts {
    running: Arc<Mutex<HashMap<Key, watch::Receiver<Progress>>>>,
}

/// Where an artifact goes and where it comes from, once its plan is resolved.
pub(super) struct Target {
    format: String,
    owner_id: i64,
    owner: String,
    package: String,
    version: String,
    file: String,
    lead: bool,
    pub(super) request: UpstreamRequest,
    /// (algorithm, lower-case hex) the bytes must have.
    pub(super) digests: Vec<(Algorithm, String)>,
}

impl Target {
    pub(super) fn key(&self) -> Key {
        (
            self.owner_id,
            self.package.to_lowercase(),
            self.version.to_lowercase(),
            self.file.to_lowercase(),
        )
    }
}

impl Engine {
    /// The artifact a `serve` operation on a proxy owner names, after the hosted
    /// lookup missed: stored by now, or streaming from its (one) download.
    pub async fn artifact<P: ProxyPlugin>(
        &self,
        proxy: &ProxyOwner,
        plugin: &P,
        operation: &Operation,
        request: &Request,
    ) -> Result<ArtifactBody, ProxyError> {
        let target = self.target(proxy, plugin, operation, request).await?;
        let key = target.key();
        if let Some(progress) = self.artifacts.joined(&key) {
            return follow(progress).await;
        }
        if let Some(row) = self.stored(&target)? {
            return Ok(ArtifactBody::Stored(row));
        }
        if proxy.config.offline {
            return Err(ProxyError::NotFound(
                "not cached, and the proxy is offline".into(),
            ));
        }
        let progress = self.artifacts.start(key, || {
            let leader = Leader {
                db: self.db.clone(),
                blobs: self.blobs.clone(),
                upstreams: self.upstreams.clone(),
                config: proxy.config.clone(),
                now: self.clock.clone(),
            };
            move |tx| leader.run(target, tx)
        });
        follow(progress).await
    }

    /// The artifact `operation` names, as the plugin plans it, with its plan's source
    /// resolved: the fetch it names, or the declaration of the file in its document
    /// (fetched or revalidated when it declares no such file).
    pub(super) async fn target<P: ProxyPlugin>(
        &self,
        proxy: &ProxyOwner,
        plugin: &P,
        operation: &Operation,
        request: &Request,
    ) -> Result<Target, ProxyError> {
        let plan: ArtifactPlan = match plugin.plan(operation, request).await {
            Ok(FetchPlan::Artifact(plan)) => *plan,
            Ok(FetchPlan::NotFound) => {
                return Err(ProxyError::NotFound("not found upstream".into()));
            }
            Ok(FetchPlan::Document(_)) => return Err(broken(proxy, "a document plan for serve")),
            Err(e) => return Err(ProxyError::Plugin(e)),
        };
        let package = plan.file.version.pkg.name;
        let file = plan.file.name;
        let (version, request, digests) = match plan.source {
            ArtifactSource::Fetch(fetch) => {
                let digests = fetch.digests.iter().map(declarations::expected).collect();
                (plan.file.version.version, fetch.request, digests)
            }
            ArtifactSource::DeclaredIn(operation) => {
                let document = super::key::operation_key(&operation).ok_or_else(|| {
                    broken(proxy, "an artifact declared in something not a document")
                })?;
                let find = || {
                    self.db
                        .read_now(|conn| db::proxy::declaration(conn, proxy.id, &document, &file))
                };
                let declared = match find()? {
                    Some(declared) => declared,
                    None => {
                        self.document_with(proxy, plugin, &operation, request, true)
                            .await?;
                        find()?.ok_or_else(|| {
                            ProxyError::NotFound(format!("{file} is not declared upstream"))
                        })?
                    }
                };
                let digests = declarations::digests_of(&declared);
                let version = match plan.file.version.version {
                    v if v.is_empty() => declared.version,
                    v => v,
                };
                (version, UpstreamRequest::get(&declared.url), digests)
            }
        };
        if version.is_empty() || package.is_empty() || file.is_empty() {
            return Err(broken(
                proxy,
                "an artifact without package, version or file name",
            ));
        }
        Ok(Target {
            format: proxy.config.format.clone(),
            owner_id: proxy.id,
            owner: proxy.name.clone(),
            package,
            version,
            file,
            lead: plan.lead,
            request,
            digests,
        })
    }

    pub(super) fn stored(&self, target: &Target) -> Result<Option<FileRow>, ProxyError> {
        Ok(self.db.read_now(|conn| {
            let Some(package) =
                packages::find(conn, target.owner_id, &target.format, &target.package)?
            else {
                return Ok(None);
            };
            match packages::version(conn, package.id, &target.version)? {
                Some(version) => packages::file(conn, version.id, &target.file),
                None => Ok(None),
            }
        })?)
    }
}

impl Artifacts {
    pub(super) fn joined(&self, key: &Key) -> Option<watch::Receiver<Progress>> {
        lock(&self.running).get(key).cloned()
    }

    /// Joins the download of `key`, starting it (with the task `lead` makes) if none is
    /// under way. The task removes its entry when it ends, however it ends.
    fn start<F, Fut>(&self, key: Key, lead: impl FnOnce() -> F) -> watch::Receiver<Progress>
    where
        F: FnOnce(watch::Sender<Progress>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut running = lock(&self.running);
        if let Some(progress) = running.get(&key) {
            return progress.clone();
        }
        let (tx, rx) = watch::channel(Progress::Connecting);
        running.insert(key.clone(), rx.clone());
        let task = lead()(tx);
        let done = Done {
            running: self.running.clone(),
            key,
            progress: rx.clone(),
        };
        tokio::spawn(async move {
            let _done = done;
            task.await;
        });
        rx
    }
}

/// Removes a finished download's entry (also when its task panicked).
struct Done {
    running: Arc<Mutex<HashMap<Key, watch::Receiver<Progress>>>>,
    key: Key,
    progress: watch::Receiver<Progress>,
}

impl Drop for Done {
    fn drop(&mut self) {
        let mut running = lock(&self.running);
        if running
            .get(&self.key)
            .is_some_and(|p| p.same_channel(&self.progress))
        {
            running.remove(&self.key);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
impl Artifacts {
    /// Waits until no download is under way: clients get a verified body's last byte
    /// before it is stored, and tests look at what was stored.
    pub(super) async fn settled(&self) {
        for _ in 0..1000 {
            if lock(&self.running).is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("a download is still running");
    }
}

/// Waits for the upstream's answer, then gives the client its body.
pub(super) async fn follow(
    mut progress: watch::Receiver<Progress>,
) -> Result<ArtifactBody, ProxyError> {
    loop {
        let now = progress.borrow_and_update().clone();
        match now {
            Progress::Connecting => {}
            Progress::Streaming { body, .. } => {
                return Ok(ArtifactBody::Streaming(Download::new(body, progress)));
            }
            Progress::Committed { row, .. } => return Ok(ArtifactBody::Stored(row)),
            Progress::Failed(e) => return Err(e),
        }
        if progress.changed().await.is_err() {
            return Err(ProxyError::Upstream("the download stopped".into()));
        }
    }
}

/// The upstreams' 200 to `method` on `target`'s request: a 404 or 410 is "not found",
/// any other status an upstream failure.
pub(super) async fn ask(
    upstreams: &Upstreams,
    config: &ProxyConfig,
    method: Method,
    target: &Target,
) -> Result<Answer, ProxyError> {
    let answer = upstreams
        .send(
            config,
            method.clone(),
            &target.request,
            &Validators::default(),
        )
        .await
        .map_err(|e| ProxyError::Upstream(e.to_string()))?;
    match answer.status {
        200 => Ok(answer),
        404 | 410 => Err(ProxyError::NotFound("not found upstream".into())),
        status => Err(ProxyError::Upstream(format!(
            "{} answered {status} to {method}",
            answer.url
        ))),
    }
}

/// What a download's detached task needs of the engine.
struct Leader {
    db: Db,
    blobs: BlobStore,
    upstreams: Arc<Upstreams>,
    config: Arc<ProxyConfig>,
    now: super::Clock,
}

impl Leader {
    async fn run(self, target: Target, tx: watch::Sender<Progress>) {
        let outcome = match self.fetch(&target, &tx).await {
            Ok((size, row)) => {
                crate::metrics::proxy_artifact("stored");
                Progress::Committed { size, row }
            }
            Err(e) => {
                if !matches!(e, ProxyError::NotFound(_) | ProxyError::Integrity(_)) {
                    tracing::warn!(
                        owner = %target.owner, package = %target.package, file = %target.file,
                        error = %e, "proxy download failed"
                    );
                }
                crate::metrics::proxy_artifact(match e {
                    ProxyError::Integrity(_) => "digest_mismatch",
                    ProxyError::NotFound(_) => "not_found",
                    _ => "failed",
                });
                Progress::Failed(e)
            }
        };
        tx.send_replace(outcome);
    }

    async fn fetch(
        &self,
        target: &Target,
        tx: &watch::Sender<Progress>,
    ) -> Result<(u64, FileRow), ProxyError> {
        let started = Instant::now();
        let mut answer = ask(&self.upstreams, &self.config, Method::GET, target).await?;
        let length = answer.response.content_length();
        let content_type = answer.content_type();
        let extra: Vec<Algorithm> = target.digests.iter().map(|(a, _)| *a).collect();
        let mut writer = self.blobs.writer(&extra)?;
        let body = Arc::new(Body::new(writer.reader()?, content_type.clone(), length));
        tx.send_replace(Progress::Streaming {
            body: body.clone(),
            received: 0,
        });

        let (chunks, mut queue) = mpsc::channel::<Bytes>(QUEUED_CHUNKS);
        let on_disk = body.clone();
        let writing = tokio::task::spawn_blocking(move || {
            // Hashing and the page-cache copy on two threads: either alone would hold
            // the download (and so its clients) to its own pace.
            writer.hash_aside()?;
            while let Some(chunk) = queue.blocking_recv() {
                writer.write_bytes(chunk)?;
                on_disk.written(writer.size());
            }
            writer.hashed()
        });
        let mut outcome = Ok(());
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    // Clients take the chunk from memory right away; the writer (hashing
                    // as it writes) follows through a bounded queue.
                    body.push(chunk.clone());
                    let len = chunk.len() as u64;
                    tx.send_modify(|p| {
                        if let Progress::Streaming { received, .. } = p {
                            *received += len;
                        }
                    });
                    if chunks.send(chunk).await.is_err() {
                        break; // The writer failed; its error says why.
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    outcome = Err(ProxyError::Upstream(format!("{}: {e}", answer.url)));
                    break;
                }
            }
        }
        drop(chunks);
        let hashed = writing
            .await
            .map_err(|e| ProxyError::from(Error::Internal(e.to_string())))??;
        let at_end = started.elapsed();
        outcome?;
        if let Some(length) = length.filter(|l| *l != hashed.size()) {
            return Err(ProxyError::Upstream(format!(
                "{}: {} bytes instead of {length}",
                answer.url,
                hashed.size()
            )));
        }
        self.verify(target, &hashed, &answer.url)?;
        let size = hashed.size();
        // The clients may have the last byte now; storing goes on without them.
        body.verified(size);
        tx.send_modify(|_| {});
        let staged = tokio::task::spawn_blocking(move || hashed.sync())
            .await
            .map_err(|e| ProxyError::from(Error::Internal(e.to_string())))??;
        let synced = started.elapsed();
        let row = self
            .commit(target, staged, content_type, answer.url)
            .await?;
        tracing::debug!(
            owner = %target.owner, package = %target.package, file = %target.file, size,
            received_ms = at_end.as_millis(), synced_ms = synced.as_millis(),
            committed_ms = started.elapsed().as_millis(), "proxy download stored"
        );
        Ok((size, row))
    }

    fn verify(&self, target: &Target, hashed: &HashedBlob, url: &str) -> Result<(), ProxyError> {
        for (algorithm, expected) in &target.digests {
            let actual = hashed.digest(*algorithm).unwrap_or_default();
            if actual != expected {
                tracing::error!(
                    owner = %target.owner, package = %target.package, file = %target.file,
                    url = %url, algorithm = algorithm.as_str(), expected = %expected,
                    actual = %actual, "proxy refused an upstream artifact: digest mismatch"
                );
                return Err(ProxyError::Integrity(format!(
                    "{}: the upstream's bytes do not have the declared {} digest",
                    target.file,
                    algorithm.as_str()
                )));
            }
        }
        Ok(())
    }

    /// Records the file under the proxy owner (package and version made as needed) and
    /// where it came from, and moves its bytes into the store, in one transaction.
    async fn commit(
        &self,
        target: &Target,
        mut staged: StagedBlob,
        content_type: String,
        url: String,
    ) -> Result<FileRow, ProxyError> {
        let t = (
            target.owner_id,
            target.format.clone(),
            target.package.clone(),
            target.version.clone(),
            target.file.clone(),
            target.lead,
        );
        let now = (self.now)();
        let row = self
            .db
            .write(move |tx| {
                let (owner_id, format, package, version, name, lead) = t;
                db::gc::hold_off_collector(tx)?;
                let package_id = packages::ensure(tx, owner_id, &format, &package)?;
                let version_id = match packages::version(tx, package_id, &version)? {
                    Some(v) => v.id,
                    None => packages::insert_version(tx, package_id, &version, "{}", None)?,
                };
                db::blobs::insert(tx, &staged.sha256, staged.size)?;
                for (algorithm, hex) in &staged.digests {
                    if *algorithm != Algorithm::Sha256 {
                        db::blobs::set_digest(tx, &staged.sha256, algorithm.as_str(), hex)?;
                    }
                }
                if packages::file(tx, version_id, &name)?.is_none() {
                    let new = NewFile {
                        version_id,
                        name: &name,
                        blob: &staged.sha256,
                        size: staged.size,
                        content_type: &content_type,
                        lead,
                    };
                    packages::insert_file(tx, &new, false)?;
                }
                let row = packages::file(tx, version_id, &name)?
                    .ok_or_else(|| Error::Internal("the fetched file vanished".into()))?;
                db::proxy::record_fetch(tx, row.id, &url, now)?;
                packages::touch(tx, package_id)?;
                staged.publish()?;
                Ok(row)
            })
            .await?;
        Ok(row)
    }
}
