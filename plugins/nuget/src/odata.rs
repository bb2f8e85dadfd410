//! The v2 OData feed NuGet.exe and older tools still query: single entries, search
//! and `FindPackagesById`, as Atom with `m:properties` of the `V2FeedPackage` entity
//! that `$metadata` declares (see [`PROPERTIES`]).

use quick_xml::escape::escape;
use wharf_plugin_sdk::params::{flag, number, text};
use wharf_plugin_sdk::time::iso8601;
use wharf_plugin_sdk::{IndexInput, PackageDetail, PluginError, Response};

use crate::metadata::Metadata;
use crate::registration::normalize_range;
use crate::render::{ATOM, Entry, TEXT, Urls, entries, package_hash, position};
use crate::routes::param;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const DATA_NS: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices";
pub const METADATA_NS: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata";
const SCHEME: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme";
pub const ENTITY_TYPE: &str = "V2FeedPackage";
/// The entity type with its schema namespace, as categories and `$metadata` name it.
pub const QUALIFIED_TYPE: &str = "NuGetGallery.OData.V2FeedPackage";

/// An EDM property type, as `$metadata` declares it and `m:type` marks values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edm {
    String,
    NullableString,
    Int32,
    Int64,
    Boolean,
    DateTime,
}

impl Edm {
    pub fn name(self) -> &'static str {
        match self {
            Edm::String | Edm::NullableString => "Edm.String",
            Edm::Int32 => "Edm.Int32",
            Edm::Int64 => "Edm.Int64",
            Edm::Boolean => "Edm.Boolean",
            Edm::DateTime => "Edm.DateTime",
        }
    }

    pub fn nullable(self) -> bool {
        self == Edm::NullableString
    }
}

/// The properties of every entry, in order. `$metadata` is rendered from this table,
/// and a test holds entries to it.
pub const PROPERTIES: &[(&str, Edm)] = &[
    ("Id", Edm::String),
    ("Version", Edm::String),
    ("NormalizedVersion", Edm::String),
    ("Authors", Edm::NullableString),
    ("Copyright", Edm::NullableString),
    ("Created", Edm::DateTime),
    ("Dependencies", Edm::NullableString),
    ("Description", Edm::NullableString),
    ("DevelopmentDependency", Edm::Boolean),
    ("DownloadCount", Edm::Int32),
    ("IconUrl", Edm::NullableString),
    ("IsLatestVersion", Edm::Boolean),
    ("IsAbsoluteLatestVersion", Edm::Boolean),
    ("IsPrerelease", Edm::Boolean),
    ("Language", Edm::NullableString),
    ("LastUpdated", Edm::DateTime),
    ("LicenseUrl", Edm::NullableString),
    ("Listed", Edm::Boolean),
    ("MinClientVersion", Edm::NullableString),
    ("PackageHash", Edm::NullableString),
    ("PackageHashAlgorithm", Edm::NullableString),
    ("PackageSize", Edm::Int64),
    ("ProjectUrl", Edm::NullableString),
    ("Published", Edm::DateTime),
    ("ReleaseNotes", Edm::NullableString),
    ("RequireLicenseAcceptance", Edm::Boolean),
    ("Summary", Edm::NullableString),
    ("Tags", Edm::NullableString),
    ("Title", Edm::NullableString),
    ("VersionDownloadCount", Edm::Int32),
];

/// `Packages(Id='…',Version='…')`: one entry of the lower-case `version`.
pub fn entry(
    input: &IndexInput,
    detail: &PackageDetail,
    version: &str,
) -> Result<Response, PluginError> {
    let package = Package::new(detail);
    let index = position(&package.entries, version)?;
    let feed = Feed::new(input);
    let mut xml = Xml::document();
    feed.entry(&mut xml, &package, index, true);
    Ok(atom(xml))
}

