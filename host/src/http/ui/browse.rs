//! Finding packages: the home page (a search across every owner the visitor may read,
//! else the most recently updated packages), an owner's packages (format filter,
//! search, paging) and an organization's members. What a visitor may not read is
//! neither listed, counted nor found (`registry::browse`).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::render::{self, Chrome, Pager};
use super::session::Visitor;
use crate::db::owners::{Owner, OwnerKind};
use crate::db::packages::PackageRow;
use crate::error::Error;
use crate::registry::Registry;
use crate::registry::browse;
use crate::registry::catalog::{self, Page};

/// Packages a list shows at once.
const PER_PAGE: i64 = 25;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    #[serde(rename = "type")]
    format: Option<String>,
    page: Option<i64>,
}

impl ListQuery {
    fn page_number(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, i64::MAX / PER_PAGE)
    }

    fn page(&self) -> Page {
        Page {
            limit: PER_PAGE,
            offset: (self.page_number() - 1) * PER_PAGE,
        }
    }

    fn query(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_string)
    }

    /// The link to page `page` with the same filters.
    fn href(&self, path: &str, page: i64) -> String {
        let mut query = form_urlencoded(&[
            ("q", self.query().unwrap_or_default()),
            ("type", self.format.clone().unwrap_or_default()),
        ]);
        query.push_str(&format!("page={page}"));
        format!("{path}?{query}")
    }
}

/// `name=value&` for each non-empty value.
fn form_urlencoded(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}&", render::segment(v)))
        .collect()
}

/// A package in a list.
struct Item {
    url: String,
    owner: String,
    owner_url: String,
    name: String,
    format: String,
    latest: String,
    updated: String,
}

impl Item {
    fn new(owner: &str, package: PackageRow, latest: Option<String>) -> Self {
        Self {
            url: render::package_url(owner, &package.format, &package.name),
            owner: owner.to_string(),
            owner_url: render::owner_url(owner),
            latest: latest.unwrap_or_default(),
            updated: render::date(package.modified),
            name: package.name,
            format: package.format,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/home.html")]
struct Home {
    chrome: Chrome,
    heading: String,
    total: i64,
    items: Vec<Item>,
    pager: Pager,
}

pub async fn home(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Query(list): Query<ListQuery>,
) -> Response {
    let result = async {
        let query = list.query();
        let (total, found) =
            browse::search(&registry, &visitor.principal, query.clone(), list.page()).await?;
        let items = found
            .into_iter()
            .map(|f| Item::new(&f.owner, f.package, f.latest.map(|v| v.version)))
            .collect();
        let mut chrome = Chrome::of(&visitor);
        let heading = match &query {
            Some(q) => format!("Packages matching “{q}”"),
            None => "Recently updated packages".to_string(),
        };
        chrome.query = query.unwrap_or_default();
        let pager = Pager::new(list.page_number(), PER_PAGE, total, |p| list.href("/", p));
        Ok(render::ok(&Home {
            chrome,
            heading,
            total,
            items,
            pager,
        }))
    }
    .await;
    result.unwrap_or_else(|e| render::error(&visitor, e))
}

#[derive(Template)]
#[template(path = "ui/owner.html")]
struct OwnerPage {
    chrome: Chrome,
    owner: String,
    is_org: bool,
    members_url: String,
    private: bool,
    formats: Vec<(String, bool)>,
    query: String,
    total: i64,
    items: Vec<Item>,
    pager: Pager,
}

pub async fn owner(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Path(name): Path<String>,
    Query(list): Query<ListQuery>,
) -> Response {
    let result = async {
        let owner = browse::readable_owner(&registry, &visitor.principal, &name).await?;
        let format = list.format.clone().filter(|f| !f.is_empty());
        let listing =
            catalog::packages(&registry, &owner, format.clone(), list.query(), list.page()).await?;
        let owner_url = render::owner_url(&owner.name);
        let items = listing
            .packages
            .into_iter()
            .map(|s| Item::new(&owner.name, s.package, s.latest.map(|v| v.row.version)))
            .collect();
        let formats = registry
            .formats
            .iter()
            .map(|f| (f.name.clone(), format.as_deref() == Some(f.name.as_str())))
            .collect();
        let pager = Pager::new(list.page_number(), PER_PAGE, listing.total, |p| {
            list.href(&owner_url, p)
        });
        Ok(render::ok(&OwnerPage {
            chrome: Chrome::of(&visitor),
            members_url: format!("{owner_url}/members"),
            is_org: owner.kind == OwnerKind::Org,
            private: owner.private,
            owner: owner.name,
            formats,
            query: list.query().unwrap_or_default(),
            total: listing.total,
            items,
            pager,
        }))
    }
    .await;
    result.unwrap_or_else(|e| render::error(&visitor, e))
}

#[derive(Template)]
#[template(path = "ui/members.html")]
struct Members {
    chrome: Chrome,
    org: String,
    org_url: String,
    members: Vec<(String, String, &'static str)>,
}

pub async fn members(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Path(name): Path<String>,
) -> Response {
    let result = async {
        let org: Owner = browse::readable_owner(&registry, &visitor.principal, &name).await?;
        let members = browse::members(&registry, &org).await?;
        Ok::<_, Error>(render::ok(&Members {
            chrome: Chrome::of(&visitor),
            org_url: render::owner_url(&org.name),
            org: org.name,
            members: members
                .into_iter()
                .map(|(name, role)| (render::owner_url(&name), name, role.as_str()))
                .collect(),
        }))
    }
    .await;
    result.unwrap_or_else(|e| render::error(&visitor, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_filters_and_escape_them() {
        let list = ListQuery {
            q: Some(" a&b ".into()),
            format: Some("npm".into()),
            page: Some(0),
        };
        assert_eq!(list.page_number(), 1);
        assert_eq!(list.href("/", 2), "/?q=a%26b&type=npm&page=2");
        assert_eq!(ListQuery::default().href("/x", 3), "/x?page=3");
        let far = ListQuery {
            page: Some(i64::MAX),
            ..ListQuery::default()
        };
        assert!(far.page().offset > 0, "a far page does not wrap round");
    }
}
