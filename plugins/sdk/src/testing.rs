//! Helpers for unit-testing a plugin natively (`cargo test`), without the host.
//!
//! A plugin's exports are plain Rust functions, so `match-route` and `render-index` can
//! be called directly with a [`request`] and an [`index_input`]. What needs the host is
//! kept behind seams: parse uploads through [`crate::UploadBody`] (a [`FakeUpload`] here,
//! the host's `&Upload` in the guest), and log through [`crate::log`], which prints to
//! stderr outside WebAssembly. The generated host imports (`host::get_version`, …) panic
//! natively; code that calls them is for integration tests against a running host.
//! Proxy and group exports are tested the same way: [`rewrite_input`] and
//! [`merge_input`] build what the host hands `rewrite` and `merge`, and [`page_input`]
//! what it hands `pages.describe`, whose answer [`page_snapshot`] shows for a snapshot.

use std::cell::RefCell;

use crate::upload::UploadBody;
use crate::{
    Digest, FieldValue, FileInfo, FileSource, HashAlgorithm, IndexInput, IndexSpec, Markup,
    MemberDocument, MergeInput, Method, Operation, PackageDetail, PackagePage, PackageRef,
    PageInput, PluginError, ReadmeSource, Request, Response, RewriteInput, Route, SettingValue,
    VersionDetail,
};

thread_local! {
    /// Settings [`with_settings`] gives the code under test on this thread.
    static SETTINGS: RefCell<Vec<(String, SettingValue)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with these settings, as an operator's `[formats.NAME.settings]` would give
/// them; settings not named read as undeclared (the plugin's fallback applies).
pub fn with_settings<R>(settings: &[(&str, SettingValue)], f: impl FnOnce() -> R) -> R {
    let owned = settings
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    let old = SETTINGS.with(|s| std::mem::replace(&mut *s.borrow_mut(), owned));
    let result = f();
    SETTINGS.with(|s| *s.borrow_mut() = old);
    result
}

/// The native stand-in for `host.setting` (see [`crate::settings`]).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn setting(name: &str) -> Option<SettingValue> {
    SETTINGS.with(|s| {
        s.borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    })
}

/// The owner [`request`] names.
pub const OWNER: &str = "alice";

/// The largest `read` the host answers (`wharf:format/host.upload.read`).
const MAX_READ: u32 = 4 << 20;

/// The longest `find` needle the host accepts.
const MAX_NEEDLE: usize = 256;

/// An upload held in memory, answering `read` and `find` as the host does (including
/// its caps), so parsing code sees the same behaviour in tests as in the guest.
#[derive(Debug, Clone, Default)]
pub struct FakeUpload {
    bytes: Vec<u8>,
}

impl FakeUpload {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes the host would store for a plan file with this source. A
    /// `base64-slice` is returned still encoded (the host decodes it while storing).
    ///
    /// # Panics
    /// When a range lies outside the upload (the host fails that plan with a 400).
    pub fn stored(&self, source: &FileSource) -> Vec<u8> {
        let range = |offset: u64, length: u64| {
            let end = offset.checked_add(length).expect("range overflows");
            usize::try_from(offset)
                .ok()
                .zip(usize::try_from(end).ok())
                .and_then(|(start, end)| self.bytes.get(start..end))
                .unwrap_or_else(|| {
                    panic!(
                        "range {offset}+{length} is outside the {}-byte upload",
                        self.bytes.len()
                    )
                })
                .to_vec()
        };
        match source {
            FileSource::Whole => self.bytes.clone(),
            FileSource::Slice(r) | FileSource::Base64Slice(r) => range(r.offset, r.length),
            FileSource::Inline(bytes) => bytes.clone(),
        }
    }
}

impl UploadBody for FakeUpload {
    fn size(&self) -> u64 {
        self.bytes.as_slice().size()
    }

    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        self.bytes.as_slice().read(offset, len)
    }

    fn find(&self, offset: u64, needle: &[u8]) -> Option<u64> {
        self.bytes.as_slice().find(offset, needle)
    }
}

/// Plain bytes read the way the host reads an upload (the same caps), so parsers can
/// be tested on a byte string.
impl UploadBody for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let end = start
            .saturating_add(len.min(MAX_READ) as usize)
            .min(self.len());
        self[start..end].to_vec()
    }

    /// # Panics
    /// For an empty needle or one over 256 bytes, which the host answers with a trap.
    fn find(&self, offset: u64, needle: &[u8]) -> Option<u64> {
        assert!(
            (1..=MAX_NEEDLE).contains(&needle.len()),
            "upload.find needs a needle of 1 to {MAX_NEEDLE} bytes"
        );
        let start = usize::try_from(offset).ok()?;
        self.get(start..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|at| (start + at) as u64)
    }
}

