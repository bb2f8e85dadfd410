//! What a package's web page shows beyond the stored rows: the format's own part
//! (client setup and install snippets, the metadata worth showing, the README), which
//! the plugin describes through the contract's optional `pages` interface (0.3.2).
//!
//! The host names no format here either: it hands the plugin one stored version and
//! takes back text. Everything in a [`PackageView`] is raw and comes from a package's
//! publisher through its plugin, so the page must escape every string and sanitize
//! the HTML of a rendered README. This module reads, it never checks access: the
//! caller shows a package only to visitors who may read its owner.

use super::Registry;
use crate::db::{blobs, owners, packages};
use crate::error::Error;
use crate::plugins::api;

/// The largest README shown, in bytes: a README is prose, and a page must stay small.
const MAX_README: u64 = 1 << 20;

/// The format-specific part of one version's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageView {
    /// The version described: the one asked for, else the package's newest.
    pub version: String,
    /// How to point a client at this registry, with its URL filled in.
    pub setup: Vec<Snippet>,
    /// How to install or use this version.
    pub install: Vec<Snippet>,
    pub fields: Vec<Field>,
    pub readme: Option<Readme>,
}

/// A block of text a visitor copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub title: String,
    /// `shell`, `xml`, `toml`, `ini`, `json`, `text`, as the plugin names it.
    pub language: String,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: String,
    pub value: FieldValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    /// An absolute `http`/`https` URL; any other link a plugin gives becomes text, so a
    /// page never links to `javascript:` or `data:` from package metadata.
    Link(String),
    /// Several values (keywords, authors).
    Items(Vec<String>),
    /// Named values: dependencies as (name, requirement), the requirement possibly empty.
    Pairs(Vec<(String, String)>),
}

/// A README, raw: Markdown to render and sanitize, or plain text to show as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readme {
    pub markdown: bool,
    pub text: String,
}

impl Registry {
    /// The format's description of `package`'s `version` (else its newest version) of
    /// `owner`, with URLs built on `public_url` (the registry's, without the mount).
    ///
    /// `Ok(None)`: the format does not describe its packages (a plugin without the
    /// `pages` interface). `Err(Error::NotFound)`: no such format, owner, package or
    /// version. `Err(Error::Plugin)`: the plugin refused or failed (trapped, ran out of
    /// time or memory); a page shows its part as not available rather than failing.
    pub async fn describe_package(
        &self,
        owner: &str,
        format: &str,
        package: &str,
        version: Option<&str>,
        public_url: &str,
    ) -> Result<Option<PackageView>, Error> {
        let entry = self
            .format(format)
            .ok_or_else(|| Error::not_found(format!("no format {format:?}")))?;
        let stored = stored_version(self, owner, format, package, version).await?;
        let public_url = public_url.trim_end_matches('/');
        let readme_blobs: Vec<(String, String, u64)> = stored
            .version
            .files
            .iter()
            .map(|(f, _)| (f.name.clone(), f.blob.clone(), f.size))
            .collect();
        let input = api::PageInput {
            registry_url: public_url.to_string(),
            base_url: entry.mount.url(public_url, Some(&stored.owner)),
            pkg: api::PackageRef {
                owner: stored.owner,
                name: stored.package,
            },
            version: super::index::version_to_api(stored.version),
            tags: stored.tags,
        };
        let version = input.version.version.clone();
        let Some(page) = entry.plugin.describe_page(input).await? else {
            return Ok(None);
        };
        let readme = match page.readme {
            None => None,
            Some(api::ReadmeSource::Text(t)) => readme(t.markup, t.text.into_bytes()),
            Some(api::ReadmeSource::File(f)) => {
                match readme_blobs.into_iter().find(|(name, ..)| *name == f.name) {
                    Some((_, blob, size)) if size <= MAX_README => {
                        readme(f.markup, read_blob(self, blob).await?)
                    }
                    _ => None,
                }
            }
        };
        Ok(Some(PackageView {
            version,
            setup: page.setup.into_iter().map(snippet).collect(),
            install: page.install.into_iter().map(snippet).collect(),
            fields: page.fields.into_iter().map(field).collect(),
            readme,
        }))
    }
}

/// One version as stored, with the names as stored (the caller's may differ in case).
struct Stored {
    owner: String,
    package: String,
    version: packages::VersionDetail,
    tags: Vec<(String, String)>,
}

async fn stored_version(
    registry: &Registry,
    owner: &str,
    format: &str,
    package: &str,
    version: Option<&str>,
) -> Result<Stored, Error> {
    let (owner, format, package) = (owner.to_string(), format.to_string(), package.to_string());
    let version = version.map(str::to_string);
    registry
        .db
        .read(move |conn| {
            let not_found = || Error::not_found(format!("package {package:?} not found"));
            let owner = owners::by_name(conn, &owner)?.ok_or_else(not_found)?;
            let row = packages::find(conn, owner.id, &format, &package)?.ok_or_else(not_found)?;
            let wanted = match &version {
                Some(v) => packages::version(conn, row.id, v)?,
                None => packages::newest_version(conn, row.id)?,
            };
            let wanted = wanted.ok_or_else(|| {
                Error::not_found(format!(
                    "version {:?} of {package:?} not found",
                    version.as_deref().unwrap_or("")
                ))
            })?;
            let mut files = Vec::new();
            for file in packages::files_of(conn, wanted.id)? {
                let digests = blobs::digests(conn, &file.blob)?;
                files.push((file, digests));
            }
            Ok(Stored {
                version: packages::VersionDetail {
                    files,
                    properties: packages::properties(conn, wanted.id)?,
                    row: wanted,
                },
                tags: packages::tags(conn, row.id)?,
                owner: owner.name,
                package: row.name,
            })
        })
        .await
}

/// A stored blob whole (callers check its size first).
async fn read_blob(registry: &Registry, sha256: String) -> Result<Vec<u8>, Error> {
    let blobs = registry.blobs.clone();
    tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(blobs.reader(&sha256)?, MAX_README),
            &mut bytes,
        )?;
        Ok(bytes)
    })
    .await
    .map_err(|e| Error::Internal(format!("reading a README did not complete: {e}")))?
}

/// A README of at most [`MAX_README`] bytes of UTF-8; anything else is not shown.
fn readme(markup: api::Markup, bytes: Vec<u8>) -> Option<Readme> {
    if bytes.len() as u64 > MAX_README {
        return None;
    }
    let text = String::from_utf8(bytes).ok()?;
    (!text.trim().is_empty()).then_some(Readme {
        markdown: matches!(markup, api::Markup::Markdown),
        text,
    })
}

fn snippet(s: api::Snippet) -> Snippet {
    Snippet {
        title: s.title,
        language: s.language,
        code: s.code,
    }
}

fn field(f: api::Field) -> Field {
    let value = match f.value {
        api::FieldValue::Text(text) => FieldValue::Text(text),
        api::FieldValue::Link(url) if is_web_url(&url) => FieldValue::Link(url),
        api::FieldValue::Link(url) => FieldValue::Text(url),
        api::FieldValue::Items(items) => FieldValue::Items(items),
        api::FieldValue::Pairs(pairs) => FieldValue::Pairs(pairs),
    };
    Field {
        label: f.label,
        value,
    }
}

fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests;
