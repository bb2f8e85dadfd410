//! Guest SDK for Wharf format plugins.
//!
//! Owns the generated `wharf:format` bindings so that every plugin crate holds only its
//! format's logic. A plugin implements [`Plugin`] and calls [`export!`]. The helpers
//! here keep the common shapes (errors, responses, routes, path segments) one-liners;
//! [`testing`] runs a plugin's code natively under `cargo test`. `docs/plugins.md`
//! explains the contract and how to build, load and debug a plugin.

#[cfg(any(feature = "zip", feature = "tar"))]
pub mod archive;
pub mod digest;
#[cfg(feature = "json")]
pub mod json;
pub mod members;
pub mod multipart;
pub mod pages;
pub mod params;
mod plan;
pub mod reply;
pub mod settings;
pub mod testing;
pub mod time;
mod upload;
pub mod upstream;
#[cfg(feature = "xml")]
pub mod xml;
#[cfg(feature = "yaml")]
pub mod yaml;

pub use upload::{UploadBody, UploadReader};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        // Every optional interface is exported; a plugin that does not implement one
        // gets the SDK's "not supported" answer from `export!`.
        world: "format-full",
        pub_export_macro: true,
        // Tests compare plans, digests and operations as values.
        additional_derives: [PartialEq, Eq],
        default_bindings_module: "wharf_plugin_sdk::bindings",
    });
}

pub use bindings::exports::wharf::format::group::{Guest as Group, MemberDocument, MergeInput};
pub use bindings::exports::wharf::format::pages::{
    Field, FieldValue, Guest as Pages, Markup, PackagePage, PageInput, ReadmeFile, ReadmeSource,
    ReadmeText, Snippet,
};
pub use bindings::exports::wharf::format::plugin::{
    BearerChallenge, BlobRef, BlobReference, ByteRange, Challenge, DeleteTarget, Descriptor,
    ErrorStyle, FileInfo, FileSource, Guest as Plugin, IndexInput, IndexSpec, IntegerRange,
    ListingSpec, MountRequest, Operation, OwnerFile, PackageDetail, PackageFile, PlanFile,
    PlanVersion, PublishPlan, ReplyPart, ReplyTemplate, Route, Selector, ServeSpec, SessionOp,
    SessionRequest, SettingDecl, SettingKind, TagChange, TagRef, TaggedFile, TokenRequest,
    UploadSpec, VersionDetail, VersionMode,
};
pub use bindings::exports::wharf::format::proxy::{
    ArtifactPlan, ArtifactSource, DeclaredArtifact, FetchPlan, Guest as Proxy, RewriteInput,
    Rewritten, UpstreamFetch, UpstreamRequest,
};
pub use bindings::wharf::format::host::{self, LogLevel, Upload, VersionInfo};
pub use bindings::wharf::format::types::{
    Access, Digest, FileRef, HashAlgorithm, Method, PackageRef, PluginError, Request, Response,
    SettingValue, VersionRef,
};
pub use pages::NoPages;

/// The contract version this SDK was generated from; report it in [`Descriptor::contract`].
pub const CONTRACT_VERSION: &str = "0.3.2";