/// `Packages()` and `Search()`: every version of every matching id, id by id, each
/// id's versions by precedence, paged over versions.
pub fn search(input: &IndexInput, count: bool) -> Response {
    let params = &input.spec.params;
    let term = text(params, param::TERM);
    let exact = flag(params, param::EXACT);
    // For exact searches the host lists every package; the id comparison is ours.
    let packages: Vec<Package> = input
        .listing
        .iter()
        .filter(|p| !exact || p.pkg.name.eq_ignore_ascii_case(term))
        .map(Package::new)
        .collect();
    let versions = packages
        .iter()
        .flat_map(|p| (0..p.entries.len()).map(move |i| (p, i)));
    let feed = Feed::new(input);
    feed.render("Packages", versions, count)
}

/// `FindPackagesById()`: the versions of one package by precedence, paged.
pub fn versions(input: &IndexInput, detail: &PackageDetail, count: bool) -> Response {
    let package = Package::new(detail);
    let versions = (0..package.entries.len()).map(|i| (&package, i));
    let feed = Feed::new(input);
    feed.render("FindPackagesById", versions, count)
}

fn atom(xml: Xml) -> Response {
    Response::new(200, ATOM, xml.into_string())
}

/// `$skip` and `$top` as the route put them into the params.
#[derive(Clone, Copy)]
struct Paging {
    skip: usize,
    top: usize,
}

/// A package's versions with what entries say about the package as a whole.
struct Package<'a> {
    detail: &'a PackageDetail,
    entries: Vec<Entry<'a>>,
    downloads: u64,
    /// Index of the newest release, `IsLatestVersion` (the newest of all is the last).
    latest_release: Option<usize>,
}

impl<'a> Package<'a> {
    fn new(detail: &'a PackageDetail) -> Self {
        let entries = entries(detail);
        let latest_release = entries.iter().rposition(|e| !e.version.is_prerelease());
        Self {
            detail,
            downloads: detail.versions.iter().map(|v| v.downloads).sum(),
            latest_release,
            entries,
        }
    }
}

/// What a feed response is about: the request it answers, as the route's params
/// describe it.
struct Feed<'a> {
    base: &'a str,
    /// The request path below the mount, as the client sent it.
    path: &'a str,
    /// The request's query parameters but `$skip` and `$top`, in order.
    query: Vec<(&'a str, &'a str)>,
    paging: Paging,
    urls: Urls<'a>,
}

impl<'a> Feed<'a> {
    fn new(input: &'a IndexInput) -> Self {
        let params = &input.spec.params;
        let query = params
            .iter()
            .filter_map(|(name, value)| Some((name.strip_prefix(param::QUERY)?, value.as_str())))
            .collect();
        Self {
            base: &input.base_url,
            path: text(params, param::PATH),
            query,
            paging: Paging {
                skip: number(params, param::SKIP, 0),
                top: number(params, param::TOP, 0),
            },
            urls: Urls {
                base: &input.base_url,
            },
        }
    }

