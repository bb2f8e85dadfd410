//! What 0.3 reshaped in routes: operations (one `serve` with a selector, one `delete`
//! with a target), typed parameters instead of the packed upload context, and typed
//! reply parts instead of placeholders. Index specs are [`super::index`]'s.

use super::index::{index_spec, param};
use super::{Convert, old, records, variants};
use crate::plugins::api;

/// Parameter that carries 0.2's upload `context`.
const CONTEXT: &str = "context";

records! { old => api:
    BlobRef { pkg, digest }
    TagRef { pkg, tag }
    TaggedFile { tag, name }
    MountRequest { pkg, digest, source, fallback }
    SessionRequest { pkg, id, op }
    TokenRequest { name, persistent, user }
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
        route(r, &super::super::tags_request())
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
        let index = up(old::Operation::RenderIndex(old::IndexSpec {
            pkg: None,
            view: "catalog".into(),
            argument: String::new(),
            digest_of: None,
            listing: None,
        }));
        assert!(
            matches!(&index, api::Operation::RenderIndex(s) if s.view == "catalog"
                && s.params.contains(&("path".to_string(), "/app/tags/list".to_string())))
        );
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