/// Exports a type implementing [`Plugin`] as the component's `wharf:format/plugin`, and
/// the optional interfaces it implements: `export!(Npm)` for a format with none of
/// them, `export!(Npm with Proxy, Group, Pages)` (any of the three, in any order) for
/// one whose type also implements [`Proxy`], [`Group`] and [`Pages`], by hand or with
/// [`impl_proxy!`], [`impl_group!`] and [`impl_pages!`]. An interface the type does not
/// implement is exported answering "not supported", which is how the host tells
/// (`supports-proxy`, `supports-groups`, `supports-pages`).
///
/// Only for WebAssembly: the export symbols' names (`wharf:format/plugin@0.3.2#…`) are
/// not valid in a native shared library, and native builds exist only to run unit
/// tests, which call the trait functions directly. So a plugin crate can be a
/// `cdylib` (what `cargo build --target wasm32-wasip2` turns into a component) and
/// still build natively in a workspace.
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        $crate::export!(@with $ty; $crate::NoProxy; $crate::NoGroup; $crate::NoPages);
    };
    ($ty:ident with $($interface:ident),+ $(,)?) => {
        $crate::export!(
            @pick $ty; [$crate::NoProxy] [$crate::NoGroup] [$crate::NoPages]; $($interface)+
        );
    };
    // Each named interface replaces its "not supported" stand-in by the type itself; a
    // name that is none of the three matches no rule, which is the compile error.
    (@pick $ty:ident; [$proxy:ty] [$group:ty] [$pages:ty]; Proxy $($rest:ident)*) => {
        $crate::export!(@pick $ty; [$ty] [$group] [$pages]; $($rest)*);
    };
    (@pick $ty:ident; [$proxy:ty] [$group:ty] [$pages:ty]; Group $($rest:ident)*) => {
        $crate::export!(@pick $ty; [$proxy] [$ty] [$pages]; $($rest)*);
    };
    (@pick $ty:ident; [$proxy:ty] [$group:ty] [$pages:ty]; Pages $($rest:ident)*) => {
        $crate::export!(@pick $ty; [$proxy] [$group] [$ty]; $($rest)*);
    };
    (@pick $ty:ident; [$proxy:ty] [$group:ty] [$pages:ty];) => {
        $crate::export!(@with $ty; $proxy; $group; $pages);
    };
    (@with $ty:ident; $proxy:ty; $group:ty; $pages:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Exports;
            impl $crate::Plugin for Exports {
                fn describe() -> $crate::Descriptor {
                    <$ty as $crate::Plugin>::describe()
                }
                fn match_route(request: $crate::Request) -> Result<$crate::Route, $crate::PluginError> {
                    <$ty as $crate::Plugin>::match_route(request)
                }
                fn parse_upload(
                    request: $crate::Request,
                    spec: $crate::UploadSpec,
                    body: &$crate::Upload,
                ) -> Result<$crate::PublishPlan, $crate::PluginError> {
                    <$ty as $crate::Plugin>::parse_upload(request, spec, body)
                }
                fn render_index(input: $crate::IndexInput) -> Result<$crate::Response, $crate::PluginError> {
                    <$ty as $crate::Plugin>::render_index(input)
                }
            }
            impl $crate::Proxy for Exports {
                fn supports_proxy() -> bool {
                    <$proxy as $crate::Proxy>::supports_proxy()
                }
                fn plan(
                    operation: $crate::Operation,
                    request: $crate::Request,
                ) -> Result<$crate::FetchPlan, $crate::PluginError> {
                    <$proxy as $crate::Proxy>::plan(operation, request)
                }
                fn rewrite(input: $crate::RewriteInput) -> Result<$crate::Rewritten, $crate::PluginError> {
                    <$proxy as $crate::Proxy>::rewrite(input)
                }
            }
            impl $crate::Group for Exports {
                fn supports_groups() -> bool {
                    <$group as $crate::Group>::supports_groups()
                }
                fn merge(input: $crate::MergeInput) -> Result<$crate::Response, $crate::PluginError> {
                    <$group as $crate::Group>::merge(input)
                }
            }
            impl $crate::Pages for Exports {
                fn supports_pages() -> bool {
                    <$pages as $crate::Pages>::supports_pages()
                }
                fn describe(input: $crate::PageInput) -> Result<$crate::PackagePage, $crate::PluginError> {
                    <$pages as $crate::Pages>::describe(input)
                }
            }
            $crate::bindings::export!(Exports);
        };
        // Natively, what the exports would call stays live code (no dead-code warnings).
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code, reason = "a liveness root standing in for the exports")]
            fn exports() {
                let _ = (
                    <$ty as $crate::Plugin>::describe,
                    <$ty as $crate::Plugin>::match_route,
                    <$ty as $crate::Plugin>::parse_upload,
                    <$ty as $crate::Plugin>::render_index,
                    <$proxy as $crate::Proxy>::plan,
                    <$proxy as $crate::Proxy>::rewrite,
                    <$group as $crate::Group>::merge,
                    <$pages as $crate::Pages>::describe,
                );
            }
        };
    };
}

