//! One log line per request, the request's metrics, and its id.
//!
//! The line (target `wharf::request`) says who (client address, user), what (format,
//! method, path), how it went (status, milliseconds to the response head) and, for
//! 4xx and 5xx, why: the message the client got, or the internal cause of a 5xx, which
//! `errors.rs` attaches to the response as an [`ErrorReason`]. Every request has an id,
//! the client's own `X-Request-Id` if it is sane, and answers with it; everything
//! logged while it runs is inside a span carrying that id and, once known, the user.
//!
//! Handlers learn the format and the user only part-way through; they say so with
//! [`note_format`] and [`note_user`], which write to a slot this middleware reads at
//! the end. Outside a request both do nothing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tracing::{Instrument, Level, Span};

use crate::auth::credentials::{CREDENTIAL_HEADERS, Credentials};
use crate::registry::Registry;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Why a request failed, in words: what the client was told, or the internal cause of
/// a 5xx (which the client was not told). A response extension set by `errors.rs`.
#[derive(Debug, Clone)]
pub struct ErrorReason(pub String);

/// What handlers found out about the request they serve.
struct RequestInfo {
    format: OnceLock<String>,
    user: OnceLock<String>,
    /// The peer's IP address, when the server knows it.
    client: Option<String>,
    /// Set once the request's failed login is audited, so it is audited once.
    login_audited: OnceLock<()>,
    span: Span,
}

impl RequestInfo {
    /// Audits refused credentials (with the Basic user name only if it cannot be a
    /// secret), once per request.
    fn login_failed(&self, credentials: Option<&Credentials>, reason: &str) {
        if self.login_audited.set(()).is_err() {
            return;
        }
        let user = credentials.and_then(login_name);
        crate::audit::login_failed(user, self.client.as_deref(), reason);
    }
}

tokio::task_local! {
    static CURRENT: Arc<RequestInfo>;
}

/// The request being served is for this format.
pub fn note_format(name: &str) {
    let _ = CURRENT.try_with(|info| info.format.set(name.to_string()));
}

/// The request being served was made by this user (signed in).
pub fn note_user(name: &str) {
    let _ = CURRENT.try_with(|info| {
        info.span.record("user", name);
        info.user.set(name.to_string())
    });
}

/// Credentials that did not come in headers (a token endpoint's form) were refused.
/// Refused credentials from the headers are audited by the middleware itself.
pub fn login_failed(credentials: &Credentials, reason: &str) {
    let _ = CURRENT.try_with(|info| info.login_failed(Some(credentials), reason));
}

/// Paths whose successful requests are logged at `debug`: probes and scrapes come
/// every few seconds and would bury everything else.
const QUIET_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The middleware around every route.
pub async fn log_request(
    State(registry): State<Arc<Registry>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    // Present when the server runs with `into_make_service_with_connect_info`.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let presented = presented_credentials(request.headers());
    // At `error` so that it is on whenever any line is: every line a request causes
    // then carries its id, whatever the filter.
    let span = tracing::error_span!(
        target: "wharf::request",
        "request",
        id = id.to_str().unwrap_or_default(),
        user = tracing::field::Empty
    );
    let info = Arc::new(RequestInfo {
        format: OnceLock::new(),
        user: OnceLock::new(),
        client: client.map(|c| c.ip().to_string()),
        login_audited: OnceLock::new(),
        span: span.clone(),
    });
    let mut response = CURRENT
        .scope(info.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let took = started.elapsed();
    response.headers_mut().insert(REQUEST_ID, id.clone());

    let status = response.status();
    let format = info.format.get().map(String::as_str);
    if registry.config.metrics.enabled {
        crate::metrics::request(format.unwrap_or(""), &method, status.as_u16(), took);
    }
    let reason = response
        .extensions()
        .get::<ErrorReason>()
        .map(|r| r.0.as_str());
    if status == StatusCode::UNAUTHORIZED
        && let Some(presented) = presented
    {
        let credentials = Credentials::from_headers(&presented, &[]).ok();
        let reason = reason.unwrap_or("refused");
        span.in_scope(|| info.login_failed(credentials.as_ref(), reason));
    }
    let line = Line {
        id: id.to_str().unwrap_or_default(),
        client: info.client.as_deref(),
        user: info.user.get().map(String::as_str),
        format,
        method: method.as_str(),
        path: &path,
        status: status.as_u16(),
        took,
        reason: reason.filter(|_| status.is_client_error() || status.is_server_error()),
    };
    line.emit(level(status, &path));
    response
}

/// A request line's fields.
struct Line<'a> {
    id: &'a str,
    client: Option<&'a str>,
    user: Option<&'a str>,
    format: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    status: u16,
    took: Duration,
    reason: Option<&'a str>,
}

