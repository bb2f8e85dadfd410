//! Which operation each request below `/v2` is (design §4, one function per endpoint).
//!
//! Every path is validated here (repository name, tag, digest, session id) before it
//! names anything to the host. Replies the host produces are templates: the session
//! placeholders `{id}` and `{end}` are filled in after the host ran the operation, and
//! URLs and digests go in as text, never through the placeholder parser.

use wharf_plugin_sdk::{
    BlobRef, DeleteTarget, FileRef, HashAlgorithm, IndexSpec, ListingSpec, Method, MountRequest,
    Operation, PackageRef, PluginError, ReplyPart, ReplyTemplate, Request, Response, Route,
    Selector, SessionOp, SessionRequest, TagRef, TaggedFile, TokenRequest, VersionRef, params,
};

use crate::names::{self, Endpoint, Reference};
use ReplyPart::{SessionId, Text};

pub const DOCKER_CONTENT_DIGEST: &str = "Docker-Content-Digest";

/// Failures of blob reads and unlinks.
const BLOB_CODES: &[(u16, &str)] = &[(404, "BLOB_UNKNOWN")];
/// Failures the host's upload sessions report.
const SESSION_CODES: &[(u16, &str)] = &[
    (404, "BLOB_UPLOAD_UNKNOWN"),
    (400, "DIGEST_INVALID"),
    (416, "BLOB_UPLOAD_INVALID"),
    (413, "SIZE_INVALID"),
];
/// Failures of manifest reads and deletes.
const MANIFEST_CODES: &[(u16, &str)] = &[(404, "MANIFEST_UNKNOWN")];
/// Failures of a manifest push the host detects (its blob re-check, its size limit).
const MANIFEST_PUT_CODES: &[(u16, &str)] = &[
    (404, "MANIFEST_BLOB_UNKNOWN"),
    (400, "MANIFEST_INVALID"),
    (413, "SIZE_INVALID"),
];
const TAGS_CODES: &[(u16, &str)] = &[(404, "NAME_UNKNOWN")];

/// The largest manifest accepted, as most registries do.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// The name of the one file of a manifest's version.
pub const MANIFEST_FILE: &str = "manifest";
/// The upload parameter naming the tag or digest a manifest is pushed by.
pub const REFERENCE: &str = "reference";
/// Index parameters: the page size (absent: no limit) and the name a page starts after.
pub const PAGE_SIZE: &str = "n";
pub const LAST: &str = "last";
/// Index parameters of the referrers view: the subject digest and the optional filter.
pub const SUBJECT: &str = "subject";
pub const ARTIFACT_TYPE: &str = "artifact-type";
/// The views `render-index` renders, as routes name them (and proxies and groups read them).
pub const TAGS_VIEW: &str = "tags";
pub const REFERRERS_VIEW: &str = "referrers";
pub const CATALOG_VIEW: &str = "catalog";
/// Advertised to chunking clients (spec 1.1): smaller chunks cost a request each.
const CHUNK_MIN_LENGTH: &str = "1048576";
/// `_catalog` page size when the client names none, and the most it may ask for.
const CATALOG_DEFAULT: u32 = 100;
const PAGE_MAX: u32 = 1000;
/// Session ids are the host's; anything else cannot name one.
const MAX_SESSION_ID: usize = 128;

/// A repository addressed by a request, and its absolute URL for `Location` headers.
struct Repository {
    pkg: PackageRef,
    url: String,
}

pub fn match_route(request: &Request) -> Result<Route, PluginError> {
    let path = request.path.trim_start_matches('/');
    match path {
        "" => return root(request),
        "token" => return token(request),
        "_catalog" => return catalog(request),
        _ => {}
    }
    let Some((segments, endpoint)) = names::split_path(path) else {
        return Ok(Route::not_found());
    };
    let pkg = names::repository(&segments)?;
    let repository = Repository {
        url: format!("{}/{}/{}", request.base_url, pkg.owner, pkg.name),
        pkg,
    };
    match endpoint {
        Endpoint::Tags => tags(request, repository),
        Endpoint::Manifest(reference) => manifest(request, repository, &decode(reference)?),
        Endpoint::Referrers(digest) => referrers(request, repository, &decode(digest)?),
        Endpoint::Blob(digest) => blob(request, repository, &decode(digest)?),
        Endpoint::Uploads(None) => start_upload(request, repository),
        Endpoint::Uploads(Some(id)) => session(request, repository, id),
    }
}

/// A reference or digest segment; an escaped `/` or bad escape cannot be either.
fn decode(segment: &str) -> Result<String, PluginError> {
    wharf_plugin_sdk::percent_decode(segment).ok_or_else(|| {
        PluginError::with_code(
            400,
            "DIGEST_INVALID",
            format!("malformed reference {segment:?}"),
        )
    })
}

fn unsupported(request: &Request) -> PluginError {
    PluginError::with_code(
        405,
        "UNSUPPORTED",
        format!("{:?} is not supported on {}", request.method, request.path),
    )
}