/// A request as the host passes it to `match-route`: `path` below the mount (still
/// percent-encoded), owner [`OWNER`], no headers, query or user. Adjust it with the
/// `with_*` methods.
pub fn request(method: Method, path: &str) -> Request {
    Request {
        method,
        path: path.to_string(),
        query: Vec::new(),
        headers: Vec::new(),
        owner: Some(OWNER.to_string()),
        base_url: format!("http://wharf.test/api/packages/{OWNER}/test"),
        user: None,
    }
}

/// Builders for test requests; the host fills these fields for real requests.
impl Request {
    /// Adds a query parameter (decoded, as the host passes them).
    pub fn with_query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a header; names are lower-case, as the host passes them.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// The owner segment of the mount; `None` for owner-less mounts (`/v2`).
    pub fn with_owner(mut self, owner: Option<&str>) -> Self {
        self.owner = owner.map(str::to_string);
        self
    }

    /// The signed-in user's name.
    pub fn with_user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    /// The absolute URL of the mount, without a trailing slash.
    pub fn with_base_url(mut self, base_url: &str) -> Self {
        self.base_url = base_url.to_string();
        self
    }
}

/// What `render-index` gets for `request` routed by `route` (the plugin's own
/// `match-route`), with `detail`: the spec the route names, as the host hands it on.
pub fn routed_index_input(
    request: Request,
    route: impl FnOnce(&Request) -> Result<Route, PluginError>,
    detail: Option<PackageDetail>,
) -> IndexInput {
    let spec = index_spec(route(&request).expect("the request routes"));
    index_input(request, spec, detail)
}

/// What the host hands `render-index` for a spec naming one package (`detail`, `None`
/// when the package does not exist), for the mount `request` came in on. Only its base
/// URL and owner reach the plugin: the rest is not part of the cache key.
pub fn index_input(request: Request, spec: IndexSpec, detail: Option<PackageDetail>) -> IndexInput {
    IndexInput {
        base_url: request.base_url,
        owner: request.owner,
        spec,
        detail,
        listing: Vec::new(),
        listing_total: 0,
        rendered_at: RENDERED_AT,
    }
}

/// The render time [`index_input`] passes: 2024-01-02T03:04:05Z.
pub const RENDERED_AT: i64 = 1_704_164_645;

/// A stored package of [`OWNER`] with these versions (oldest first), no tags, all
/// times 0.
pub fn package(name: &str, versions: Vec<VersionDetail>) -> PackageDetail {
    PackageDetail {
        pkg: PackageRef {
            owner: OWNER.to_string(),
            name: name.to_string(),
        },
        created: 0,
        modified: 0,
        versions,
        tags: Vec::new(),
    }
}

/// A stored version with its metadata JSON and files, no downloads or properties.
pub fn version(version: &str, metadata: &str, files: Vec<FileInfo>) -> VersionDetail {
    VersionDetail {
        version: version.to_string(),
        metadata: metadata.to_string(),
        created: 0,
        downloads: 0,
        files,
        properties: Vec::new(),
    }
}

/// A stored lead file with its size and sha256 (the host always lists sha256).
pub fn file(name: &str, size: u64, sha256: &str) -> FileInfo {
    FileInfo {
        name: name.to_string(),
        size,
        lead: true,
        content_type: "application/octet-stream".to_string(),
        digests: vec![Digest {
            algorithm: HashAlgorithm::Sha256,
            hex: sha256.to_string(),
        }],
        created: 0,
    }
}

/// The index a route renders (a plugin's `match-route` answer for a read).
///
/// # Panics
/// When the route does anything else.
pub fn index_spec(route: Route) -> IndexSpec {
    match route.operation {
        Operation::RenderIndex(spec) => spec,
        other => panic!("expected an index, got {other:?}"),
    }
}

/// The upstream URL [`rewrite_input`] documents come from, as a proxy's `upstreams`
/// would name it.
pub const UPSTREAM: &str = "https://upstream.test";

