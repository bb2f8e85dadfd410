//! Committing a plugin's publish plan: materialize every file as a staged blob
//! (whole upload, a slice, decoded base64, or inline bytes), check expected digests,
//! then apply all changes in one transaction. Either all of it lands or none does, and
//! staged temp files of a failed publish are removed when they drop.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::{Registry, digests};
use crate::db::{self, Tx, packages};
use crate::error::Error;
use crate::plugins::api::{self, FileSource, HashAlgorithm, VersionMode};
use crate::store::{Algorithm, StagedBlob};

/// Longest name, version or file name a plan may use.
const MAX_NAME: usize = 512;

pub fn algorithm(a: HashAlgorithm) -> Algorithm {
    match a {
        HashAlgorithm::Md5 => Algorithm::Md5,
        HashAlgorithm::Sha1 => Algorithm::Sha1,
        HashAlgorithm::Sha256 => Algorithm::Sha256,
        HashAlgorithm::Sha512 => Algorithm::Sha512,
    }
}

/// Where each planned file's bytes are: an index into the staged blobs.
struct Materialized {
    blobs: Vec<StagedBlob>,
    /// For each version of the plan, for each file, the blob index.
    files: Vec<Vec<usize>>,
}

/// Applies `plan` for `owner_id` in `format`. `upload` is the stored request body.
pub async fn commit(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    creator: Option<i64>,
    upload: StagedBlob,
    plan: api::PublishPlan,
    extra_digests: Vec<Algorithm>,
) -> Result<(), Error> {
    validate(&plan)?;
    if plan.versions.is_empty() {
        // Nothing to change (an edit that changed nothing): not even an empty package.
        return Ok(());
    }
    let store = registry.blobs.clone();
    let materialized = tokio::task::spawn_blocking({
        let plan = plan.clone();
        move || materialize(&store, upload, &plan, &extra_digests)
    })
    .await
    .map_err(|e| Error::Internal(format!("publish task failed: {e}")))??;
    // With an object store, the bytes go up before the write transaction, which then
    // only checks that they are there: a large upload never holds the one writer.
    for (blob, used) in materialized.blobs.iter().zip(materialized.used()) {
        if used {
            blob.upload().await?;
        }
    }

    let format = format.to_string();
    registry
        .db
        .write(move |tx| apply(tx, &format, owner_id, creator, plan, materialized))
        .await
}

fn validate(plan: &api::PublishPlan) -> Result<(), Error> {
    let bad = |value: &str| {
        value.is_empty() || value.len() > MAX_NAME || value.chars().any(char::is_control)
    };
    if bad(&plan.pkg.name) {
        return Err(Error::bad_request("invalid package name"));
    }
    for v in &plan.versions {
        if bad(&v.version) {
            return Err(Error::bad_request("invalid version"));
        }
        for f in &v.files {
            if bad(&f.name) {
                return Err(Error::bad_request("invalid file name"));
            }
        }
        for t in &v.tags {
            if bad(&t.tag) {
                return Err(Error::bad_request("invalid tag"));
            }
        }
    }
    Ok(())
}

fn materialize(
    store: &crate::store::BlobStore,
    upload: StagedBlob,
    plan: &api::PublishPlan,
    extra: &[Algorithm],
) -> Result<Materialized, Error> {
    let mut blobs = vec![upload];
    let mut files = Vec::new();
    for version in &plan.versions {
        let mut indexes = Vec::new();
        for file in &version.files {
            let index = match &file.source {
                FileSource::Whole => 0,
                FileSource::Slice(range) => {
                    let mut source = slice_of(&blobs[0], range)?;
                    blobs.push(copy_into(store, &mut source, extra, Error::from)?);
                    blobs.len() - 1
                }
                FileSource::Base64Slice(range) => {
                    let source = slice_of(&blobs[0], range)?;
                    let mut decoder = base64::read::DecoderReader::new(
                        source,
                        &base64::engine::general_purpose::STANDARD,
                    );
                    // Only what fails to decode is the client's fault; a failed write
                    // (a full disk) is the store's and says so.
                    let invalid =
                        |_| Error::bad_request(format!("{}: invalid base64 data", file.name));
                    blobs.push(copy_into(store, &mut decoder, extra, invalid)?);
                    blobs.len() - 1
                }
                FileSource::Inline(bytes) => {
                    let mut bytes = bytes.as_slice();
                    blobs.push(copy_into(store, &mut bytes, extra, Error::from)?);
                    blobs.len() - 1
                }
            };
            if let Some(expect) = &file.expect {
                let algorithm = algorithm(expect.algorithm);
                let actual = digest_of(&blobs[index], algorithm)?;
                if !actual.eq_ignore_ascii_case(&expect.hex) {
                    return Err(Error::bad_request(format!(
                        "{}: {} digest mismatch (expected {}, got {actual})",
                        file.name,
                        algorithm.as_str(),
                        expect.hex
                    )));
                }
                // Recorded with the blob, so clients can name the file by the digest it
                // was pushed as (an OCI manifest put by `sha512:`, then pulled by it).
                if blobs[index].digest(algorithm).is_none() {
                    blobs[index].digests.push((algorithm, actual));
                }
            }
            indexes.push(index);
        }
        files.push(indexes);
    }
    Ok(Materialized { blobs, files })
}