/// `GET /v2/`: answers 200 only to signed-in callers, so clients learn the challenge.
fn root(request: &Request) -> Result<Route, PluginError> {
    match request.method {
        Method::Get | Method::Head => Ok(Route::authenticated(Operation::Respond(Response::json(
            "{}",
        )))),
        _ => Err(unsupported(request)),
    }
}

/// The bearer challenge's token endpoint.
fn token(request: &Request) -> Result<Route, PluginError> {
    match request.method {
        Method::Get | Method::Post => Ok(Route::public(Operation::IssueToken(TokenRequest {
            name: "oci".into(),
            persistent: false,
            user: None,
        }))),
        _ => Err(unsupported(request)),
    }
}

/// `?n=`: absent → `default`; not a number → 400; capped at [`PAGE_MAX`].
pub fn page_size(request: &Request, default: Option<u32>) -> Result<Option<u32>, PluginError> {
    match request.query_param("n") {
        None | Some("") => Ok(default),
        Some(n) => n
            .parse::<u32>()
            .map(|n| Some(n.min(PAGE_MAX)))
            .map_err(|_| {
                PluginError::with_code(
                    400,
                    "PAGINATION_NUMBER_INVALID",
                    format!("invalid page size n={n:?}"),
                )
            }),
    }
}

/// `GET /v2/_catalog?n&last`: every repository the caller may read. The page is cut in
/// `render`, which skips repositories without manifests (only blobs pushed).
fn catalog(request: &Request) -> Result<Route, PluginError> {
    if !matches!(request.method, Method::Get) {
        return Err(unsupported(request));
    }
    let n = page_size(request, Some(CATALOG_DEFAULT))?.unwrap_or(CATALOG_DEFAULT);
    Ok(Route::authenticated(Operation::RenderIndex(IndexSpec {
        pkg: None,
        view: CATALOG_VIEW.into(),
        params: params::owned(&[(PAGE_SIZE, &n.to_string())]),
        digest_of: None,
        listing: Some(ListingSpec {
            filter: String::new(),
            offset: 0,
            limit: 0,
            all_versions: false,
            after: request.query_param("last").unwrap_or_default().to_string(),
        }),
    })))
}

/// `GET /{name}/tags/list?n&last`: the parameters `n` (absent: no limit) and `last`.
fn tags(request: &Request, repository: Repository) -> Result<Route, PluginError> {
    if !matches!(request.method, Method::Get) {
        return Err(unsupported(request));
    }
    let n = page_size(request, None)?.map(|n| n.to_string());
    let last = request.query_param("last").unwrap_or_default();
    let mut params = params::owned(&[(LAST, last)]);
    params.extend(n.map(|n| (PAGE_SIZE.to_string(), n)));
    Ok(Route::read(index(repository.pkg, TAGS_VIEW, params)).error_codes(TAGS_CODES))
}

/// `GET /{name}/referrers/{digest}?artifactType=`: the parameters `subject` and
/// `artifact-type` (empty: no filter).
fn referrers(
    request: &Request,
    repository: Repository,
    digest: &str,
) -> Result<Route, PluginError> {
    if !matches!(request.method, Method::Get) {
        return Err(unsupported(request));
    }
    let digest = names::digest_text(&names::digest(digest)?);
    let artifact_type = request.query_param("artifactType").unwrap_or_default();
    let params = params::owned(&[(SUBJECT, &digest), (ARTIFACT_TYPE, artifact_type)]);
    Ok(Route::read(index(repository.pkg, REFERRERS_VIEW, params)))
}

fn index(pkg: PackageRef, view: &str, params: Vec<(String, String)>) -> Operation {
    Operation::RenderIndex(IndexSpec {
        pkg: Some(pkg),
        view: view.into(),
        params,
        digest_of: None,
        listing: None,
    })
}

