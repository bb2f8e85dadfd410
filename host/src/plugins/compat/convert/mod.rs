//! Conversions between contract 0.2's generated types (`old`) and the host's own, the
//! current contract's (`api`). Pure functions, no I/O: what goes into a 0.2 plugin is
//! converted down, what comes out is converted up, and the rest of the host only ever
//! sees current types.
//!
//! Records and variants of the same shape on both sides convert field by field
//! ([`Convert`]); what 0.3 changed has a function of its own here and in [`route`].

mod index;
mod route;

pub use index::index_input;
pub use route::{route, upload_spec};

use super::bindings::api as old;
use crate::plugins::api;
use crate::plugins::bindings::wharf::format::host as new_host;

/// A conversion between the two contracts' types. `From` would do for the records, but
/// not for the `Vec`s, `Option`s and tuples that hold them.
pub trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! unchanged {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(self) -> $t {
                self
            }
        }
    )*};
}
unchanged!(String, bool, u8, u16, u32, u64, i64);

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<C>, B: Convert<D>, C, D> Convert<(C, D)> for (A, B) {
    fn convert(self) -> (C, D) {
        (self.0.convert(), self.1.convert())
    }
}

/// Records that are the same on both sides: `from => to: Name { fields }`.
macro_rules! records {
    ($from:ident => $to:ident: $($name:ident { $($field:ident),* $(,)? })*) => {$(
        impl Convert<$to::$name> for $from::$name {
            fn convert(self) -> $to::$name {
                $to::$name { $($field: self.$field.convert()),* }
            }
        }
    )*};
}

/// Variants and enums that are the same on both sides; a case with a payload names it
/// once: `Name { Unit, Case(x) }`.
macro_rules! variants {
    ($from:ident => $to:ident: $($name:ident { $($case:ident $(($x:ident))?),* $(,)? })*) => {$(
        impl Convert<$to::$name> for $from::$name {
            fn convert(self) -> $to::$name {
                match self {
                    $(Self::$case $(($x))? => $to::$name::$case $(($x.convert()))?),*
                }
            }
        }
    )*};
}

pub(super) use {records, variants};

// Both ways: host imports take 0.2 arguments, index inputs carry current ones down.
records! { old => api:
    PackageRef { owner, name }
    VersionRef { pkg, version }
    FileRef { version, name }
    Digest { algorithm, hex }
}
records! { api => old:
    PackageRef { owner, name }
    VersionRef { pkg, version }
    FileRef { version, name }
    Digest { algorithm, hex }
}
variants! { old => api: HashAlgorithm { Md5, Sha1, Sha256, Sha512 } }
variants! { api => old: HashAlgorithm { Md5, Sha1, Sha256, Sha512 } }

// Down: what the host hands a 0.2 plugin.
records! { api => old:
    Request { method, path, query, headers, owner, base_url, user }
    ListingSpec { filter, offset, limit, all_versions, after }
    PackageDetail { pkg, created, modified, versions, tags }
    VersionDetail { version, metadata, created, downloads, files, properties }
    FileInfo { name, size, lead, content_type, digests, created }
}
records! { new_host => old: VersionInfo { version, metadata, created, file_names } }
variants! { api => old: Method { Get, Head, Put, Post, Patch, Delete, Other(m) } }

// Up: what a 0.2 plugin answers.
records! { old => api:
    BearerChallenge { token_path, service }
    PluginError { status, code, message }
    Response { status, content_type, headers, body }
    PublishPlan { pkg, versions, reply }
    PlanVersion { version, mode, metadata, files, tags, properties, references }
    PlanFile { name, source, content_type, lead, overwrite, expect }
    ByteRange { offset, length }
    TagChange { tag, remove }
    BlobReference { digest, size }
}
variants! { old => api:
    Challenge { Basic(realm), Bearer(b) }
    FileSource { Whole, Slice(r), Base64Slice(r), Inline(bytes) }
    VersionMode { Create, CreateOrExtend, CreateOrReplace, Extend, UpdateMetadata, None }
    Access { None, Read, Write, Authenticated }
}
variants! { old => new_host: LogLevel { Error, Warn, Info, Debug } }

/// Request headers that carry a token besides `authorization`. Contract 0.2 fixed the
/// list for every format (its `request.headers` documents that the host strips these),
/// so every 0.2 plugin declares it: the header is NuGet's API key.
const CREDENTIAL_HEADERS: &[&str] = &["x-nuget-apikey"];

