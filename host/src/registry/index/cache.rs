//! The cache of rendered indexes: entries keyed by what they were rendered from and
//! valid while its revision holds, and single-flight rendering so concurrent misses of
//! one document share one rendering.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::error::Error;

/// Entries and body bytes kept before the cache is emptied and refilled (a crude but
/// bounded policy: a search per keystroke must not grow memory without limit).
const MAX_ENTRIES: usize = 4096;
const MAX_BYTES: usize = 256 << 20;

/// What a cached rendering was made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Subject {
    /// One package, valid while its revision holds.
    Package(i64),
    /// A page of an owner's packages of one format, valid while the listing revision holds.
    Listing {
        owner_id: i64,
        format: String,
        filter: String,
        offset: u32,
        limit: u32,
        all_versions: bool,
        after: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) subject: Subject,
    pub(super) view: String,
    pub(super) params: Vec<(String, String)>,
    pub(super) base_url: String,
}

/// Bodies smaller than this are sent as they are: gzip would save too little.
const GZIP_MIN: usize = 1024;

/// A rendered index and its strong ETag. The body is shared (`Bytes`) so serving a
/// cached multi-megabyte packument copies nothing, and its gzip form is computed once
/// per rendering, on the first request that accepts it.
#[derive(Debug)]
pub struct Rendered {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub etag: String,
    pub(super) gzip: OnceLock<Bytes>,
}

impl Rendered {
    /// The body and ETag for a client, gzip-compressed when it accepts gzip and the
    /// body is worth it; `true` when compressed.
    pub fn variant(&self, accepts_gzip: bool) -> (Bytes, String, bool) {
        if !accepts_gzip || self.body.len() < GZIP_MIN {
            return (self.body.clone(), self.etag.clone(), false);
        }
        let gzip = self.gzip.get_or_init(|| gzip(&self.body));
        // Strong ETags must differ between encodings of one resource.
        let etag = format!("{}-gzip\"", self.etag.trim_end_matches('"'));
        (gzip.clone(), etag, true)
    }
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

/// Where the one rendering of a key and revision under way leaves its outcome.
type RenderSlot = OnceCell<Result<Arc<Rendered>, Arc<Error>>>;

/// A caller's place on a rendering under way. The last caller to leave, whether its
/// request finished or was dropped, removes the rendering from the map, so abandoned
/// keys (a client that hangs up mid-render) do not pile up.
struct Waiting<'a> {
    cache: &'a IndexCache,
    key: (Key, i64),
    slot: Option<Arc<RenderSlot>>,
}

impl<'a> Waiting<'a> {
    fn join(cache: &'a IndexCache, key: Key, revision: i64) -> Self {
        let key = (key, revision);
        let slot = lock(&cache.in_flight)
            .entry(key.clone())
            .or_default()
            .clone();
        Self {
            cache,
            key,
            slot: Some(slot),
        }
    }

    fn slot(&self) -> &RenderSlot {
        self.slot
            .as_deref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else { return };
        // Clones are made and dropped only under this lock, so the count is exact.
        let mut in_flight = lock(&self.cache.in_flight);
        let ours = in_flight
            .get(&self.key)
            .is_some_and(|current| Arc::ptr_eq(current, &slot));
        let last = Arc::strong_count(&slot) == 2;
        drop(slot);
        if ours && last {
            in_flight.remove(&self.key);
        }
    }
}

/// A rendering's failure, for each caller that waited on it: plugin failures keep
/// their status and message, anything else is a 500 with its text for the log.
fn shared(error: &Error) -> Error {
    match error {
        Error::Plugin(failure) => Error::Plugin(failure.clone()),
        other => Error::Internal(other.to_string()),
    }
}

#[derive(Default)]
pub struct IndexCache {
    entries: Mutex<Entries>,
    /// Renderings under way, by key and revision. Concurrent misses of one document
    /// wait for one rendering instead of each making their own: after a publish, a
    /// burst of installs would otherwise render a 2,000-version packument once per
    /// request in parallel, each with its own plugin instance and copy of the package.
    in_flight: Mutex<HashMap<(Key, i64), Arc<RenderSlot>>>,
    /// Renderings made for the cache since the start (misses that rendered).
    made: AtomicU64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, (i64, Arc<Rendered>)>,
    bytes: usize,
}

impl IndexCache {
    fn lookup(&self, key: &Key, revision: i64) -> Option<Arc<Rendered>> {
        let entries = lock(&self.entries);
        match entries.map.get(key) {
            Some((cached, rendered)) if *cached == revision => Some(rendered.clone()),
            _ => None,
        }
    }

    /// The cached rendering of `key` at `revision`, else the one `render` makes. Only
    /// one caller renders a key and revision at a time; the others wait and share its
    /// result, a failure included. If the caller rendering goes away (its client hung
    /// up), a waiting caller takes over.
    pub(super) async fn get_or_render(
        &self,
        key: Key,
        revision: i64,
        render: impl Future<Output = Result<Arc<Rendered>, Error>>,
    ) -> Result<Arc<Rendered>, Error> {
        let hit = self.lookup(&key, revision);
        crate::metrics::index_lookup(hit.is_some());
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let waiting = Waiting::join(self, key, revision);
        let outcome = waiting
            .slot()
            .get_or_init(|| async {
                // Rendered and stored while this caller looked and joined.
                if let Some(hit) = self.lookup(&waiting.key.0, revision) {
                    return Ok(hit);
                }
                self.made.fetch_add(1, Ordering::Relaxed);
                crate::metrics::index_render();
                let rendered = render.await.map_err(Arc::new)?;
                self.store(waiting.key.0.clone(), revision, &rendered);
                Ok(rendered)
            })
            .await;
        match outcome {
            Ok(rendered) => Ok(rendered.clone()),
            Err(error) => Err(shared(error)),
        }
    }

    /// How many renderings of cacheable documents were started (cache misses that did
    /// not wait for another request's rendering).
    pub fn renders_made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Keeps a successful rendering; errors are rendered again next time.
    fn store(&self, key: Key, revision: i64, rendered: &Arc<Rendered>) {
        if !(200..300).contains(&rendered.status) {
            return;
        }
        let mut entries = lock(&self.entries);
        let size = rendered.body.len();
        if entries.map.len() >= MAX_ENTRIES || entries.bytes + size > MAX_BYTES {
            entries.map.clear();
            entries.bytes = 0;
        }
        if let Some((_, old)) = entries.map.insert(key, (revision, rendered.clone())) {
            entries.bytes -= old.body.len();
        }
        entries.bytes += size;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