    fn render<'p>(
        &self,
        title: &str,
        versions: impl Iterator<Item = (&'p Package<'p>, usize)> + Clone,
        count: bool,
    ) -> Response {
        let paging = self.paging;
        let total = versions.clone().count();
        if count {
            return Response::new(200, TEXT, total.to_string());
        }
        let updated = versions
            .clone()
            .map(|(p, _)| p.detail.modified)
            .max()
            .unwrap_or_default();
        let base = self.base;
        let mut xml = Xml::document();
        let xml_base = format!("{base}/");
        xml.open("feed", &namespaces(&xml_base));
        xml.element("m:count", &[], &total.to_string());
        xml.element("id", &[], &format!("{base}{}", self.path));
        xml.element("title", &[("type", "text")], title);
        xml.element("updated", &[], &iso8601(updated));
        xml.empty(
            "link",
            &[("rel", "self"), ("title", title), ("href", title)],
        );
        for (package, index) in versions.skip(paging.skip).take(paging.top) {
            self.entry(&mut xml, package, index, false);
        }
        // Only a full page with more behind it links on; `$top=0` never does.
        if paging.top > 0 && paging.skip + paging.top < total {
            xml.empty("link", &[("rel", "next"), ("href", &self.next_link())]);
        }
        xml.close("feed");
        atom(xml)
    }

    /// This request's URL with the following page's `$skip`, other parameters kept.
    fn next_link(&self) -> String {
        let paging = self.paging;
        let mut query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect();
        query.push(format!("$skip={}", paging.skip + paging.top));
        query.push(format!("$top={}", paging.top));
        format!("{}{}?{}", self.base, self.path, query.join("&"))
    }

    /// One `<entry>`; a standalone one (`namespaces_on_entry`) declares the namespaces
    /// itself, as it has no feed around it.
    fn entry(&self, xml: &mut Xml, package: &Package, index: usize, namespaces_on_entry: bool) {
        let entry = &package.entries[index];
        let meta = entry.meta();
        let id = entry.id(package.detail);
        let base = self.base;
        let url = format!(
            "{base}/Packages(Id='{id}',Version='{}')",
            entry.version.normalized()
        );
        let xml_base = format!("{base}/");
        let attributes = if namespaces_on_entry {
            namespaces(&xml_base)
        } else {
            Vec::new()
        };
        xml.open("entry", &attributes);
        xml.element("id", &[], &url);
        xml.empty("category", &[("term", QUALIFIED_TYPE), ("scheme", SCHEME)]);
        for rel in ["edit", "self"] {
            xml.empty(
                "link",
                &[("rel", rel), ("title", ENTITY_TYPE), ("href", &url)],
            );
        }
        xml.element("title", &[("type", "text")], id);
        xml.element("summary", &[("type", "text")], &meta.summary);
        xml.element("updated", &[], &iso8601(entry.detail.created));
        xml.open("author", &[]);
        xml.element("name", &[], &meta.authors);
        xml.close("author");
        // Self-closing: the NuGet client checks `IsEmptyElement` on it.
        let download = self
            .urls
            .package_content(&package.detail.pkg.name, &entry.lower());
        xml.empty(
            "content",
            &[("type", "application/zip"), ("src", &download)],
        );
        xml.open("m:properties", &[]);
        for (name, value) in properties(package, index) {
            value.write(xml, name);
        }
        xml.close("m:properties");
        xml.close("entry");
    }
}

fn namespaces(xml_base: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("xml:base", xml_base),
        ("xmlns", ATOM_NS),
        ("xmlns:d", DATA_NS),
        ("xmlns:m", METADATA_NS),
    ]
}

/// A property value of an entry.
enum Value {
    Text(String),
    /// Written as `m:null` when empty, as OData marks absent values.
    Optional(String),
    Int32(u64),
    Int64(u64),
    Bool(bool),
    Date(i64),
}

impl Value {
    fn edm(&self) -> Edm {
        match self {
            Value::Text(_) => Edm::String,
            Value::Optional(_) => Edm::NullableString,
            Value::Int32(_) => Edm::Int32,
            Value::Int64(_) => Edm::Int64,
            Value::Bool(_) => Edm::Boolean,
            Value::Date(_) => Edm::DateTime,
        }
    }

    fn write(&self, xml: &mut Xml, name: &str) {
        let element = format!("d:{name}");
        let typed = [("m:type", self.edm().name())];
        match self {
            Value::Text(text) => xml.element(&element, &[], text),
            Value::Optional(text) if text.is_empty() => {
                xml.empty(&element, &[("m:null", "true")]);
            }
            Value::Optional(text) => xml.element(&element, &[], text),
            // Edm.Int32 cannot hold more; a saturated count beats a client parse error.
            Value::Int32(n) => {
                xml.element(&element, &typed, &(*n).min(i32::MAX as u64).to_string())
            }
            Value::Int64(n) => {
                xml.element(&element, &typed, &(*n).min(i64::MAX as u64).to_string())
            }
            Value::Bool(b) => xml.element(&element, &typed, if *b { "true" } else { "false" }),
            Value::Date(t) => xml.element(&element, &typed, &iso8601(*t)),
        }
    }
}