impl Materialized {
    /// Which staged blobs some file uses (only those are recorded and stored).
    fn used(&self) -> Vec<bool> {
        let mut used = vec![false; self.blobs.len()];
        self.files.iter().flatten().for_each(|i| used[*i] = true);
        used
    }
}

/// A reader over `range` of the staged upload, refusing ranges past its end.
fn slice_of(upload: &StagedBlob, range: &api::ByteRange) -> Result<std::io::Take<File>, Error> {
    let end = range.offset.checked_add(range.length);
    if end.is_none_or(|end| end > upload.size) {
        return Err(Error::Internal(
            "plugin asked for bytes beyond the end of the upload".into(),
        ));
    }
    let mut file = upload.open()?;
    file.seek(SeekFrom::Start(range.offset))?;
    Ok(file.take(range.length))
}

/// Copies `source` into a new staged blob; `unreadable` says what a failed read means
/// (failed writes are the store's own errors).
fn copy_into(
    store: &crate::store::BlobStore,
    source: &mut dyn Read,
    extra: &[Algorithm],
    unreadable: impl Fn(std::io::Error) -> Error,
) -> Result<StagedBlob, Error> {
    let mut writer = store.writer(extra)?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = source.read(&mut buf).map_err(&unreadable)?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n])?;
    }
    Ok(writer.finish()?)
}

/// A digest of a staged blob, computed by reading it if it was not computed while written.
fn digest_of(blob: &StagedBlob, algorithm: Algorithm) -> Result<String, Error> {
    if let Some(hex) = blob.digest(algorithm) {
        return Ok(hex.to_string());
    }
    Ok(crate::store::digest::of_reader(
        algorithm,
        &mut blob.open()?,
    )?)
}

fn apply(
    tx: &Tx<'_>,
    format: &str,
    owner_id: i64,
    creator: Option<i64>,
    plan: api::PublishPlan,
    mut materialized: Materialized,
) -> Result<(), Error> {
    db::gc::hold_off_collector(tx)?;
    let package_id = packages::ensure(tx, owner_id, format, &plan.pkg.name)?;

    // Record only the blobs some file uses.
    let used = materialized.used();
    for (blob, _) in materialized.blobs.iter().zip(&used).filter(|(_, u)| **u) {
        db::blobs::insert(tx, &blob.sha256, blob.size)?;
        for (algorithm, hex) in &blob.digests {
            if *algorithm != Algorithm::Sha256 {
                db::blobs::set_digest(tx, &blob.sha256, algorithm.as_str(), hex)?;
            }
        }
    }

    for (version, blob_indexes) in plan.versions.iter().zip(&materialized.files) {
        let version_id = version_row(tx, package_id, version, creator)?;
        for (file, index) in version.files.iter().zip(blob_indexes) {
            let blob = &materialized.blobs[*index];
            let new = packages::NewFile {
                version_id,
                name: &file.name,
                blob: &blob.sha256,
                size: blob.size,
                content_type: if file.content_type.is_empty() {
                    "application/octet-stream"
                } else {
                    &file.content_type
                },
                lead: file.lead,
            };
            packages::insert_file(tx, &new, file.overwrite)?;
        }
        for tag in &version.tags {
            if tag.remove {
                packages::remove_tag(tx, package_id, &tag.tag)?;
            } else {
                packages::set_tag(tx, package_id, &tag.tag, version_id)?;
            }
        }
        for (name, value) in &version.properties {
            packages::set_property(tx, version_id, name, value)?;
        }
        if !version.references.is_empty() || matches!(version.mode, VersionMode::CreateOrReplace) {
            reference(tx, package_id, version_id, &version.references)?;
        }
    }
    packages::touch(tx, package_id)?;

    // Last, once every row is in: move the bytes into the store. A conflict above
    // rolls back before any blob is published, so a losing upload leaves no file.
    for (blob, _) in materialized
        .blobs
        .iter_mut()
        .zip(&used)
        .filter(|(_, u)| **u)
    {
        blob.publish()?;
    }
    Ok(())
}