/// The codes the 0.2 host gave failures it detected itself, by status, under the error
/// envelope style (0.2 `oci`); 0.3 lets the descriptor declare them.
const ENVELOPE_CODES: &[(u16, &str)] = &[
    (401, "UNAUTHORIZED"),
    (403, "DENIED"),
    (404, "NAME_UNKNOWN"),
    (405, "UNSUPPORTED"),
    (413, "SIZE_INVALID"),
    (416, "BLOB_UPLOAD_INVALID"),
    (429, "TOOMANYREQUESTS"),
    (503, "UNAVAILABLE"),
    (507, "UNAVAILABLE"),
];

/// A 0.2 descriptor as the current contract says the same: what the 0.2 host assumed
/// for every format becomes declared. `contract` stays as the plugin reported it.
pub fn descriptor(d: old::Descriptor) -> api::Descriptor {
    let (error_style, error_codes) = match d.error_style {
        old::ErrorStyle::PlainText => (api::ErrorStyle::PlainText, Vec::new()),
        old::ErrorStyle::JsonField(field) => (api::ErrorStyle::JsonField(field), Vec::new()),
        old::ErrorStyle::Oci => (
            api::ErrorStyle::ErrorEnvelope,
            ENVELOPE_CODES
                .iter()
                .map(|(status, code)| (*status, code.to_string()))
                .collect(),
        ),
    };
    api::Descriptor {
        name: d.name,
        contract: d.contract,
        error_style,
        challenge: d.challenge.convert(),
        digests: d.digests.convert(),
        case_insensitive_names: d.case_insensitive_names,
        response_headers: d.response_headers,
        credential_headers: CREDENTIAL_HEADERS.iter().map(|h| h.to_string()).collect(),
        error_codes,
        settings: Vec::new(),
    }
}

/// A 0.2 call's result: the plugin's refusal converts like its answer.
pub fn result<A: Convert<B>, B>(
    result: Result<A, old::PluginError>,
) -> Result<B, api::PluginError> {
    result.map(Convert::convert).map_err(Convert::convert)
}

