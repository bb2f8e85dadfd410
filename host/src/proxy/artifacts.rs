//! Artifacts: fetched once, streamed to every client while they are stored, verified,
//! and committed as files of the proxy owner's packages (the warm path is then the
//! hosted serve).
//!
//! Concurrent misses of one file join one download ([`super::download`]); its leader
//! ([`super::leader`]) is a detached task, so no client hanging up cuts it short.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use tokio::sync::watch;

use super::download::{Download, Progress};
use super::leader::Leader;
use super::plugin::{ArtifactPlan, ArtifactSource, FetchPlan, ProxyPlugin, UpstreamRequest};
use super::upstream::{Answer, Upstreams, Validators};
use super::{Engine, ProxyConfig, ProxyError, ProxyOwner, declarations, documents::broken};
use crate::db;
use crate::db::packages::{self, FileRow};
use crate::plugins::api::{Operation, Request};
use crate::store::Algorithm;

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
    pub(super) format: String,
    pub(super) owner_id: i64,
    pub(super) owner: String,
    pub(super) package: String,
    pub(super) version: String,
    pub(super) file: String,
    pub(super) lead: bool,
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
