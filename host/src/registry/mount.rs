//! Linking a blob the registry already holds into another package (OCI's cross-
//! repository mount), without the client sending the bytes again.

use super::{Registry, digests};
use crate::db::owners::Owner;
use crate::db::{blobs, packages};
use crate::error::Error;
use crate::plugins::api::Digest;

/// Where the blob must already be: a named package of `owner`, or any package of it
/// that `pullable` admits.
pub struct Source<'a> {
    pub owner: Owner,
    pub package: Option<String>,
    pub pullable: Box<dyn Fn(&str) -> bool + Send + 'a>,
}

/// Links the blob `digest` into `target` (created if new) of `owner_id` in `format`,
/// if `source` holds it; 404 otherwise. The check and the link are one transaction, so
/// the collector cannot drop the blob between them.
pub async fn mount(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    target: &str,
    digest: &Digest,
    source: Source<'static>,
) -> Result<(), Error> {
    let (format, target, digest) = (format.to_string(), target.to_string(), digest.clone());
    registry
        .db
        .write(move |tx| {
            let Some(sha256) = digests::resolve(tx, &digest)? else {
                return Err(Error::not_found("blob not found"));
            };
            let available = match &source.package {
                Some(name) => match packages::find(tx, source.owner.id, &format, name)? {
                    Some(p) => blobs::package_has(tx, p.id, &sha256)?,
                    None => false,
                },
                None => {
                    let (_, all) =
                        packages::list(tx, source.owner.id, Some(&format), None, i64::MAX, 0)?;
                    let mut has = false;
                    for p in all.iter().filter(|p| (source.pullable)(&p.name)) {
                        if blobs::package_has(tx, p.id, &sha256)? {
                            has = true;
                            break;
                        }
                    }
                    has
                }
            };
            if !available {
                return Err(Error::not_found("blob not found in the source"));
            }
            let package_id = packages::ensure(tx, owner_id, &format, &target)?;
            blobs::link_to_package(tx, package_id, &sha256)?;
            packages::touch(tx, package_id)
        })
        .await
}