/// `/{name}/manifests/{reference}`: by tag or digest; PUT stores, DELETE untags or
/// deletes the version.
fn manifest(
    request: &Request,
    repository: Repository,
    reference: &str,
) -> Result<Route, PluginError> {
    let parsed = match (&request.method, names::reference(reference)) {
        // What no push could have stored cannot be pulled: the conformance suite
        // expects the pull of an invalid tag to be an unknown manifest, not a bad request.
        (Method::Get | Method::Head, Err(_)) => {
            return Err(PluginError::with_code(
                404,
                "MANIFEST_UNKNOWN",
                format!("no manifest {reference:?}: it is neither a valid tag nor a digest"),
            ));
        }
        (_, parsed) => parsed?,
    };
    let pkg = repository.pkg;
    let route = match (&request.method, parsed) {
        (Method::Put, _) => {
            return Ok(Route::write(Operation::accept_upload(
                pkg,
                &[(REFERENCE, reference)],
                MAX_MANIFEST,
            ))
            .error_codes(MANIFEST_PUT_CODES));
        }
        (Method::Get | Method::Head, Reference::Tag(tag)) => {
            Route::read(Operation::serve(Selector::Tagged(TaggedFile {
                tag: TagRef { pkg, tag },
                name: MANIFEST_FILE.into(),
            })))
            // Known once the host found the tagged manifest.
            .reply(ReplyTemplate::new(0, "", "").header(DOCKER_CONTENT_DIGEST, "sha256:{sha256}"))
        }
        (Method::Get | Method::Head, Reference::Digest(digest)) => {
            let text = names::digest_text(&digest);
            let operation = match digest.algorithm {
                // Versions are named by their sha256; a sha512 names the same bytes as a blob.
                HashAlgorithm::Sha256 => Operation::serve(Selector::File(FileRef {
                    version: VersionRef {
                        pkg,
                        version: text.clone(),
                    },
                    name: MANIFEST_FILE.into(),
                })),
                _ => Operation::serve(Selector::Blob(BlobRef { pkg, digest })),
            };
            Route::read(operation).reply(digest_reply(&text))
        }
        (Method::Delete, Reference::Tag(tag)) => {
            Route::write(Operation::Delete(DeleteTarget::Tag(TagRef { pkg, tag })))
                .reply(accepted())
        }
        (Method::Delete, Reference::Digest(digest)) => {
            if digest.algorithm != HashAlgorithm::Sha256 {
                return Err(PluginError::with_code(
                    400,
                    "UNSUPPORTED",
                    "manifests are deleted by their sha256 digest",
                ));
            }
            let version = names::digest_text(&digest);
            Route::write(Operation::Delete(DeleteTarget::Version(VersionRef {
                pkg,
                version,
            })))
            .reply(accepted())
        }
        _ => return Err(unsupported(request)),
    };
    Ok(route.error_codes(MANIFEST_CODES))
}

/// Serves keep the host's status and framing; this adds the digest clients verify.
fn digest_reply(digest: &str) -> ReplyTemplate {
    let reply = ReplyTemplate::new(0, "", "");
    with_parts(reply, DOCKER_CONTENT_DIGEST, vec![Text(digest.into())])
}

/// Deletes answer 202 in OCI (the host's default is 204).
fn accepted() -> ReplyTemplate {
    ReplyTemplate::new(202, "", "")
}

/// `/{name}/blobs/{digest}`: read or unlink.
fn blob(request: &Request, repository: Repository, digest: &str) -> Result<Route, PluginError> {
    let digest = names::digest(digest)?;
    let text = names::digest_text(&digest);
    let blob = BlobRef {
        pkg: repository.pkg,
        digest,
    };
    let route = match request.method {
        Method::Get | Method::Head => {
            Route::read(Operation::serve(Selector::Blob(blob))).reply(digest_reply(&text))
        }
        Method::Delete => {
            Route::write(Operation::Delete(DeleteTarget::BlobLink(blob))).reply(accepted())
        }
        _ => return Err(unsupported(request)),
    };
    Ok(route.error_codes(BLOB_CODES))
}

/// `POST /{name}/blobs/uploads/`: a mount (`?mount=&from=`), a one-shot upload
/// (`?digest=`), or a new session.
fn start_upload(request: &Request, repository: Repository) -> Result<Route, PluginError> {
    if !matches!(request.method, Method::Post) {
        return Err(unsupported(request));
    }
    if let Some(mount) = request.query_param("mount") {
        let digest = names::digest(mount)?;
        let source = match request.query_param("from") {
            Some(from) => Some(names::repository(&from.split('/').collect::<Vec<_>>())?),
            None => None,
        };
        let reply = blob_created(&repository, &names::digest_text(&digest));
        let fallback =
            Some(session_reply(&repository, 202).header("OCI-Chunk-Min-Length", CHUNK_MIN_LENGTH));
        let mount = MountRequest {
            pkg: repository.pkg,
            digest,
            source,
            fallback,
        };
        return Ok(Route::write(Operation::MountBlob(mount))
            .reply(reply)
            .error_codes(SESSION_CODES));
    }
    if let Some(digest) = request.query_param("digest") {
        let digest = names::digest(digest)?;
        let reply = blob_created(&repository, &names::digest_text(&digest));
        return Ok(upload_session(repository.pkg, "", SessionOp::Finish(digest)).reply(reply));
    }
    let reply = session_reply(&repository, 202).header("OCI-Chunk-Min-Length", CHUNK_MIN_LENGTH);
    Ok(upload_session(repository.pkg, "", SessionOp::Start).reply(reply))
}