/// What `rewrite` receives for the document a proxy fetched for `operation` (what
/// `match-route` answered for the client's request) at `path` below [`UPSTREAM`]: the upstream's 200
/// with this content type and body, for the mount `request` came in on (its base URL,
/// and its owner as the proxy).
pub fn rewrite_input(
    request: Request,
    operation: Operation,
    path: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> RewriteInput {
    RewriteInput {
        base_url: request.base_url,
        owner: request.owner.unwrap_or_default(),
        operation,
        url: format!("{UPSTREAM}{path}"),
        upstream: Response::new(200, content_type, body),
    }
}

/// What `merge` receives for `operation` on the group mount `request` came in on, with
/// the dependency-confusion guard on (as by default); build `members` with [`hosted`]
/// and [`proxied`], in priority order.
pub fn merge_input(
    request: Request,
    operation: Operation,
    members: Vec<MemberDocument>,
) -> MergeInput {
    MergeInput {
        base_url: request.base_url,
        owner: request.owner.unwrap_or_default(),
        operation,
        members,
        confusion_guard: true,
    }
}

/// A hosted member (a user or organization) of a group and its document, `None` when
/// it has none (its 404).
pub fn hosted(owner: &str, document: Option<Response>) -> MemberDocument {
    MemberDocument {
        owner: owner.to_string(),
        hosted: true,
        document,
    }
}

/// A proxy member of a group and its (rewritten) document, `None` when it has none.
pub fn proxied(owner: &str, document: Option<Response>) -> MemberDocument {
    MemberDocument {
        hosted: false,
        ..hosted(owner, document)
    }
}

/// The registry URL [`page_input`] passes.
pub const REGISTRY_URL: &str = "http://wharf.test";

/// What the host hands `pages.describe` for `version` of [`OWNER`]'s package `name`,
/// on the mount `{REGISTRY_URL}/api/packages/{OWNER}/{format}`, without tags (set
/// `base_url` or `tags` for other mounts and tags).
pub fn page_input(format: &str, name: &str, version: VersionDetail) -> PageInput {
    PageInput {
        registry_url: REGISTRY_URL.to_string(),
        base_url: format!("{REGISTRY_URL}/api/packages/{OWNER}/{format}"),
        pkg: PackageRef {
            owner: OWNER.to_string(),
            name: name.to_string(),
        },
        version,
        tags: Vec::new(),
    }
}

/// A package page as a snapshot test records it: each snippet under its title and
/// language, each field on a line (lists one item per line), then the README source.
pub fn page_snapshot(page: &PackagePage) -> String {
    let mut out = String::new();
    for (part, snippets) in [("setup", &page.setup), ("install", &page.install)] {
        for s in snippets {
            out.push_str(&format!(
                "== {part}: {} ({})\n{}\n",
                s.title, s.language, s.code
            ));
        }
    }
    out.push_str("== fields\n");
    for field in &page.fields {
        match &field.value {
            FieldValue::Text(text) => out.push_str(&format!("{}: {text}\n", field.label)),
            FieldValue::Link(url) => out.push_str(&format!("{}: <{url}>\n", field.label)),
            FieldValue::Items(items) => {
                out.push_str(&format!("{}:\n", field.label));
                for item in items {
                    out.push_str(&format!("  - {item}\n"));
                }
            }
            FieldValue::Pairs(pairs) => {
                out.push_str(&format!("{}:\n", field.label));
                for (name, value) in pairs {
                    out.push_str(&format!("  - {name} {value}\n"));
                }
            }
        }
    }
    let markup = |m: &Markup| match m {
        Markup::Markdown => "markdown",
        Markup::Plain => "plain",
    };
    match &page.readme {
        None => out.push_str("== readme: none\n"),
        Some(ReadmeSource::File(f)) => out.push_str(&format!(
            "== readme: file {} ({})\n",
            f.name,
            markup(&f.markup)
        )),
        Some(ReadmeSource::Text(t)) => out.push_str(&format!(
            "== readme: text ({})\n{}\n",
            markup(&t.markup),
            t.text
        )),
    }
    out
}

/// A rendered response as a snapshot test records it: status, content type and
/// headers, then the body. A compact JSON body is shown one value per line, and an XML
/// body on one line one tag per line (so a diff points at what changed), with nothing
/// added or dropped: joining the lines without their indentation gives the served bytes
/// back. Any other body is shown as served, with a marker when it has no final newline
/// (as `git diff` does).
pub fn snapshot(response: &Response) -> String {
    let mut out = format!("{} {}\n", response.status, response.content_type);
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    if let Some(json) = indented_json(&response.body) {
        out.push_str("(compact JSON, one value per line here)\n\n");
        out.push_str(&json);
    } else if let Some(xml) = tag_per_line(&response.body) {
        out.push_str("(XML on one line, one tag per line here)\n\n");
        out.push_str(&xml);
    } else {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(&response.body));
        if !response.body.ends_with(b"\n") {
            out.push_str("\n\\ no newline at end of body\n");
        }
    }
    out
}

