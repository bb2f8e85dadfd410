//! Sessions whose bytes are in the object store (blobs in S3: any number of nodes,
//! issue 22). Chunks of one upload may arrive at different nodes, so nothing about a
//! session may live on one node only:
//! - each chunk is staged in a local temp file while it is received (and hashed into
//!   this node's running hash when that hash covers everything before it), then stored
//!   as an object of its own (`store::remote::sessions`);
//! - the database row is the truth for what arrived: the chunk is recorded with a
//!   conditional update of `received` (`db::sessions::append_part`), so of two nodes
//!   appending at the same offset one records its chunk and the other deletes its object
//!   and answers 416 with the session's range;
//! - the finish, on any node, streams the parts back into a staged blob, which computes
//!   the digests as it goes (the running hash, when this node holds one covering the
//!   whole upload, refuses a wrong digest before anything is read back), and then takes
//!   the normal publish path. The parts are deleted after the commit.
//!
//! A chunk whose body broke off is stored as far as it arrived, as with session files,
//! so the client can resume from the status.

use std::fs::File;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};
use tokio::sync::OwnedMutexGuard;

use super::hashing::extra_digests;
use super::{Incoming, LiveSession, unknown};
use crate::db::{self, sessions::Part};
use crate::error::Error;
use crate::registry::Registry;
use crate::registry::incoming::{Sink, write_batched};
use crate::store::{Algorithm, Remote, StagedBlob, remote};

/// Bytes read back from a part at a time while a finish assembles the blob.
const READ_BUF: usize = 256 << 10;

/// The blocking half of [`append`]: writes one chunk to its temp file and a copy of the
/// running hash, if there is one.
struct ChunkSink {
    file: File,
    len: u64,
    hasher: Option<Sha256>,
    /// A write failed: the file holds an unknown prefix and is not stored.
    broken: bool,
    space: crate::store::Space,
}

impl Sink for ChunkSink {
    fn write_batch(&mut self, chunks: &[bytes::Bytes]) -> io::Result<()> {
        for chunk in chunks {
            if let Err(e) = self.file.write_all(chunk) {
                self.broken = true;
                self.space.note(&e);
                return Err(e);
            }
            self.len += chunk.len() as u64;
            if let Some(hasher) = self.hasher.as_mut() {
                hasher.update(chunk);
            }
        }
        Ok(())
    }
}

/// Bytes the session has received: the row's count.
pub(super) fn received(registry: &Registry, id: &str) -> Result<Option<u64>, Error> {
    let lookup = id.to_string();
    let row = registry
        .db
        .read_now(move |conn| db::sessions::find(conn, &lookup))?;
    Ok(row.map(|row| row.received))
}

