//! The bytes of resumable upload sessions: one file per session in `tmp/sessions/<id>`
//! when blobs are on local disk. (With blobs in an object store, a session's chunks are
//! objects there, `store::remote::sessions`, staged here on their way: [`SessionFiles::chunk`].)
//!
//! The file is the truth for how much a session has received (its length) and when it
//! was last written (its mtime), so an append costs no database write. Session files
//! survive restarts: `BlobStore::open` wipes only `tmp/blobs`. Ids come from URLs, so
//! every id is checked against the UUID text shape before it names a file.
//!
//! Finishing a session hard-links its file into the blob store and removes it only
//! after the commit, so a crash in between leaves the session whole. Such a file then
//! shares its bytes with a stored blob, and must never be appended to in place:
//! [`SessionFiles::unshare`] gives the session a copy of its own first.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct SessionFiles {
    dir: PathBuf,
}

/// Length of a UUID's text form.
const ID_LEN: usize = 36;

/// A new random session id: UUID v4 text (lower-case hex).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Whether `id` has the only shape a session id may have (`^[0-9a-f-]{36}$`): nothing
/// else reaches the filesystem, so `../x` or `a/b` can never name a file.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
}

fn invalid_id() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not an upload session id")
}

impl SessionFiles {
    /// Opens (creating) the session directory below `data_dir`, keeping its files.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join("tmp").join("sessions");
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The file of session `id`; fails for anything but a well-formed id.
    pub fn path(&self, id: &str) -> io::Result<PathBuf> {
        if !is_valid_id(id) {
            return Err(invalid_id());
        }
        Ok(self.dir.join(id))
    }

    /// Creates the empty file of a new session (fails if it exists).
    pub fn create(&self, id: &str) -> io::Result<()> {
        File::options()
            .write(true)
            .create_new(true)
            .open(self.path(id)?)?;
        Ok(())
    }

    /// Opens the session's file for appending, with its current length.
    pub fn open_append(&self, id: &str) -> io::Result<(File, u64)> {
        let file = File::options().append(true).open(self.path(id)?)?;
        let len = file.metadata()?.len();
        Ok((file, len))
    }

    /// Whether the session's file also has a name in the blob store (a finish linked it
    /// there and did not commit): appending must then go to a copy.
    pub fn is_shared(file: &File) -> io::Result<bool> {
        Ok(file.metadata()?.nlink() > 1)
    }

    /// Replaces the session's file with a copy of it, leaving the stored blob it shared
    /// its bytes with untouched, and opens the copy for appending. The copy is made in
    /// `tmp/blobs`, which the server empties at start, so a crash leaves no stray file.
    pub fn unshare(&self, id: &str) -> io::Result<File> {
        let path = self.path(id)?;
        let tmp = self.dir.with_file_name("blobs");
        fs::create_dir_all(&tmp)?;
        let copy = tmp.join(format!("session-{id}"));
        fs::copy(&path, &copy)?;
        File::open(&copy)?.sync_all()?;
        fs::rename(&copy, &path)?;
        File::open(&self.dir)?.sync_all()?;
        File::options().append(true).open(&path)
    }