/// `/{name}/blobs/uploads/{id}`: append, finish, status, cancel.
fn session(request: &Request, repository: Repository, id: &str) -> Result<Route, PluginError> {
    let is_id = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.len() > MAX_SESSION_ID || !id.chars().all(is_id) {
        return Err(PluginError::with_code(
            404,
            "BLOB_UPLOAD_UNKNOWN",
            format!("no upload session {id:?}"),
        ));
    }
    let (op, reply) = match request.method {
        Method::Patch => (
            SessionOp::Append(content_range_start(request)?),
            session_reply(&repository, 202),
        ),
        Method::Put => {
            let digest = request.query_param("digest").ok_or_else(|| {
                PluginError::with_code(400, "DIGEST_INVALID", "finishing an upload needs ?digest=")
            })?;
            // A last chunk may come with the PUT. The contract's `finish` carries no
            // offset, so the host reads the `Content-Range` itself (416 when it does not
            // start where the session ends); only its form is checked here.
            content_range_start(request)?;
            let digest = names::digest(digest)?;
            let reply = blob_created(&repository, &names::digest_text(&digest));
            (SessionOp::Finish(digest), reply)
        }
        Method::Get => (SessionOp::Status, session_reply(&repository, 204)),
        Method::Delete => (SessionOp::Cancel, ReplyTemplate::new(204, "", "")),
        _ => return Err(unsupported(request)),
    };
    Ok(upload_session(repository.pkg, id, op).reply(reply))
}

fn upload_session(pkg: PackageRef, id: &str, op: SessionOp) -> Route {
    Route::write(Operation::UploadSession(SessionRequest {
        pkg,
        id: id.into(),
        op,
    }))
    .error_codes(SESSION_CODES)
}

/// Where a session is and how much it holds; `{id}` and `{end}` are the host's.
fn session_reply(repository: &Repository, status: u16) -> ReplyTemplate {
    let location = format!("{}/blobs/uploads/", repository.url);
    let reply = ReplyTemplate::new(status, "", "");
    with_parts(reply, "Location", vec![Text(location), SessionId])
        .header("Range", "0-{end}")
        .header("Docker-Upload-UUID", "{id}")
}

/// 201 for a stored blob: where it is and its digest.
fn blob_created(repository: &Repository, digest: &str) -> ReplyTemplate {
    let location = format!("{}/blobs/{digest}", repository.url);
    let reply = ReplyTemplate::new(201, "", "");
    let reply = with_parts(reply, "Location", vec![Text(location)]);
    with_parts(reply, DOCKER_CONTENT_DIGEST, vec![Text(digest.into())])
}

/// Adds a header of typed parts. For values holding the operator's public URL or names
/// from the request: they are no template, so they skip the placeholder parser of
/// [`ReplyTemplate::header`] (a `{id}` in them stays text).
fn with_parts(mut reply: ReplyTemplate, name: &str, parts: Vec<ReplyPart>) -> ReplyTemplate {
    reply.headers.push((name.to_string(), parts));
    reply
}

