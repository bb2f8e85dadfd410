//! The blob half of `wharf migrate`: every blob the source database records, checked
//! against its sha256 and size before it is sent, and skipped when the target holds it.

use anyhow::{Context, bail};

use super::Report;
use crate::db::Conn;
use crate::store::{Algorithm, BlobStore, Exported, Transfer, digest};

/// Puts every blob of the `blobs` table into `target`.
pub(super) fn copy(
    source_db: &Conn<'_>,
    source: &BlobStore,
    target: &BlobStore,
    report: &mut Report,
) -> anyhow::Result<()> {
    let blobs: Vec<(String, i64)> =
        source_db.query_vec("SELECT sha256, size FROM blobs ORDER BY sha256", &[], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    for (sha256, size) in blobs {
        let size = size as u64;
        if target.stored_size(&sha256)? == Some(size) {
            report.present += 1;
            continue;
        }
        verify(source, &sha256, size)?;
        match source.export(&sha256, target, Transfer::Copy)? {
            Exported::Missing => bail!("blob {sha256} is recorded but not stored in the source"),
            Exported::Present => report.present += 1,
            Exported::Linked | Exported::Copied => {
                report.uploaded += 1;
                report.uploaded_bytes += size;
            }
        }
        let stored = target.stored_size(&sha256)?;
        if stored != Some(size) {
            bail!("blob {sha256}: the target holds {stored:?} bytes after the copy, not {size}");
        }
    }
    Ok(())
}

/// Reads the source's bytes of `sha256` whole: a damaged file is found before it is
/// copied anywhere.
fn verify(source: &BlobStore, sha256: &str, size: u64) -> anyhow::Result<()> {
    let mut reader = source
        .reader(sha256)
        .with_context(|| format!("cannot read blob {sha256} of the source"))?;
    let mut counted = CountingReader {
        inner: &mut reader,
        bytes: 0,
    };
    let actual = digest::of_reader(Algorithm::Sha256, &mut counted)?;
    if actual != sha256 || counted.bytes != size {
        bail!(
            "blob {sha256} of the source is damaged: its {} bytes hash to {actual} (recorded: {size} bytes)",
            counted.bytes
        );
    }
    Ok(())
}

struct CountingReader<'a> {
    inner: &'a mut dyn std::io::Read,
    bytes: u64,
}

impl std::io::Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}
