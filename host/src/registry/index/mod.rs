//! Rendering indexes through the plugin, with a cache keyed by revisions.
//!
//! Every change to a package bumps its revision in the same transaction, and every
//! change to any package of an owner and format bumps that pair's listing revision
//! (database triggers). A cached body is valid exactly while the revision it was
//! rendered at is current: no timers, no explicit invalidation. Render output may
//! depend only on the cache key's parts. Access is decided per owner before rendering,
//! so every caller who gets this far sees the same listing.

mod cache;

pub use super::kept::Listing;
pub use cache::{IndexCache, Rendered};

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use self::cache::{Key, Subject};

use super::Registry;
use crate::auth::{self, Principal};
use crate::db::Conn;
use crate::db::owners::{self, Owner};
use crate::db::packages::{self, PackageDetail, PackageRow};
use crate::error::Error;
use crate::plugins::api::{self, HashAlgorithm};
use crate::store::digest;

/// Renders `spec` for the caller, from the cache when its revision is current. A
/// digest (`maven-metadata.xml.sha1`) is taken of the cached document itself, so it
/// always matches the document served beside it, whatever the rendering printed.
/// `listing` is the owner's listing revision of `format` if the caller read it already
/// (stage 1 does, with the owner), which spares the database the package lookup.
pub async fn render(
    registry: &Registry,
    format: &str,
    plugin: &Arc<crate::plugins::Plugin>,
    base_url: String,
    owner: &Owner,
    mut spec: api::IndexSpec,
    listing: Option<Listing>,
) -> Result<Arc<Rendered>, Error> {
    let digest_of = spec.digest_of.take();
    let document = Document {
        registry,
        format,
        plugin,
        base_url,
        owner,
        spec,
        listing: listing.filter(|l| l.owner_id == owner.id),
    };
    let rendered = match document.spec.pkg.clone() {
        Some(pkg) => document.package(&pkg.name).await?,
        None => document.listing().await?,
    };
    Ok(digested(rendered, digest_of))
}

/// One index document of an owner's: what it is rendered from and how it is cached.
struct Document<'a> {
    registry: &'a Registry,
    format: &'a str,
    plugin: &'a Arc<crate::plugins::Plugin>,
    base_url: String,
    owner: &'a Owner,
    spec: api::IndexSpec,
    /// The owner's listing revision of the format, read before anything else here.
    listing: Option<Listing>,
}

impl Document<'_> {
    /// Everything `render-index` sees besides stored data, so a cached rendering is
    /// right for every caller who may read the owner.
    fn key(&self, subject: Subject) -> Key {
        Key {
            subject,
            view: self.spec.view.clone(),
            params: self.spec.params.clone(),
            base_url: self.base_url.clone(),
        }
    }

    async fn render(
        &self,
        detail: Option<api::PackageDetail>,
        listing: Vec<api::PackageDetail>,
        listing_total: u64,
    ) -> Result<Arc<Rendered>, Error> {
        let input = api::IndexInput {
            base_url: self.base_url.clone(),
            owner: Some(self.owner.name.clone()),
            spec: self.spec.clone(),
            detail,
            listing,
            listing_total,
            rendered_at: crate::clock::now(),
        };
        let owner = Some(self.owner.name.clone());
        let response = self.plugin.render_index(owner, input).await?;
        Ok(Arc::new(finish(response)))
    }

    /// An owner-wide listing, cached while the owner's listing revision holds.
    async fn listing(&self) -> Result<Arc<Rendered>, Error> {
        let (owner_id, format) = (self.owner.id, self.format);
        let listing_spec = self.spec.listing.clone().unwrap_or_else(every_package);
        let key = self.key(Subject::Listing {
            owner_id,
            format: format.to_string(),
            filter: listing_spec.filter.clone(),
            offset: listing_spec.offset,
            limit: listing_spec.limit,
            all_versions: listing_spec.all_versions,
            after: listing_spec.after.clone(),
        });
        // Read before the listing: a change in between makes the entry look older than
        // it is (re-rendered once more), never newer.
        let revision = match self.listing {
            Some(listing) => listing.revision,
            None => self
                .registry
                .db
                .read_now(|conn| packages::listing_revision(conn, owner_id, format))?,
        };
        let render = async {
            let (total, listed) = listing(self.registry, format, owner_id, listing_spec).await?;
            self.render(None, listed, total).await
        };
        self.registry
            .index_cache
            .get_or_render(key, revision, render)
            .await
    }

    /// The package's row: kept from an earlier request while the owner's listing
    /// revision holds, else read (a point lookup: cheaper here than a trip through the
    /// blocking pool).
    fn package_row(&self, name: &str) -> Result<Option<PackageRow>, Error> {
        let (owner_id, format) = (self.owner.id, self.format);
        let rows = &self.registry.index_cache.rows;
        // Looked up as `packages::find` does: by lower-cased name.
        let key = || (format.to_string(), name.to_lowercase());
        if let Some(kept) = self.listing.and_then(|l| rows.get(l, key())) {
            return Ok(kept);
        }
        let row = self
            .registry
            .db
            .read_now(|conn| packages::find(conn, owner_id, format, name))?;
        if let Some(listing) = self.listing {
            rows.keep(listing, key(), row.clone());
        }
        Ok(row)
    }

    /// A package's document, cached while the package's revision holds. On a hit with
    /// the row kept, the request's only database work was stage 1's.
    async fn package(&self, name: &str) -> Result<Arc<Rendered>, Error> {
        let row = self.package_row(name)?;
        let cached = row
            .as_ref()
            .map(|row| (self.key(Subject::Package(row.id)), row.revision));
        let render = async {
            let detail = match row {
                Some(row) => Some(
                    self.registry
                        .db
                        .read(move |conn| packages::detail(conn, row))
                        .await?,
                ),
                None => None,
            };
            let detail = detail.map(|d| to_api(&self.owner.name, d));
            self.render(detail, Vec::new(), 0).await
        };
        match cached {
            Some((key, revision)) => {
                self.registry
                    .index_cache
                    .get_or_render(key, revision, render)
                    .await
            }
            // No package: the plugin's answer (a 404 in its own words) is not cached.
            None => render.await,
        }
    }
}

