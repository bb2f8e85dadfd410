//! What 0.3 reshaped: operations (one `serve` with a selector, one `delete` with a
//! target), typed parameters instead of packed strings, typed reply parts instead of
//! placeholders, and an index input without the request.
//!
//! A 0.2 index rendering may read the request (its path, its query), which 0.3 no
//! longer passes because the cache does not key on it. So the route carries them as
//! parameters, which the cache does key on, and the request a 0.2 `render-index` gets
//! is rebuilt from them: a rendering stays right for everyone it is served to.

use super::{Convert, old, records, variants};
use crate::plugins::api;

/// Parameter that carries 0.2's upload `context`.
const CONTEXT: &str = "context";
/// Parameter that carries 0.2's index `argument`.
const ARGUMENT: &str = "argument";
/// Parameter that carries the routed request's path to a 0.2 `render-index`.
const PATH: &str = "path";
/// Prefix of the parameters that carry the routed request's query, one per item.
const QUERY: &str = "query.";

records! { old => api:
    BlobRef { pkg, digest }
    TagRef { pkg, tag }
    TaggedFile { tag, name }
    MountRequest { pkg, digest, source, fallback }
    SessionRequest { pkg, id, op }
    TokenRequest { name, persistent, user }
    ListingSpec { filter, offset, limit, all_versions, after }
}
variants! { old => api: SessionOp { Start, Append(at), Status, Finish(digest), Cancel } }

/// A 0.2 route as the current contract says it. `request` is what was routed: index
/// routes take its path and query along (see the module docs).
pub fn route(route: old::Route, request: &api::Request) -> api::Route {
    api::Route {
        operation: operation(route.operation, request),
        access: route.access.convert(),
        reply: route.reply.convert(),
        error_codes: route.error_codes,
    }
}

fn operation(operation: old::Operation, request: &api::Request) -> api::Operation {
    use api::{DeleteTarget as Target, Operation as New, Selector};
    use old::Operation as Old;
    let serve = |selector, digest_of| {
        New::Serve(api::ServeSpec {
            selector,
            digest_of,
        })
    };
    match operation {
        Old::ServeFile(file) => serve(Selector::File(file.convert()), None),
        Old::ServeFileByName(old::FileByName { pkg, name }) => serve(
            Selector::PackageFile(api::PackageFile {
                pkg: pkg.convert(),
                name,
            }),
            None,
        ),
        Old::ServeBlob(blob) => serve(Selector::Blob(blob.convert()), None),
        Old::ServeTag(tagged) => serve(Selector::Tagged(tagged.convert()), None),
        Old::ServeFileDigest(old::FileDigestRef { file, algorithm }) => {
            serve(Selector::File(file.convert()), Some(algorithm.convert()))
        }
        Old::AcceptUpload(spec) => New::AcceptUpload(api::UploadSpec {
            pkg: spec.pkg.convert(),
            params: vec![(CONTEXT.to_string(), spec.context)],
            max_size: spec.max_size,
        }),
        Old::RenderIndex(spec) => New::RenderIndex(index_spec(spec, request)),
        Old::DeleteFile(file) => New::Delete(Target::File(file.convert())),
        Old::DeleteVersion(version) => New::Delete(Target::Version(version.convert())),
        Old::DeletePackage(pkg) => New::Delete(Target::Package(pkg.convert())),
        Old::RemoveTag(tag) => New::Delete(Target::Tag(tag.convert())),
        Old::UnlinkBlob(blob) => New::Delete(Target::BlobLink(blob.convert())),
        Old::MountBlob(mount) => New::MountBlob(mount.convert()),
        Old::UploadSession(session) => New::UploadSession(session.convert()),
        Old::IssueToken(token) => New::IssueToken(token.convert()),
        Old::Respond(response) => New::Respond(response.convert()),
        Old::NotFound => New::NotFound,
    }
}

fn index_spec(spec: old::IndexSpec, request: &api::Request) -> api::IndexSpec {
    let mut params = vec![
        (ARGUMENT.to_string(), spec.argument),
        (PATH.to_string(), request.path.clone()),
    ];
    params.extend(
        request
            .query
            .iter()
            .map(|(name, value)| (format!("{QUERY}{name}"), value.clone())),
    );
    api::IndexSpec {
        pkg: spec.pkg.convert(),
        view: spec.view,
        params,
        digest_of: spec.digest_of.convert(),
        listing: spec.listing.convert(),
    }
}

impl Convert<api::ReplyTemplate> for old::ReplyTemplate {
    fn convert(self) -> api::ReplyTemplate {
        api::ReplyTemplate {
            status: self.status,
            content_type: self.content_type,
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| (name, parts(&value)))
                .collect(),
            body: parts(&self.body),
        }
    }
}

