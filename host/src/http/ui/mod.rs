//! The web UI (issue 23): server-rendered pages for people in a browser, next to the
//! client protocols. No JavaScript is needed; every form works as plain HTML, and one
//! static script only adds Copy buttons to the snippets.
//!
//! Routes live at `/` and under `/-/`, which no format's mount can cover (mounts begin
//! with a fixed path such as `/api/packages/{owner}/…` or `/v2`, and `-` is no valid
//! owner name). What a page shows is read with the visitor's rights
//! (`registry::browse`); the format's own part of a package page comes from its plugin
//! (`registry::presentation`), so the UI names no format either.
//!
//! | Module | Job |
//! |---|---|
//! | `session` | who is visiting: the session cookie, sessions started and ended |
//! | `csrf` | the token every form posts back |
//! | `render` | page responses, security headers, the error page, formatting |
//! | `browse` | home and search, an owner's packages, an organization's members |
//! | `package` | a package's page and a version's page |
//! | `view` | the format's part of a package page (snippets, fields, README) |
//! | `markdown` | README Markdown to sanitized HTML |
//! | `signin` | sign in, sign out |
//! | `tokens` | "my tokens", the admins' user list |

mod browse;
mod csrf;
mod markdown;
mod package;
mod render;
mod session;
mod signin;
mod tokens;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header;

use crate::registry::Registry;

/// The UI's routes, merged into the host's router.
pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route("/", get(browse::home))
        .route("/-/static/wharf.css", get(stylesheet))
        .route("/-/static/wharf.js", get(script))
        .route("/-/owners/{owner}", get(browse::owner))
        .route("/-/owners/{owner}/members", get(browse::members))
        .route("/-/packages/{owner}/{format}/{name}", get(package::package))
        .route(
            "/-/packages/{owner}/{format}/{name}/versions/{version}",
            get(package::version),
        )
        .route("/-/sign-in", get(signin::show).post(signin::sign_in))
        .route("/-/sign-out", post(signin::sign_out))
        .route("/-/tokens", get(tokens::list).post(tokens::create))
        .route("/-/tokens/{id}/revoke", post(tokens::revoke))
        .route("/-/admin/users", get(tokens::users))
}

/// The stylesheet and the script are built into the binary so a deployment is one
/// file.
async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../../static/wharf.css"),
    )
}

/// The progressive enhancement (Copy buttons); every page works without it.
async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../../static/wharf.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The format's part of the page for `version` of a package the visitor may read
/// (the caller checked). A plugin that fails shows as "not available" on a page that
/// still shows everything else; the cause is logged.
async fn describe(
    registry: &Registry,
    owner: &str,
    format: &str,
    package: &str,
    version: Option<&str>,
) -> view::Section {
    let public_url = &registry.public_url;
    match (registry)
        .describe_package(owner, format, package, version, public_url)
        .await
    {
        Ok(Some(described)) => described.into(),
        Ok(None) => view::Section::default(),
        Err(e) => {
            tracing::warn!(error = %e, %format, %package, "the format could not describe a package");
            view::Section::unavailable("the format could not describe this package")
        }
    }
}

#[cfg(test)]
mod tests;
