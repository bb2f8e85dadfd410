//! A download's leader: the detached task that fetches an artifact from the upstreams
//! once for every client joined to it. It hands each chunk to the clients from memory
//! first, then to the writer, which hashes and writes on the blocking pool through a
//! small bounded channel (so a download's memory is bounded whatever the clients do).
//! Bytes that do not match every digest the plan or the declaring document states are
//! never committed, and the mismatch is logged with both digests. Tested through the
//! engine, as clients meet it, in `artifact_tests.rs`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use reqwest::Method;
use tokio::sync::{mpsc, watch};

use super::ProxyConfig;
use super::ProxyError;
use super::artifacts::{Target, ask};
use super::download::{Body, Progress};
use super::upstream::Upstreams;
use crate::db::packages::{self, FileRow, NewFile};
use crate::db::{self, Db};
use crate::error::Error;
use crate::store::{Algorithm, BlobStore, HashedBlob, StagedBlob};

/// Upstream pieces waiting for the writer; bounds a download's memory.
const QUEUED_CHUNKS: usize = 16;

/// What a download's detached task needs of the engine.
pub(super) struct Leader {
    pub(super) db: Db,
    pub(super) blobs: BlobStore,
    pub(super) upstreams: Arc<Upstreams>,
    pub(super) config: Arc<ProxyConfig>,
    pub(super) now: super::Clock,
}

impl Leader {
    pub(super) async fn run(self, target: Target, tx: watch::Sender<Progress>) {
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
        // Into the object store (with one) before the transaction, as hosted publishes
        // do: a 1 GiB upload must not hold the write transaction; the commit then only
        // checks the object is still there.
        staged.upload().await?;
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