/// 0.2's placeholders and the parts that replaced them.
const PLACEHOLDERS: &[(&str, api::ReplyPart)] = &[
    ("{token}", api::ReplyPart::Token),
    ("{size}", api::ReplyPart::Size),
    ("{sha256}", api::ReplyPart::Sha256),
    ("{id}", api::ReplyPart::SessionId),
    ("{end}", api::ReplyPart::ReceivedEnd),
    ("{digest}", api::ReplyPart::Digest),
];

/// A 0.2 template string as reply parts; braces that name no placeholder stay text.
fn parts(template: &str) -> Vec<api::ReplyPart> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        match PLACEHOLDERS.iter().find(|(name, _)| rest.starts_with(name)) {
            Some((name, part)) => {
                if !text.is_empty() {
                    parts.push(api::ReplyPart::Text(std::mem::take(&mut text)));
                }
                parts.push(part.clone());
                rest = &rest[name.len()..];
            }
            None => {
                text.push('{');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(api::ReplyPart::Text(text));
    }
    parts
}

/// An upload spec handed back to a 0.2 `parse-upload`: its context out of the params.
pub fn upload_spec(spec: &api::UploadSpec) -> old::UploadSpec {
    old::UploadSpec {
        pkg: spec.pkg.clone().convert(),
        context: param(&spec.params, CONTEXT).unwrap_or_default(),
        max_size: spec.max_size,
    }
}

/// The input of a 0.2 `render-index`, with the request rebuilt from what the route put
/// into the params: a GET of that path and query, from the mount's owner and base URL.
/// Headers and user are not part of the cache key, so the rendering never sees them.
pub fn index_input(input: &api::IndexInput) -> old::IndexInput {
    let params = &input.spec.params;
    let request = old::Request {
        method: old::Method::Get,
        path: param(params, PATH).unwrap_or_default(),
        query: params
            .iter()
            .filter_map(|(name, value)| {
                Some((name.strip_prefix(QUERY)?.to_string(), value.clone()))
            })
            .collect(),
        headers: Vec::new(),
        owner: input.owner.clone(),
        base_url: input.base_url.clone(),
        user: None,
    };
    let spec = &input.spec;
    old::IndexInput {
        request,
        spec: old::IndexSpec {
            pkg: spec.pkg.clone().convert(),
            view: spec.view.clone(),
            argument: param(params, ARGUMENT).unwrap_or_default(),
            digest_of: spec.digest_of.convert(),
            listing: spec.listing.clone().convert(),
        },
        detail: input.detail.clone().convert(),
        listing: input.listing.clone().convert(),
        listing_total: input.listing_total,
    }
}

fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old_pkg() -> old::PackageRef {
        old::PackageRef {
            owner: "alice".into(),
            name: "app".into(),
        }
    }

    fn old_file() -> old::FileRef {
        old::FileRef {
            version: old::VersionRef {
                pkg: old_pkg(),
                version: "1.0".into(),
            },
            name: "app.tgz".into(),
        }
    }

    fn old_digest() -> old::Digest {
        old::Digest {
            algorithm: old::HashAlgorithm::Sha256,
            hex: "ab".into(),
        }
    }

    fn request() -> api::Request {
        api::Request {
            method: api::Method::Get,
            path: "/app/tags/list".into(),
            query: vec![("n".into(), "2".into()), ("last".into(), "v1".into())],
            headers: vec![("accept".into(), "application/json".into())],
            owner: None,
            base_url: "http://h/v2".into(),
            user: Some("bob".into()),
        }
    }

    fn up(operation: old::Operation) -> api::Operation {
        let route = old::Route {
            operation,
            access: old::Access::Write,
            reply: None,
            error_codes: vec![(404, "BLOB_UNKNOWN".into())],
        };
        let route = route_of(route);
        assert!(matches!(route.access, api::Access::Write));
        assert_eq!(route.error_codes, [(404, "BLOB_UNKNOWN".to_string())]);
        route.operation
    }

    fn route_of(r: old::Route) -> api::Route {
        route(r, &request())
    }

    fn served(operation: api::Operation) -> (api::Selector, Option<api::HashAlgorithm>) {
        match operation {
            api::Operation::Serve(spec) => (spec.selector, spec.digest_of),
            other => panic!("not a serve: {other:?}"),
        }
    }

    #[test]
    fn the_five_serves_become_serve_with_a_selector() {
        let (s, d) = served(up(old::Operation::ServeFile(old_file())));
        assert!(
            matches!(&s, api::Selector::File(f) if f.name == "app.tgz" && f.version.version == "1.0")
        );
        assert_eq!(d, None);
        let (s, _) = served(up(old::Operation::ServeFileByName(old::FileByName {
            pkg: old_pkg(),
            name: "app.tgz".into(),
        })));
        assert!(
            matches!(&s, api::Selector::PackageFile(p) if p.pkg.name == "app" && p.name == "app.tgz")
        );
        let (s, _) = served(up(old::Operation::ServeBlob(old::BlobRef {
            pkg: old_pkg(),
            digest: old_digest(),
        })));
        assert!(matches!(&s, api::Selector::Blob(b) if b.digest.hex == "ab"));
        let (s, _) = served(up(old::Operation::ServeTag(old::TaggedFile {
            tag: old::TagRef {
                pkg: old_pkg(),
                tag: "v1".into(),
            },
            name: "manifest".into(),
        })));
        assert!(
            matches!(&s, api::Selector::Tagged(t) if t.tag.tag == "v1" && t.name == "manifest")
        );
        let (s, d) = served(up(old::Operation::ServeFileDigest(old::FileDigestRef {
            file: old_file(),
            algorithm: old::HashAlgorithm::Sha1,
        })));
        assert!(matches!(&s, api::Selector::File(f) if f.name == "app.tgz"));
        assert_eq!(d, Some(api::HashAlgorithm::Sha1));
    }

    #[test]
    fn the_five_deletes_become_delete_with_a_target() {
        use api::DeleteTarget as T;
        let target = |op| match up(op) {
            api::Operation::Delete(target) => target,
            other => panic!("not a delete: {other:?}"),
        };
        assert!(
            matches!(target(old::Operation::DeleteFile(old_file())), T::File(f) if f.name == "app.tgz")
        );
        assert!(matches!(
            target(old::Operation::DeleteVersion(old_file().version)),
            T::Version(v) if v.version == "1.0"
        ));
        assert!(
            matches!(target(old::Operation::DeletePackage(old_pkg())), T::Package(p) if p.name == "app")
        );
        let tag = old::TagRef {
            pkg: old_pkg(),
            tag: "v1".into(),
        };
        assert!(matches!(target(old::Operation::RemoveTag(tag)), T::Tag(t) if t.tag == "v1"));
        let blob = old::BlobRef {
            pkg: old_pkg(),
            digest: old_digest(),
        };
        assert!(
            matches!(target(old::Operation::UnlinkBlob(blob)), T::BlobLink(b) if b.digest.hex == "ab")
        );
    }

    #[test]
    fn other_operations_keep_their_shape() {
        let session = up(old::Operation::UploadSession(old::SessionRequest {
            pkg: old_pkg(),
            id: "s1".into(),
            op: old::SessionOp::Append(Some(5)),
        }));
        assert!(
            matches!(&session, api::Operation::UploadSession(s) if s.id == "s1" && matches!(s.op, api::SessionOp::Append(Some(5))))
        );
        let mount = up(old::Operation::MountBlob(old::MountRequest {
            pkg: old_pkg(),
            digest: old_digest(),
            source: None,
            fallback: Some(old::ReplyTemplate {
                status: 202,
                content_type: String::new(),
                headers: vec![("location".into(), "/uploads/{id}".into())],
                body: String::new(),
            }),
        }));
        let api::Operation::MountBlob(mount) = mount else {
            panic!("not a mount");
        };
        let fallback = mount.fallback.unwrap();
        assert!(
            matches!(&fallback.headers[0].1[..], [api::ReplyPart::Text(t), api::ReplyPart::SessionId] if t == "/uploads/")
        );
        let token = up(old::Operation::IssueToken(old::TokenRequest {
            name: "t".into(),
            persistent: true,
            user: None,
        }));
        assert!(matches!(token, api::Operation::IssueToken(t) if t.persistent));
        assert!(matches!(
            up(old::Operation::NotFound),
            api::Operation::NotFound
        ));
        let respond = up(old::Operation::Respond(old::Response {
            status: 200,
            content_type: "text/plain".into(),
            headers: Vec::new(),
            body: b"hi".to_vec(),
        }));
        assert!(matches!(respond, api::Operation::Respond(r) if r.body == b"hi"));
    }

    #[test]
    fn upload_context_travels_as_a_param_and_back() {
        let op = up(old::Operation::AcceptUpload(old::UploadSpec {
            pkg: old_pkg(),
            context: "app.tgz".into(),
            max_size: 10,
        }));
        let api::Operation::AcceptUpload(spec) = op else {
            panic!("not an upload");
        };
        assert_eq!(
            spec.params,
            [("context".to_string(), "app.tgz".to_string())]
        );
        let back = upload_spec(&spec);
        assert_eq!(back.context, "app.tgz");
        assert_eq!((back.pkg.owner.as_str(), back.max_size), ("alice", 10));
        // A current spec without the param (never made by this layer) hands back "".
        let bare = api::UploadSpec {
            params: Vec::new(),
            ..spec
        };
        assert_eq!(upload_spec(&bare).context, "");
    }

    fn index_route() -> api::IndexSpec {
        let op = up(old::Operation::RenderIndex(old::IndexSpec {
            pkg: Some(old_pkg()),
            view: "tags".into(),
            argument: "a\0b".into(),
            digest_of: Some(old::HashAlgorithm::Md5),
            listing: Some(old::ListingSpec {
                filter: "x".into(),
                offset: 1,
                limit: 2,
                all_versions: true,
                after: "m".into(),
            }),
        }));
        let api::Operation::RenderIndex(spec) = op else {
            panic!("not an index");
        };
        spec
    }

    #[test]
    fn index_routes_key_on_the_argument_path_and_query() {
        let spec = index_route();
        let pairs: Vec<(&str, &str)> = spec
            .params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("argument", "a\0b"),
                ("path", "/app/tags/list"),
                ("query.n", "2"),
                ("query.last", "v1"),
            ]
        );
        assert_eq!(spec.view, "tags");
        assert_eq!(spec.digest_of, Some(api::HashAlgorithm::Md5));
        assert!(matches!(&spec.listing, Some(l) if l.all_versions && l.after == "m"));
    }

    #[test]
    fn a_0_2_render_gets_the_request_rebuilt_from_the_params() {
        let spec = index_route();
        let input = api::IndexInput {
            base_url: "http://h/v2".into(),
            owner: Some("alice".into()),
            spec,
            detail: Some(api::PackageDetail {
                pkg: api::PackageRef {
                    owner: "alice".into(),
                    name: "app".into(),
                },
                created: 1,
                modified: 2,
                versions: vec![api::VersionDetail {
                    version: "1.0".into(),
                    metadata: "{}".into(),
                    created: 3,
                    downloads: 4,
                    files: vec![api::FileInfo {
                        name: "app.tgz".into(),
                        size: 5,
                        lead: true,
                        content_type: "application/gzip".into(),
                        digests: Vec::new(),
                        created: 6,
                    }],
                    properties: Vec::new(),
                }],
                tags: vec![("latest".into(), "1.0".into())],
            }),
            listing: Vec::new(),
            listing_total: 9,
            rendered_at: 1_700_000_000,
        };
        let old = index_input(&input);
        let r = &old.request;
        assert!(matches!(r.method, old::Method::Get));
        assert_eq!(r.path, "/app/tags/list");
        assert_eq!(
            r.query,
            [
                ("n".to_string(), "2".to_string()),
                ("last".to_string(), "v1".to_string())
            ]
        );
        assert!(r.headers.is_empty());
        assert_eq!(r.user, None);
        assert_eq!(r.owner.as_deref(), Some("alice"));
        assert_eq!(r.base_url, "http://h/v2");
        assert_eq!(old.spec.argument, "a\0b");
        assert_eq!(old.spec.view, "tags");
        assert!(matches!(old.spec.digest_of, Some(old::HashAlgorithm::Md5)));
        assert!(
            matches!(&old.spec.listing, Some(l) if l.filter == "x" && l.offset == 1 && l.limit == 2)
        );
        let detail = old.detail.unwrap();
        assert_eq!(detail.versions[0].files[0].size, 5);
        assert_eq!(detail.tags, [("latest".to_string(), "1.0".to_string())]);
        assert_eq!(old.listing_total, 9);
    }

    #[test]
    fn placeholders_become_reply_parts() {
        use api::ReplyPart as P;
        let template = old::ReplyTemplate {
            status: 201,
            content_type: "application/json".into(),
            headers: vec![
                ("range".into(), "0-{end}".into()),
                ("docker-content-digest".into(), "{digest}".into()),
            ],
            body: r#"{"token":"{token}","size":{size},"sha":"{sha256}","x":"{other}"}"#.into(),
        };
        let t: api::ReplyTemplate = template.convert();
        assert_eq!(
            (t.status, t.content_type.as_str()),
            (201, "application/json")
        );
        assert!(matches!(&t.headers[0].1[..], [P::Text(a), P::ReceivedEnd] if a == "0-"));
        assert!(matches!(&t.headers[1].1[..], [P::Digest]));
        assert!(matches!(&t.body[..], [
            P::Text(a), P::Token, P::Text(b), P::Size, P::Text(c), P::Sha256, P::Text(d)
        ] if a == r#"{"token":""# && b == r#"","size":"# && c == r#","sha":""#
            && d == r#"","x":"{other}"}"#));
        assert!(parts("").is_empty());
        assert!(matches!(&parts("{")[..], [P::Text(t)] if t == "{"));
        assert!(matches!(
            &parts("{id}{id}")[..],
            [P::SessionId, P::SessionId]
        ));
    }
}
