//! Resumable upload sessions (OCI blob uploads): start, append chunks, ask how much
//! arrived, finish with a digest, cancel, or upload a whole blob in one request.
//!
//! Where the bytes are depends on where blobs are kept. On local disk (one node), a
//! session is a file (`local`), the truth for what was received; the database row only
//! says who owns the session. With blobs in an object store (any number of nodes), each
//! chunk is an object there and the row records the parts (`remote`), so the chunks of
//! one upload may arrive at different nodes and any node can finish it.
//!
//! A running sha256 per session is kept in memory by the node that received the bytes
//! so far, so finishing costs no second read (and a wrong digest is refused at once);
//! when it is missing (restart, eviction, a failed write, a chunk that went to another
//! node) finishing hashes the bytes again. A finished blob goes into the store inside
//! the transaction that records it (nothing is half-stored), and the session's bytes are
//! removed only after the commit: a crash or a failed commit leaves the session as it
//! was, and the client can retry the finish or go on appending (to a copy, so a blob a
//! session file was linked into never changes).
//!
//! While free space is low, a request that would write bytes is refused (507) before
//! its body is read; finishing a complete session file writes none and still works.
//!
//! One request at a time per session: a second concurrent request on the same session
//! gets 416 with the session's current range (the client asks for the status and
//! resumes), never an interleaved write. Across nodes the row's conditional update
//! decides instead (`db::sessions::append_part`).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use tokio::sync::OwnedMutexGuard;

mod expiry;
mod hashing;
mod local;
mod remote;
mod sink;

pub use expiry::{Expired, expire};
use hashing::digest_mismatch;
pub use hashing::{extra_digests, wanted};

use super::Registry;
use super::incoming::{ByteStream, too_large};
use crate::db::{self, packages, sessions::SessionRow};
use crate::error::Error;
use crate::plugins::api;
use crate::store::sessions::{self as files, SessionFiles};
use crate::store::{Algorithm, StagedBlob, digest};

/// Most sessions with an in-memory hasher; beyond that idle ones are dropped and
/// rehash their file when they finish.
pub const MAX_LIVE: usize = 10_000;
/// Bytes appended between two `sync_data` calls, so the fsync at finish is short.
const SYNC_EVERY: u64 = 64 << 20;
type LiveMap = HashMap<String, Arc<tokio::sync::Mutex<LiveSession>>>;

/// The host's session state: the files and the in-memory hashers.
pub struct Sessions {
    files: SessionFiles,
    live: Mutex<LiveMap>,
}

/// What a session's in-memory state knows: a sha256 over its first `hashed` bytes.
#[derive(Default)]
struct LiveSession {
    hasher: Option<Sha256>,
    hashed: u64,
}

/// The package a request names.
#[derive(Debug, Clone)]
pub struct Target {
    pub owner_id: i64,
    pub format: String,
    pub package: String,
}

/// A request body to append, with its declared length and the format's upload limit.
pub struct Incoming {
    pub body: ByteStream,
    pub declared: Option<u64>,
    pub limit: u64,
}

impl Incoming {
    /// The bytes this body may bring to a session holding `len`, once it is checked to
    /// start there (`offset`, else 416 with the session's range) and its declared
    /// length to fit the format's limit (else 413).
    fn room_at(&self, id: &str, offset: Option<u64>, len: u64) -> Result<u64, Error> {
        if offset.is_some_and(|o| o != len) {
            return Err(Error::range_mismatch(id, len));
        }
        let room = self.limit.saturating_sub(len);
        if self.declared.is_some_and(|n| n > room) {
            return Err(too_large(self.limit));
        }
        Ok(room)
    }
}

/// Where a session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub id: String,
    pub received: u64,
}

/// A blob stored by finishing a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
    /// `algorithm:hex` as the client named it.
    pub digest: String,
}

fn unknown(id: &str) -> Error {
    Error::not_found(format!("upload session {id:?} not found"))
}

impl Sessions {
    pub fn open(data_dir: &std::path::Path) -> io::Result<Self> {
        Ok(Self {
            files: SessionFiles::open(data_dir)?,
            live: Mutex::new(HashMap::new()),
        })
    }

    fn live_map(&self) -> std::sync::MutexGuard<'_, LiveMap> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session's in-memory state, created empty (no hasher) when missing.
    fn entry(&self, id: &str) -> Arc<tokio::sync::Mutex<LiveSession>> {
        let mut live = self.live_map();
        if let Some(entry) = live.get(id) {
            return entry.clone();
        }
        if live.len() >= MAX_LIVE {
            // Nobody else holds an idle entry while the map is locked, so dropping
            // them loses nothing but their hashers.
            live.retain(|_, e| Arc::strong_count(e) > 1);
        }
        live.entry(id.to_string()).or_default().clone()
    }

    /// Takes the session for this request; 416 with `received()` if another request
    /// has it.
    fn lock(
        &self,
        id: &str,
        received: impl FnOnce() -> u64,
    ) -> Result<OwnedMutexGuard<LiveSession>, Error> {
        self.entry(id)
            .try_lock_owned()
            .map_err(|_| Error::range_mismatch(id, received()))
    }