/// The properties of the `index`th version of `package`, in [`PROPERTIES`] order.
fn properties(package: &Package, index: usize) -> Vec<(&'static str, Value)> {
    let entry = &package.entries[index];
    let meta = entry.meta();
    let created = entry.detail.created;
    let nupkg = entry.nupkg();
    let hash = nupkg.and_then(package_hash).unwrap_or_default();
    let algorithm = if hash.is_empty() { "" } else { "SHA512" };
    let text = |s: &str| Value::Optional(s.to_string());
    vec![
        ("Id", Value::Text(entry.id(package.detail).to_string())),
        ("Version", Value::Text(entry.full())),
        ("NormalizedVersion", Value::Text(entry.version.normalized())),
        ("Authors", text(&meta.authors)),
        ("Copyright", text(&meta.copyright)),
        ("Created", Value::Date(created)),
        ("Dependencies", Value::Optional(dependencies(meta))),
        ("Description", text(&meta.description)),
        (
            "DevelopmentDependency",
            Value::Bool(meta.development_dependency),
        ),
        ("DownloadCount", Value::Int32(package.downloads)),
        ("IconUrl", text(&meta.icon_url)),
        (
            "IsLatestVersion",
            Value::Bool(package.latest_release == Some(index)),
        ),
        (
            "IsAbsoluteLatestVersion",
            Value::Bool(index + 1 == package.entries.len()),
        ),
        ("IsPrerelease", Value::Bool(entry.version.is_prerelease())),
        ("Language", text(&meta.language)),
        ("LastUpdated", Value::Date(created)),
        ("LicenseUrl", text(&meta.license_url)),
        ("Listed", Value::Bool(true)),
        ("MinClientVersion", text(&meta.min_client_version)),
        ("PackageHash", Value::Optional(hash)),
        ("PackageHashAlgorithm", text(algorithm)),
        ("PackageSize", Value::Int64(nupkg.map_or(0, |f| f.size))),
        ("ProjectUrl", text(&meta.project_url)),
        ("Published", Value::Date(created)),
        ("ReleaseNotes", text(&meta.release_notes)),
        (
            "RequireLicenseAcceptance",
            Value::Bool(meta.require_license_acceptance),
        ),
        ("Summary", text(&meta.summary)),
        ("Tags", text(&meta.tags)),
        ("Title", text(&meta.title)),
        ("VersionDownloadCount", Value::Int32(entry.detail.downloads)),
    ]
}

/// v2's dependency list: `id:range:framework` joined by `|`; a group without
/// dependencies is `::framework`, so clients still see the framework is supported.
fn dependencies(meta: &Metadata) -> String {
    let mut items = Vec::new();
    for group in &meta.dependency_groups {
        let framework = &group.target_framework;
        if group.dependencies.is_empty() && !framework.is_empty() {
            items.push(format!("::{framework}"));
        }
        for d in &group.dependencies {
            let range = match d.range.trim() {
                "" => String::new(),
                range => normalize_range(range),
            };
            items.push(format!("{}:{range}:{framework}", d.id));
        }
    }
    items.join("|")
}

/// Percent-encodes a query key or value, keeping what OData queries use literally.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~$'()*,:@/!".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A tiny XML writer: element names are the caller's constants, and every text and
/// attribute value goes through escaping, so stored metadata can never break markup.
pub struct Xml(String);

impl Xml {
    pub fn document() -> Self {
        Self(String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"))
    }

    pub fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(name, attributes);
        self.0.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
    }

    pub fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(name, attributes);
        self.0.push_str("/>");
    }

    /// `<name …>text</name>`.
    pub fn element(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.open(name, attributes);
        self.push_escaped(text);
        self.close(name);
    }

    pub fn into_string(self) -> String {
        self.0
    }

    fn start_tag(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.0.push('<');
        self.0.push_str(name);
        for (key, value) in attributes {
            self.0.push(' ');
            self.0.push_str(key);
            self.0.push_str("=\"");
            self.push_escaped(value);
            self.0.push('"');
        }
    }

    /// Escapes markup characters and drops characters XML 1.0 cannot carry at all
    /// (control characters), which no escape could make well-formed.
    fn push_escaped(&mut self, text: &str) {
        let allowed = |c: char| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
        };
        if text.chars().all(allowed) {
            self.0.push_str(&escape(text));
        } else {
            let cleaned: String = text.chars().filter(|&c| allowed(c)).collect();
            self.0.push_str(&escape(cleaned.as_str()));
        }
    }
}

