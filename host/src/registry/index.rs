//! Rendering indexes through the plugin, with a cache keyed by the package's revision.
//!
//! Every change to a package bumps its revision in the same transaction, so a cached
//! body is valid exactly while the revision it was rendered at is current: no timers,
//! no explicit invalidation. Render output may depend only on the cache key's parts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::Registry;
use crate::db::owners::Owner;
use crate::db::packages::{self, PackageDetail};
use crate::error::Error;
use crate::plugins::api::{self, HashAlgorithm};
use crate::store::digest;

/// Entries kept before the cache is emptied and refilled (a crude but bounded policy).
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    package_id: i64,
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

#[derive(Default)]
pub struct IndexCache {
    entries: Mutex<HashMap<Key, (i64, Arc<Rendered>)>>,
}

/// Renders `spec` for the caller; package indexes come from the cache when current.
pub async fn render(
    registry: &Registry,
    format: &str,
    plugin: &Arc<crate::plugins::Plugin>,
    request: api::Request,
    owner: &Owner,
    spec: api::IndexSpec,
) -> Result<Arc<Rendered>, Error> {
    let Some(pkg) = spec.pkg.clone() else {
        // Owner-wide listings depend on what the caller may see: never cached.
        let (listing_total, listing) =
            listing(registry, format, owner.id, spec.listing.clone()).await?;
        let input = api::IndexInput {
            request,
            spec: spec.clone(),
            detail: None,
            listing,
            listing_total,
        };
        let response = plugin.render_index(Some(owner.name.clone()), input).await?;
        return Ok(Arc::new(finish(response, spec.digest_of)));
    };

    let (owner_id, format_name, name) = (owner.id, format.to_string(), pkg.name.clone());
    let row = registry
        .db
        .read(move |conn| packages::find(conn, owner_id, &format_name, &name))
        .await?;
    let key = row.as_ref().map(|row| Key {
        package_id: row.id,
        view: spec.view.clone(),
        argument: spec.argument.clone(),
        base_url: request.base_url.clone(),
        digest_of: spec.digest_of.map(|d| d as u8),
    });
    if let (Some(key), Some(row)) = (&key, &row)
        && let Some((revision, rendered)) = registry
            .index_cache
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        && *revision == row.revision
    {
        return Ok(rendered.clone());
    }

    let revision = row.as_ref().map(|r| r.revision);
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
    let rendered = Arc::new(finish(response, spec.digest_of));
    if let (Some(key), Some(revision)) = (key, revision)
        && (200..300).contains(&rendered.status)
    {
        let mut entries = registry
            .index_cache
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (revision, rendered.clone()));
    }
    Ok(rendered)
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
    spec: Option<api::ListingSpec>,
) -> Result<(u64, Vec<api::PackageDetail>), Error> {
    let format = format.to_string();
    let spec = spec.unwrap_or(api::ListingSpec {
        filter: String::new(),
        offset: 0,
        limit: 0,
        all_versions: false,
    });
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
/// properties left out: listings show names and summaries).
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
        package: row,
        versions,
        tags: Vec::new(),
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