    fn forget(&self, id: &str) {
        self.live_map().remove(id);
    }

    /// Sessions with an in-memory entry (tests check the cap and the cleanup).
    pub fn live_count(&self) -> usize {
        self.live_map().len()
    }

    /// Session files present (tests check that finished or failed sessions leave none).
    pub fn file_count(&self) -> usize {
        self.files.ids().map(|ids| ids.len()).unwrap_or(0)
    }
}

/// The session `id` if it exists and belongs to `target`; 404 otherwise, also for an
/// id that is not one (it never reaches the filesystem or the object store).
fn owned(registry: &Registry, target: &Target, id: &str) -> Result<SessionRow, Error> {
    if !files::is_valid_id(id) {
        return Err(unknown(id));
    }
    let lookup = id.to_string();
    let row = registry
        .db
        .read_now(move |conn| db::sessions::find(conn, &lookup))?;
    match row {
        Some(row) if row.belongs_to(target.owner_id, &target.format, &target.package) => Ok(row),
        _ => Err(unknown(id)),
    }
}

/// Bytes the session has received (`None`: its file is gone).
fn received(registry: &Registry, id: &str) -> Result<Option<u64>, Error> {
    match registry.blobs.remote() {
        None => local::received(registry, id),
        Some(_) => remote::received(registry, id),
    }
}

/// Takes the session for this request; 416 with its range if another request has it.
fn lock(registry: &Registry, id: &str) -> Result<OwnedMutexGuard<LiveSession>, Error> {
    registry
        .sessions
        .lock(id, || received(registry, id).ok().flatten().unwrap_or(0))
}

/// Opens a session; a body, if any, is its first chunk.
pub async fn start(
    registry: &Registry,
    target: &Target,
    incoming: Incoming,
) -> Result<Progress, Error> {
    let id = files::new_id();
    let now = db::now();
    let row = SessionRow {
        id: id.clone(),
        owner_id: target.owner_id,
        format: target.format.clone(),
        package: target.package.clone(),
        created: now,
        received: 0,
        updated: now,
    };
    registry.blobs.space().check_room()?;
    // Row first: a crash in between leaves at worst a row without a file, which
    // expiry removes.
    registry
        .db
        .write(move |tx| db::sessions::insert(tx, &row))
        .await?;
    if registry.blobs.remote().is_none() {
        registry.sessions.files.create(&id)?;
    }
    let mut live = lock(registry, &id)?;
    live.hasher = Some(Sha256::new());
    let (_, received) = append_body(registry, live, &id, None, incoming).await?;
    Ok(Progress { id, received })
}

/// Appends a chunk; `offset` (the start of the client's `Content-Range`) must be the
/// session's current length, else 416.
pub async fn append(
    registry: &Registry,
    target: &Target,
    id: &str,
    offset: Option<u64>,
    incoming: Incoming,
) -> Result<Progress, Error> {
    owned(registry, target, id)?;
    let live = lock(registry, id)?;
    let (_, received) = append_body(registry, live, id, offset, incoming).await?;
    Ok(Progress {
        id: id.to_string(),
        received,
    })
}

pub fn status(registry: &Registry, target: &Target, id: &str) -> Result<Progress, Error> {
    let row = owned(registry, target, id)?;
    let received = match registry.blobs.remote() {
        None => local::received(registry, id)?.ok_or_else(|| unknown(id))?,
        Some(_) => row.received,
    };
    Ok(Progress {
        id: id.to_string(),
        received,
    })
}

pub async fn cancel(registry: &Registry, target: &Target, id: &str) -> Result<(), Error> {
    owned(registry, target, id)?;
    let live = lock(registry, id)?;
    discard(registry, id).await?;
    drop(live);
    Ok(())
}

/// Removes a session entirely: row, bytes and in-memory state.
async fn discard(registry: &Registry, id: &str) -> Result<(), Error> {
    let row_id = id.to_string();
    registry
        .db
        .write(move |tx| db::sessions::delete(tx, &row_id))
        .await?;
    remove_bytes(registry, id).await?;
    registry.sessions.forget(id);
    Ok(())
}

/// Removes what a session received, once its row is gone (expiry finds what a failure
/// here leaves).
async fn remove_bytes(registry: &Registry, id: &str) -> Result<(), Error> {
    match registry.blobs.remote() {
        None => registry.sessions.files.remove(id)?,
        Some(store) => {
            store.delete_session_parts(id).await?;
        }
    }
    Ok(())
}