/// Checks that `xml` is well-formed, for the tests of every XML document.
#[cfg(test)]
pub fn assert_well_formed(xml: &str) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => {
                t.decode().expect("text decodes");
            }
            Ok(_) => {}
            Err(e) => panic!("malformed XML at {}: {e}\n{xml}", reader.buffer_position()),
        }
    }
    assert_eq!(depth, 0, "unbalanced XML:\n{xml}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture::*;
    use crate::render::render;
    use crate::routes::{param, view};
    use base64::Engine;
    use quick_xml::events::Event;
    use serde_json::json;

    fn text(input: &IndexInput) -> String {
        let response = render(input).expect("render");
        assert_eq!(response.status, 200);
        String::from_utf8(response.body).unwrap()
    }

    fn atom_text(input: &IndexInput) -> String {
        let response = render(input).expect("render");
        assert_eq!(response.content_type, ATOM);
        let xml = String::from_utf8(response.body).unwrap();
        assert_well_formed(&xml);
        xml
    }

    /// Every `(element, text)` pair of a document, decoded, in order.
    fn texts(xml: &str) -> Vec<(String, String)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut open = Vec::new();
        let mut out: Vec<(String, String)> = Vec::new();
        // quick-xml reports entity references apart from the text around them.
        let mut in_text = false;
        loop {
            let piece = match reader.read_event().unwrap() {
                Event::Start(e) => {
                    open.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                    None
                }
                Event::End(_) => {
                    open.pop();
                    None
                }
                Event::Text(t) => Some(t.decode().unwrap().into_owned()),
                Event::GeneralRef(r) => Some(
                    match r.decode().unwrap().as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "apos" => "'",
                        "quot" => "\"",
                        other => panic!("unknown entity {other}"),
                    }
                    .to_string(),
                ),
                Event::Eof => break,
                _ => None,
            };
            let was_text = in_text;
            in_text = piece.is_some();
            match (piece, out.last_mut()) {
                (Some(piece), Some((_, text))) if was_text => text.push_str(&piece),
                (Some(piece), _) => out.push((open.last().cloned().unwrap_or_default(), piece)),
                (None, _) => {}
            }
        }
        out
    }

    fn value<'x>(texts: &'x [(String, String)], name: &str) -> Vec<&'x str> {
        texts
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
            .collect()
    }

    fn hrefs(xml: &str, rel: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Empty(e) | Event::Start(e) if e.name().as_ref() == b"link" => {
                    let attribute = |key: &[u8]| {
                        e.try_get_attribute(key)
                            .unwrap()
                            .map(|a| a.unescape_value().unwrap().into_owned())
                    };
                    if attribute(b"rel").as_deref() == Some(rel) {
                        out.push(attribute(b"href").unwrap());
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    /// What the host hands `render-index` for a GET of `path` with `query`, over a
    /// listing of `packages`.
    fn routed_listing(
        path: &str,
        query: &[(&str, &str)],
        packages: Vec<PackageDetail>,
    ) -> IndexInput {
        with_listing(routed_input(routed(path, query), None), packages)
    }

    /// A v2 search of `term` (an exact id through `$filter`) at `path`.
    fn v2_search(
        path: &str,
        term: &str,
        (skip, top): (usize, usize),
        exact: bool,
        packages: Vec<PackageDetail>,
    ) -> IndexInput {
        let (skip, top) = (skip.to_string(), top.to_string());
        let term = match exact {
            true => ("$filter", format!("tolower(Id) eq '{term}'")),
            false => ("searchTerm", format!("'{term}'")),
        };
        let query = [
            (term.0, term.1.as_str()),
            ("targetFramework", "''"),
            ("$skip", &skip),
            ("$top", &top),
        ];
        routed_listing(path, &query, packages)
    }

    fn search_input(
        term: &str,
        skip: usize,
        top: usize,
        exact: bool,
        packages: Vec<PackageDetail>,
    ) -> IndexInput {
        v2_search("/Search()", term, (skip, top), exact, packages)
    }

    #[test]
    fn a_single_entry_carries_namespaces_and_every_property() {
        let meta = json!({
            "description": "a <b> & 'c' \"d\"\u{1}",
            "authors": "Ann & Bob",
            "releaseNotes": "]]> <!-- x -->",
            "dependencyGroups": [
                { "targetFramework": "net8.0", "dependencies": [{ "id": "Dep", "range": "1.0" }, { "id": "Any", "range": "" }] },
                { "targetFramework": "net472", "dependencies": [] },
            ],
        });
        let detail = with_versions(
            "foo",
            vec![
                version("Foo", "1.0.0", meta),
                version("Foo", "2.0.0-beta", json!({})),
            ],
        );
        let spec = routed("/Packages(Id='Foo',Version='1.0')", &[]);
        assert_eq!(spec.view, view::V2_ENTRY);
        let xml = atom_text(&routed_input(spec, Some(detail)));
        assert!(xml.contains(&format!(
            "<entry xml:base=\"{BASE}/\" xmlns=\"{ATOM_NS}\" xmlns:d=\"{DATA_NS}\" xmlns:m=\"{METADATA_NS}\">"
        )));
        assert!(xml.contains(&format!(
            "<content type=\"application/zip\" src=\"{BASE}/package/foo/1.0.0/foo.1.0.0.nupkg\"/>"
        )));
        let found = texts(&xml);
        assert_eq!(
            value(&found, "id"),
            [format!("{BASE}/Packages(Id='Foo',Version='1.0.0')")]
        );
        assert_eq!(value(&found, "d:Description"), ["a <b> & 'c' \"d\""]);
        assert_eq!(value(&found, "d:ReleaseNotes"), ["]]> <!-- x -->"]);
        assert_eq!(value(&found, "name"), ["Ann & Bob"]);
        assert_eq!(
            value(&found, "d:Dependencies"),
            ["Dep:[1.0.0, ):net8.0|Any::net8.0|::net472"]
        );
        assert_eq!(value(&found, "d:IsLatestVersion"), ["true"]);
        assert_eq!(value(&found, "d:IsAbsoluteLatestVersion"), ["false"]);
        assert_eq!(value(&found, "d:DownloadCount"), ["6"]);
        assert_eq!(value(&found, "d:VersionDownloadCount"), ["3"]);
        assert_eq!(value(&found, "d:PackageSize"), ["1234"]);
        assert_eq!(
            value(&found, "d:PackageHash"),
            [base64::engine::general_purpose::STANDARD.encode([0xab; 64])]
        );
        assert_eq!(value(&found, "d:PackageHashAlgorithm"), ["SHA512"]);
        assert_eq!(value(&found, "d:Published"), ["2023-11-14T22:13:20.000Z"]);
        assert!(xml.contains("<d:DownloadCount m:type=\"Edm.Int32\">6</d:DownloadCount>"));
        assert!(xml.contains("<d:PackageSize m:type=\"Edm.Int64\">1234</d:PackageSize>"));
        assert!(xml.contains("<d:ProjectUrl m:null=\"true\"/>"));
    }

    #[test]
    fn entries_hold_to_the_declared_properties() {
        let detail = package("Foo", &["1.0.0"]);
        let package = Package::new(&detail);
        let declared: Vec<(&str, Edm)> = properties(&package, 0)
            .iter()
            .map(|(name, value)| (*name, value.edm()))
            .collect();
        assert_eq!(declared, PROPERTIES);
    }

    #[test]
    fn a_missing_version_is_not_found() {
        let detail = package("Foo", &["1.0.0"]);
        let missing = [(param::VERSION, "2.0.0")];
        let err = render(&input(view::V2_ENTRY, &missing, Some(detail))).unwrap_err();
        assert_eq!(err.status, 404);
    }

    #[test]
    fn search_flattens_ids_then_versions_and_links_the_next_page() {
        let packages = || {
            vec![
                package("Alpha", &["2.0.0", "1.0.0"]),
                package("Beta", &["1.0.0-rc", "1.0.0", "0.9.0"]),
            ]
        };
        let xml = atom_text(&search_input("a", 1, 3, false, packages()));
        let found = texts(&xml);
        assert_eq!(value(&found, "m:count"), ["5"]);
        let shown: Vec<String> = value(&found, "d:Id")
            .iter()
            .zip(value(&found, "d:Version"))
            .map(|(id, v)| format!("{id} {v}"))
            .collect();
        assert_eq!(shown, ["Alpha 2.0.0", "Beta 0.9.0", "Beta 1.0.0-rc"]);
        assert_eq!(
            hrefs(&xml, "next"),
            [format!(
                "{BASE}/Search()?searchTerm='a'&targetFramework=''&$skip=4&$top=3"
            )]
        );
        assert!(xml.contains("&amp;$skip=4&amp;$top=3\"/>"));

        // The last page, full or not, has nothing to link to.
        let last = atom_text(&search_input("a", 2, 3, false, packages()));
        assert_eq!(value(&texts(&last), "d:Id").len(), 3);
        assert!(hrefs(&last, "next").is_empty());
        let empty = atom_text(&search_input("a", 0, 0, false, packages()));
        assert!(hrefs(&empty, "next").is_empty());
    }

    #[test]
    fn exact_search_keeps_only_the_id() {
        let packages = vec![package("Foo", &["1.0.0"]), package("Foo.Bar", &["1.0.0"])];
        let xml = atom_text(&search_input("foo", 0, 100, true, packages));
        assert_eq!(value(&texts(&xml), "d:Id"), ["Foo"]);
    }

    #[test]
    fn counts_are_plain_text() {
        let packages = vec![
            package("Foo", &["1.0.0", "2.0.0"]),
            package("Foo.Bar", &["1.0.0"]),
        ];
        let count = |exact| v2_search("/Search()/$count", "foo", (0, 1), exact, packages.clone());
        let input = count(false);
        assert_eq!(input.spec.view, view::V2_SEARCH_COUNT);
        let response = render(&input).unwrap();
        assert_eq!(response.content_type, TEXT);
        assert_eq!(text(&input), "3");
        assert_eq!(text(&count(true)), "2");
        let detail = package("Foo", &["1.0.0", "2.0.0"]);
        let query = [("id", "'Foo'"), ("$top", "1")];
        let spec = routed("/FindPackagesById()/$count", &query);
        assert_eq!(spec.view, view::V2_VERSIONS_COUNT);
        assert_eq!(text(&routed_input(spec, Some(detail))), "2");
    }

    /// `FindPackagesById()` of `Foo`, two versions a page from `skip`.
    fn input_for_versions(skip: &str, detail: PackageDetail) -> IndexInput {
        let query = [("id", "'Foo'"), ("$skip", skip), ("$top", "2")];
        routed_input(routed("/FindPackagesById()", &query), Some(detail))
    }

    #[test]
    fn find_packages_by_id_pages_versions() {
        let detail = package("Foo", &["10.0.0", "1.0.0.1", "1.0.0", "1.0.0-rc"]);
        let xml = atom_text(&input_for_versions("0", detail.clone()));
        let found = texts(&xml);
        assert_eq!(value(&found, "d:NormalizedVersion"), ["1.0.0-rc", "1.0.0"]);
        assert_eq!(value(&found, "title"), ["FindPackagesById", "Foo", "Foo"]);
        assert_eq!(
            hrefs(&xml, "next"),
            [format!("{BASE}/FindPackagesById()?id='Foo'&$skip=2&$top=2")]
        );
        let rest = atom_text(&input_for_versions("2", detail));
        let found = texts(&rest);
        assert_eq!(value(&found, "d:NormalizedVersion"), ["1.0.0.1", "10.0.0"]);
        assert_eq!(
            value(&found, "d:IsAbsoluteLatestVersion"),
            ["false", "true"]
        );
        assert!(hrefs(&rest, "next").is_empty());
    }

    /// OP-11: a rendering is cached under its spec, so two requests whose feeds differ
    /// must differ in their specs, and requests whose feeds are the same may share one.
    #[test]
    fn feeds_that_differ_have_different_specs() {
        let packages = || {
            vec![
                package("Foo", &["1.0.0", "2.0.0"]),
                package("Foo.Bar", &["1.0.0"]),
            ]
        };
        let feed = |path: &str, query: &[(&str, &str)]| {
            let input = routed_listing(path, query, packages());
            let body = String::from_utf8(render(&input).expect("render").body).unwrap();
            // The whole spec, as the host's cache key covers it (the type has no `Eq`).
            (format!("{:?}", input.spec), body)
        };
        let page = [("searchTerm", "'foo'"), ("$top", "1")];
        let (spec, body) = feed("/Search()", &page);
        for (path, query) in [
            // A parameter the next link echoes, and one of the search.
            (
                "/Search()",
                &[
                    ("searchTerm", "'foo'"),
                    ("$top", "1"),
                    ("targetFramework", "'net8.0'"),
                ][..],
            ),
            (
                "/Search()",
                &[
                    ("searchTerm", "'foo'"),
                    ("$top", "1"),
                    ("includePrerelease", "true"),
                ],
            ),
            (
                "/Search()",
                &[("searchTerm", "'foo'"), ("$top", "1"), ("$skip", "1")],
            ),
            ("/Search()", &[("searchTerm", "'foo'"), ("$top", "2")]),
            ("/Search()", &[("$filter", "Id eq 'foo'"), ("$top", "1")]),
            // The feed's id and next link name the path it was asked at.
            ("/Packages()", &page),
        ] {
            let (other_spec, other_body) = feed(path, query);
            assert_ne!(other_body, body, "{path} {query:?} renders differently");
            assert_ne!(
                other_spec, spec,
                "{path} {query:?} needs its own cache entry"
            );
        }
        let (one, _) = feed("/Search()", &page);
        assert_eq!(one, spec, "the same request, the same spec");

        // The paging of the next link is the route's; the rest of the query stays as sent.
        let next = |query: &[(&str, &str)]| hrefs(&feed("/Search()", query).1, "next");
        assert_eq!(
            next(&[
                ("$skip", "0"),
                ("x", "a b&c"),
                ("$top", "1"),
                ("searchTerm", "'foo'")
            ]),
            [format!(
                "{BASE}/Search()?x=a%20b%26c&searchTerm='foo'&$skip=1&$top=1"
            )]
        );

        // A count prints a number only: the echoed query does not split its cache.
        let count = |query: &[(&str, &str)]| feed("/Search()/$count", query);
        let plain = count(&[("searchTerm", "'foo'")]);
        let framework = count(&[
            ("searchTerm", "'foo'"),
            ("targetFramework", "'x'"),
            ("$top", "1"),
        ]);
        assert_eq!((plain.0, plain.1.as_str()), (framework.0, "3"));
        assert_ne!(
            count(&[("searchTerm", "'bar'")]).0,
            count(&[("searchTerm", "'foo'")]).0
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query_escape("tolower(Id) eq 'a&b'"),
            "tolower(Id)%20eq%20'a%26b'"
        );
        assert_eq!(query_escape("é"), "%C3%A9");
    }

    #[test]
    fn writer_escapes_attributes_and_drops_control_characters() {
        let mut xml = Xml::document();
        xml.open("a", &[("x", "\"<'&>\"")]);
        xml.element("b", &[], "\u{0}ok\u{1b}");
        xml.close("a");
        let xml = xml.into_string();
        assert_well_formed(&xml);
        assert!(xml.ends_with("<a x=\"&quot;&lt;&apos;&amp;&gt;&quot;\"><b>ok</b></a>"));
    }
}