/// Implements [`Proxy`] for a format type whose proxy code lives in functions of its
/// own: `supports-proxy` answers true, and `plan` and `rewrite` call `$plan` and
/// `$rewrite`, functions or closures (without captures) taking the contract's
/// arguments, in the contract's order:
///
/// ```
/// # struct Npm;
/// # mod proxy {
/// #     use wharf_plugin_sdk::*;
/// #     pub fn plan(_: &Operation) -> FetchPlan { FetchPlan::NotFound }
/// #     pub fn rewrite(input: &RewriteInput) -> Result<Rewritten, PluginError> {
/// #         Ok(Rewritten { response: input.upstream.clone(), declares: Vec::new() })
/// #     }
/// # }
/// wharf_plugin_sdk::impl_proxy!(
///     Npm,
///     |operation, _request| Ok(proxy::plan(&operation)),
///     |input| proxy::rewrite(&input)
/// );
/// # use wharf_plugin_sdk::Proxy;
/// # assert!(Npm::supports_proxy());
/// ```
///
/// It writes the impl block a format would otherwise write by hand, no more; write
/// that block instead when the code is not a call (`plugins/generic` does).
#[macro_export]
macro_rules! impl_proxy {
    ($ty:ty, $plan:expr, $rewrite:expr $(,)?) => {
        impl $crate::Proxy for $ty {
            fn supports_proxy() -> bool {
                true
            }
            fn plan(
                operation: $crate::Operation,
                request: $crate::Request,
            ) -> ::core::result::Result<$crate::FetchPlan, $crate::PluginError> {
                let plan: fn(
                    $crate::Operation,
                    $crate::Request,
                )
                    -> ::core::result::Result<$crate::FetchPlan, $crate::PluginError> = $plan;
                plan(operation, request)
            }
            fn rewrite(
                input: $crate::RewriteInput,
            ) -> ::core::result::Result<$crate::Rewritten, $crate::PluginError> {
                let rewrite: fn(
                    $crate::RewriteInput,
                )
                    -> ::core::result::Result<$crate::Rewritten, $crate::PluginError> = $rewrite;
                rewrite(input)
            }
        }
    };
}

/// Implements [`Group`] for a format type: `supports-groups` answers true, and `merge`
/// calls `$merge`, a function or closure (without captures) taking the contract's
/// [`MergeInput`]: `wharf_plugin_sdk::impl_group!(Npm, group::merge);`, or
/// `impl_group!(Maven, |input| group::merge(&input))`. Like [`impl_proxy!`], it writes
/// the impl block a format would otherwise write by hand, no more.
#[macro_export]
macro_rules! impl_group {
    ($ty:ty, $merge:expr $(,)?) => {
        impl $crate::Group for $ty {
            fn supports_groups() -> bool {
                true
            }
            fn merge(
                input: $crate::MergeInput,
            ) -> ::core::result::Result<$crate::Response, $crate::PluginError> {
                let merge: fn(
                    $crate::MergeInput,
                )
                    -> ::core::result::Result<$crate::Response, $crate::PluginError> = $merge;
                merge(input)
            }
        }
    };
}

/// The `proxy` export of a format without proxy repositories.
pub struct NoProxy;

impl Proxy for NoProxy {
    fn supports_proxy() -> bool {
        false
    }
    fn plan(_: Operation, _: Request) -> Result<FetchPlan, PluginError> {
        Err(not_supported("proxy repositories"))
    }
    fn rewrite(_: RewriteInput) -> Result<Rewritten, PluginError> {
        Err(not_supported("proxy repositories"))
    }
}

/// The `group` export of a format that does not merge group documents.
pub struct NoGroup;

impl Group for NoGroup {
    fn supports_groups() -> bool {
        false
    }
    fn merge(_: MergeInput) -> Result<Response, PluginError> {
        Err(not_supported("group documents"))
    }
}

/// What the "not supported" exports answer, should a host call them anyway.
fn not_supported(what: &str) -> PluginError {
    PluginError {
        status: 501,
        code: "UNSUPPORTED".to_string(),
        message: format!("this format does not support {what}"),
    }
}