/// Appends the body (if any) at `offset` as [`append`] does (416 when it is not the
/// session's length, the session kept), checks `digest`, and stores the blob linked to
/// the target package. A mismatch discards the session (400): nothing is stored.
pub async fn finish(
    registry: &Registry,
    target: &Target,
    id: &str,
    digest: &api::Digest,
    offset: Option<u64>,
    incoming: Incoming,
) -> Result<Stored, Error> {
    let (algorithm, expected) = wanted(digest)?;
    owned(registry, target, id)?;
    let live = lock(registry, id)?;
    let (live, size) = append_body(registry, live, id, offset, incoming).await?;

    // This node's running hash, when it saw every byte: a wrong digest is refused at
    // once, and a session file need not be read again.
    let running = (live.hashed == size)
        .then(|| live.hasher.clone())
        .flatten()
        .map(|hasher| hex::encode(hasher.finalize()));
    if algorithm == Algorithm::Sha256
        && let Some(actual) = running.as_deref()
        && actual != expected
    {
        discard(registry, id).await?;
        return Err(digest_mismatch(algorithm, &expected, actual));
    }
    let staged = match registry.blobs.remote() {
        None => local::stage(registry, id, size, algorithm, running).await?,
        Some(store) => remote::stage(registry, store, id, size, algorithm).await?,
    };
    let actual = staged.digest(algorithm).unwrap_or_default().to_string();
    if actual != expected {
        drop(staged);
        discard(registry, id).await?;
        return Err(digest_mismatch(algorithm, &expected, &actual));
    }
    let sha256 = staged.sha256.clone();
    let committed = commit(registry, target, staged, Some(id.to_string())).await;
    if committed.is_ok()
        && let Err(e) = remove_bytes(registry, id).await
    {
        // Its row is gone, so expiry removes them later.
        tracing::warn!(error = %e, session = id, "cannot remove a finished session's bytes");
    }
    // Finished, or failed with the bytes as they were: either way the hasher is not
    // needed (a retry hashes again).
    registry.sessions.forget(id);
    drop(live);
    committed?;
    Ok(Stored {
        sha256,
        size,
        digest: format!("{}:{expected}", algorithm.as_str()),
    })
}

/// Stores a blob received whole (monolithic upload): checks `digest`, then the same
/// transaction as a finished session, without one.
pub async fn store_whole(
    registry: &Registry,
    target: &Target,
    digest: &api::Digest,
    staged: StagedBlob,
) -> Result<Stored, Error> {
    let (algorithm, expected) = wanted(digest)?;
    let actual = match staged.digest(algorithm) {
        Some(hex) => hex.to_string(),
        None => digest::of_reader(algorithm, &mut staged.open()?)?,
    };
    if actual != expected {
        // Dropping the staged blob removes its temp file.
        return Err(digest_mismatch(algorithm, &expected, &actual));
    }
    let stored = Stored {
        sha256: staged.sha256.clone(),
        size: staged.size,
        digest: format!("{}:{expected}", algorithm.as_str()),
    };
    commit(registry, target, staged, None).await?;
    Ok(stored)
}

/// Records the blob, links it to the package, ends the session and puts the bytes into
/// the store, all in one write transaction.
async fn commit(
    registry: &Registry,
    target: &Target,
    mut staged: StagedBlob,
    session: Option<String>,
) -> Result<(), Error> {
    // Into the object store (if any) before the transaction, which then only checks.
    staged.upload().await?;
    let target = target.clone();
    registry
        .db
        .write(move |tx| {
            db::gc::hold_off_collector(tx)?;
            if let Some(id) = &session
                && !db::sessions::delete(tx, id)?
            {
                // Expired or cancelled meanwhile.
                return Err(unknown(id));
            }
            db::blobs::insert(tx, &staged.sha256, staged.size)?;
            for (algorithm, hex) in &staged.digests {
                if *algorithm != Algorithm::Sha256 {
                    db::blobs::set_digest(tx, &staged.sha256, algorithm.as_str(), hex)?;
                }
            }
            let package_id =
                packages::ensure(tx, target.owner_id, &target.format, &target.package)?;
            db::blobs::link_to_package(tx, package_id, &staged.sha256)?;
            packages::touch(tx, package_id)?;
            staged.publish()?;
            Ok(())
        })
        .await
}

/// Appends `incoming` at `offset` to wherever the session's bytes are. Returns the
/// session (still held) and its new length.
async fn append_body(
    registry: &Registry,
    live: OwnedMutexGuard<LiveSession>,
    id: &str,
    offset: Option<u64>,
    incoming: Incoming,
) -> Result<(OwnedMutexGuard<LiveSession>, u64), Error> {
    match registry.blobs.remote() {
        None => local::append(registry, live, id, offset, incoming).await,
        Some(store) => remote::append(registry, store, live, id, offset, incoming).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_entries_are_dropped_at_the_cap_and_busy_ones_refuse_a_second_request() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::open(dir.path()).unwrap();
        let busy = sessions.lock("busy", || 0).unwrap();
        assert!(matches!(
            sessions.lock("busy", || 0),
            Err(Error::RangeMismatch { received: 0, .. })
        ));
        for i in 0..MAX_LIVE - 1 {
            sessions.entry(&i.to_string());
        }
        assert_eq!(sessions.live_count(), MAX_LIVE);
        sessions.entry("one more");
        assert_eq!(
            sessions.live_count(),
            2,
            "only the busy one and the new one"
        );
        drop(busy);
        assert!(sessions.lock("busy", || 0).is_ok());
    }
}
