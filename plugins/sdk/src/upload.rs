//! Reading an upload: the host's ranged reads behind a trait, and a `Read + Seek`
//! view over them.
//!
//! In the guest the bytes are the host's `upload` resource, which cannot exist in a
//! native `cargo test`. Parsing code written against [`UploadBody`] runs on both: the
//! guest passes its `&Upload`, a unit test passes a [`crate::testing::FakeUpload`].

use std::io::{self, Read, Seek, SeekFrom};

use crate::Upload;

/// Stored bytes read by range: the host's upload in the guest, plain bytes in tests.
pub trait UploadBody {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// At most `len` bytes at `offset`, fewer only at the end (the host also caps `len`
    /// at 4 MiB per call).
    fn read(&self, offset: u64, len: u32) -> Vec<u8>;
    /// The offset of the first `needle` at or after `offset`, or none. The host accepts
    /// needles of 1 to 256 bytes.
    fn find(&self, offset: u64, needle: &[u8]) -> Option<u64>;
}

impl UploadBody for Upload {
    fn size(&self) -> u64 {
        Upload::size(self)
    }

    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        Upload::read(self, offset, len)
    }

    fn find(&self, offset: u64, needle: &[u8]) -> Option<u64> {
        Upload::find(self, offset, needle)
    }
}

/// A `Read + Seek` view of an upload that fetches it from the host in chunks, so
/// parsers written for files (zip, tar, JSON streams) work on it unchanged.
pub struct UploadReader<'a, B: UploadBody + ?Sized = Upload> {
    upload: &'a B,
    /// Where this view starts in the upload; positions are relative to it.
    base: u64,
    size: u64,
    position: u64,
    chunk: Vec<u8>,
    chunk_start: u64,
}

impl<'a, B: UploadBody + ?Sized> UploadReader<'a, B> {
    /// Bytes fetched per host call.
    const CHUNK: u32 = 256 << 10;

    pub fn new(upload: &'a B) -> Self {
        Self::range(upload, 0, upload.size())
    }

    /// A view of `length` bytes of the upload from `offset` (one part of a multipart
    /// body), read as if it were the whole file. It ends at the upload's end at most.
    pub fn range(upload: &'a B, offset: u64, length: u64) -> Self {
        let total = upload.size();
        let offset = offset.min(total);
        Self {
            base: offset,
            size: length.min(total - offset),
            upload,
            position: 0,
            chunk: Vec::new(),
            chunk_start: 0,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next byte, or `None` at the end.
    pub fn next_byte(&mut self) -> Option<u8> {
        let at = self.loaded_offset()?;
        let byte = *self.chunk.get(at)?;
        self.position += 1;
        Some(byte)
    }

    /// Moves to `position` (past the end reads nothing).
    pub fn skip_to(&mut self, position: u64) {
        self.position = position;
    }

    /// The offset of the next `needle` at or after the current position (searched by
    /// the host, without copying the bytes in between into the guest).
    pub fn find(&self, needle: &[u8]) -> Option<u64> {
        let found = self.upload.find(self.base + self.position, needle)? - self.base;
        (found + needle.len() as u64 <= self.size).then_some(found)
    }

    /// Where the current position is in the loaded chunk, fetching the chunk that
    /// holds it when needed; `None` at the end.
    fn loaded_offset(&mut self) -> Option<usize> {
        if self.position >= self.size {
            return None;
        }
        if self.position < self.chunk_start
            || self.position - self.chunk_start >= self.chunk.len() as u64
        {
            let wanted = (self.size - self.position).min(u64::from(Self::CHUNK)) as u32;
            self.chunk = self.upload.read(self.base + self.position, wanted);
            self.chunk_start = self.position;
        }
        Some((self.position - self.chunk_start) as usize)
    }
}

impl<B: UploadBody + ?Sized> Read for UploadReader<'_, B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(at) = self.loaded_offset() else {
            return Ok(0);
        };
        let n = buf.len().min(self.chunk.len() - at);
        buf[..n].copy_from_slice(&self.chunk[at..at + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl<B: UploadBody + ?Sized> Seek for UploadReader<'_, B> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        self.position = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom};

    use super::UploadReader;
    use crate::testing::FakeUpload;

    #[test]
    fn reads_and_seeks_across_chunks() {
        let bytes: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let upload = FakeUpload::new(bytes.clone());
        let mut reader = UploadReader::new(&upload);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, bytes);

        reader.seek(SeekFrom::End(-3)).unwrap();
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, bytes[bytes.len() - 3..]);

        reader.seek(SeekFrom::Start(262_143)).unwrap();
        let mut across = [0u8; 4];
        reader.read_exact(&mut across).unwrap();
        assert_eq!(across, bytes[262_143..262_147]);
        assert!(reader.seek(SeekFrom::Current(-1_000_000)).is_err());
    }

    #[test]
    fn a_range_reads_like_a_whole_file() {
        let upload = FakeUpload::new(b"--b\r\nhello world\r\n--b--".to_vec());
        let mut part = UploadReader::range(&upload, 5, 11);
        assert_eq!(part.find(b"world"), Some(6));
        assert_eq!(part.find(b"--b--"), None, "past the range's end");
        let mut text = String::new();
        part.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello world");
        part.skip_to(4);
        assert_eq!(part.next_byte(), Some(b'o'));
        assert_eq!(UploadReader::range(&upload, 20, 100).size(), 3);
    }
}