/// Renders a listing across owners (`pkg: none` on a mount without an owner, OCI's
/// `_catalog`): packages of every owner the caller may read, after `listing.after`.
/// Not cached: what it holds depends on who asks.
pub async fn render_across_owners(
    registry: &Registry,
    format: &str,
    plugin: &Arc<crate::plugins::Plugin>,
    base_url: String,
    principal: &Principal,
    mut spec: api::IndexSpec,
) -> Result<Arc<Rendered>, Error> {
    let digest_of = spec.digest_of.take();
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
        base_url,
        owner: None,
        spec: spec.clone(),
        detail: None,
        listing_total: listing.len() as u64,
        listing,
        rendered_at: crate::clock::now(),
    };
    let response = plugin.render_index(None, input).await?;
    Ok(digested(Arc::new(finish(response)), digest_of))
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
/// The hex digest of a rendered document as a document of its own; a failure (the
/// plugin's 404 for a missing package) is served as it is.
/// `document`, or the hex digest of its body as a plain-text document (Maven's
/// `maven-metadata.xml.sha1`); error documents stay as they are.
pub fn digested(document: Arc<Rendered>, algorithm: Option<HashAlgorithm>) -> Arc<Rendered> {
    let Some(algorithm) = algorithm else {
        return document;
    };
    if !(200..300).contains(&document.status) {
        return document;
    }
    let hex = digest::of_bytes(super::publish::algorithm(algorithm), &document.body);
    Arc::new(finish(api::Response {
        status: document.status,
        content_type: "text/plain".to_string(),
        headers: document.headers.clone(),
        body: hex.into_bytes(),
    }))
}

/// A document a plugin computed, ready to serve (a proxy's rewritten upstream document).
impl From<api::Response> for Rendered {
    fn from(response: api::Response) -> Self {
        finish(response)
    }
}

fn finish(mut response: api::Response) -> Rendered {
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
                &spec.after,
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
fn newest_only(conn: &Conn<'_>, row: packages::PackageRow) -> Result<PackageDetail, Error> {
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
        versions: d.versions.into_iter().map(version_to_api).collect(),
        tags: d.tags,
    }
}

/// A stored version as plugins see it: sha256 first, then the other known digests.
pub(crate) fn version_to_api(v: packages::VersionDetail) -> api::VersionDetail {
    api::VersionDetail {
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
    }
}

#[cfg(test)]
mod tests;