impl Descriptor {
    /// The common shape: plain-text errors, a Basic challenge, no extra digests,
    /// case-insensitive names. Adjust fields for formats that differ.
    pub fn basic(name: &str) -> Self {
        Self {
            name: name.to_string(),
            contract: CONTRACT_VERSION.to_string(),
            error_style: ErrorStyle::PlainText,
            challenge: Challenge::Basic("Wharf Package API".to_string()),
            digests: Vec::new(),
            case_insensitive_names: true,
            response_headers: Vec::new(),
            credential_headers: Vec::new(),
            error_codes: Vec::new(),
            settings: Vec::new(),
        }
    }
}

/// The OCI distribution spec's codes for failures the host detects on any route
/// (refused credentials, rate limits, a full disk), for formats answering in its error
/// envelope (OCI, and cargo, which reads the same shape from crates.io). Statuses not
/// listed get the envelope's default `UNSUPPORTED`.
pub const DISTRIBUTION_ERROR_CODES: &[(u16, &str)] = &[
    (401, "UNAUTHORIZED"),
    (403, "DENIED"),
    (404, "NAME_UNKNOWN"),
    (405, "UNSUPPORTED"),
    (413, "SIZE_INVALID"),
    (416, "BLOB_UPLOAD_INVALID"),
    (429, "TOOMANYREQUESTS"),
    (503, "UNAVAILABLE"),
    // The spec fixes codes for 4xx only; `UNAVAILABLE` is the one Docker's and
    // containerd's error registries know for a registry that cannot serve for now:
    // they print the message and retry, which is right for space an operator can free.
    (507, "UNAVAILABLE"),
];

impl Descriptor {
    /// Answers errors in the `{"errors":[{code,message,detail}]}` envelope, with these
    /// format-wide codes for the host's own failures.
    pub fn error_envelope(mut self, codes: &[(u16, &str)]) -> Self {
        self.error_style = ErrorStyle::ErrorEnvelope;
        self.error_codes = codes
            .iter()
            .map(|(status, code)| (*status, code.to_string()))
            .collect();
        self
    }
}

impl PluginError {
    /// An error with an HTTP status and a message for the client.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            code: String::new(),
            message: message.into(),
        }
    }

    /// An error carrying the protocol's machine-readable code too.
    pub fn with_code(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// 405, for a path that exists with another method.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "method not allowed")
    }

    /// 413, for a body the format refuses by size (the host enforces `max-size` itself).
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, message)
    }

    /// 500, for a broken invariant of the plugin itself. The message reaches the client
    /// like any other; prefer a trap (panic) for bugs, which the host logs.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }
}

