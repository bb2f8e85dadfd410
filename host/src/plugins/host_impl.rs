//! The host side of the contract: the imports a plugin may call, and per-call state.
//!
//! Imports are read-only and scoped: during a call about one owner's package, a plugin
//! sees that owner's packages of its own format and nothing else.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::Services;
use super::bindings::wharf::format::host::{self, LogLevel, VersionInfo};
use super::bindings::wharf::format::types::{
    self, Digest, HashAlgorithm, PackageRef, SettingValue, VersionRef,
};
use super::blob_sizes::{BlobSizes, MOST_IN_SNAPSHOT};
use super::settings::Settings;
use crate::db::{self, packages};
use crate::error::Error;
use crate::registry::digests;
use crate::store::Algorithm;

/// What a plugin may print per call (panic messages, debug output); more fails the write.
const OUTPUT_CAPACITY: usize = 256 << 10;

/// Largest single `upload.read`, so a plugin cannot make the host allocate at will.
const MAX_READ: u32 = 4 << 20;

/// Longest needle `upload.find` accepts.
const MAX_NEEDLE: usize = 256;

/// The first offset of `needle` in `file[offset..size]`, scanning in chunks that
/// overlap by `needle.len() - 1` so a match across a chunk border is found.
fn find_in(file: &File, size: u64, offset: u64, needle: &[u8]) -> std::io::Result<Option<u64>> {
    const CHUNK: usize = 1 << 20;
    let finder = memchr::memmem::Finder::new(needle);
    let mut buf = vec![0u8; CHUNK];
    let mut at = offset;
    while at < size {
        let len = CHUNK.min((size - at) as usize);
        file.read_exact_at(&mut buf[..len], at)?;
        if let Some(i) = finder.find(&buf[..len]) {
            return Ok(Some(at + i as u64));
        }
        if at + (len as u64) >= size {
            break;
        }
        at += (len - (needle.len() - 1).min(len - 1)) as u64;
    }
    Ok(None)
}

/// Which owner's data the imports may show during a call.
pub enum CallScope {
    None,
    Owner(String),
}

pub struct State {
    format: String,
    scope: CallScope,
    /// `None` when the plugin is only described (`wharf plugin check`): no data at all.
    services: Option<Services>,
    /// The format's settings (empty while it is only described).
    settings: Arc<Settings>,
    wasi: WasiCtx,
    /// stdout and stderr of the guest, logged after the call.
    output: MemoryOutputPipe,
    pub(super) table: ResourceTable,
    pub(super) limiter: MemoryCap,
    /// Package ids this call looked up, by (owner, name) as the plugin named them: a
    /// manifest check asks about thousands of blobs of one package.
    package_ids: HashMap<(String, String), Option<i64>>,
    /// The sizes of blobs this call asked for, read all at once for a package asked often.
    blob_sizes: BlobSizes,
}

impl State {
    pub fn new(
        format: &str,
        scope: CallScope,
        services: Option<Services>,
        settings: Arc<Settings>,
        memory: u64,
    ) -> Self {
        let output = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        // No preopens, environment, arguments or network: only captured output. Clocks
        // stand still and randomness is a fixed sequence, so a call's result depends on
        // its inputs alone (rendered indexes are cached; routes must be stable).
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(StoppedClock)
            .monotonic_clock(StoppedClock)
            .secure_random(StdRng::seed_from_u64(0))
            .insecure_random(StdRng::seed_from_u64(0))
            .insecure_random_seed(0)
            .build();
        Self {
            format: format.to_string(),
            scope,
            services,
            settings,
            wasi,
            output,
            table: ResourceTable::new(),
            limiter: MemoryCap {
                cap: memory,
                exceeded: false,
            },
            package_ids: HashMap::new(),
            blob_sizes: BlobSizes::default(),
        }
    }

    /// Sends whatever the guest printed to the log, one event per line.
    pub fn flush_output(&self) {
        let bytes = self.output.contents();
        for line in String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            tracing::warn!(plugin = %self.format, "plugin output: {line}");
        }
    }

    /// The package's id and the services to read it with, if the call's scope allows
    /// seeing it and it exists: the owner of the call, and this plugin's format only.
    fn package_id(&mut self, pkg: &PackageRef) -> Result<Option<(i64, Services)>, Error> {
        let (CallScope::Owner(owner), Some(services)) = (&self.scope, &self.services) else {
            return Ok(None);
        };
        if !owner.eq_ignore_ascii_case(&pkg.owner) {
            return Ok(None);
        }
        let services = services.clone();
        let key = (pkg.owner.clone(), pkg.name.clone());
        let id = match self.package_ids.get(&key) {
            Some(id) => *id,
            None => {
                let format = self.format.clone();
                let (owner, name) = key.clone();
                let id = services.db.read_sync(move |conn| {
                    let Some(owner) = db::owners::by_name(conn, &owner)? else {
                        return Ok(None);
                    };
                    Ok(packages::find(conn, owner.id, &format, &name)?.map(|p| p.id))
                })?;
                self.package_ids.insert(key, id);
                id
            }
        };
        Ok(id.map(|id| (id, services)))
    }
}

