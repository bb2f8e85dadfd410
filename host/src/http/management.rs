//! The management API across formats: list an owner's packages, a package's versions,
//! one version's files and metadata, and delete a version. JSON, paginated with
//! `page` (from 1) and `limit` (1–100), total in `X-Total-Count`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::Envelope;
use crate::auth::{Access, Credentials};
use crate::error::Error;
use crate::pipeline::identify::{self, Owner};
use crate::plugins::api::{PackageRef, VersionRef};
use crate::registry::Registry;
use crate::registry::catalog::{self, Page};
use crate::registry::delete::{self, Removal};

#[derive(Debug, Deserialize)]
pub struct Paging {
    #[serde(rename = "type")]
    format: Option<String>,
    q: Option<String>,
    page: Option<i64>,
    limit: Option<i64>,
}

impl Paging {
    fn limit(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, 100)
    }

    /// Rows before the page. A page past the end is empty, as in Gitea, however far
    /// past: the product saturates instead of wrapping round to the first page.
    fn offset(&self) -> i64 {
        (self.page.unwrap_or(1).max(1) - 1).saturating_mul(self.limit())
    }

    fn page(&self) -> Page {
        Page {
            limit: self.limit(),
            offset: self.offset(),
        }
    }
}

/// Authenticates and authorizes a management call on `owner`.
async fn access(
    registry: &Registry,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    owner: &str,
    needed: Access,
) -> Result<Owner, Error> {
    let credentials = Credentials::from_headers(headers).map_err(Error::Unauthorized)?;
    let credentials = (registry.passwords)
        .check(&registry.db, credentials, super::peer(extensions))
        .await?;
    let (principal, owner) = identify::for_owner(&registry.db, credentials, owner, needed).await?;
    if let Some(user) = principal.user() {
        super::log::note_user(&user.name);
    }
    Ok(owner)
}

fn respond(registry: &Registry, result: Result<Response, Error>) -> Response {
    result.unwrap_or_else(|e| Envelope::management(&registry.public_url).render(e))
}

fn with_total(total: i64, body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert("x-total-count", total.into());
    response
}

pub async fn list_packages(
    State(registry): State<Arc<Registry>>,
    Path(owner): Path<String>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
    extensions: http::Extensions,
) -> Response {
    let result = async {
        let owner = access(&registry, &headers, &extensions, &owner, Access::Read).await?;
        let page = paging.page();
        let (total, summaries) =
            catalog::packages(&registry, &owner, paging.format, paging.q, page).await?;
        let items = summaries
            .into_iter()
            .map(|s| {
                json!({
                    "owner": owner.name, "type": s.package.format, "name": s.package.name,
                    "latest_version": s.latest_version, "version_count": s.version_count,
                    "created": s.package.created, "modified": s.package.modified,
                })
            })
            .collect();
        Ok(with_total(total, Value::Array(items)))
    }
    .await;
    respond(&registry, result)
}

pub async fn list_versions(
    State(registry): State<Arc<Registry>>,
    Path((owner, format, name)): Path<(String, String, String)>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
    extensions: http::Extensions,
) -> Response {
    let result = async {
        let owner = access(&registry, &headers, &extensions, &owner, Access::Read).await?;
        let (total, p, versions) =
            catalog::versions(&registry, &owner, format, name, paging.page()).await?;
        let versions = versions
            .into_iter()
            .map(|v| json!({"version": v.version, "created": v.created, "downloads": v.downloads}))
            .collect::<Vec<_>>();
        let body =
            json!({"owner": owner.name, "type": p.format, "name": p.name, "versions": versions});
        Ok(with_total(total, body))
    }
    .await;
    respond(&registry, result)
}

pub async fn show_version(
    State(registry): State<Arc<Registry>>,
    Path((owner, format, name, version)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    extensions: http::Extensions,
) -> Response {
    let result = async {
        let owner = access(&registry, &headers, &extensions, &owner, Access::Read).await?;
        let detail = catalog::version(&registry, &owner, format, name, version).await?;
        let (p, v) = (detail.package, detail.version);
        let files = detail
            .files
            .into_iter()
            .map(|f| json!({"name": f.name, "size": f.size, "sha256": f.blob, "content_type": f.content_type, "lead": f.lead, "created": f.created}))
            .collect::<Vec<_>>();
        let metadata: Value = serde_json::from_str(&v.metadata).unwrap_or(Value::Null);
        Ok(Json(json!({
            "owner": owner.name, "type": p.format, "name": p.name, "version": v.version,
            "created": v.created, "downloads": v.downloads, "metadata": metadata, "files": files,
        }))
        .into_response())
    }
    .await;
    respond(&registry, result)
}

pub async fn delete_version(
    State(registry): State<Arc<Registry>>,
    Path((owner, format, name, version)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    extensions: http::Extensions,
) -> Response {
    let result = async {
        let owner = access(&registry, &headers, &extensions, &owner, Access::Write).await?;
        let pkg = PackageRef {
            owner: owner.name.clone(),
            name,
        };
        let target = Removal::Version(VersionRef { pkg, version });
        delete::run(&registry, owner.id, &format, target).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    respond(&registry, result)
}

#[cfg(test)]
mod tests {
    use super::Paging;

    fn paging(page: Option<i64>, limit: Option<i64>) -> Paging {
        Paging {
            format: None,
            q: None,
            page,
            limit,
        }
    }

    #[test]
    fn pages_count_from_one_and_never_wrap() {
        assert_eq!(paging(None, None).offset(), 0);
        assert_eq!(paging(Some(0), Some(10)).offset(), 0);
        assert_eq!(paging(Some(3), Some(10)).offset(), 20);
        assert_eq!(paging(Some(2), Some(1000)).offset(), 100, "limit is capped");
        assert_eq!(paging(Some(i64::MAX), None).offset(), i64::MAX);
        assert_eq!(paging(Some(i64::MIN), None).offset(), 0);
    }
}