impl Line<'_> {
    fn emit(&self, level: Level) {
        // Two decimals, as a number (JSON logs keep it numeric).
        let ms = (self.took.as_secs_f64() * 100_000.0).round() / 100.0;
        // A level is part of each call site's static metadata, hence one per level.
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "wharf::request",
                    $level,
                    id = self.id,
                    client = self.client,
                    user = self.user,
                    format = self.format,
                    method = self.method,
                    path = self.path,
                    status = self.status,
                    ms,
                    reason = self.reason,
                    "request"
                )
            };
        }
        match level {
            Level::DEBUG => emit!(Level::DEBUG),
            Level::WARN => emit!(Level::WARN),
            _ => emit!(Level::INFO),
        }
    }
}

/// `warn` for 5xx, `debug` for successful probes and scrapes, else `info`.
fn level(status: StatusCode, path: &str) -> Level {
    if status.is_server_error() {
        Level::WARN
    } else if status.is_success() && QUIET_PATHS.contains(&path) {
        Level::DEBUG
    } else {
        Level::INFO
    }
}

/// The client's `X-Request-Id` when it is short and plain (it goes into log lines and
/// back into a header, so nothing that could forge either), else a new id: a random
/// per-process prefix and a counter, unique across restarts without a syscall per
/// request.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(value) = headers.get(REQUEST_ID)
        && sane_id(value.as_bytes())
    {
        return value.clone();
    }
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).unwrap_or_default();
        u32::from_ne_bytes(bytes)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::try_from(format!("{prefix:08x}{n:08x}")).expect("hex is a valid header value")
}

fn sane_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The credential headers of a request, if it sent any (kept for the audit of a 401).
fn presented_credentials(headers: &HeaderMap) -> Option<HeaderMap> {
    let mut presented = HeaderMap::new();
    for name in CREDENTIAL_HEADERS {
        if let Some(value) = headers.get(*name) {
            presented.insert(*name, value.clone());
        }
    }
    (!presented.is_empty()).then_some(presented)
}

/// The user name of Basic credentials, unless it is a token (clients put tokens in
/// either half) or not a possible user name: an audit line must not leak a secret.
fn login_name(credentials: &Credentials) -> Option<&str> {
    let Credentials::Basic { user, .. } = credentials else {
        return None;
    };
    let plausible = crate::registry::accounts::valid_name(user)
        && !user.starts_with(crate::auth::secrets::TOKEN_PREFIX)
        && !crate::auth::registry_token::looks_like(user);
    plausible.then_some(user.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_incoming_ids_are_kept_and_others_replaced() {
        let with = |id: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(REQUEST_ID, HeaderValue::from_str(id).unwrap());
            request_id(&headers)
        };
        assert_eq!(with("abc-123_x.y:z"), "abc-123_x.y:z");
        let forged = with("a\" status=200");
        assert!(sane_id(forged.as_bytes()) && forged != "a\" status=200");
        assert!(sane_id(with(&"x".repeat(129)).as_bytes()));
        let (a, b) = (request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn only_plausible_user_names_reach_the_audit() {
        let basic = |user: &str| {
            let credentials = Credentials::Basic {
                user: user.to_string(),
                secret: "secret".to_string(),
            };
            login_name(&credentials).map(str::to_string)
        };
        assert_eq!(basic("alice").as_deref(), Some("alice"));
        assert_eq!(basic("wharf_0123456789abcdef"), None);
        assert_eq!(basic("eyJh.eyJz.c2ln"), None);
        assert_eq!(basic("two words"), None);
        assert_eq!(login_name(&Credentials::Token("t".to_string())), None);
    }

    #[test]
    fn probes_are_quiet_only_when_they_succeed() {
        assert_eq!(level(StatusCode::OK, "/healthz"), Level::DEBUG);
        assert_eq!(level(StatusCode::UNAUTHORIZED, "/metrics"), Level::INFO);
        assert_eq!(level(StatusCode::OK, "/v2/"), Level::INFO);
        assert_eq!(level(StatusCode::BAD_GATEWAY, "/readyz"), Level::WARN);
    }
}
