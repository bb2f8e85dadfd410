//! The token endpoint of Docker token authentication (`GET`/`POST /v2/token`): trades
//! credentials for a short-lived registry token granting the asked-for scopes the
//! caller may have.
//!
//! - `GET`: the caller is who the request's own credentials say (Basic password or
//!   `user:token`, a stored token as Bearer); without any it gets a guest token, which
//!   grants `pull` on public owners only.
//! - `POST` (OAuth2 style): an `application/x-www-form-urlencoded` body, read here and
//!   never by a plugin, with `grant_type=password` (`username`, `password`) or
//!   `grant_type=refresh_token` (`refresh_token`: a stored `wharf_` token).
//!
//! Scopes come from the `scope` query parameters (repeatable, space-separated lists)
//! and, for POST, the form's `scope` fields.

use std::collections::HashMap;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};

use super::query;
use crate::auth::registry_token::{self, Claims, Requested};
use crate::auth::{self, Credentials, Principal, secrets};
use crate::error::Error;
use crate::pipeline::write_to;
use crate::registry::Registry;

/// The largest POST body read.
const MAX_FORM: usize = 64 << 10;

/// Who asks for a token, and where.
pub struct TokenCall<'a> {
    pub registry: &'a Registry,
    /// The format whose token endpoint this is, and the service of its challenge (the
    /// token's audience).
    pub format: &'a str,
    pub service: &'a str,
    /// The caller as the request's own credentials say.
    pub principal: &'a Principal,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The client's address, which failed sign-ins count against.
    pub peer: Option<std::net::IpAddr>,
    /// When set, the caller must be this user.
    pub expected_user: Option<&'a str>,
}

pub struct Issued {
    pub response: Response,
    pub token: String,
}

pub async fn issue(
    call: TokenCall<'_>,
    query: &[(String, String)],
    body: Body,
) -> Result<Issued, Error> {
    let mut scopes = values(query, "scope");
    let post = *call.method == Method::POST;
    let principal = if post {
        let form = read_form(call.headers, body).await?;
        scopes.extend(values(&form, "scope"));
        let presented = form_credentials(&form)?;
        let registry = call.registry;
        let checked = (registry.passwords)
            .check(&registry.db, presented.clone(), call.peer)
            .await;
        let authenticated = checked.and_then(|checked| {
            registry
                .db
                .read_now(|conn| auth::authenticate(conn, &checked))
        });
        if let Err(Error::Unauthorized(reason)) = &authenticated {
            super::log::login_failed(&presented, reason);
        }
        authenticated?
    } else {
        call.principal.clone()
    };
    if let Some(expected) = call.expected_user
        && !principal
            .user()
            .is_some_and(|u| u.name.eq_ignore_ascii_case(expected))
    {
        return Err(Error::Unauthorized(format!(
            "sign in as {expected:?} to get a token"
        )));
    }

    let requested = registry_token::parse_scopes(scopes.iter().map(String::as_str));
    let writes_to = groups_writing_to(&call, &requested);
    let granted_to = principal.clone();
    let grant = call
        .registry
        .db
        .read(move |conn| registry_token::grant(conn, &granted_to, &requested, &writes_to))
        .await?;
    let now = crate::clock::now();
    let claims = Claims::new(
        &principal,
        &grant,
        &call.registry.public_url,
        call.service,
        now,
    );
    let token = registry_token::sign(&call.registry.token_key, &claims);

    let mut body = serde_json::json!({
        "token": token,
        // OAuth2 clients read this name; Docker clients either.
        "access_token": token,
        "expires_in": registry_token::LIFETIME_SECS,
        "issued_at": rfc3339(now),
    });
    if post {
        body["token_type"] = "Bearer".into();
        body["scope"] = grant.scope_string().into();
    }
    let response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response();
    Ok(Issued { response, token })
}

/// The groups among the requested repositories' owners whose writes go to a member
/// (`write_to`), by lower-case name: pushing to them is the member's to grant.
fn groups_writing_to(call: &TokenCall<'_>, requested: &[Requested]) -> HashMap<String, String> {
    let owners = requested.iter().filter_map(|item| match item {
        Requested::Repository { name, .. } => name.split('/').next(),
        Requested::Catalog => None,
    });
    owners
        .filter_map(|owner| {
            let member = write_to::of_group(call.registry, call.format, owner)?;
            Some((owner.to_ascii_lowercase(), member))
        })
        .collect()
}

/// Every value of the parameter `name`.
fn values(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn read_form(headers: &HeaderMap, body: Body) -> Result<Vec<(String, String)>, Error> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(Error::bad_request(
            "a token request by POST needs an application/x-www-form-urlencoded body",
        ));
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_FORM as u64) {
        return Err(Error::TooLarge(format!(
            "a token request body is at most {} KiB",
            MAX_FORM >> 10
        )));
    }
    let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
        Error::bad_request(format!(
            "could not read the token request body (at most {} KiB)",
            MAX_FORM >> 10
        ))
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::bad_request("the token request body is not UTF-8"))?;
    Ok(query::parse(Some(text)))
}

/// The credentials a POST form carries. `client_id` and `access_type` are accepted and
/// ignored; refresh tokens are stored tokens, which this endpoint never issues.
fn form_credentials(form: &[(String, String)]) -> Result<Credentials, Error> {
    let missing = |field: &str| Error::bad_request(format!("the token request needs {field}"));
    match value(form, "grant_type") {
        Some("password") => Ok(Credentials::Basic {
            user: value(form, "username")
                .ok_or_else(|| missing("username"))?
                .to_string(),
            secret: value(form, "password")
                .ok_or_else(|| missing("password"))?
                .to_string(),
        }),
        Some("refresh_token") => {
            let token = value(form, "refresh_token").ok_or_else(|| missing("refresh_token"))?;
            if !token.starts_with(secrets::TOKEN_PREFIX) {
                return Err(Error::Unauthorized(
                    "refresh_token must be a stored API token".to_string(),
                ));
            }
            Ok(Credentials::Token(token.to_string()))
        }
        Some(other) => Err(Error::bad_request(format!(
            "unsupported grant_type {other:?}: use password or refresh_token"
        ))),
        None => Err(missing("grant_type")),
    }
}

/// `secs` since the epoch as an RFC 3339 UTC time, e.g. `2026-11-26T19:28:44Z`.
pub(super) fn rfc3339(secs: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_720_124), "2026-11-26T19:08:44Z");
    }

    fn form(text: &str) -> Vec<(String, String)> {
        query::parse(Some(text))
    }

    #[test]
    fn form_grants() {
        assert_eq!(
            form_credentials(&form("grant_type=password&username=al&password=a%26b")).unwrap(),
            Credentials::Basic {
                user: "al".into(),
                secret: "a&b".into()
            }
        );
        assert_eq!(
            form_credentials(&form("grant_type=refresh_token&refresh_token=wharf_x")).unwrap(),
            Credentials::Token("wharf_x".into())
        );
        let fails = |text: &str| form_credentials(&form(text)).unwrap_err();
        assert!(matches!(
            fails("grant_type=refresh_token&refresh_token=eyJ.a.b"),
            Error::Unauthorized(_)
        ));
        assert!(matches!(
            fails("grant_type=client_credentials"),
            Error::BadRequest(_)
        ));
        assert!(matches!(
            fails("grant_type=password&username=al"),
            Error::BadRequest(_)
        ));
        assert!(matches!(fails("scope=x"), Error::BadRequest(_)));
    }
}
