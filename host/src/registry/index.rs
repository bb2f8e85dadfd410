//! Rendering indexes through the plugin, with a cache keyed by revisions.
//!
//! Every change to a package bumps its revision in the same transaction, and every
//! change to any package of an owner and format bumps that pair's listing revision
//! (database triggers). A cached body is valid exactly while the revision it was
//! rendered at is current: no timers, no explicit invalidation. Render output may
//! depend only on the cache key's parts. Access is decided per owner before rendering,
//! so every caller who gets this far sees the same listing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::Registry;
use crate::auth::{self, Principal};
use crate::db::owners::{self, Owner};
use crate::db::packages::{self, PackageDetail};
use crate::error::Error;
use crate::plugins::api::{self, HashAlgorithm};
use crate::store::digest;

/// Entries and body bytes kept before the cache is emptied and refilled (a crude but
/// bounded policy: a search per keystroke must not grow memory without limit).
const MAX_ENTRIES: usize = 4096;
const MAX_BYTES: usize = 256 << 20;

/// What a cached rendering was made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
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
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    subject: Subject,
    view: String,
    argument: String,
    base_url: String,
    digest_of: Option<u8>,
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
    gzip: OnceLock<Bytes>,
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
    async fn get_or_render(
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

/// Renders `spec` for the caller, from the cache when its revision is current.
pub async fn render(
    registry: &Registry,
    format: &str,
    plugin: &Arc<crate::plugins::Plugin>,
    request: api::Request,
    owner: &Owner,
    spec: api::IndexSpec,
) -> Result<Arc<Rendered>, Error> {
    let key = |subject| Key {
        subject,
        view: spec.view.clone(),
        argument: spec.argument.clone(),
        base_url: request.base_url.clone(),
        digest_of: spec.digest_of.map(|d| d as u8),
    };
    let (owner_id, format_name) = (owner.id, format.to_string());

    let Some(pkg) = spec.pkg.clone() else {
        let listing_spec = spec.listing.clone().unwrap_or_else(every_package);
        let key = key(Subject::Listing {
            owner_id,
            format: format_name.clone(),
            filter: listing_spec.filter.clone(),
            offset: listing_spec.offset,
            limit: listing_spec.limit,
            all_versions: listing_spec.all_versions,
        });
        // Read before the listing: a change in between makes the entry look older than
        // it is (re-rendered once more), never newer.
        let revision = registry
            .db
            .read_now(|conn| packages::listing_revision(conn, owner_id, &format_name))?;
        let render = async {
            let (listing_total, listing) =
                listing(registry, format, owner_id, listing_spec).await?;
            let input = api::IndexInput {
                request,
                spec: spec.clone(),
                detail: None,
                listing,
                listing_total,
            };
            let response = plugin.render_index(Some(owner.name.clone()), input).await?;
            Ok(Arc::new(finish(response, spec.digest_of)))
        };
        return registry
            .index_cache
            .get_or_render(key, revision, render)
            .await;
    };

    let name = pkg.name.clone();
    // A point lookup: cheaper here than a trip through the blocking pool, and on a
    // cache hit the only database work of the request.
    let row = registry
        .db
        .read_now(|conn| packages::find(conn, owner_id, &format_name, &name))?;
    let cached = row
        .as_ref()
        .map(|row| (key(Subject::Package(row.id)), row.revision));
    let render = async {
        let detail = match row {
            Some(row) => Some(
                registry
                    .db
                    .read(move |conn| packages::detail(conn, row))
                    .await?,
            ),
            None => None,
        };
        let input = api::IndexInput {
            request,
            spec: spec.clone(),
            detail: detail.map(|d| to_api(&owner.name, d)),
            listing: Vec::new(),
            listing_total: 0,
        };
        let response = plugin.render_index(Some(owner.name.clone()), input).await?;
        Ok(Arc::new(finish(response, spec.digest_of)))
    };
    match cached {
        Some((key, revision)) => {
            registry
                .index_cache
                .get_or_render(key, revision, render)
                .await
        }
        // No package: the plugin's answer (a 404 in its own words) is not cached.
        None => render.await,
    }
}

/// Renders a listing across owners (`pkg: none` on a mount without an owner, OCI's
/// `_catalog`): packages of every owner the caller may read, after `listing.after`.
/// Not cached: what it holds depends on who asks.
pub async fn render_across_owners(
    registry: &Registry,
    format: &str,
    plugin: &Arc<crate::plugins::Plugin>,
    request: api::Request,
    principal: &Principal,
    spec: api::IndexSpec,
) -> Result<Arc<Rendered>, Error> {
    let listing_spec = spec.listing.clone().unwrap_or_else(every_package);
    let (format, principal) = (format.to_string(), principal.clone());
    let listing = registry
        .db
        .read(move |conn| {
            let mut readable = Vec::new();
            for owner in owners::with_packages_of(conn, &format)? {
                if auth::granted_access(conn, &principal, &owner)? >= auth::Access::Read {
                    readable.push(owner.id);
                }
            }
            let limit = match listing_spec.limit {
                0 => i64::MAX,
                n => i64::from(n),
            };
            let rows =
                packages::list_across_owners(conn, &format, &readable, &listing_spec.after, limit)?;
            rows.into_iter()
                .map(|(owner, row)| Ok(to_api(&owner, newest_only(conn, row)?)))
                .collect::<Result<Vec<_>, Error>>()
        })
        .await?;
    let input = api::IndexInput {
        request,
        spec: spec.clone(),
        detail: None,
        listing_total: listing.len() as u64,
        listing,
    };
    let response = plugin.render_index(None, input).await?;
    Ok(Arc::new(finish(response, spec.digest_of)))
}

/// The listing of a spec that names none: every readable package, newest version only.
fn every_package() -> api::ListingSpec {
    api::ListingSpec {
        filter: String::new(),
        offset: 0,
        limit: 0,
        all_versions: false,
        after: String::new(),
    }
}

/// Applies `digest-of` and computes the ETag.
fn finish(mut response: api::Response, digest_of: Option<HashAlgorithm>) -> Rendered {
    if let Some(algorithm) = digest_of {
        let hex = digest::of_bytes(super::publish::algorithm(algorithm), &response.body);
        response.body = hex.into_bytes();
        response.content_type = "text/plain".to_string();
    }
    if response.status == 0 {
        response.status = 200;
    }
    let etag = format!(
        "\"{}\"",
        &digest::of_bytes(digest::Algorithm::Sha256, &response.body)[..32]
    );
    Rendered {
        status: response.status,
        content_type: response.content_type,
        headers: response.headers,
        body: Bytes::from(response.body),
        etag,
        gzip: OnceLock::new(),
    }
}

async fn listing(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    spec: api::ListingSpec,
) -> Result<(u64, Vec<api::PackageDetail>), Error> {
    let format = format.to_string();
    let (owner_name, total, details) = registry
        .db
        .read(move |conn| {
            let owner_name = crate::db::owners::by_id(conn, owner_id)?
                .map(|o| o.name)
                .unwrap_or_default();
            let filter = (!spec.filter.is_empty()).then_some(spec.filter.as_str());
            let limit = match spec.limit {
                0 => i64::MAX,
                n => i64::from(n),
            };
            let (total, rows) = packages::list(
                conn,
                owner_id,
                Some(&format),
                filter,
                limit,
                i64::from(spec.offset),
            )?;
            let details = rows
                .into_iter()
                .map(|row| {
                    if spec.all_versions {
                        packages::detail(conn, row)
                    } else {
                        newest_only(conn, row)
                    }
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok((owner_name, total, details))
        })
        .await?;
    let details = details
        .into_iter()
        .map(|d| to_api(&owner_name, d))
        .collect();
    Ok((u64::try_from(total).unwrap_or(0), details))
}

/// A package with its newest version and that version's files (digests and
/// properties left out: listings show names and summaries), and its tags, so a format
/// can show the version a tag names instead (npm search shows `latest`'s).
fn newest_only(
    conn: &rusqlite::Connection,
    row: packages::PackageRow,
) -> Result<PackageDetail, Error> {
    let versions = packages::newest_version(conn, row.id)?
        .map(|v| -> Result<_, Error> {
            let files = packages::files_of(conn, v.id)?
                .into_iter()
                .map(|f| (f, Vec::new()))
                .collect();
            Ok(vec![packages::VersionDetail {
                row: v,
                files,
                properties: Vec::new(),
            }])
        })
        .transpose()?
        .unwrap_or_default();
    Ok(PackageDetail {
        tags: packages::tags(conn, row.id)?,
        package: row,
        versions,
    })
}

fn to_api(owner: &str, d: PackageDetail) -> api::PackageDetail {
    api::PackageDetail {
        pkg: api::PackageRef {
            owner: owner.to_string(),
            name: d.package.name,
        },
        created: d.package.created,
        modified: d.package.modified,
        versions: d
            .versions
            .into_iter()
            .map(|v| api::VersionDetail {
                version: v.row.version,
                metadata: v.row.metadata,
                created: v.row.created,
                downloads: v.row.downloads as u64,
                files: v
                    .files
                    .into_iter()
                    .map(|(f, digests)| api::FileInfo {
                        digests: std::iter::once(api::Digest {
                            algorithm: HashAlgorithm::Sha256,
                            hex: f.blob.clone(),
                        })
                        .chain(digests.into_iter().filter_map(|(a, hex)| {
                            let algorithm = match a.as_str() {
                                "md5" => HashAlgorithm::Md5,
                                "sha1" => HashAlgorithm::Sha1,
                                "sha512" => HashAlgorithm::Sha512,
                                _ => return None,
                            };
                            Some(api::Digest { algorithm, hex })
                        }))
                        .collect(),
                        name: f.name,
                        size: f.size,
                        lead: f.lead,
                        content_type: f.content_type,
                        created: f.created,
                    })
                    .collect(),
                properties: v.properties,
            })
            .collect(),
        tags: d.tags,
    }
}
