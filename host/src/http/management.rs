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
use crate::auth::{self, Access, Credentials, Principal};
use crate::db::owners::{self, Owner};
use crate::db::packages;
use crate::error::Error;
use crate::registry::{Registry, delete};

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

    fn offset(&self) -> i64 {
        (self.page.unwrap_or(1).max(1) - 1) * self.limit()
    }
}

/// Authenticates and authorizes a management call on `owner`.
async fn access(
    registry: &Registry,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    owner: &str,
    needed: Access,
) -> Result<(Principal, Owner), Error> {
    let credentials = Credentials::from_headers(headers).map_err(Error::Unauthorized)?;
    let credentials = (registry.passwords)
        .check(&registry.db, credentials, super::peer(extensions))
        .await?;
    let owner = owner.to_string();
    registry
        .db
        .read(move |conn| {
            let principal = auth::authenticate(conn, &credentials)?;
            let owner = owners::by_name(conn, &owner)?
                .ok_or_else(|| Error::not_found(format!("owner {owner:?} not found")))?;
            auth::authorize(conn, &principal, &owner, needed)?;
            Ok((principal, owner))
        })
        .await
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
        let (_, owner) = access(&registry, &headers, &extensions, &owner, Access::Read).await?;
        let (limit, offset) = (paging.limit(), paging.offset());
        let (total, items) = registry
            .db
            .read(move |conn| {
                let (total, rows) = packages::list(
                    conn,
                    owner.id,
                    paging.format.as_deref(),
                    paging.q.as_deref(),
                    limit,
                    offset,
                )?;
                let items = rows
                    .into_iter()
                    .map(|p| {
                        let latest = packages::newest_version(conn, p.id)?.map(|v| v.version);
                        let versions = packages::version_count(conn, p.id)?;
                        Ok(json!({
                            "owner": owner.name, "type": p.format, "name": p.name,
                            "latest_version": latest, "version_count": versions,
                            "created": p.created, "modified": p.modified,
                        }))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                Ok((total, items))
            })
            .await?;
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
        let (_, owner) = access(&registry, &headers, &extensions, &owner, Access::Read).await?;
        // Show every download served so far, not only the flushed ones.
        registry.downloads.flush(&registry.db).await;
        let (limit, offset) = (paging.limit(), paging.offset());
        let (total, body) = registry
            .db
            .read(move |conn| {
                let p = packages::find(conn, owner.id, &format, &name)?
                    .ok_or_else(|| Error::not_found(format!("package {name:?} not found")))?;
                let total = packages::version_count(conn, p.id)?;
                let versions = packages::versions(conn, p.id, limit, offset)?
                    .into_iter()
                    .map(|v| json!({"version": v.version, "created": v.created, "downloads": v.downloads}))
                    .collect::<Vec<_>>();
                Ok((total, json!({"owner": owner.name, "type": p.format, "name": p.name, "versions": versions})))
            })
            .await?;
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
        let (_, owner) = access(&registry, &headers, &extensions, &owner, Access::Read).await?;
        // Show every download served so far, not only the flushed ones.
        registry.downloads.flush(&registry.db).await;
        let body = registry
            .db
            .read(move |conn| {
                let p = packages::find(conn, owner.id, &format, &name)?
                    .ok_or_else(|| Error::not_found(format!("package {name:?} not found")))?;
                let v = packages::version(conn, p.id, &version)?
                    .ok_or_else(|| Error::not_found(format!("version {version:?} not found")))?;
                let files = packages::files_of(conn, v.id)?
                    .into_iter()
                    .map(|f| json!({"name": f.name, "size": f.size, "sha256": f.blob, "content_type": f.content_type, "lead": f.lead, "created": f.created}))
                    .collect::<Vec<_>>();
                let metadata: Value = serde_json::from_str(&v.metadata).unwrap_or(Value::Null);
                Ok(json!({
                    "owner": owner.name, "type": p.format, "name": p.name, "version": v.version,
                    "created": v.created, "downloads": v.downloads, "metadata": metadata, "files": files,
                }))
            })
            .await?;
        Ok(Json(body).into_response())
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
        let (_, owner) = access(&registry, &headers, &extensions, &owner, Access::Write).await?;
        let target = crate::plugins::api::VersionRef {
            pkg: crate::plugins::api::PackageRef {
                owner: owner.name.clone(),
                name,
            },
            version,
        };
        registry
            .db
            .write(move |tx| delete::version(tx, owner.id, &format, &target))
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    respond(&registry, result)
}