/// A routed request with a query, as the route tests route it: `GET
/// /app/tags/list?n=2&last=v1` below an owner-less mount, with a header and a user.
#[cfg(test)]
fn tags_request() -> api::Request {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn old_descriptor(error_style: old::ErrorStyle) -> old::Descriptor {
        old::Descriptor {
            name: "legacy".into(),
            contract: "0.2.0".into(),
            error_style,
            challenge: old::Challenge::Bearer(old::BearerChallenge {
                token_path: "/v2/token".into(),
                service: "wharf".into(),
            }),
            digests: vec![old::HashAlgorithm::Sha256, old::HashAlgorithm::Sha512],
            case_insensitive_names: true,
            response_headers: vec![("x-api".into(), "2".into())],
        }
    }

    #[test]
    fn the_envelope_style_gets_the_codes_the_0_2_host_used() {
        let d = descriptor(old_descriptor(old::ErrorStyle::Oci));
        assert!(matches!(d.error_style, api::ErrorStyle::ErrorEnvelope));
        let code = |status| {
            d.error_codes
                .iter()
                .find(|(s, _)| *s == status)
                .map(|(_, c)| c.as_str())
        };
        assert_eq!(code(401), Some("UNAUTHORIZED"));
        assert_eq!(code(404), Some("NAME_UNKNOWN"));
        assert_eq!(code(416), Some("BLOB_UPLOAD_INVALID"));
        assert_eq!(code(507), Some("UNAVAILABLE"));
        assert_eq!(d.error_codes.len(), 9);
        assert_eq!(d.credential_headers, ["x-nuget-apikey"]);
        assert!(d.settings.is_empty());
        assert_eq!((d.name.as_str(), d.contract.as_str()), ("legacy", "0.2.0"));
        assert!(matches!(&d.challenge, api::Challenge::Bearer(b) if b.token_path == "/v2/token"));
        assert_eq!(
            d.digests,
            [api::HashAlgorithm::Sha256, api::HashAlgorithm::Sha512]
        );
        assert!(d.case_insensitive_names);
        assert_eq!(d.response_headers, [("x-api".to_string(), "2".to_string())]);
    }

    #[test]
    fn other_styles_declare_no_codes_but_the_credential_header() {
        let d = descriptor(old_descriptor(old::ErrorStyle::JsonField("error".into())));
        assert!(matches!(&d.error_style, api::ErrorStyle::JsonField(f) if f == "error"));
        assert!(d.error_codes.is_empty());
        assert_eq!(d.credential_headers, ["x-nuget-apikey"]);
        let d = descriptor(old_descriptor(old::ErrorStyle::PlainText));
        assert!(matches!(d.error_style, api::ErrorStyle::PlainText));
    }

    #[test]
    fn requests_go_down_unchanged() {
        let request = api::Request {
            method: api::Method::Other("PROPFIND".into()),
            path: "/a/b".into(),
            query: vec![("q".into(), "1".into())],
            headers: vec![("accept".into(), "*/*".into())],
            owner: Some("alice".into()),
            base_url: "http://h/api".into(),
            user: Some("bob".into()),
        };
        let old: old::Request = request.convert();
        assert!(matches!(&old.method, old::Method::Other(m) if m == "PROPFIND"));
        assert_eq!(old.path, "/a/b");
        assert_eq!(old.query, [("q".to_string(), "1".to_string())]);
        assert_eq!(old.headers, [("accept".to_string(), "*/*".to_string())]);
        assert_eq!(old.owner.as_deref(), Some("alice"));
        assert_eq!(old.base_url, "http://h/api");
        assert_eq!(old.user.as_deref(), Some("bob"));
        let get: old::Method = api::Method::Get.convert();
        assert!(matches!(get, old::Method::Get));
    }

    #[test]
    fn shared_records_convert_both_ways() {
        let file = api::FileRef {
            version: api::VersionRef {
                pkg: api::PackageRef {
                    owner: "alice".into(),
                    name: "app".into(),
                },
                version: "1.0".into(),
            },
            name: "a.tgz".into(),
        };
        let down: old::FileRef = file.clone().convert();
        assert_eq!(down.version.pkg.owner, "alice");
        let up: api::FileRef = down.convert();
        assert_eq!(
            (
                up.version.pkg.owner,
                up.version.pkg.name,
                up.version.version,
                up.name
            ),
            (
                file.version.pkg.owner,
                file.version.pkg.name,
                file.version.version,
                file.name
            )
        );
        let digest = api::Digest {
            algorithm: api::HashAlgorithm::Sha512,
            hex: "ab".into(),
        };
        let up: api::Digest = Convert::<old::Digest>::convert(digest.clone()).convert();
        assert_eq!((up.algorithm, up.hex), (digest.algorithm, digest.hex));
    }

    #[test]
    fn plans_responses_and_errors_come_up() {
        let plan = old::PublishPlan {
            pkg: old::PackageRef {
                owner: "alice".into(),
                name: "app".into(),
            },
            versions: vec![old::PlanVersion {
                version: "1.0".into(),
                mode: old::VersionMode::CreateOrExtend,
                metadata: "{}".into(),
                files: vec![old::PlanFile {
                    name: "a.tgz".into(),
                    source: old::FileSource::Base64Slice(old::ByteRange {
                        offset: 3,
                        length: 9,
                    }),
                    content_type: "application/gzip".into(),
                    lead: true,
                    overwrite: false,
                    expect: Some(old::Digest {
                        algorithm: old::HashAlgorithm::Sha1,
                        hex: "00".into(),
                    }),
                }],
                tags: vec![old::TagChange {
                    tag: "latest".into(),
                    remove: false,
                }],
                properties: vec![("k".into(), "v".into())],
                references: vec![old::BlobReference {
                    digest: old::Digest {
                        algorithm: old::HashAlgorithm::Sha256,
                        hex: "ff".into(),
                    },
                    size: 7,
                }],
            }],
            reply: old::Response {
                status: 201,
                content_type: "application/json".into(),
                headers: vec![("location".into(), "/x".into())],
                body: b"{}".to_vec(),
            },
        };
        let plan: api::PublishPlan = result(Ok(plan)).unwrap();
        assert_eq!(
            (plan.pkg.owner.as_str(), plan.pkg.name.as_str()),
            ("alice", "app")
        );
        let v = &plan.versions[0];
        assert!(matches!(v.mode, api::VersionMode::CreateOrExtend));
        assert!(matches!(
            v.files[0].source,
            api::FileSource::Base64Slice(api::ByteRange {
                offset: 3,
                length: 9
            })
        ));
        assert_eq!(
            v.files[0].expect.as_ref().unwrap().algorithm,
            api::HashAlgorithm::Sha1
        );
        assert_eq!(v.tags[0].tag, "latest");
        assert_eq!(v.references[0].size, 7);
        assert_eq!(plan.reply.status, 201);
        assert_eq!(plan.reply.body, b"{}");

        let refused: Result<api::Response, _> = result::<old::Response, _>(Err(old::PluginError {
            status: 400,
            code: "BAD".into(),
            message: "no".into(),
        }));
        let e = refused.unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (400, "BAD", "no")
        );
    }
}
