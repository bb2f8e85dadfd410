//! "My tokens" (create with a name, scope and expiry, the secret shown once; list;
//! revoke, effective at the next request) and the administrators' list of users. The
//! work is `registry::accounts`'s, as for the CLI and the token API; a session counts
//! as a password sign-in, which token management requires.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::csrf;
use super::render::{self, Chrome};
use super::session::{SignedIn, Visitor};
use crate::audit::{self, Via};
use crate::error::Error;
use crate::registry::Registry;
use crate::registry::accounts::{self, Scope, TokenNames, TokenRef};

/// Expiry choices offered, in days (`None`: never).
const EXPIRIES: [(Option<u32>, &str); 5] = [
    (Some(7), "7 days"),
    (Some(30), "30 days"),
    (Some(90), "90 days"),
    (Some(365), "1 year"),
    (None, "never"),
];

struct TokenRow {
    id: i64,
    name: String,
    scope: &'static str,
    last_eight: String,
    created: String,
    last_used: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "ui/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    /// (name, secret) of the token just created, shown this once.
    created: Option<(String, String)>,
    problem: Option<String>,
    expiries: Vec<(String, &'static str)>,
}

async fn tokens_page(
    registry: &Registry,
    visitor: &Visitor,
    session: &SignedIn,
    status: StatusCode,
    created: Option<(String, String)>,
    problem: Option<String>,
) -> Result<Response, Error> {
    registry.token_use.flush(&registry.db).await;
    let user = session.name.clone();
    let tokens = accounts::blocking(&registry.db, move |db| {
        accounts::list_tokens(db, Some(&user))
    })
    .await?;
    let never = || "never".to_string();
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            scope: t.scope.as_str(),
            last_eight: t.last_eight,
            created: render::date(t.created),
            last_used: t.last_used.map(render::date).unwrap_or_else(never),
            expires: t.expires.map(render::date).unwrap_or_else(never),
        })
        .collect();
    let expiries = EXPIRIES
        .iter()
        .map(|(days, label)| (days.map(|d| d.to_string()).unwrap_or_default(), *label))
        .collect();
    Ok(render::page(
        status,
        &TokensPage {
            chrome: Chrome::of(visitor),
            tokens,
            created,
            problem,
            expiries,
        },
    ))
}

pub async fn list(State(registry): State<Arc<Registry>>, visitor: Visitor) -> Response {
    let result = async {
        let session = visitor.signed_in()?;
        tokens_page(&registry, &visitor, session, StatusCode::OK, None, None).await
    }
    .await;
    result.unwrap_or_else(|e| render::error(&visitor, e))
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    name: String,
    scope: String,
    /// Days until it expires; empty for never.
    #[serde(default)]
    expires: String,
}

impl CreateForm {
    fn scope(&self) -> Result<Scope, Error> {
        match self.scope.as_str() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            other => Err(Error::bad_request(format!("unknown scope {other:?}"))),
        }
    }

    fn expires_days(&self) -> Result<Option<u32>, Error> {
        match self.expires.trim() {
            "" => Ok(None),
            days => days
                .parse()
                .ok()
                .filter(|d| EXPIRIES.iter().any(|(offered, _)| *offered == Some(*d)))
                .map(Some)
                .ok_or_else(|| Error::bad_request(format!("unknown expiry {days:?}"))),
        }
    }
}

pub async fn create(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Form(input): Form<CreateForm>,
) -> Response {
    let result = async {
        let session = visitor.signed_in()?;
        csrf::verify(session, &input.csrf)?;
        let made = async {
            let (scope, days) = (input.scope()?, input.expires_days()?);
            let (user, name) = (session.name.clone(), input.name.trim().to_string());
            accounts::blocking(&registry.db, move |db| {
                accounts::create_token(db, &user, &name, scope, days, TokenNames::Unique)
            })
            .await
        }
        .await;
        match made {
            Ok(made) => {
                let info = &made.info;
                audit::token_created(&info.user, &info.name, info.scope.as_str(), Via::Http);
                let created = Some((info.name.clone(), made.secret));
                tokens_page(
                    &registry,
                    &visitor,
                    session,
                    StatusCode::CREATED,
                    created,
                    None,
                )
                .await
            }
            // A name in use or a bad choice: the form again, saying why.
            Err(Error::BadRequest(why)) => {
                let status = StatusCode::BAD_REQUEST;
                tokens_page(&registry, &visitor, session, status, None, Some(why)).await
            }
            Err(e) => Err(e),
        }
    }
    .await;
    result.unwrap_or_else(|e| render::error(&visitor, e))
}

pub async fn revoke(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(input): Form<super::signin::Posted>,
) -> Response {
    let result = async {
        let session = visitor.signed_in()?;
        csrf::verify(session, &input.csrf)?;
        let user = session.name.clone();
        let owner = user.clone();
        accounts::blocking(&registry.db, move |db| {
            accounts::revoke_token(db, &TokenRef::Id(id), Some(&owner))
        })
        .await?;
        audit::token_revoked(&user, &id.to_string(), Via::Http);
        Ok::<_, Error>(render::see_other("/-/tokens", &[]))
    }
    .await;
    result.unwrap_or_else(|e| render::error(&visitor, e))
}

struct UserRow {
    name: String,
    url: String,
    is_admin: bool,
    private: bool,
    created: String,
    packages: i64,
}

#[derive(Template)]
#[template(path = "ui/users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
}

pub async fn users(State(registry): State<Arc<Registry>>, visitor: Visitor) -> Response {
    let result = async {
        let session = visitor.signed_in()?;
        if !session.is_admin {
            return Err(Error::Forbidden("only administrators see the users".into()));
        }
        let users = accounts::blocking(&registry.db, accounts::list_users).await?;
        let users = users
            .into_iter()
            .map(|u| UserRow {
                url: render::owner_url(&u.name),
                name: u.name,
                is_admin: u.is_admin,
                private: u.private,
                created: render::date(u.created),
                packages: u.packages,
            })
            .collect();
        Ok(render::ok(&UsersPage {
            chrome: Chrome::of(&visitor),
            users,
        }))
    }
    .await;
    result.unwrap_or_else(|e| render::error(&visitor, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(scope: &str, expires: &str) -> CreateForm {
        CreateForm {
            csrf: String::new(),
            name: "ci".into(),
            scope: scope.into(),
            expires: expires.into(),
        }
    }

    #[test]
    fn only_offered_scopes_and_expiries_are_accepted() {
        assert_eq!(form("read", "").scope().unwrap(), Scope::Read);
        assert_eq!(form("write", "30").expires_days().unwrap(), Some(30));
        assert_eq!(form("write", "").expires_days().unwrap(), None);
        assert!(form("admin", "").scope().is_err());
        assert!(form("read", "3").expires_days().is_err());
        assert!(form("read", "x").expires_days().is_err());
    }
}