impl Response {
    /// A response with a body and its content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// `200 OK` with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, "application/json", body)
    }

    /// The host's default reply to a publish: `201 Created`, empty body.
    pub fn created() -> Self {
        Self::new(0, "", Vec::new())
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

impl Operation {
    /// Store the request body, then call `parse-upload` with `params` (the plugin's own
    /// words for what the upload is); `max_size` 0 means the format's configured limit.
    pub fn accept_upload(pkg: PackageRef, params: &[(&str, &str)], max_size: u64) -> Self {
        Self::AcceptUpload(UploadSpec {
            pkg,
            params: params::owned(params),
            max_size,
        })
    }

    /// Stream what `selector` names.
    pub fn serve(selector: Selector) -> Self {
        Self::Serve(ServeSpec {
            selector,
            digest_of: None,
        })
    }

    /// Serve the `algorithm` digest of what `selector` names, as hex text.
    pub fn serve_digest(selector: Selector, algorithm: HashAlgorithm) -> Self {
        Self::Serve(ServeSpec {
            selector,
            digest_of: Some(algorithm),
        })
    }
}

impl Route {
    /// A route needing `access`, answered the host's default way.
    pub fn new(operation: Operation, access: Access) -> Self {
        Self {
            operation,
            access,
            reply: None,
            error_codes: Vec::new(),
        }
    }

    /// Names the protocol code of each failure status the host may hit executing this
    /// route (OCI `(404, "BLOB_UNKNOWN")`).
    pub fn error_codes(mut self, codes: &[(u16, &str)]) -> Self {
        self.error_codes = codes
            .iter()
            .map(|(status, code)| (*status, code.to_string()))
            .collect();
        self
    }

    pub fn read(operation: Operation) -> Self {
        Self::new(operation, Access::Read)
    }

    pub fn write(operation: Operation) -> Self {
        Self::new(operation, Access::Write)
    }

    pub fn public(operation: Operation) -> Self {
        Self::new(operation, Access::None)
    }

    /// Any signed-in caller, whatever the owner.
    pub fn authenticated(operation: Operation) -> Self {
        Self::new(operation, Access::Authenticated)
    }

    pub fn not_found() -> Self {
        Self::public(Operation::NotFound)
    }

    /// Answers a host-executed operation with `template` instead of the host's default.
    pub fn reply(mut self, template: ReplyTemplate) -> Self {
        self.reply = Some(template);
        self
    }
}

impl ReplyTemplate {
    /// A reply with this status and body, written with [`reply::parts`]'s placeholders
    /// (`{token}`, `{size}`, `{sha256}`, `{id}`, `{end}`, `{digest}`).
    pub fn new(status: u16, content_type: &str, body: &str) -> Self {
        Self {
            status,
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body: reply::parts(body),
        }
    }

    /// `200 OK` with a JSON body (placeholders as for [`ReplyTemplate::new`]).
    pub fn json(body: &str) -> Self {
        Self::new(200, "application/json", body)
    }

    /// Adds a header (placeholders as for [`ReplyTemplate::new`]).
    pub fn header(self, name: &str, value: &str) -> Self {
        self.header_parts(name, reply::parts(value))
    }

    /// Adds a header made of these parts (e.g. [`reply::text`] for a value built from
    /// data, followed by a placeholder part).
    pub fn header_parts(mut self, name: &str, parts: Vec<ReplyPart>) -> Self {
        self.headers.push((name.to_string(), parts));
        self
    }
}

impl Request {
    /// The owner from the mount; formats mounted under `/api/packages/{owner}` always have one.
    pub fn mount_owner(&self) -> Result<String, PluginError> {
        self.owner
            .clone()
            .ok_or_else(|| PluginError::new(500, "this format must be mounted below an owner"))
    }

    /// A request header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter by name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path split on `/` with every segment percent-decoded. `None` when a segment
    /// is not valid UTF-8 after decoding or decodes to contain a `/`, which no format
    /// accepts inside a single segment.
    pub fn segments(&self) -> Option<Vec<String>> {
        let trimmed = self.path.trim_start_matches('/');
        if trimmed.is_empty() {
            return Some(Vec::new());
        }
        trimmed
            .split('/')
            .map(percent_decode)
            .collect::<Option<Vec<_>>>()
    }
}

/// Decodes `%XX` escapes; `None` for malformed escapes or invalid UTF-8, and for an
/// escaped `/` so that encoded separators cannot smuggle extra path segments.
pub fn percent_decode(segment: &str) -> Option<String> {
    decode(segment, false)
}

/// Like [`percent_decode`], but lets `%2F` through, for formats whose names contain a
/// slash that clients escape (npm's `@scope%2fname`). The caller must validate the result.
pub fn percent_decode_keeping_slashes(segment: &str) -> Option<String> {
    decode(segment, true)
}

fn decode(segment: &str, allow_slash: bool) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if value == b'/' && !allow_slash {
                return None;
            }
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Writes a line to the host log, tagged with the plugin's name. Outside WebAssembly
/// (native unit tests) there is no host: the line goes to stderr.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_escapes_and_rejects_encoded_separators() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%40scope").as_deref(), Some("@scope"));
        assert_eq!(percent_decode("a%2fb"), None);
        assert_eq!(
            super::percent_decode_keeping_slashes("@s%2Fa").as_deref(),
            Some("@s/a")
        );
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("cut%4"), None);
    }
}
