//! The account part of the management API, on Gitea's paths and in Gitea's shapes so
//! that scripts written for Gitea work: a user's tokens (listed, created, revoked with
//! the user's password) and the admin's user list. The work is done by
//! `registry::accounts`; this file only translates HTTP.

use crate::audit::{self, Via};
use crate::auth::passwords::Checked;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::Envelope;
use super::token::rfc3339;
use crate::auth::Credentials;
use crate::error::Error;
use crate::registry::Registry;
use crate::registry::accounts::{self, TokenNames, TokenRef};
use crate::registry::accounts::{Scope, TokenInfo};

fn respond(registry: &Registry, result: Result<Response, Error>) -> Response {
    result.unwrap_or_else(|e| Envelope::management(&registry.public_url).render(e))
}

/// The caller's credentials, a password verified through `auth::Passwords` (bounded
/// argon2 slots, failed-login limits), like every other sign-in.
async fn credentials(
    registry: &Registry,
    headers: &HeaderMap,
    extensions: &http::Extensions,
) -> Result<Checked, Error> {
    let presented = Credentials::from_headers(headers, &[]).map_err(Error::Unauthorized)?;
    (registry.passwords)
        .check(&registry.db, presented, super::peer(extensions))
        .await
}

/// Gitea's `AccessToken`; `sha1` (the token) only in the answer that created it.
fn token_json(token: &TokenInfo, secret: Option<&str>) -> Value {
    let mut body = json!({
        "id": token.id,
        "name": token.name,
        "token_last_eight": token.last_eight,
        "scopes": [match token.scope {
            Scope::Write => "write:package",
            Scope::Read => "read:package",
        }],
        "created_at": rfc3339(token.created),
        "last_used_at": token.last_used.map(rfc3339),
        "expires_at": token.expires.map(rfc3339),
    });
    if let Some(secret) = secret {
        body["sha1"] = secret.into();
    }
    body
}

pub async fn list_tokens(
    State(registry): State<Arc<Registry>>,
    Path(username): Path<String>,
    headers: HeaderMap,
    extensions: http::Extensions,
) -> Response {
    let result = async {
        let credentials = credentials(&registry, &headers, &extensions).await?;
        registry.token_use.flush(&registry.db).await;
        let tokens = accounts::blocking(&registry.db, move |db| {
            let user = accounts::token_manager(db, &credentials, &username)?;
            accounts::list_tokens(db, Some(&user.name))
        })
        .await?;
        let body: Vec<Value> = tokens.iter().map(|t| token_json(t, None)).collect();
        let mut response = Json(body).into_response();
        response
            .headers_mut()
            .insert("x-total-count", tokens.len().into());
        Ok(response)
    }
    .await;
    respond(&registry, result)
}

/// Gitea's `CreateAccessTokenOption`.
#[derive(Debug, Deserialize)]
struct CreateToken {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// Wharf tokens cover packages only: Gitea's package scopes (and `all`) map onto them.
fn package_scope(scopes: &[String]) -> Result<Scope, Error> {
    let has = |names: &[&str]| scopes.iter().any(|s| names.contains(&s.as_str()));
    if has(&["all", "write:package"]) {
        Ok(Scope::Write)
    } else if has(&["read:package"]) {
        Ok(Scope::Read)
    } else {
        Err(Error::bad_request(
            "the token needs a package scope: \"write:package\" or \"read:package\"",
        ))
    }
}

pub async fn create_token(
    State(registry): State<Arc<Registry>>,
    Path(username): Path<String>,
    headers: HeaderMap,
    extensions: http::Extensions,
    body: Bytes,
) -> Response {
    let result = async {
        let credentials = credentials(&registry, &headers, &extensions).await?;
        let request: CreateToken = serde_json::from_slice(&body)
            .map_err(|e| Error::bad_request(format!("invalid token request: {e}")))?;
        let scope = package_scope(&request.scopes)?;
        let created = accounts::blocking(&registry.db, move |db| {
            let user = accounts::token_manager(db, &credentials, &username)?;
            accounts::create_token(
                db,
                &user.name,
                &request.name,
                scope,
                None,
                TokenNames::Unique,
            )
        })
        .await?;
        let info = &created.info;
        audit::token_created(&info.user, &info.name, info.scope.as_str(), Via::Http);
        let body = token_json(info, Some(&created.secret));
        Ok((StatusCode::CREATED, Json(body)).into_response())
    }
    .await;
    respond(&registry, result)
}

pub async fn delete_token(
    State(registry): State<Arc<Registry>>,
    Path((username, token)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: http::Extensions,
) -> Response {
    let result = async {
        let credentials = credentials(&registry, &headers, &extensions).await?;
        let named = token.clone();
        let user = accounts::blocking(&registry.db, move |db| {
            let user = accounts::token_manager(db, &credentials, &username)?;
            accounts::revoke_token(db, &TokenRef::parse(&token), Some(&user.name))?;
            Ok(user.name)
        })
        .await?;
        audit::token_revoked(&user, &named, Via::Http);
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    respond(&registry, result)
}

#[derive(Debug, Deserialize)]
pub struct Paging {
    page: Option<usize>,
    limit: Option<usize>,
}

/// Gitea's `GET /api/v1/admin/users`: Gitea's `User` fields that Wharf has.
pub async fn admin_list_users(
    State(registry): State<Arc<Registry>>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
    extensions: http::Extensions,
) -> Response {
    let result = async {
        let credentials = credentials(&registry, &headers, &extensions).await?;
        let users = accounts::blocking(&registry.db, move |db| {
            accounts::admin(db, &credentials)?;
            accounts::list_users(db)
        })
        .await?;
        let limit = paging.limit.unwrap_or(50).clamp(1, 100);
        let skip = (paging.page.unwrap_or(1).max(1) - 1) * limit;
        let page: Vec<Value> = users
            .iter()
            .skip(skip)
            .take(limit)
            .map(|u| {
                json!({
                    "id": u.id, "login": u.name, "login_name": "", "full_name": "",
                    "email": "", "is_admin": u.is_admin, "created": rfc3339(u.created),
                    "visibility": if u.private { "private" } else { "public" },
                    "active": true, "restricted": false, "prohibit_login": false,
                })
            })
            .collect();
        let mut response = Json(page).into_response();
        response
            .headers_mut()
            .insert("x-total-count", users.len().into());
        Ok(response)
    }
    .await;
    respond(&registry, result)
}
