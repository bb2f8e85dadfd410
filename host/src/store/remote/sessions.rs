//! The bytes of upload sessions when blobs are in the object store: each chunk a
//! client sent is one object, `prefix/sessions/<id>/<part>`, so the chunks of one
//! upload can arrive at different nodes (issue 22). Which parts make a session, in
//! which order, is the database's (`db::sessions::Part`); this module only stores,
//! reads and deletes the objects.
//!
//! Chunk objects were chosen over an S3 multipart upload per session: multipart parts
//! must be at least 5 MiB except the last, while clients send chunks of any size, and
//! a multipart upload's key is fixed when it starts, while a blob's key is its digest,
//! known only at the finish. Finishing therefore streams the parts back into a staged
//! blob (`registry::sessions`), which is also what verifies the digest when no node
//! holds the running hash.
//!
//! Part names are `<start, 20 digits>-<random hex>`: two nodes racing to append at the
//! same offset write different objects, and the loser deletes its own. The collector
//! walks `blobs/` only, so it never sees these objects; expiry removes those of
//! sessions that ended or were abandoned.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path as LocalPath;
use std::time::SystemTime;

use futures_util::StreamExt;
use object_store::PutMode;
use object_store::path::Path;

use super::Remote;
use crate::store::sessions::is_valid_id;

/// A new part name for bytes from `start` on.
pub fn part_name(start: u64) -> String {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the OS random source is available");
    format!("{start:020}-{}", hex::encode(random))
}

/// Whether `name` has the shape [`part_name`] gives (it comes back from the database,
/// and is checked before it names an object all the same).
fn is_part_name(name: &str) -> bool {
    name.len() == 37
        && name.as_bytes()[20] == b'-'
        && name[..20].bytes().all(|b| b.is_ascii_digit())
        && name[21..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("not a session {what}"))
}

impl Remote {
    /// `prefix/sessions/<id>`.
    fn session_dir(&self, id: &str) -> io::Result<Path> {
        if !is_valid_id(id) {
            return Err(invalid("id"));
        }
        Ok(Path::from(format!("{}sessions/{id}", self.prefix)))
    }

    fn part_key(&self, id: &str, part: &str) -> io::Result<Path> {
        if !is_part_name(part) {
            return Err(invalid("part"));
        }
        Ok(self.session_dir(id)?.child(part))
    }

    /// Stores the staged chunk at `source` (`size` bytes) as part `part` of session `id`.
    pub async fn put_session_part(
        &self,
        source: &LocalPath,
        id: &str,
        part: &str,
        size: u64,
    ) -> io::Result<()> {
        let key = self.part_key(id, part)?;
        self.put_file(source, &key, size, PutMode::Overwrite).await
    }

    /// Part `part` of session `id` as a blocking reader; call it off the async executor.
    pub fn session_part_reader(&self, id: &str, part: &str) -> io::Result<Box<dyn Read + Send>> {
        self.reader_of(self.part_key(id, part)?)
    }

    /// Deletes one part (a chunk that lost the race for its offset).
    pub async fn delete_session_part(&self, id: &str, part: &str) -> io::Result<()> {
        let key = self.part_key(id, part)?;
        self.timed("delete", self.store.delete(&key)).await
    }

    /// Deletes every part of session `id`, recorded or not; how many there were.
    pub async fn delete_session_parts(&self, id: &str) -> io::Result<usize> {
        let dir = self.session_dir(id)?;
        let mut keys = Vec::new();
        let mut listing = self.store.list(Some(&dir));
        while let Some(entry) = listing.next().await {
            keys.push(entry.map_err(|e| self.io_error("list", e))?.location);
        }
        for key in &keys {
            self.timed("delete", self.store.delete(key)).await?;
        }
        Ok(keys.len())
    }