    /// A new empty file in `tmp/blobs` for one chunk on its way to the object store
    /// (sessions whose bytes are kept there), removed when the [`ChunkFile`] drops or,
    /// after a crash, when the server starts.
    pub fn chunk(&self) -> io::Result<(File, ChunkFile)> {
        let tmp = self.dir.with_file_name("blobs");
        fs::create_dir_all(&tmp)?;
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).expect("the OS random source is available");
        let path = tmp.join(format!("chunk-{}", hex::encode(random)));
        let file = File::options().write(true).create_new(true).open(&path)?;
        Ok((file, ChunkFile(path)))
    }

    /// Bytes received so far; `None` when the file is gone.
    pub fn len(&self, id: &str) -> io::Result<Option<u64>> {
        match fs::metadata(self.path(id)?) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// When the session last received bytes; `None` when the file is gone.
    pub fn mtime(&self, id: &str) -> io::Result<Option<SystemTime>> {
        match fs::metadata(self.path(id)?) {
            Ok(m) => Ok(Some(m.modified()?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the session's file (already gone is fine).
    pub fn remove(&self, id: &str) -> io::Result<()> {
        match fs::remove_file(self.path(id)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Ids of the session files present (for expiry); stray names are skipped.
    pub fn ids(&self) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(name) = entry?.file_name().to_str()
                && is_valid_id(name)
            {
                ids.push(name.to_string());
            }
        }
        Ok(ids)
    }
}

/// A staged chunk's file, removed on drop.
#[derive(Debug)]
pub struct ChunkFile(PathBuf);

impl ChunkFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ChunkFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn ids_are_uuid_v4_text_and_only_they_name_files() {
        let id = new_id();
        assert!(is_valid_id(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_id());
        for bad in [
            "../x",
            "",
            "ABCDEF00-0000-4000-8000-000000000000",
            &format!("{id}/"),
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let files = SessionFiles::open(dir.path()).unwrap();
        assert!(files.path("../../wharf.db").is_err());
        assert!(files.len("../../wharf.db").is_err());
        assert!(files.remove("../x").is_err());
    }

    #[test]
    fn create_append_len_remove() {
        let dir = tempfile::tempdir().unwrap();
        let files = SessionFiles::open(dir.path()).unwrap();
        let id = new_id();
        assert_eq!(files.len(&id).unwrap(), None);
        files.create(&id).unwrap();
        assert!(files.create(&id).is_err(), "an id is used once");
        let (mut file, len) = files.open_append(&id).unwrap();
        assert_eq!(len, 0);
        file.write_all(b"abc").unwrap();
        let (mut file, len) = files.open_append(&id).unwrap();
        assert_eq!(len, 3);
        file.write_all(b"de").unwrap();
        assert_eq!(files.len(&id).unwrap(), Some(5));
        assert!(files.mtime(&id).unwrap().is_some());
        assert_eq!(files.ids().unwrap(), vec![id.clone()]);
        files.remove(&id).unwrap();
        files.remove(&id).unwrap();
        assert_eq!(files.mtime(&id).unwrap(), None);
        assert!(files.open_append(&id).is_err());
    }

    #[test]
    fn unsharing_leaves_the_other_link_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let files = SessionFiles::open(dir.path()).unwrap();
        let id = new_id();
        files.create(&id).unwrap();
        files.open_append(&id).unwrap().0.write_all(b"abc").unwrap();
        let stored = dir.path().join("stored");
        fs::hard_link(files.path(&id).unwrap(), &stored).unwrap();
        let (file, _) = files.open_append(&id).unwrap();
        assert!(SessionFiles::is_shared(&file).unwrap());
        let mut own = files.unshare(&id).unwrap();
        assert!(!SessionFiles::is_shared(&own).unwrap());
        own.write_all(b"d").unwrap();
        assert_eq!(fs::read(&stored).unwrap(), b"abc");
        assert_eq!(fs::read(files.path(&id).unwrap()).unwrap(), b"abcd");
    }

    #[test]
    fn chunk_files_go_when_dropped_and_are_no_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let files = SessionFiles::open(dir.path()).unwrap();
        let (mut file, chunk) = files.chunk().unwrap();
        file.write_all(b"chunk").unwrap();
        assert_eq!(fs::read(chunk.path()).unwrap(), b"chunk");
        assert!(files.ids().unwrap().is_empty());
        let path = chunk.path().to_path_buf();
        drop(chunk);
        assert!(!path.exists());
    }

    #[test]
    fn sessions_survive_reopening_the_blob_store() {
        let dir = tempfile::tempdir().unwrap();
        let files = SessionFiles::open(dir.path()).unwrap();
        let id = new_id();
        files.create(&id).unwrap();
        crate::store::BlobStore::open(dir.path(), crate::config::MinFree::Default).unwrap();
        let files = SessionFiles::open(dir.path()).unwrap();
        assert_eq!(files.len(&id).unwrap(), Some(0));
    }
}
