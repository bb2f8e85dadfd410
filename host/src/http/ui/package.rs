//! A package's page and a version's page: the stored facts (versions with dates and
//! download counts, a page at a time, newest first; tags; the version's files with
//! sizes and sha256) and the format's own part (`view`). One template serves both; the
//! version page is about the version in its path instead of the newest.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::render::{self, Chrome, Pager};
use super::session::Visitor;
use super::view::{FieldValue, Section};
use crate::error::Error;
use crate::registry::Registry;
use crate::registry::browse;
use crate::registry::catalog::Page;

/// Versions a package page lists at once (a package may have thousands).
pub const VERSIONS_PER_PAGE: i64 = 30;

#[derive(Debug, Default, Deserialize)]
pub struct VersionsQuery {
    page: Option<i64>,
}

struct VersionItem {
    version: String,
    url: String,
    published: String,
    downloads: i64,
    /// Whether this is the version the page is about.
    current: bool,
}

struct FileItem {
    name: String,
    size: String,
    sha256: String,
}

#[derive(Template)]
#[template(path = "ui/package.html")]
struct PackagePage {
    chrome: Chrome,
    owner: String,
    owner_url: String,
    format: String,
    name: String,
    package_url: String,
    /// Set on a version's own page.
    version_page: Option<String>,
    /// The version shown (newest, or the version page's), with its date.
    shown: Option<(String, String)>,
    latest: Option<String>,
    total: i64,
    versions: Vec<VersionItem>,
    pager: Pager,
    tags: Vec<(String, String)>,
    files: Vec<FileItem>,
    section: Section,
}

/// `{owner}/{format}/{name}` in a path.
type PackagePath = (String, String, String);

pub async fn package(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Path((owner, format, name)): Path<PackagePath>,
    Query(query): Query<VersionsQuery>,
) -> Response {
    let page = query
        .page
        .unwrap_or(1)
        .clamp(1, i64::MAX / VERSIONS_PER_PAGE);
    show(&registry, &visitor, (owner, format, name), None, page)
        .await
        .unwrap_or_else(|e| render::error(&visitor, e))
}

pub async fn version(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Path((owner, format, name, version)): Path<(String, String, String, String)>,
) -> Response {
    show(&registry, &visitor, (owner, format, name), Some(version), 1)
        .await
        .unwrap_or_else(|e| render::error(&visitor, e))
}

async fn show(
    registry: &Registry,
    visitor: &Visitor,
    (owner, format, name): PackagePath,
    version: Option<String>,
    page: i64,
) -> Result<Response, Error> {
    let owner = browse::readable_owner(registry, &visitor.principal, &owner).await?;
    let paging = Page {
        limit: VERSIONS_PER_PAGE,
        offset: (page - 1) * VERSIONS_PER_PAGE,
    };
    let overview = browse::package(
        registry,
        &owner,
        format.clone(),
        name.clone(),
        version.clone(),
        paging,
    )
    .await?;
    let package = &overview.package;
    let shown_version = overview.shown.as_ref().map(|(v, _)| v.version.clone());
    let section = super::describe(
        registry,
        &owner.name,
        &package.format,
        &package.name,
        shown_version.as_deref(),
    )
    .await;
    let url_of = |v: &str| render::version_url(&owner.name, &package.format, &package.name, v);
    let package_url = render::package_url(&owner.name, &package.format, &package.name);
    // Without a version in the path, the version shown is the newest; a version page
    // lists the first page of versions, newest first.
    let latest = match &version {
        None => shown_version.clone(),
        Some(_) => overview.versions.first().map(|v| v.version.clone()),
    };
    let versions = overview
        .versions
        .iter()
        .map(|v| VersionItem {
            url: url_of(&v.version),
            published: render::date(v.created),
            downloads: v.downloads,
            current: shown_version.as_deref() == Some(v.version.as_str()),
            version: v.version.clone(),
        })
        .collect();
    let files = overview
        .shown
        .as_ref()
        .map(|(_, files)| {
            files
                .iter()
                .map(|f| FileItem {
                    name: f.name.clone(),
                    size: render::size(f.size),
                    sha256: f.blob.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let pager = Pager::new(page, VERSIONS_PER_PAGE, overview.total, |p| {
        format!("{package_url}?page={p}")
    });
    Ok(render::ok(&PackagePage {
        chrome: Chrome::of(visitor),
        owner_url: render::owner_url(&owner.name),
        owner: owner.name.clone(),
        format: package.format.clone(),
        name: package.name.clone(),
        version_page: version,
        shown: overview
            .shown
            .as_ref()
            .map(|(v, _)| (v.version.clone(), render::date(v.created))),
        latest,
        total: overview.total,
        versions,
        pager,
        tags: overview.tags.clone(),
        files,
        section,
        package_url,
    }))
}