/// `body` with a line break between adjacent tags, when it is XML on one line (after
/// an optional `<?xml …?>` line); `None` otherwise. XML text cannot hold a raw `<`, so
/// every `><` is a boundary between tags.
fn tag_per_line(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let (declaration, rest) = match text.split_once('\n') {
        Some((declaration, rest)) if declaration.starts_with("<?xml") => (declaration, rest),
        _ => ("", text),
    };
    if !rest.starts_with('<') || rest.contains('\n') {
        return None;
    }
    let declaration = if declaration.is_empty() {
        String::new()
    } else {
        format!("{declaration}\n")
    };
    Some(declaration + &rest.replace("><", ">\n<") + "\n")
}

/// `body` indented one value per line, when it is an object or array with no
/// whitespace outside its strings (how plugins print JSON); `None` otherwise.
fn indented_json(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if !(text.starts_with('{') || text.starts_with('[')) {
        return None;
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            out.push(c);
            continue;
        }
        match c {
            c if c.is_whitespace() => return None,
            '"' => {
                in_string = true;
                out.push(c);
            }
            // Empty containers stay on one line.
            '{' | '[' if matches!(chars.peek(), Some('}' | ']')) => {
                out.push(c);
                out.push(chars.next()?);
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            c => out.push(c),
        }
    }
    (depth == 0 && !in_string).then(|| out + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ByteRange;

    #[test]
    fn the_fake_upload_answers_like_the_host() {
        let upload = FakeUpload::new(b"abcabc".to_vec());
        assert_eq!(upload.read(4, 10), b"bc");
        assert_eq!(upload.read(9, 10), b"");
        assert_eq!(upload.find(1, b"abc"), Some(3));
        assert_eq!(upload.find(4, b"abc"), None);
        assert_eq!(upload.find(99, b"a"), None);
        let slice = FileSource::Slice(ByteRange {
            offset: 1,
            length: 2,
        });
        assert_eq!(upload.stored(&slice), b"bc");
        assert_eq!(upload.stored(&FileSource::Whole), b"abcabc");
    }

    #[test]
    #[should_panic(expected = "needle of 1 to 256 bytes")]
    fn an_empty_needle_fails_as_in_the_host() {
        FakeUpload::new(b"x".to_vec()).find(0, b"");
    }

    #[test]
    fn requests_are_built_like_the_hosts() {
        let r = request(Method::Get, "/a%2fb")
            .with_query("q", "x y")
            .with_header("Accept", "application/json")
            .with_user("bob");
        assert_eq!(r.owner.as_deref(), Some(OWNER));
        assert_eq!(r.header("accept"), Some("application/json"));
        assert_eq!(r.query_param("q"), Some("x y"));
        assert_eq!(r.user.as_deref(), Some("bob"));
    }

    #[test]
    fn proxy_and_group_inputs_are_built_like_the_hosts() {
        let request = request(Method::Get, "/app").with_owner(Some("public"));
        let input = rewrite_input(request.clone(), Operation::NotFound, "/app", "a/b", "{}");
        assert_eq!(input.url, "https://upstream.test/app");
        assert_eq!(
            (input.owner.as_str(), input.base_url),
            ("public", request.base_url.clone())
        );
        assert_eq!(
            (input.upstream.status, input.upstream.body),
            (200, b"{}".to_vec())
        );
        let merge = merge_input(
            request,
            Operation::NotFound,
            vec![
                hosted("acme", None),
                proxied("public", Some(Response::json("{}"))),
            ],
        );
        assert!(merge.confusion_guard);
        let kinds: Vec<_> = merge
            .members
            .iter()
            .map(|m| (m.hosted, m.document.is_some()))
            .collect();
        assert_eq!(kinds, [(true, false), (false, true)]);
    }

    #[test]
    fn snapshots_break_lines_without_changing_a_byte() {
        let body = r#"{"a":[1,{}],"b\\\"{,":[]}"#;
        let shown = snapshot(&Response::json(body).header("vary", "Accept"));
        assert_eq!(
            shown,
            "200 application/json\nvary: Accept\n(compact JSON, one value per line here)\n\n{\n  \"a\":[\n    1,\n    {}\n  ],\n  \"b\\\\\\\"{,\":[]\n}\n"
        );
        let joined: String = shown.lines().skip(4).map(str::trim_start).collect();
        assert_eq!(joined, body);
        let xml = "<?xml version=\"1.0\"?>\n<a x=\"1\"><b>t &gt; u</b><c/></a>";
        let shown = snapshot(&Response::new(200, "text/xml", xml));
        assert!(
            shown.ends_with(
                "\n\n<?xml version=\"1.0\"?>\n<a x=\"1\">\n<b>t &gt; u</b>\n<c/>\n</a>\n"
            )
        );
        // Whitespace outside strings is not compact JSON: shown as served.
        let spaced = snapshot(&Response::json("{ }"));
        assert!(spaced.ends_with("\n{ }\n\\ no newline at end of body\n"));
    }
}
