//! Free space under the data dir, and the room kept so that a full disk can be undone.
//!
//! Uploads are refused (507) while free space is below `storage.min_free`, measured with
//! one `statvfs` a second at most. Deleting is what frees space, and it must work on a
//! full disk too: a delete commits through SQLite's WAL and the collector renames and
//! commits, all of which need a few blocks. So a reserve file (`data_dir/reserve`, 32 MiB,
//! less on a small filesystem) is kept while there is room, and deleted by
//! [`Space::make_room`], which deletes and the collector call first, when space is low;
//! its blocks are then free for their commits. It is released only then, not as soon as
//! space runs low, so that whatever else fills the disk (another process, an upload
//! already under way) cannot take it first. Uploads count the reserve as used whether
//! the file exists or not, so they never get its blocks; it is written again once space
//! is back above the threshold. The state lives in the file, not in memory, so `wharf gc`
//! (another process) releases it on a full disk as the server would.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::config::MinFree;

/// How long a measurement is trusted.
const FRESH: Duration = Duration::from_secs(1);
/// The largest reserve; on a small filesystem it is a sixteenth of it.
const RESERVE_MAX: u64 = 32 << 20;

/// What the store knows about free space (for health checks and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceStatus {
    /// Bytes available to Wharf on the data dir's filesystem, as last measured.
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// `storage.min_free` on this filesystem (never below the reserve).
    pub min_free_bytes: u64,
    /// Whether uploads are refused: free space, less the reserve, is below `min_free_bytes`.
    pub low: bool,
    /// Whether the reserve file is in place (false once released for deletes).
    pub reserve_held: bool,
}

/// Free-space checks for one data dir; clones share the state.
#[derive(Debug, Clone)]
pub struct Space {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    reserve: PathBuf,
    min_free: MinFree,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    checked: Option<Instant>,
    status: SpaceStatus,
    /// Writing the reserve failed and was logged (not again every second).
    reserve_failed: bool,
}

/// The refusal of an upload while space is low (already logged when space ran low).
#[derive(Debug)]
pub struct LowSpace;

impl std::fmt::Display for LowSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("free space under the data dir is below storage.min_free")
    }
}

impl std::error::Error for LowSpace {}

/// Whether a write failed for lack of space (ENOSPC, EDQUOT) or was refused for it.
pub fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || is_low_space(e)
}

/// Whether `e` is the early refusal of [`Space::check_room`].
pub fn is_low_space(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<LowSpace>())
}

impl Space {
    /// Space of a directory that is no data dir (a backup): never measured into a
    /// reserve file, so it writes nothing there.
    pub fn detached(dir: &Path) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                reserve: dir.join("reserve"),
                min_free: MinFree::Bytes(0),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Measures free space under `dir` (creating or releasing the reserve as needed).
    pub fn open(dir: &Path, min_free: MinFree) -> Self {
        let space = Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                reserve: dir.join("reserve"),
                min_free,
                state: Mutex::new(State::default()),
            }),
        };
        space.refresh(Measure::Restore);
        space
    }

    /// Measures every second on a thread of its own until the last clone is dropped, so
    /// the low state is logged when it begins and ends even when no upload asks (the
    /// disk may be filled by something else), and the reserve comes back after it.
    pub fn watch(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("wharf-space".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FRESH);
                    let Some(inner) = weak.upgrade() else { return };
                    Space { inner }.refresh(Measure::Restore);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the free-space watcher");
        }
    }

    /// The current state, measured again if the last measurement is older than a second.
    pub fn status(&self) -> SpaceStatus {
        self.refresh(Measure::Cached)
    }

    /// Measures now, not trusting the last measurement (after the collector freed space).
    pub fn measure_now(&self) -> SpaceStatus {
        self.refresh(Measure::Restore)
    }

    /// `Err` (a [`LowSpace`] of kind `StorageFull`) while free space is below
    /// `storage.min_free`: callers refuse an upload before reading its body.
    pub fn check_room(&self) -> io::Result<()> {
        if self.refresh(Measure::Cached).low {
            return Err(io::Error::new(io::ErrorKind::StorageFull, LowSpace));
        }
        Ok(())
    }

    /// Called with every failed write: a full disk is measured at once, so the next
    /// upload is refused early and the low state is logged.
    pub fn note(&self, e: &io::Error) {
        if is_full(e) && !is_low_space(e) {
            self.refresh(Measure::Now);
        }
    }

    /// Releases the reserve if space is low, so the delete or collection about to run
    /// can commit. Blocking (a `statvfs`, maybe an unlink), but short.
    pub fn make_room(&self) {
        let status = self.refresh(Measure::Now);
        if !(status.low && status.reserve_held) {
            return;
        }
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        match fs::remove_file(&self.inner.reserve) {
            Ok(()) => {
                state.status.reserve_held = false;
                tracing::warn!(
                    free_bytes = status.free_bytes,
                    "released the disk-space reserve so that deletes and gc can commit"
                );
            }
            Err(e) => tracing::error!(error = %e, "cannot release the disk-space reserve"),
        }
    }

    fn refresh(&self, how: Measure) -> SpaceStatus {
        let inner = &self.inner;
        let mut state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        if how == Measure::Cached && state.checked.is_some_and(|t| t.elapsed() < FRESH) {
            return state.status;
        }
        state.checked = Some(Instant::now());
        let Some((free, total)) = measure(&inner.dir) else {
            return state.status;
        };
        let reserve = (total / 16).min(RESERVE_MAX);
        let mut held = fs::metadata(&inner.reserve).is_ok_and(|m| m.len() >= reserve);
        // Counted as used whether it is there or not: uploads never get its blocks.
        let usable = if held {
            free
        } else {
            free.saturating_sub(reserve)
        };
        let min_free = inner.min_free.bytes(total).max(reserve);
        let low = usable < min_free;
        if !low && !held && how == Measure::Restore {
            match create_reserve(&inner.reserve, reserve) {
                Ok(()) => held = true,
                Err(e) if !state.reserve_failed => {
                    tracing::warn!(error = %e, "cannot write the disk-space reserve");
                }
                Err(_) => {}
            }
            state.reserve_failed = !held;
        }
        if low && !state.status.low {
            tracing::warn!(
                free_bytes = free,
                min_free_bytes = min_free,
                "free space under the data dir is below storage.min_free: uploads are refused \
                 with 507 until space is freed (delete packages; `wharf gc` then frees their bytes)"
            );
        } else if !low && state.status.low {
            tracing::info!(
                free_bytes = free,
                "free space is above storage.min_free again: uploads are accepted"
            );
        }
        state.status = SpaceStatus {
            free_bytes: free,
            total_bytes: total,
            min_free_bytes: min_free,
            low,
            reserve_held: held,
        };
        state.status
    }
}

