//! Turning a page into a response: the parts every page shares (who is signed in, the
//! search box, the sign-out form's token), the security headers, the error page, and
//! the small formatting of dates, sizes and links the templates show.
//!
//! Templates are askama's: checked when the host compiles, every value HTML-escaped
//! unless a template marks it `safe` (only README HTML, which `markdown` sanitized).

use askama::Template;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::session::Visitor;
use crate::error::Error;

/// What the frame around every page shows.
pub struct Chrome {
    /// The signed-in user's name.
    pub user: Option<String>,
    /// The signed-in user's own packages.
    pub user_url: String,
    pub is_admin: bool,
    /// The session's form token, for the sign-out button.
    pub csrf: String,
    /// The search box's text.
    pub query: String,
}

impl Chrome {
    pub fn of(visitor: &Visitor) -> Self {
        let session = visitor.session.as_ref();
        Self {
            user: session.map(|s| s.name.clone()),
            user_url: session.map(|s| owner_url(&s.name)).unwrap_or_default(),
            is_admin: session.is_some_and(|s| s.is_admin),
            csrf: session.map(|s| s.csrf.clone()).unwrap_or_default(),
            query: String::new(),
        }
    }
}

/// Pages are built for this site only: the one script that runs is this site's own file
/// (no inline code, so markup that slipped into a page could run nothing), no other
/// site frames them, forms post here only. A README's remaining HTML (sanitized
/// already) can show images from anywhere but run nothing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' https: data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A rendered page with `status` and the headers every page carries.
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => {
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            let mut set = |name, value: &'static str| {
                headers.insert(name, HeaderValue::from_static(value));
            };
            set(header::CONTENT_TYPE, "text/html; charset=utf-8");
            set(header::CONTENT_SECURITY_POLICY, CSP);
            set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
            set(header::REFERRER_POLICY, "same-origin");
            // Pages differ by who is signed in: no shared cache may keep them.
            set(header::CACHE_CONTROL, "private, no-cache");
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n").into_response()
        }
    }
}

/// A page answered 200.
pub fn ok(template: &impl Template) -> Response {
    page(StatusCode::OK, template)
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    title: &'a str,
    message: &'a str,
    sign_in: bool,
}

/// The page for an error, with the status and message the API would give (5xx
/// details go to the log only); a visitor who must sign in is offered the form.
pub fn error(visitor: &Visitor, error: Error) -> Response {
    let (status, _, message) = super::super::errors::classify(&error);
    let title = status.canonical_reason().unwrap_or("Error");
    let mut response = page(
        status,
        &ErrorPage {
            chrome: Chrome::of(visitor),
            title,
            message: &message,
            sign_in: status == StatusCode::UNAUTHORIZED && visitor.session.is_none(),
        },
    );
    if let Error::TooManyRequests { retry_after, .. } = error {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after.into());
    }
    response
}

/// A 303 to `location` (after a form's POST, so a reload does not post again).
pub fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Everything but letters and digits is escaped in a path segment: package names
/// carry `/` (`@scope/name`, `library/alpine`) and `@`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');

pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

pub fn owner_url(owner: &str) -> String {
    format!("/-/owners/{}", segment(owner))
}

pub fn package_url(owner: &str, format: &str, name: &str) -> String {
    format!(
        "/-/packages/{}/{}/{}",
        segment(owner),
        segment(format),
        segment(name)
    )
}

pub fn version_url(owner: &str, format: &str, name: &str, version: &str) -> String {
    format!(
        "{}/versions/{}",
        package_url(owner, format, name),
        segment(version)
    )
}

/// Seconds since the epoch as `2026-12-03 09:15 UTC`.
pub fn date(secs: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    let text = humantime::format_rfc3339_seconds(time).to_string();
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// A size in bytes as people read it: `512 B`, `1.5 KiB`, `20.0 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Page links: (label, href) of the previous and next page, if any.
pub struct Pager {
    pub previous: Option<String>,
    pub next: Option<String>,
    pub summary: String,
}

impl Pager {
    /// For page `page` (from 1) of `per_page` rows out of `total`; `href` makes a
    /// page's link.
    pub fn new(page: i64, per_page: i64, total: i64, href: impl Fn(i64) -> String) -> Self {
        let pages = ((total + per_page - 1) / per_page).max(1);
        Self {
            previous: (page > 1).then(|| href(page - 1)),
            next: (page < pages).then(|| href(page + 1)),
            summary: format!("page {} of {pages}", page.min(pages)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_path_segment_each() {
        assert_eq!(
            package_url("alice", "npm", "@scope/pkg"),
            "/-/packages/alice/npm/%40scope%2Fpkg"
        );
        assert_eq!(
            version_url("a", "oci", "library/alpine", "3.20"),
            "/-/packages/a/oci/library%2Falpine/versions/3.20"
        );
        assert_eq!(owner_url("my.org"), "/-/owners/my.org");
    }

    #[test]
    fn dates_and_sizes_read_like_prose() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_796_288_100), "2026-12-03 08:55 UTC");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(20 << 20), "20.0 MiB");
    }

    #[test]
    fn pagers_link_only_to_pages_that_exist() {
        let pager = Pager::new(1, 50, 120, |p| format!("?page={p}"));
        assert_eq!(
            (pager.previous, pager.next.as_deref()),
            (None, Some("?page=2"))
        );
        assert_eq!(pager.summary, "page 1 of 3");
        let last = Pager::new(3, 50, 120, |p| format!("?page={p}"));
        assert_eq!(
            (last.previous.as_deref(), last.next),
            (Some("?page=2"), None)
        );
        assert_eq!(
            Pager::new(1, 50, 0, |_| String::new()).summary,
            "page 1 of 1"
        );
    }
}