/// The id of the version a plan names, created, extended or replaced as its mode says.
fn version_row(
    tx: &Tx<'_>,
    package_id: i64,
    version: &api::PlanVersion,
    creator: Option<i64>,
) -> Result<i64, Error> {
    let existing = packages::version(tx, package_id, &version.version)?;
    Ok(match (version.mode, existing) {
        (VersionMode::Create, Some(_)) => {
            return Err(Error::Conflict(format!(
                "version {:?} already exists",
                version.version
            )));
        }
        (
            VersionMode::Create | VersionMode::CreateOrExtend | VersionMode::CreateOrReplace,
            None,
        ) => {
            packages::insert_version(tx, package_id, &version.version, &version.metadata, creator)?
        }
        // Files may arrive in any order (Maven sends the jar before the pom), so
        // metadata is whatever the last upload that carried some said.
        (VersionMode::CreateOrExtend | VersionMode::Extend, Some(v)) => {
            if !version.metadata.is_empty() {
                packages::set_metadata(tx, v.id, &version.metadata)?;
            }
            v.id
        }
        (VersionMode::CreateOrReplace, Some(v)) => {
            packages::delete_files_of(tx, v.id)?;
            packages::set_metadata(tx, v.id, &version.metadata)?;
            v.id
        }
        (VersionMode::UpdateMetadata, Some(v)) => {
            packages::set_metadata(tx, v.id, &version.metadata)?;
            v.id
        }
        (VersionMode::Extend | VersionMode::UpdateMetadata | VersionMode::None, None) => {
            return Err(Error::not_found(format!(
                "version {:?} does not exist",
                version.version
            )));
        }
        (VersionMode::None, Some(v)) => v.id,
    })
}

/// Makes the version reference `references` (replacing earlier ones). Checked here, in
/// the publish transaction, so a blob cannot leave the package between a plugin's check
/// and the commit. The package's blobs are looked up all at once: a manifest may name
/// thousands, and on PostgreSQL a lookup each was a round trip each.
fn reference(
    tx: &Tx<'_>,
    package_id: i64,
    version_id: i64,
    references: &[api::BlobReference],
) -> Result<(), Error> {
    let resolved = references
        .iter()
        .map(|reference| digests::resolve(tx, &reference.digest))
        .collect::<Result<Vec<_>, Error>>()?;
    let named: Vec<String> = resolved.iter().flatten().cloned().collect();
    let sizes = db::blobs::package_blob_sizes(tx, package_id, &named)?;
    let mut sha256s = Vec::with_capacity(references.len());
    for (reference, sha256) in references.iter().zip(resolved) {
        let digest = &reference.digest;
        let name = || format!("{}:{}", algorithm(digest.algorithm).as_str(), digest.hex);
        let Some((sha256, &size)) = sha256.and_then(|s| sizes.get(&s).map(|size| (s, size))) else {
            return Err(Error::not_found(format!("blob {} is unknown", name())));
        };
        if size != reference.size {
            return Err(Error::bad_request(format!(
                "blob {} has {size} bytes, not {}",
                name(),
                reference.size
            )));
        }
        sha256s.push(sha256);
    }
    db::blobs::set_references(tx, version_id, &sha256s)
}

#[cfg(test)]
mod tests;