    /// [`Remote::delete_session_parts`] for a blocking caller (expiry).
    pub fn delete_session_parts_blocking(&self, id: &str) -> io::Result<usize> {
        let (this, id) = (self.clone(), id.to_string());
        self.block_on(async move { this.delete_session_parts(&id).await })
    }

    /// The sessions that have parts, each with the time its newest part was written
    /// (blocking; expiry looks for parts whose session row is gone).
    pub fn sessions_with_parts(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let (this, dir) = (self.clone(), Path::from(format!("{}sessions", self.prefix)));
        self.block_on(async move {
            let mut newest: HashMap<String, SystemTime> = HashMap::new();
            let mut listing = this.store.list(Some(&dir));
            while let Some(entry) = listing.next().await {
                let meta = entry.map_err(|e| this.io_error("list", e))?;
                let mut parts = meta.location.parts();
                let id = parts.nth(dir.parts().count()).map(|p| p.as_ref().to_string());
                match id {
                    Some(id) if is_valid_id(&id) => {
                        let written = SystemTime::from(meta.last_modified);
                        let entry = newest.entry(id).or_insert(written);
                        *entry = (*entry).max(written);
                    }
                    _ => tracing::warn!(key = %meta.location, "unexpected object among session parts"),
                }
            }
            Ok(newest.into_iter().collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use object_store::ObjectStore;
    use object_store::memory::InMemory;

    use super::*;
    use crate::store::sessions::new_id;

    #[test]
    fn part_names_sort_by_offset_and_only_they_name_objects() {
        let (a, b) = (part_name(5), part_name(40));
        assert!(is_part_name(&a) && is_part_name(&b), "{a} {b}");
        assert!(a < b);
        assert_ne!(part_name(5), a, "racing chunks get objects of their own");
        let remote = Remote::over(Arc::new(InMemory::new()), "p");
        let id = new_id();
        for bad in ["../x", "", &format!("{a}/x"), &a.to_uppercase()] {
            assert!(remote.part_key(&id, bad).is_err(), "{bad}");
        }
        assert!(remote.part_key("../x", &a).is_err());
        assert_eq!(
            remote.part_key(&id, &a).unwrap().as_ref(),
            format!("p/sessions/{id}/{a}")
        );
    }

    #[test]
    fn parts_are_stored_read_listed_and_deleted() {
        let memory = Arc::new(InMemory::new());
        let remote = Remote::over(memory.clone(), "p");
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("chunk");
        std::fs::write(&staged, b"chunk bytes").unwrap();
        let (one, two) = (new_id(), new_id());
        let (p1, p2) = (part_name(0), part_name(11));
        let r = remote.clone();
        let (s, o, t) = (staged.clone(), one.clone(), two.clone());
        let (q1, q2) = (p1.clone(), p2.clone());
        remote
            .block_on(async move {
                r.put_session_part(&s, &o, &q1, 11).await?;
                r.put_session_part(&s, &o, &q2, 11).await?;
                r.put_session_part(&s, &t, &q1, 11).await?;
                // A stray object: listed as unexpected, never deleted as a session's.
                let stray = Path::from("p/sessions/not-a-session");
                r.store.put(&stray, b"x".to_vec().into()).await.unwrap();
                Ok(())
            })
            .unwrap();
        let mut read = Vec::new();
        remote
            .session_part_reader(&one, &p2)
            .unwrap()
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(read, b"chunk bytes");
        let mut found = remote.sessions_with_parts().unwrap();
        found.sort();
        let mut ids = vec![one.clone(), two.clone()];
        ids.sort();
        assert_eq!(
            found.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
            ids
        );
        let now = SystemTime::now();
        assert!(
            found
                .iter()
                .all(|(_, t)| *t <= now + Duration::from_secs(1))
        );
        assert_eq!(remote.delete_session_parts_blocking(&one).unwrap(), 2);
        assert_eq!(remote.delete_session_parts_blocking(&one).unwrap(), 0);
        let left = remote.sessions_with_parts().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, two);
    }
}
