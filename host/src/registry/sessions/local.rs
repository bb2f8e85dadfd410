//! Sessions whose bytes are a file on this node (`tmp/sessions/<id>`, blobs on local
//! disk: one node). The file is the truth for what was received, so a chunk costs no
//! database write; a finished file is hard-linked into the store by the commit.

use std::fs::File;
use std::io;

use tokio::sync::OwnedMutexGuard;

use super::hashing::rehash;
use super::sink::SessionSink;
use super::{Incoming, LiveSession, unknown};
use crate::error::Error;
use crate::registry::Registry;
use crate::registry::incoming::write_batched;
use crate::store::sessions::SessionFiles;
use crate::store::{Algorithm, StagedBlob};

/// Bytes the session has received: its file's length.
pub(super) fn received(registry: &Registry, id: &str) -> Result<Option<u64>, Error> {
    Ok(registry.sessions.files.len(id)?)
}

/// Streams `incoming` to the end of the session file on a blocking writer, hashing as
/// it goes. Returns the session (still held) and its new length. Bytes written before a
/// failure stay: they are a correct prefix, and the client learns the length from the
/// status.
pub(super) async fn append(
    registry: &Registry,
    live: OwnedMutexGuard<LiveSession>,
    id: &str,
    offset: Option<u64>,
    incoming: Incoming,
) -> Result<(OwnedMutexGuard<LiveSession>, u64), Error> {
    // A body of declared length 0 (a closing request) writes nothing.
    let writes = incoming.declared != Some(0);
    if writes {
        registry.blobs.space().check_room()?;
    }
    let (mut file, len) = match registry.sessions.files.open_append(id) {
        Ok(opened) => opened,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(unknown(id)),
        Err(e) => return Err(e.into()),
    };
    let room = incoming.room_at(id, offset, len)?;
    let limit = incoming.limit;

    if writes && SessionFiles::is_shared(&file)? {
        // A finish that did not commit linked this file into the store.
        let (files, id) = (registry.sessions.files.clone(), id.to_string());
        file = tokio::task::spawn_blocking(move || files.unshare(&id))
            .await
            .map_err(|e| Error::Internal(format!("session copy failed: {e}")))??;
    }

    // The sink owns the session while a batch is on its way to disk, even if this
    // request is dropped meanwhile, so no other request sees a length still growing.
    let sink = SessionSink::new(live, file, len, registry.blobs.space().clone());
    let received = write_batched(incoming.body, sink, room, limit).await;
    let sink = received
        .sink
        .ok_or_else(|| Error::Internal("session writer failed".to_string()))?;
    match received.failure {
        Some(error) => Err(error),
        None => Ok((sink.live, sink.len)),
    }
}

/// The complete session file (`size` bytes) as a blob to link into the store, fsynced
/// and with its digests: `running` (the sha256 of the running hash) when it covers the
/// file and sha256 is wanted, else read again.
pub(super) async fn stage(
    registry: &Registry,
    id: &str,
    size: u64,
    algorithm: Algorithm,
    running: Option<String>,
) -> Result<StagedBlob, Error> {
    let path = registry.sessions.files.path(id)?;
    let read = path.clone();
    let digests = tokio::task::spawn_blocking(move || -> io::Result<Vec<(Algorithm, String)>> {
        // Durable before anything refers to it; the periodic sync_data kept this short.
        File::options().append(true).open(&read)?.sync_all()?;
        match running {
            Some(sha256) if algorithm == Algorithm::Sha256 => Ok(vec![(Algorithm::Sha256, sha256)]),
            _ => rehash(&read, algorithm),
        }
    })
    .await
    .map_err(|e| Error::Internal(format!("session hashing failed: {e}")))??;
    let sha256 = super::hashing::digest_in(&digests, Algorithm::Sha256);
    Ok(registry.blobs.stage_linked(path, sha256, size, digests))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use sha2::{Digest as _, Sha256};

    use super::super::Sessions;
    use super::*;
    use crate::registry::incoming::Sink;
    use crate::store::digest;
    use crate::store::sessions as files;

    #[test]
    fn the_writer_keeps_the_hasher_in_step_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::open(dir.path()).unwrap();
        let id = files::new_id();
        sessions.files.create(&id).unwrap();
        let write = |chunks: &[&'static [u8]]| {
            let live = sessions.lock(&id, || 0).unwrap();
            let (file, len) = sessions.files.open_append(&id).unwrap();
            let space = crate::store::Space::detached(dir.path());
            let mut sink = SessionSink::new(live, file, len, space);
            let chunks: Vec<bytes::Bytes> = chunks
                .iter()
                .map(|c| bytes::Bytes::from_static(c))
                .collect();
            sink.write_batch(&chunks).unwrap();
            (sink.live.hasher.clone(), sink.live.hashed, sink.len)
        };
        sessions.lock(&id, || 0).unwrap().hasher = Some(Sha256::new());
        let (hasher, hashed, len) = write(&[b"ab".as_slice(), b"c".as_slice()]);
        assert_eq!((hashed, len), (3, 3));
        assert_eq!(
            hex::encode(hasher.unwrap().finalize()),
            digest::of_bytes(Algorithm::Sha256, b"abc")
        );
        // Bytes the hasher never saw (written by an earlier process): no hasher.
        std::fs::OpenOptions::new()
            .append(true)
            .open(sessions.files.path(&id).unwrap())
            .unwrap()
            .write_all(b"d")
            .unwrap();
        let (hasher, _, len) = write(&[b"e".as_slice()]);
        assert!(hasher.is_none());
        assert_eq!(len, 5);
        assert_eq!(
            rehash(&sessions.files.path(&id).unwrap(), Algorithm::Sha512).unwrap(),
            vec![
                (
                    Algorithm::Sha256,
                    digest::of_bytes(Algorithm::Sha256, b"abcde")
                ),
                (
                    Algorithm::Sha512,
                    digest::of_bytes(Algorithm::Sha512, b"abcde")
                ),
            ]
        );
    }
}