impl Services {
    fn version_info(&self, rows: Vec<packages::VersionRow>) -> Result<Vec<VersionInfo>, Error> {
        self.db.read_sync(move |conn| {
            rows.into_iter()
                .map(|row| {
                    let file_names = packages::files_of(conn, row.id)?
                        .into_iter()
                        .map(|f| f.name)
                        .collect();
                    Ok(VersionInfo {
                        version: row.version,
                        metadata: row.metadata,
                        created: row.created,
                        file_names,
                    })
                })
                .collect()
        })
    }
}

/// Caps linear memory growth and remembers that it did, so a failed call can be
/// reported as "out of memory" without inspecting error text.
pub struct MemoryCap {
    pub cap: u64,
    pub exceeded: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired as u64 > self.cap {
            self.exceeded = true;
            wasmtime::bail!("memory limit of {} bytes reached", self.cap);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The clock plugins see: the Unix epoch, forever. Times reach plugins as data
/// (`created`, `modified`), never from a clock.
struct StoppedClock;

impl HostWallClock for StoppedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// An upload the plugin reads by range (`wharf:format/host.upload`).
pub struct UploadReader {
    file: File,
    size: u64,
    sha256: String,
}

impl UploadReader {
    pub fn new(file: File, size: u64, sha256: String) -> Self {
        Self { file, size, sha256 }
    }
}

pub(super) fn algorithm(a: HashAlgorithm) -> Algorithm {
    match a {
        HashAlgorithm::Md5 => Algorithm::Md5,
        HashAlgorithm::Sha1 => Algorithm::Sha1,
        HashAlgorithm::Sha256 => Algorithm::Sha256,
        HashAlgorithm::Sha512 => Algorithm::Sha512,
    }
}

/// A host error inside an import becomes a trap: the call fails with a 500 and the log
/// says why, rather than the plugin seeing a fake "not found".
fn trap(e: Error) -> wasmtime::Error {
    wasmtime::format_err!("host import failed: {e}")
}

impl types::Host for State {}

impl host::HostUpload for State {
    fn size(&mut self, this: Resource<UploadReader>) -> Result<u64> {
        Ok(self.table.get(&this)?.size)
    }

    fn sha256(&mut self, this: Resource<UploadReader>) -> Result<String> {
        Ok(self.table.get(&this)?.sha256.clone())
    }

    fn read(&mut self, this: Resource<UploadReader>, offset: u64, len: u32) -> Result<Vec<u8>> {
        let upload = self.table.get(&this)?;
        let len = len.min(MAX_READ) as u64;
        let len = len.min(upload.size.saturating_sub(offset)) as usize;
        let mut buf = vec![0u8; len];
        upload.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn find(
        &mut self,
        this: Resource<UploadReader>,
        offset: u64,
        needle: Vec<u8>,
    ) -> Result<Option<u64>> {
        let upload = self.table.get(&this)?;
        if needle.is_empty() || needle.len() > MAX_NEEDLE {
            wasmtime::bail!("upload.find needs a needle of 1 to {MAX_NEEDLE} bytes");
        }
        Ok(find_in(&upload.file, upload.size, offset, &needle)?)
    }

    fn drop(&mut self, this: Resource<UploadReader>) -> Result<()> {
        // Borrowed handles are owned by the host and removed after the call.
        if this.owned() {
            self.table.delete(this)?;
        }
        Ok(())
    }
}

impl host::Host for State {
    fn setting(&mut self, name: String) -> Result<Option<SettingValue>> {
        Ok(self.settings.get(&name).cloned())
    }

    fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
        let plugin = self.format.as_str();
        match level {
            LogLevel::Error => tracing::error!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
        }
        Ok(())
    }

    fn get_version(&mut self, version: VersionRef) -> Result<Option<VersionInfo>> {
        let Some((package_id, services)) = self.package_id(&version.pkg).map_err(trap)? else {
            return Ok(None);
        };
        let row = services
            .db
            .read_sync(move |conn| packages::version(conn, package_id, &version.version))
            .map_err(trap)?;
        Ok(services
            .version_info(row.into_iter().collect())
            .map_err(trap)?
            .pop())
    }

    fn find_versions_by_property(
        &mut self,
        pkg: PackageRef,
        name: String,
        value: String,
    ) -> Result<Vec<VersionInfo>> {
        let Some((package_id, services)) = self.package_id(&pkg).map_err(trap)? else {
            return Ok(Vec::new());
        };
        let rows = services
            .db
            .read_sync(move |conn| {
                packages::versions_with_property(conn, package_id, &name, &value)
            })
            .map_err(trap)?;
        services.version_info(rows).map_err(trap)
    }

    fn package_has_blob(&mut self, pkg: PackageRef, digest: Digest) -> Result<bool> {
        Ok(self.package_blob_size(pkg, digest)?.is_some())
    }

    fn package_blob_size(&mut self, pkg: PackageRef, digest: Digest) -> Result<Option<u64>> {
        let Some((package_id, services)) = self.package_id(&pkg).map_err(trap)? else {
            return Ok(None);
        };
        let database = &services.db;
        let read_all = || {
            database.read_sync(move |conn| {
                db::blobs::all_package_blob_sizes(conn, package_id, MOST_IN_SNAPSHOT)
            })
        };
        let ask_one = || {
            let digest = digest.clone();
            database.read_sync(move |conn| {
                // A digest the host cannot resolve names no blob of the package.
                match digests::package_blob_size(conn, package_id, &digest) {
                    Err(Error::BadRequest(_)) => Ok(None),
                    other => other.map(|found| found.map(|(_, size)| size)),
                }
            })
        };
        let found = self.blob_sizes.size(package_id, &digest, read_all, ask_one);
        found.map_err(trap)
    }

    fn file_digest(
        &mut self,
        version: VersionRef,
        file_name: String,
        algorithm_: HashAlgorithm,
    ) -> Result<Option<Digest>> {
        let Some((package_id, services)) = self.package_id(&version.pkg).map_err(trap)? else {
            return Ok(None);
        };
        let file = services
            .db
            .read_sync(move |conn| {
                let Some(v) = packages::version(conn, package_id, &version.version)? else {
                    return Ok(None);
                };
                packages::file(conn, v.id, &file_name)
            })
            .map_err(trap)?;
        let Some(file) = file else { return Ok(None) };
        let hex = blob_digest(&services, &file.blob, algorithm(algorithm_)).map_err(trap)?;
        Ok(Some(Digest {
            algorithm: algorithm_,
            hex,
        }))
    }
}

/// A digest of a stored blob: from the database if it was ever computed, else computed
/// now by streaming the blob once, and stored for next time.
pub fn blob_digest(
    services: &Services,
    sha256: &str,
    algorithm: Algorithm,
) -> Result<String, Error> {
    if algorithm == Algorithm::Sha256 {
        return Ok(sha256.to_string());
    }
    let key = sha256.to_string();
    if let Some(hex) = services
        .db
        .read_sync(move |conn| db::blobs::digest(conn, &key, algorithm.as_str()))?
    {
        return Ok(hex);
    }
    let hex = crate::store::digest::of_reader(algorithm, &mut services.blobs.reader(sha256)?)?;
    let (key, value) = (sha256.to_string(), hex.clone());
    services
        .db
        .write_sync(move |tx| db::blobs::set_digest(tx, &key, algorithm.as_str(), &value))?;
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::find_in;

    #[test]
    fn find_spans_chunk_borders_and_respects_the_offset() {
        let mut data = vec![b'a'; (1 << 20) + 100];
        data[(1 << 20) - 2..(1 << 20) + 2].copy_from_slice(b"\"xy\"");
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        let size = data.len() as u64;
        assert_eq!(
            find_in(&file, size, 0, b"\"xy\"").unwrap(),
            Some((1 << 20) - 2)
        );
        assert_eq!(find_in(&file, size, 0, b"\"").unwrap(), Some((1 << 20) - 2));
        assert_eq!(
            find_in(&file, size, (1 << 20) - 1, b"\"").unwrap(),
            Some((1 << 20) + 1)
        );
        assert_eq!(find_in(&file, size, (1 << 20) + 2, b"\"").unwrap(), None);
        assert_eq!(find_in(&file, size, size + 5, b"a").unwrap(), None);
    }
}
