//! The HTTP adapter for requests below a format's mount: finds the format, reads the
//! credentials and the owner segment, runs the pipeline (`crate::pipeline`), executes
//! (`execute`) and renders refusals in the format's error shape (`errors`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;

use super::errors::Envelope;
use super::execute::Context;
use super::query;
use super::render::value;
use crate::auth::Credentials;
use crate::auth::credentials::CREDENTIAL_HEADERS;
use crate::error::Error;
use crate::pipeline::{self, Hints, Inbound};
use crate::plugins::api;
use crate::registry::{FormatEntry, Registry};

/// The fallback handler: every path not owned by the host's own API.
pub async fn dispatch(State(registry): State<Arc<Registry>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let Some((entry, owner, rest)) = registry.route(&path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    super::log::note_format(&entry.name);
    let mut envelope = Envelope::of(&entry.plugin.descriptor, &registry.public_url);
    let owner = owner.map(|o| percent_decode_str(o).decode_utf8_lossy().into_owned());
    let (parts, body) = request.into_parts();
    let mut response = handle(&registry, entry, &mut envelope, owner, rest, parts, body).await;
    for (name, v) in &entry.plugin.descriptor.response_headers {
        if let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) {
            response.headers_mut().insert(name, value(v));
        }
    }
    response
}

async fn handle(
    registry: &Arc<Registry>,
    entry: &FormatEntry,
    envelope: &mut Envelope,
    mount_owner: Option<String>,
    rest: &str,
    parts: Parts,
    body: Body,
) -> Response {
    let declared = &entry.plugin.descriptor.credential_headers;
    let credentials = match Credentials::from_headers(&parts.headers, declared) {
        Ok(credentials) => credentials,
        Err(why) => {
            return refuse_unread(envelope.render(Error::Unauthorized(why)), &parts, body).await;
        }
    };
    let inbound = Inbound {
        credentials,
        peer: super::peer(&parts.extensions),
        mount_owner,
        request: plugin_request(&parts, rest, declared),
    };
    let mut hints = Hints::default();
    let prepared = pipeline::prepare(registry, entry, inbound, &mut hints).await;
    if let Some(user) = &hints.user {
        super::log::note_user(user);
    }
    envelope.learn(hints);
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return refuse_unread(envelope.render(error), &parts, body).await,
    };
    let ctx = Context {
        registry,
        entry,
        principal: &prepared.principal,
        method: &parts.method,
        headers: &parts.headers,
        peer: super::peer(&parts.extensions),
        listing: prepared.listing,
    };
    let route = &prepared.route;
    match ctx.run(route, prepared.owner, prepared.request, body).await {
        Ok(response) => response,
        Err(error) => {
            let mut response = envelope.render_coded(error, &route.error_codes);
            // A failed upload may leave its body unread; hyper then closes the
            // connection. Saying so lets the client open a new one for its next request
            // instead of writing into a dead socket (Maven's HttpClient did, and lost
            // the checksum upload that followed).
            if sends_body(&parts.headers) {
                close(&mut response);
            }
            response
        }
    }
}

/// The request as the plugin sees it: lower-case headers without credentials; owner,
/// base URL and user are filled in by the pipeline.
fn plugin_request(parts: &Parts, rest: &str, declared: &[String]) -> api::Request {
    api::Request {
        method: method(&parts.method),
        path: if rest.is_empty() {
            "/".to_string()
        } else {
            rest.to_string()
        },
        query: query::parse(parts.uri.query()),
        headers: plugin_headers(&parts.headers, declared),
        owner: None,
        base_url: String::new(),
        user: None,
    }
}

/// Bodies of requests refused before they were read are read and dropped up to this
/// many bytes, so the client reads the refusal instead of a reset connection and can
/// retry on the same connection (an OCI client sends a `PATCH` chunk, learns from the
/// 401 that it needs a token, and retries).
const DRAINED_BODY: u64 = 8 << 20;

/// How long draining a refused body may take.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Answers a request refused before its body was read. A client that waits for
/// `100 Continue` has sent no body and must not be asked for it; anything else is
/// drained within bounds, and past them the connection closes after the response.
async fn refuse_unread(mut response: Response, parts: &Parts, body: Body) -> Response {
    if !sends_body(&parts.headers) {
        return response;
    }
    if expects_continue(&parts.headers) || !drain(body).await {
        close(&mut response);
    }
    response
}