/// Appends `incoming` at `offset` (416 unless it is what the row says arrived): stages
/// it, stores it as a part, records it. Returns the session (still held) and its new
/// length.
pub(super) async fn append(
    registry: &Registry,
    store: &Remote,
    mut live: OwnedMutexGuard<LiveSession>,
    id: &str,
    offset: Option<u64>,
    incoming: Incoming,
) -> Result<(OwnedMutexGuard<LiveSession>, u64), Error> {
    let start = received(registry, id)?.ok_or_else(|| unknown(id))?;
    let room = incoming.room_at(id, offset, start)?;
    let limit = incoming.limit;
    if incoming.declared == Some(0) {
        // A closing request writes nothing.
        return Ok((live, start));
    }
    registry.blobs.space().check_room()?;

    let (file, staged) = registry.sessions.files.chunk()?;
    let sink = ChunkSink {
        file,
        len: 0,
        hasher: (live.hashed == start)
            .then(|| live.hasher.clone())
            .flatten(),
        broken: false,
        space: registry.blobs.space().clone(),
    };
    let body = write_batched(incoming.body, sink, room, limit).await;
    let sink = body
        .sink
        .ok_or_else(|| Error::Internal("session writer failed".to_string()))?;
    if sink.broken || sink.len == 0 {
        return match body.failure {
            Some(error) => Err(error),
            None => Ok((live, start)),
        };
    }
    let file = sink.file;
    tokio::task::spawn_blocking(move || file.sync_data())
        .await
        .map_err(|e| Error::Internal(format!("session chunk sync failed: {e}")))??;

    let part = Part {
        start,
        length: sink.len,
        object: remote::part_name(start),
    };
    store
        .put_session_part(staged.path(), id, &part.object, part.length)
        .await?;
    let (row_id, record) = (id.to_string(), part.clone());
    let recorded = registry
        .db
        .write(move |tx| db::sessions::append_part(tx, &row_id, &record, db::now()))
        .await;
    if !matches!(recorded, Ok(true)) {
        // Another node appended at this offset first, the session ended, or the
        // database failed: this chunk is nobody's.
        if let Err(e) = store.delete_session_part(id, &part.object).await {
            tracing::warn!(error = %e, session = id, "cannot delete an unrecorded session part");
        }
        recorded?;
        return Err(match received(registry, id)? {
            Some(now) => Error::range_mismatch(id, now),
            None => unknown(id),
        });
    }
    let end = start + part.length;
    live.hasher = sink.hasher;
    live.hashed = end;
    match body.failure {
        Some(error) => Err(error),
        None => Ok((live, end)),
    }
}

/// The finished session (`size` bytes) as a staged blob with its digests, read back
/// from its parts (the staged blob hashes what it is given).
pub(super) async fn stage(
    registry: &Registry,
    store: &Remote,
    id: &str,
    size: u64,
    algorithm: Algorithm,
) -> Result<StagedBlob, Error> {
    let lookup = id.to_string();
    let mut parts = registry
        .db
        .read_now(move |conn| db::sessions::parts(conn, &lookup))?;
    // A chunk another node recorded after this request's own is not part of what the
    // client is finishing; it goes with the session.
    parts.retain(|part| part.start < size);
    check_contiguous(id, &parts, size)?;
    let (blobs, store, id) = (registry.blobs.clone(), store.clone(), id.to_string());
    tokio::task::spawn_blocking(move || -> Result<StagedBlob, Error> {
        let mut writer = blobs.writer(&extra_digests(algorithm))?;
        let mut buf = vec![0u8; READ_BUF];
        for part in &parts {
            let mut reader = store.session_part_reader(&id, &part.object)?;
            let mut read = 0u64;
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                writer.write(&buf[..n])?;
                read += n as u64;
            }
            if read != part.length {
                return Err(Error::Internal(format!(
                    "upload session {id}: part at {} holds {read} bytes, not {}",
                    part.start, part.length
                )));
            }
        }
        Ok(writer.finish()?)
    })
    .await
    .map_err(|e| Error::Internal(format!("session assembly failed: {e}")))?
}

/// The parts must cover `0..size` in order, as `append_part` records them.
fn check_contiguous(id: &str, parts: &[Part], size: u64) -> Result<(), Error> {
    let mut end = 0;
    for part in parts {
        if part.start != end {
            return Err(Error::Internal(format!(
                "upload session {id}: a part starts at {}, expected {end}",
                part.start
            )));
        }
        end += part.length;
    }
    if end != size {
        return Err(Error::Internal(format!(
            "upload session {id}: the parts hold {end} bytes, the session {size}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_must_cover_the_session_in_order() {
        let part = |start, length| Part {
            start,
            length,
            object: String::new(),
        };
        assert!(check_contiguous("s", &[], 0).is_ok());
        assert!(check_contiguous("s", &[part(0, 3), part(3, 4)], 7).is_ok());
        assert!(check_contiguous("s", &[part(0, 3), part(4, 4)], 8).is_err());
        assert!(check_contiguous("s", &[part(0, 3)], 4).is_err());
    }
}