/// How fresh a measurement must be, and whether it may write the reserve back (which
/// takes a moment: not on a request's path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// A measurement up to [`FRESH`] old will do.
    Cached,
    Now,
    /// Now, and write the reserve back if there is room.
    Restore,
}

/// Available and total bytes of the filesystem holding `dir`.
#[cfg(target_os = "linux")]
fn measure(dir: &Path) -> Option<(u64, u64)> {
    match rustix::fs::statvfs(dir) {
        Ok(s) => Some((
            s.f_bavail.saturating_mul(s.f_frsize),
            s.f_blocks.saturating_mul(s.f_frsize),
        )),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot measure free space");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn measure(_dir: &Path) -> Option<(u64, u64)> {
    None
}

/// Writes the reserve with its blocks allocated (a sparse file would reserve nothing).
fn create_reserve(path: &Path, size: u64) -> io::Result<()> {
    let file = File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let allocated = allocate(&file, size).and_then(|()| file.sync_all());
    if allocated.is_err() {
        let _ = fs::remove_file(path);
    }
    allocated
}

#[cfg(target_os = "linux")]
fn allocate(file: &File, size: u64) -> io::Result<()> {
    use rustix::fs::{FallocateFlags, fallocate};
    match fallocate(file, FallocateFlags::empty(), 0, size) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP) => write_zeros(file, size),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn allocate(file: &File, size: u64) -> io::Result<()> {
    write_zeros(file, size)
}

fn write_zeros(mut file: &File, size: u64) -> io::Result<()> {
    use std::io::Write;
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_held_with_room_and_released_for_deletes_when_space_is_low() {
        let dir = tempfile::tempdir().unwrap();
        let roomy = Space::open(dir.path(), MinFree::Bytes(0));
        let status = roomy.status();
        if status.total_bytes == 0 {
            return; // No statvfs on this platform: nothing is ever refused.
        }
        assert!(status.reserve_held && !status.low, "{status:?}");
        let reserve = fs::metadata(dir.path().join("reserve")).unwrap().len();
        assert_eq!(reserve, (status.total_bytes / 16).min(RESERVE_MAX));
        roomy.check_room().unwrap();

        // A threshold above the whole disk: low, uploads are refused, and the reserve
        // stays until a delete asks for room.
        let full = Space::open(dir.path(), MinFree::Percent(100.0));
        let status = full.status();
        assert!(status.low && status.reserve_held, "{status:?}");
        let refused = full.check_room().unwrap_err();
        assert!(is_full(&refused) && is_low_space(&refused));
        assert_eq!(refused.kind(), io::ErrorKind::StorageFull);
        full.make_room();
        assert!(!full.status().reserve_held);
        assert!(!dir.path().join("reserve").exists());
        full.refresh(Measure::Restore);
        assert!(
            !full.status().reserve_held,
            "not written again while space is low"
        );

        // Room again: the reserve comes back at the next measurement.
        roomy.refresh(Measure::Restore);
        assert!(roomy.status().reserve_held);
        assert!(dir.path().join("reserve").exists());
    }

    #[test]
    fn only_lack_of_space_counts_as_full() {
        assert!(is_full(&io::Error::from(io::ErrorKind::StorageFull)));
        if cfg!(target_os = "linux") {
            assert!(is_full(&io::Error::from_raw_os_error(28))); // ENOSPC
            assert!(is_full(&io::Error::from_raw_os_error(122))); // EDQUOT
        }
        assert!(!is_full(&io::Error::from(io::ErrorKind::PermissionDenied)));
        assert!(!is_low_space(&io::Error::from(io::ErrorKind::StorageFull)));
    }
}
