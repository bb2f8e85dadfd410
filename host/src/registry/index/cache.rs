//! The cache of rendered indexes: entries keyed by what they were rendered from and
//! valid while its revision holds, and single-flight rendering so concurrent misses of
//! one document share one rendering.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::db::packages::PackageRow;
use crate::error::Error;
use crate::registry::kept::Kept;

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
    /// Package rows the renderings are keyed by, kept while their listing holds.
    /// Keyed by format and lower-cased name; `None` for a package known to be absent.
    pub(super) rows: Kept<(String, String), Option<PackageRow>>,
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures_util::FutureExt;

    use super::*;

    fn key(view: &str, params: &[(&str, &str)]) -> Key {
        Key {
            subject: Subject::Package(1),
            view: view.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            base_url: "http://wharf.test/api/packages/alice/npm".into(),
        }
    }

    fn listing_after(after: &str) -> Key {
        Key {
            subject: Subject::Listing {
                owner_id: 1,
                format: "oci".into(),
                filter: String::new(),
                offset: 0,
                limit: 0,
                all_versions: false,
                after: after.into(),
            },
            ..key("catalog", &[])
        }
    }

    fn document(status: u16, body: &str) -> Arc<Rendered> {
        Arc::new(Rendered {
            status,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: Bytes::from(body.to_string()),
            etag: "\"tag\"".into(),
            gzip: OnceLock::new(),
        })
    }

    /// The body `cache` serves for `key` at `revision`, rendering `body` on a miss.
    async fn get(cache: &IndexCache, key: Key, revision: i64, body: &str) -> String {
        let rendered = cache
            .get_or_render(key, revision, async { Ok(document(200, body)) })
            .await
            .unwrap();
        String::from_utf8(rendered.body.to_vec()).unwrap()
    }

    // Guards revision keying: a rendering is reused while its revision holds and
    // replaced by the next revision's.
    #[tokio::test]
    async fn a_rendering_lives_as_long_as_its_revision() {
        let cache = IndexCache::default();
        assert_eq!(get(&cache, key("v", &[]), 1, "first").await, "first");
        assert_eq!(get(&cache, key("v", &[]), 1, "again").await, "first");
        assert_eq!(cache.renders_made(), 1);
        assert_eq!(get(&cache, key("v", &[]), 2, "second").await, "second");
        assert_eq!(get(&cache, key("v", &[]), 2, "again").await, "second");
        assert_eq!(cache.renders_made(), 2);
    }

    // Guards the key's parts: another view, other params or another listing page
    // (`after` included) is another document.
    #[tokio::test]
    async fn every_part_of_the_key_makes_its_own_entry() {
        let cache = IndexCache::default();
        let keys = [
            key("packument", &[]),
            key("abbreviated", &[]),
            key("version", &[("version", "1.0")]),
            key("version", &[("version", "2.0")]),
            Key {
                base_url: "http://other.test".into(),
                ..key("packument", &[])
            },
            listing_after(""),
            listing_after("alice/a"),
        ];
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                get(&cache, k.clone(), 1, &i.to_string()).await,
                i.to_string()
            );
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(get(&cache, k.clone(), 1, "miss").await, i.to_string());
        }
        assert_eq!(cache.renders_made(), keys.len() as u64);
    }

    // Guards that failures are not kept: a plugin's error or non-2xx answer is
    // rendered again on the next request.
    #[tokio::test]
    async fn failures_are_rendered_again() {
        let cache = IndexCache::default();
        let failed = cache
            .get_or_render(key("v", &[]), 1, async {
                Err(Error::Internal("boom".into()))
            })
            .await;
        assert!(matches!(failed, Err(Error::Internal(_))));
        let not_found = cache
            .get_or_render(key("v", &[]), 1, async { Ok(document(404, "none")) })
            .await
            .unwrap();
        assert_eq!(not_found.status, 404);
        assert_eq!(get(&cache, key("v", &[]), 1, "ok").await, "ok");
        assert_eq!(cache.renders_made(), 3);
    }

    // Guards single-flight: concurrent misses of one key and revision wait for one
    // rendering and share it; nothing is left in flight afterwards.
    #[tokio::test]
    async fn concurrent_misses_render_once() {
        let cache = IndexCache::default();
        let renders = AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let render = || async {
            renders.fetch_add(1, Ordering::SeqCst);
            gate.notified().await;
            Ok(document(200, "shared"))
        };
        let (a, b, c, ()) = tokio::join!(
            cache.get_or_render(key("v", &[]), 1, render()),
            cache.get_or_render(key("v", &[]), 1, render()),
            cache.get_or_render(key("v", &[]), 1, render()),
            async {
                tokio::task::yield_now().await;
                gate.notify_waiters();
            },
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert!(Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&b, &c));
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        assert_eq!(cache.renders_made(), 1);
        assert!(lock(&cache.in_flight).is_empty());
    }

    // Guards a rendering whose client hung up: a waiting caller renders instead, and
    // an abandoned key does not stay in the map.
    #[tokio::test]
    async fn a_waiter_takes_over_from_a_dropped_rendering() {
        let cache = IndexCache::default();
        let mut first = Box::pin(cache.get_or_render(key("v", &[]), 1, std::future::pending()));
        assert!(
            first.as_mut().now_or_never().is_none(),
            "rendering, forever"
        );
        let mut second =
            Box::pin(cache.get_or_render(key("v", &[]), 1, async { Ok(document(200, "mine")) }));
        assert!(
            second.as_mut().now_or_never().is_none(),
            "waiting on the first"
        );
        drop(first);
        let taken_over = second.await.unwrap();
        assert_eq!(&taken_over.body[..], b"mine");
        assert!(lock(&cache.in_flight).is_empty());

        let mut abandoned = Box::pin(cache.get_or_render(key("w", &[]), 1, std::future::pending()));
        assert!(abandoned.as_mut().now_or_never().is_none());
        drop(abandoned);
        assert!(lock(&cache.in_flight).is_empty());
    }

    // Guards content negotiation: small bodies go as they are; larger ones are
    // compressed once, under an ETag of their own.
    #[test]
    fn gzip_variants_have_their_own_etag() {
        let small = document(200, "{}");
        assert_eq!(
            small.variant(true),
            (small.body.clone(), "\"tag\"".into(), false)
        );
        let large = document(200, &"x".repeat(4 * GZIP_MIN));
        let (body, etag, compressed) = large.variant(true);
        assert!(compressed && body.len() < large.body.len());
        assert_eq!(etag, "\"tag-gzip\"");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
            .unwrap();
        assert_eq!(plain, large.body);
        let again = large.variant(true).0;
        assert_eq!(again.as_ptr(), body.as_ptr(), "compressed once");
        assert!(!large.variant(false).2);
    }
}