/// Reads and drops a body up to [`DRAINED_BODY`] bytes within [`DRAIN_TIME`], holding
/// one chunk at a time. True when the body ended within both.
pub(super) async fn drain(body: Body) -> bool {
    let mut stream = body.into_data_stream();
    let mut read: u64 = 0;
    let all = async {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return false };
            read += chunk.len() as u64;
            if read > DRAINED_BODY {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, all).await.unwrap_or(false)
}

fn close(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// Whether the request announces a body.
fn sends_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

fn method(m: &Method) -> api::Method {
    match *m {
        Method::GET => api::Method::Get,
        Method::HEAD => api::Method::Head,
        Method::PUT => api::Method::Put,
        Method::POST => api::Method::Post,
        Method::PATCH => api::Method::Patch,
        Method::DELETE => api::Method::Delete,
        ref other => api::Method::Other(other.as_str().to_string()),
    }
}

/// Request headers for the plugin: lower-case names, credentials removed (the host's
/// and those the format declares).
fn plugin_headers(headers: &HeaderMap, declared: &[String]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !CREDENTIAL_HEADERS.contains(&name.as_str()))
        .filter(|(name, _)| !declared.iter().any(|d| d == name.as_str()))
        .filter_map(|(name, v)| Some((name.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tokens::Scope;
    use crate::registry::testing::TestRegistry;

    fn parts(request: http::Request<()>) -> Parts {
        request.into_parts().0
    }

    #[test]
    fn plugins_never_see_credentials() {
        let parts = parts(
            http::Request::put("/api/packages/alice/generic/a/1/f?x=1&y")
                .header("Authorization", "token secret")
                .header("Cookie", "s=1")
                .header("X-Api-Key", "secret")
                .header("X-Thing", "kept")
                .body(())
                .unwrap(),
        );
        let declared = ["x-api-key".to_string()];
        let request = plugin_request(&parts, "/a/1/f", &declared);
        assert_eq!(request.path, "/a/1/f");
        assert!(matches!(request.method, api::Method::Put));
        assert_eq!(
            request.headers,
            vec![("x-thing".to_string(), "kept".to_string())]
        );
        assert_eq!(request.query.len(), 2);
        assert_eq!(plugin_request(&parts, "", &declared).path, "/");
    }

    #[test]
    fn bodies_are_announced_by_length_or_chunking() {
        let with = |name: &str, v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
            headers
        };
        assert!(sends_body(&with("content-length", "5")));
        assert!(!sends_body(&with("content-length", "0")));
        assert!(sends_body(&with("transfer-encoding", "chunked")));
        assert!(!sends_body(&HeaderMap::new()));
        assert!(expects_continue(&with("expect", "100-Continue")));
    }

    #[tokio::test]
    async fn drain_reads_small_bodies_and_gives_up_on_large_ones() {
        assert!(drain(Body::from(vec![0u8; 1 << 20])).await);
        let chunks = (0..9).map(|_| Ok::<_, std::io::Error>(vec![0u8; 1 << 20]));
        let large = Body::from_stream(futures_util::stream::iter(chunks));
        assert!(!drain(large).await);
    }

    #[tokio::test]
    async fn a_refused_body_is_drained_unless_the_client_waits_to_send_it() {
        let upload = |expect: bool| {
            let mut builder = http::Request::patch("/v2/x").header("content-length", "3");
            if expect {
                builder = builder.header("expect", "100-continue");
            }
            parts(builder.body(()).unwrap())
        };
        let refused = || StatusCode::UNAUTHORIZED.into_response();
        let drained = refuse_unread(refused(), &upload(false), Body::from("abc")).await;
        assert!(drained.headers().get(header::CONNECTION).is_none());
        let waiting = refuse_unread(refused(), &upload(true), Body::from("abc")).await;
        assert_eq!(waiting.headers()[header::CONNECTION], "close");
    }

    const FILE: &str = "/api/packages/alice/generic/tool/1.0/tool.txt";

    fn send_empty(builder: http::request::Builder) -> http::Request<Body> {
        builder.body(Body::empty()).unwrap()
    }

    /// Guards mount matching: each path reaches its own format (OCI's descriptor
    /// headers only below `/v2`), the owner segment is percent-decoded, and an owner
    /// that does not exist is a 404.
    #[tokio::test]
    async fn paths_reach_their_formats_mount_with_the_owner_decoded() {
        let t = TestRegistry::open();
        let token = t.user("alice", Scope::Write);
        let put = TestRegistry::request("PUT", FILE, Some(&token)).body(Body::from("hello"));
        assert_eq!(t.send(put.unwrap()).await.status(), StatusCode::CREATED);

        let encoded = "/api/packages/al%69ce/generic/tool/1.0/tool.txt";
        let found = t
            .send(send_empty(TestRegistry::request("GET", encoded, None)))
            .await;
        assert_eq!(found.status(), StatusCode::OK);
        assert!(
            found
                .headers()
                .get("docker-distribution-api-version")
                .is_none()
        );
        assert_eq!(TestRegistry::text(found).await, "hello");

        let nobody = "/api/packages/nobody/generic/tool/1.0/tool.txt";
        let nobody = t
            .send(send_empty(TestRegistry::request("GET", nobody, None)))
            .await;
        assert_eq!(nobody.status(), StatusCode::NOT_FOUND);

        let ping = t
            .send(send_empty(TestRegistry::request("GET", "/v2/", None)))
            .await;
        assert_eq!(ping.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            ping.headers()["docker-distribution-api-version"],
            "registry/2.0"
        );
        let challenge = ping.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    }

    /// Guards refusals before the body is read, through `dispatch`: a body is drained
    /// so the connection stays usable, a client waiting for `100 Continue` is answered
    /// at once and the connection closed; a malformed `Authorization` is a 401 in the
    /// format's challenge, never anonymous.
    #[tokio::test]
    async fn refused_uploads_are_drained_or_refused_early() {
        let t = TestRegistry::open();
        t.user("alice", Scope::Write);
        let upload =
            || TestRegistry::request("PUT", FILE, None).header(header::CONTENT_LENGTH, "5");
        let drained = t.send(upload().body(Body::from("hello")).unwrap()).await;
        assert_eq!(drained.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            drained.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"Wharf Package API\""
        );
        assert!(drained.headers().get(header::CONNECTION).is_none());

        let waiting = upload().header(header::EXPECT, "100-continue");
        let waiting = t.send(waiting.body(Body::from("hello")).unwrap()).await;
        assert_eq!(waiting.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(waiting.headers()[header::CONNECTION], "close");

        let malformed = upload().header(header::AUTHORIZATION, "Digest x");
        let malformed = t.send(malformed.body(Body::from("hello")).unwrap()).await;
        assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED);
        assert!(malformed.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    /// Guards the connection after a failed execution: a request that sent a body is
    /// answered with `Connection: close`, since its body may be left unread.
    #[tokio::test]
    async fn a_failed_upload_closes_the_connection() {
        let t = TestRegistry::open();
        let token = t.user("alice", Scope::Write);
        let put = || {
            TestRegistry::request("PUT", FILE, Some(&token))
                .header(header::CONTENT_LENGTH, "5")
                .body(Body::from("hello"))
                .unwrap()
        };
        let first = t.send(put()).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert!(first.headers().get(header::CONNECTION).is_none());
        let again = t.send(put()).await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        assert_eq!(again.headers()[header::CONNECTION], "close");
    }

    /// Guards declared credential headers: NuGet's `X-NuGet-ApiKey` signs a request in
    /// below the NuGet mount only; elsewhere the same header is no credential.
    #[tokio::test]
    async fn a_declared_credential_header_counts_only_on_its_formats_mount() {
        let t = TestRegistry::open();
        let token = t.user("alice", Scope::Write);
        let delete = |path: &str, key: Option<&str>| {
            let mut builder = TestRegistry::request("DELETE", path, None);
            if let Some(key) = key {
                builder = builder.header("x-nuget-apikey", key);
            }
            send_empty(builder)
        };
        let nuget = "/api/packages/alice/nuget/Some.Package/1.0.0";
        let signed_in = t.send(delete(nuget, Some(&token))).await;
        assert_eq!(
            signed_in.status(),
            StatusCode::NOT_FOUND,
            "signed in: no such version"
        );
        let anonymous = t.send(delete(nuget, None)).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        let generic = "/api/packages/alice/generic/tool/1.0";
        let elsewhere = t.send(delete(generic, Some(&token))).await;
        assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    }
}
