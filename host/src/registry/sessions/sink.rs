//! Where a session chunk goes: appended to the session file on the blocking pool,
//! batch by batch (`registry::incoming::write_batched`).

use std::fs::File;
use std::io::{self, Write};

use sha2::Digest as _;
use tokio::sync::OwnedMutexGuard;

use super::{LiveSession, SYNC_EVERY};
use crate::registry::incoming::Sink;

/// The blocking half of `append_body`: appends batches to the session file, keeps
/// the hasher in step with it, and syncs every [`SYNC_EVERY`] bytes.
pub(super) struct SessionSink {
    pub(super) live: OwnedMutexGuard<LiveSession>,
    file: File,
    pub(super) len: u64,
    unsynced: u64,
    space: crate::store::Space,
}

impl SessionSink {
    pub(super) fn new(
        mut live: OwnedMutexGuard<LiveSession>,
        file: File,
        start: u64,
        space: crate::store::Space,
    ) -> Self {
        if live.hashed != start {
            live.hasher = None;
        }
        Self {
            live,
            file,
            len: start,
            unsynced: 0,
            space,
        }
    }
}

impl Sink for SessionSink {
    fn write_batch(&mut self, chunks: &[bytes::Bytes]) -> io::Result<()> {
        for chunk in chunks {
            if let Err(e) = self.file.write_all(chunk) {
                // A partial write leaves bytes the hasher cannot know: rehash at finish.
                self.live.hasher = None;
                self.space.note(&e);
                return Err(e);
            }
            self.len += chunk.len() as u64;
            if let Some(hasher) = self.live.hasher.as_mut() {
                hasher.update(chunk);
                self.live.hashed = self.len;
            }
            self.unsynced += chunk.len() as u64;
            if self.unsynced >= SYNC_EVERY {
                self.file.sync_data().inspect_err(|e| self.space.note(e))?;
                self.unsynced = 0;
            }
        }
        Ok(())
    }
}