/// The start of a PATCH's `Content-Range` (`a-b`, as the spec writes it, or the HTTP
/// form `bytes a-b[/total]`); none appends at the end (skopeo streams without one). A
/// range whose length disagrees with `Content-Length` is refused before any byte is stored.
fn content_range_start(request: &Request) -> Result<Option<u64>, PluginError> {
    let Some(header) = request.header("content-range") else {
        return Ok(None);
    };
    let invalid = || {
        PluginError::with_code(
            400,
            "BLOB_UPLOAD_INVALID",
            format!("malformed Content-Range {header:?}"),
        )
    };
    let range = header.trim();
    let range = range
        .strip_prefix("bytes=")
        .or_else(|| range.strip_prefix("bytes "))
        .unwrap_or(range);
    let range = range.split_once('/').map_or(range, |(range, _total)| range);
    let (start, end) = range.split_once('-').ok_or_else(invalid)?;
    let start: u64 = start.trim().parse().map_err(|_| invalid())?;
    let end: u64 = end.trim().parse().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    if let Some(length) = request.header("content-length") {
        let length: u64 = length.trim().parse().map_err(|_| invalid())?;
        if end - start + 1 != length {
            return Err(PluginError::with_code(
                400,
                "BLOB_UPLOAD_INVALID",
                format!("Content-Range {header:?} does not match Content-Length {length}"),
            ));
        }
    }
    Ok(Some(start))
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::Access;
    use wharf_plugin_sdk::testing::request as plain_request;

    use super::*;

    const BASE: &str = "http://wharf.test/v2";
    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn request(method: Method, path: &str) -> Request {
        plain_request(method, path)
            .with_owner(None)
            .with_base_url(BASE)
    }

    fn route(request: Request) -> Route {
        match_route(&request).unwrap_or_else(|e| panic!("{}: {e:?}", request.path))
    }

    fn error(request: Request) -> (u16, String) {
        let e = match_route(&request).expect_err(&request.path);
        (e.status, e.code)
    }

    /// A header of `reply` with its placeholders shown as `<id>`, `<end>`, …, so that
    /// a placeholder and text in braces differ.
    fn header(reply: &ReplyTemplate, name: &str) -> String {
        let Some((_, parts)) = reply
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        else {
            return String::new();
        };
        parts
            .iter()
            .map(|part| match part {
                Text(text) => text.as_str(),
                ReplyPart::Token => "<token>",
                ReplyPart::Size => "<size>",
                ReplyPart::Sha256 => "<sha256>",
                SessionId => "<id>",
                ReplyPart::ReceivedEnd => "<end>",
                ReplyPart::Digest => "<digest>",
            })
            .collect()
    }

    /// What `operation` serves; panics on anything else.
    fn served(operation: Operation) -> Selector {
        match operation {
            Operation::Serve(spec) if spec.digest_of.is_none() => spec.selector,
            other => panic!("not a serve: {other:?}"),
        }
    }

    fn params_of(spec: &IndexSpec) -> Vec<(&str, &str)> {
        spec.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    fn codes(route: &Route) -> Vec<(u16, &str)> {
        route
            .error_codes
            .iter()
            .map(|(s, c)| (*s, c.as_str()))
            .collect()
    }

    fn text(digest: &wharf_plugin_sdk::Digest) -> String {
        names::digest_text(digest)
    }

    /// `owner/name`, as packages compare in these tests.
    fn repo(pkg: &PackageRef) -> String {
        format!("{}/{}", pkg.owner, pkg.name)
    }

    #[test]
    fn the_base_answers_signed_in_callers_only() {
        let r = route(request(Method::Get, "/"));
        assert_eq!(r.access, Access::Authenticated);
        let Operation::Respond(response) = r.operation else {
            panic!("{:?}", r.operation)
        };
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, b"{}".as_slice())
        );
        assert_eq!(
            error(request(Method::Delete, "/")),
            (405, "UNSUPPORTED".into())
        );
    }

    #[test]
    fn the_token_endpoint_issues_registry_tokens_to_anyone() {
        for method in [Method::Get, Method::Post] {
            let r = route(request(method, "/token"));
            assert_eq!(r.access, Access::None);
            let Operation::IssueToken(t) = r.operation else {
                panic!("{:?}", r.operation)
            };
            assert_eq!(
                (t.name.as_str(), t.persistent, t.user),
                ("oci", false, None)
            );
        }
    }

    #[test]
    fn the_catalog_pages_by_name() {
        let r = route(
            request(Method::Get, "/_catalog")
                .with_query("n", "2")
                .with_query("last", "alice/app"),
        );
        assert_eq!(r.access, Access::Authenticated);
        let Operation::RenderIndex(spec) = r.operation else {
            panic!("{:?}", r.operation)
        };
        assert!(spec.pkg.is_none());
        assert_eq!(
            (spec.view.as_str(), params_of(&spec)),
            ("catalog", vec![("n", "2")])
        );
        assert_eq!(spec.listing.unwrap().after, "alice/app");
        let default = route(request(Method::Get, "/_catalog"));
        let Operation::RenderIndex(spec) = default.operation else {
            panic!()
        };
        assert_eq!(params_of(&spec), [("n", "100")]);
        let capped = route(request(Method::Get, "/_catalog").with_query("n", "5000"));
        let Operation::RenderIndex(spec) = capped.operation else {
            panic!()
        };
        assert_eq!(params_of(&spec), [("n", "1000")]);
        let bad = error(request(Method::Get, "/_catalog").with_query("n", "x"));
        assert_eq!(bad.0, 400);
    }

    #[test]
    fn tags_list_renders_with_paging_arguments() {
        let r = route(
            request(Method::Get, "/alice/app/tags/list")
                .with_query("n", "2")
                .with_query("last", "b"),
        );
        assert_eq!(r.access, Access::Read);
        assert_eq!(codes(&r), [(404, "NAME_UNKNOWN")]);
        let Operation::RenderIndex(spec) = r.operation else {
            panic!()
        };
        assert_eq!(repo(spec.pkg.as_ref().unwrap()), "alice/app");
        assert_eq!(
            (spec.view.as_str(), params_of(&spec)),
            ("tags", vec![("last", "b"), ("n", "2")])
        );
        let all = route(request(Method::Get, "/alice/team/tool/tags/list"));
        let Operation::RenderIndex(spec) = all.operation else {
            panic!()
        };
        assert_eq!(spec.pkg.as_ref().unwrap().name, "team/tool");
        assert_eq!(params_of(&spec), [("last", "")], "no n: no limit");
    }

    #[test]
    fn bad_names_are_name_invalid_and_unknown_paths_not_found() {
        for path in [
            "/Alice/App/tags/list",
            "/alice/tags/list",
            "/alice/a___b/blobs/uploads/",
        ] {
            assert_eq!(
                error(request(Method::Get, path)),
                (400, "NAME_INVALID".into()),
                "{path}"
            );
        }
        for path in ["/alice/app", "/alice/app/other", "/alice/app/manifests/a/b"] {
            assert!(
                matches!(
                    route(request(Method::Get, path)).operation,
                    Operation::NotFound
                ),
                "{path}"
            );
        }
    }

    #[test]
    fn blobs_are_served_and_unlinked_by_digest() {
        let get = route(request(Method::Head, &format!("/alice/app/blobs/{D}")));
        assert_eq!(get.access, Access::Read);
        assert_eq!(codes(&get), [(404, "BLOB_UNKNOWN")]);
        assert_eq!(
            header(get.reply.as_ref().unwrap(), "docker-content-digest"),
            D
        );
        let Selector::Blob(blob) = served(get.operation) else {
            panic!()
        };
        assert_eq!(
            (repo(&blob.pkg), text(&blob.digest)),
            ("alice/app".into(), D.to_string())
        );

        let delete = route(request(Method::Delete, &format!("/alice/app/blobs/{D}")));
        assert_eq!(delete.access, Access::Write);
        assert_eq!(delete.reply.unwrap().status, 202);
        assert!(matches!(
            delete.operation,
            Operation::Delete(DeleteTarget::BlobLink(ref b)) if text(&b.digest) == D
        ));
        assert_eq!(
            error(request(Method::Get, "/alice/app/blobs/sha256:totallywrong")),
            (400, "DIGEST_INVALID".into())
        );
        assert_eq!(
            error(request(Method::Put, &format!("/alice/app/blobs/{D}"))).0,
            405
        );
    }

    #[test]
    fn manifests_by_tag_and_digest() {
        let by_tag = route(request(Method::Get, "/alice/app/manifests/v1"));
        assert_eq!(
            (by_tag.access, codes(&by_tag)),
            (Access::Read, vec![(404, "MANIFEST_UNKNOWN")])
        );
        assert_eq!(
            header(by_tag.reply.as_ref().unwrap(), "docker-content-digest"),
            "sha256:<sha256>"
        );
        let Selector::Tagged(tagged) = served(by_tag.operation) else {
            panic!()
        };
        assert_eq!(
            (tagged.tag.tag.as_str(), tagged.name.as_str()),
            ("v1", "manifest")
        );

        let by_digest = route(request(Method::Head, &format!("/alice/app/manifests/{D}")));
        assert_eq!(
            header(by_digest.reply.as_ref().unwrap(), "docker-content-digest"),
            D
        );
        let Selector::File(file) = served(by_digest.operation) else {
            panic!()
        };
        assert_eq!(
            (file.version.version.as_str(), file.name.as_str()),
            (D, "manifest")
        );

        let sha512 = format!("sha512:{}", "a".repeat(128));
        let by_sha512 = route(request(
            Method::Get,
            &format!("/alice/app/manifests/{sha512}"),
        ));
        let Selector::Blob(blob) = served(by_sha512.operation) else {
            panic!()
        };
        assert_eq!(blob.digest.algorithm, HashAlgorithm::Sha512);

        let escaped = route(request(
            Method::Get,
            "/alice/app/manifests/sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ));
        assert!(matches!(served(escaped.operation), Selector::File(_)));
    }

    #[test]
    fn pulling_what_cannot_be_a_manifest_is_manifest_unknown() {
        for reference in [".INVALID_MANIFEST_NAME", "-x", "sha256:x", "md5:abc"] {
            for method in [Method::Get, Method::Head] {
                let path = format!("/alice/app/manifests/{reference}");
                assert_eq!(
                    error(request(method, &path)),
                    (404, "MANIFEST_UNKNOWN".into()),
                    "{reference}"
                );
            }
        }
        assert_eq!(
            error(request(Method::Delete, "/alice/app/manifests/-x")),
            (400, "MANIFEST_INVALID".into())
        );
    }

    #[test]
    fn manifest_deletes_untag_or_delete_the_version() {
        let untag = route(request(Method::Delete, "/alice/app/manifests/v1"));
        assert_eq!(
            (untag.access, untag.reply.as_ref().unwrap().status),
            (Access::Write, 202)
        );
        assert!(matches!(
            untag.operation,
            Operation::Delete(DeleteTarget::Tag(ref t)) if t.tag == "v1"
        ));
        let delete = route(request(
            Method::Delete,
            &format!("/alice/app/manifests/{D}"),
        ));
        assert_eq!(codes(&delete), [(404, "MANIFEST_UNKNOWN")]);
        assert!(matches!(
            delete.operation,
            Operation::Delete(DeleteTarget::Version(ref v)) if v.version == D
        ));
    }

    #[test]
    fn manifest_pushes_are_uploads_of_at_most_4_mib() {
        let put = route(request(Method::Put, "/alice/app/manifests/v1"));
        assert_eq!(put.access, Access::Write);
        assert_eq!(
            codes(&put),
            [
                (404, "MANIFEST_BLOB_UNKNOWN"),
                (400, "MANIFEST_INVALID"),
                (413, "SIZE_INVALID")
            ]
        );
        let Operation::AcceptUpload(spec) = put.operation else {
            panic!()
        };
        assert_eq!(
            (spec.max_size, repo(&spec.pkg).as_str()),
            (4 << 20, "alice/app")
        );
        assert_eq!(spec.params, params::owned(&[("reference", "v1")]));
        assert_eq!(
            error(request(Method::Put, "/alice/app/manifests/-x")),
            (400, "MANIFEST_INVALID".into())
        );
        assert_eq!(
            error(request(Method::Put, "/alice/app/manifests/sha256:x")),
            (400, "DIGEST_INVALID".into())
        );
        assert_eq!(
            error(request(Method::Post, "/alice/app/manifests/v1")).0,
            405
        );
    }

    #[test]
    fn referrers_render_by_subject_digest() {
        let r = route(
            request(Method::Get, &format!("/alice/app/referrers/{D}"))
                .with_query("artifactType", "a/b"),
        );
        assert_eq!(r.access, Access::Read);
        let Operation::RenderIndex(spec) = r.operation else {
            panic!()
        };
        assert_eq!(
            (spec.view.as_str(), params_of(&spec)),
            ("referrers", vec![("subject", D), ("artifact-type", "a/b")])
        );
        let unfiltered = route(request(Method::Get, &format!("/alice/app/referrers/{D}")));
        let Operation::RenderIndex(spec) = unfiltered.operation else {
            panic!()
        };
        assert_eq!(params_of(&spec), [("subject", D), ("artifact-type", "")]);
        assert_eq!(
            error(request(Method::Get, "/alice/app/referrers/nope")),
            (400, "DIGEST_INVALID".into())
        );
    }

    fn session_of(route: &Route) -> &SessionRequest {
        let Operation::UploadSession(session) = &route.operation else {
            panic!("{:?}", route.operation)
        };
        session
    }

    #[test]
    fn uploads_start_a_session_with_its_location() {
        for path in ["/alice/app/blobs/uploads/", "/alice/app/blobs/uploads"] {
            let r = route(request(Method::Post, path));
            assert_eq!(r.access, Access::Write);
            assert_eq!(codes(&r), SESSION_CODES.to_vec());
            let session = session_of(&r);
            assert!(matches!(session.op, SessionOp::Start));
            assert_eq!(
                (repo(&session.pkg).as_str(), session.id.as_str()),
                ("alice/app", "")
            );
            let reply = r.reply.as_ref().unwrap();
            assert_eq!(reply.status, 202);
            assert_eq!(
                header(reply, "location"),
                format!("{BASE}/alice/app/blobs/uploads/<id>")
            );
            assert_eq!(header(reply, "range"), "0-<end>");
            assert_eq!(header(reply, "docker-upload-uuid"), "<id>");
            assert_eq!(header(reply, "oci-chunk-min-length"), "1048576");
        }
    }

    /// Only the placeholders the plugin writes are the host's to fill: the public URL
    /// and the names a reply repeats stay text, whatever braces they hold.
    #[test]
    fn reply_urls_are_text_and_only_placeholders_are_parts() {
        let base = "http://wharf.test/{id}/{end}/v2";
        let reply = |request: Request| route(request.with_base_url(base)).reply.unwrap();
        let started = reply(request(Method::Post, "/alice/app/blobs/uploads/"));
        let names: Vec<&str> = started.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Location",
                "Range",
                "Docker-Upload-UUID",
                "OCI-Chunk-Min-Length"
            ],
            "the order clients saw"
        );
        assert_eq!(
            header(&started, "location"),
            format!("{base}/alice/app/blobs/uploads/<id>")
        );
        let finished =
            reply(request(Method::Put, "/alice/app/blobs/uploads/abc").with_query("digest", D));
        assert_eq!(
            header(&finished, "location"),
            format!("{base}/alice/app/blobs/{D}")
        );
        let pulled = reply(request(Method::Get, "/alice/app/manifests/v1"));
        assert_eq!(header(&pulled, "docker-content-digest"), "sha256:<sha256>");
        let [(_, parts)] = pulled.headers.as_slice() else {
            panic!("one header")
        };
        assert!(matches!(&parts[..], [Text(t), ReplyPart::Sha256] if t == "sha256:"));
    }

    #[test]
    fn a_post_with_a_digest_is_a_one_shot_upload() {
        let r = route(request(Method::Post, "/alice/app/blobs/uploads/").with_query("digest", D));
        let session = session_of(&r);
        assert!(matches!(&session.op, SessionOp::Finish(d) if text(d) == D));
        assert_eq!(session.id, "");
        let reply = r.reply.as_ref().unwrap();
        assert_eq!(reply.status, 201);
        assert_eq!(
            header(reply, "location"),
            format!("{BASE}/alice/app/blobs/{D}")
        );
        assert_eq!(header(reply, "docker-content-digest"), D);
        let bad =
            request(Method::Post, "/alice/app/blobs/uploads/").with_query("digest", "sha256:x");
        assert_eq!(error(bad), (400, "DIGEST_INVALID".into()));
    }

    #[test]
    fn mounts_fall_back_to_a_session() {
        let r = route(
            request(Method::Post, "/alice/target/blobs/uploads/")
                .with_query("mount", D)
                .with_query("from", "alice/team/source"),
        );
        assert_eq!(r.access, Access::Write);
        let reply = r.reply.as_ref().unwrap();
        assert_eq!(
            (reply.status, header(reply, "docker-content-digest")),
            (201, D.to_string())
        );
        assert_eq!(
            header(reply, "location"),
            format!("{BASE}/alice/target/blobs/{D}")
        );
        let Operation::MountBlob(mount) = r.operation else {
            panic!()
        };
        let source = mount.source.unwrap();
        assert_eq!(
            (source.owner.as_str(), source.name.as_str()),
            ("alice", "team/source")
        );
        let fallback = mount.fallback.unwrap();
        assert_eq!(fallback.status, 202);
        assert_eq!(
            header(&fallback, "location"),
            format!("{BASE}/alice/target/blobs/uploads/<id>")
        );

        let anywhere =
            route(request(Method::Post, "/alice/target/blobs/uploads/").with_query("mount", D));
        assert!(matches!(anywhere.operation, Operation::MountBlob(ref m) if m.source.is_none()));
        let bad_from = request(Method::Post, "/alice/target/blobs/uploads/")
            .with_query("mount", D)
            .with_query("from", "Nope");
        assert_eq!(error(bad_from), (400, "NAME_INVALID".into()));
    }

    #[test]
    fn session_requests_map_to_their_operations() {
        let path = "/alice/app/blobs/uploads/0b6e-4c1d_x";
        let status = route(request(Method::Get, path));
        assert!(matches!(session_of(&status).op, SessionOp::Status));
        assert_eq!(session_of(&status).id, "0b6e-4c1d_x");
        assert_eq!(status.reply.as_ref().unwrap().status, 204);
        assert_eq!(header(status.reply.as_ref().unwrap(), "range"), "0-<end>");

        let cancel = route(request(Method::Delete, path));
        assert!(matches!(session_of(&cancel).op, SessionOp::Cancel));
        assert_eq!(cancel.reply.as_ref().unwrap().status, 204);

        let finish = route(request(Method::Put, path).with_query("digest", D));
        assert!(matches!(&session_of(&finish).op, SessionOp::Finish(d) if text(d) == D));
        assert_eq!(finish.reply.as_ref().unwrap().status, 201);
        let last_chunk = request(Method::Put, path)
            .with_query("digest", D)
            .with_header("content-range", "10-19")
            .with_header("content-length", "10");
        assert!(matches!(
            session_of(&route(last_chunk)).op,
            SessionOp::Finish(_)
        ));
        let malformed = request(Method::Put, path)
            .with_query("digest", D)
            .with_header("content-range", "19-10");
        assert_eq!(error(malformed), (400, "BLOB_UPLOAD_INVALID".into()));
        assert_eq!(
            error(request(Method::Put, path)),
            (400, "DIGEST_INVALID".into())
        );

        for bogus in ["..%2F..%2Fetc", "a.b", &"a".repeat(129)] {
            let e = error(request(
                Method::Get,
                &format!("/alice/app/blobs/uploads/{bogus}"),
            ));
            assert_eq!(e, (404, "BLOB_UPLOAD_UNKNOWN".into()), "{bogus}");
        }
        assert_eq!(error(request(Method::Post, path)).0, 405);
    }

    #[test]
    fn patches_take_their_offset_from_content_range() {
        let path = "/alice/app/blobs/uploads/abc";
        let append = |range: Option<&str>, length: Option<&str>| {
            let mut r = request(Method::Patch, path);
            if let Some(range) = range {
                r = r.with_header("content-range", range);
            }
            if let Some(length) = length {
                r = r.with_header("content-length", length);
            }
            match_route(&r).map(|route| match &session_of(&route).op {
                SessionOp::Append(start) => {
                    assert_eq!(route.reply.as_ref().unwrap().status, 202);
                    *start
                }
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(
            append(None, None).unwrap(),
            None,
            "skopeo streams without a range"
        );
        assert_eq!(append(Some("0-2999"), Some("3000")).unwrap(), Some(0));
        assert_eq!(append(Some("3000-4999"), None).unwrap(), Some(3000));
        assert_eq!(
            append(Some("bytes 10-19/100"), Some("10")).unwrap(),
            Some(10)
        );
        assert_eq!(append(Some("bytes=5-5"), None).unwrap(), Some(5));
        for (range, length) in [
            ("0-10", Some("10")),
            ("10-5", None),
            ("x-1", None),
            ("12", None),
            ("0-9", Some("x")),
        ] {
            let e = append(Some(range), length).unwrap_err();
            assert_eq!(
                (e.status, e.code.as_str()),
                (400, "BLOB_UPLOAD_INVALID"),
                "{range}"
            );
        }
    }
}
