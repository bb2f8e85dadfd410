//! Reads that succeed only from the page cache, so they may run on an async worker.
//!
//! Linux's `preadv2(RWF_NOWAIT)` returns what the page cache holds and `EAGAIN`
//! instead of waiting for the disk. Serving a hot tarball this way saves the two
//! thread switches of the blocking pool, which cost more than the copy itself.

use std::fs::File;

/// All `len` bytes at `offset`, or `None` if any of them is not cached (or the file is
/// shorter, or the platform has no such read): the caller then reads the blocking way.
#[cfg(target_os = "linux")]
pub fn read_exact_at(file: &File, offset: u64, len: usize) -> Option<Vec<u8>> {
    use rustix::io::{ReadWriteFlags, preadv2};
    use std::io::IoSliceMut;

    let mut bytes = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let at = offset + filled as u64;
        let read = preadv2(
            file,
            &mut [IoSliceMut::new(&mut bytes[filled..])],
            at,
            ReadWriteFlags::NOWAIT,
        );
        match read {
            Ok(0) | Err(_) => return None,
            Ok(n) => filled += n,
        }
    }
    Some(bytes)
}

#[cfg(not(target_os = "linux"))]
pub fn read_exact_at(_file: &File, _offset: u64, _len: usize) -> Option<Vec<u8>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_cached_bytes_and_refuses_past_the_end() {
        let dir = std::env::temp_dir().join(format!("wharf-cached-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("blob");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        let file = File::open(&path).unwrap();
        // Just written, so in the page cache.
        if cfg!(target_os = "linux") {
            assert_eq!(read_exact_at(&file, 0, data.len()).unwrap(), data);
            assert_eq!(read_exact_at(&file, 1000, 10).unwrap(), &data[1000..1010]);
        }
        assert_eq!(read_exact_at(&file, 99_995, 10), None, "past the end");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
