//! The v3 registrations (`RegistrationsBaseUrl`): a package's index, its pages and its
//! leaves, in the shape nuget.org serves, which is what NuGet clients resolve from.
//!
//! Small packages get one page with every leaf inlined, so a restore needs one request.
//! Large ones get pages of bounds only, each fetched on its own: clients download just
//! the pages whose range they need, and the index stays small however many versions
//! there are.

use serde_json::{Value, json};
use wharf_plugin_sdk::time::iso8601;
use wharf_plugin_sdk::{IndexInput, PackageDetail, PluginError, Response};

use crate::metadata::{DependencyGroup, Metadata};
use crate::render::{Entry, Urls, entries, json_response, package_hash, position, tags};
use crate::version::Version;

/// Most versions an index inlines; nuget.org's threshold.
const INLINE_LIMIT: usize = 128;
/// Versions per page of a paged index.
const PAGE_SIZE: usize = 64;

pub fn index(input: &IndexInput, detail: &PackageDetail) -> Response {
    let entries = entries(detail);
    let registration = Registration::new(input, detail, &entries);
    let pages: Vec<Value> = pages(&entries)
        .into_iter()
        .map(|page| registration.page(page, registration.inline))
        .collect();
    json_response(&json!({
        "@id": registration.index_url,
        "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
        "count": pages.len(),
        "items": pages,
    }))
}

/// One page with its leaves; `lower` and `upper` as the page URL names them.
pub fn page(
    input: &IndexInput,
    detail: &PackageDetail,
    lower: &str,
    upper: &str,
) -> Result<Response, PluginError> {
    // The message 0.2 sent, which quoted both bounds as one NUL-joined string: clients
    // see the same body.
    let not_found = || {
        let bounds = format!("{lower}\0{upper}");
        PluginError::not_found(format!("no registration page {bounds:?}"))
    };
    let entries = entries(detail);
    let registration = Registration::new(input, detail, &entries);
    let page = pages(&entries)
        .into_iter()
        .find(|page| bounds_match(page, lower, upper))
        .ok_or_else(not_found)?;
    Ok(json_response(&registration.page(page, true)))
}

/// A standalone leaf of the lower-case normalized `version`.
pub fn leaf(
    input: &IndexInput,
    detail: &PackageDetail,
    version: &str,
) -> Result<Response, PluginError> {
    let entries = entries(detail);
    let entry = &entries[position(&entries, version)?];
    let registration = Registration::new(input, detail, &entries);
    let leaf = registration.leaf_url(entry);
    Ok(json_response(&json!({
        "@id": leaf,
        "@type": ["Package", "http://schema.nuget.org/catalog#Permalink"],
        // Clients never follow it; nuget.org points it at its catalog, which Wharf has not.
        "catalogEntry": leaf,
        "listed": true,
        "packageContent": registration.package_content(entry),
        "published": iso8601(entry.detail.created),
        "registration": registration.index_url,
    })))
}

/// The pages of an index: everything on one page up to the inline limit, else fixed
/// slices in precedence order (so a page's bounds are stable between requests).
fn pages<'e, 'a>(entries: &'e [Entry<'a>]) -> Vec<&'e [Entry<'a>]> {
    if entries.is_empty() {
        Vec::new()
    } else if entries.len() <= INLINE_LIMIT {
        vec![entries]
    } else {
        entries.chunks(PAGE_SIZE).collect()
    }
}

fn bounds_match(page: &[Entry], lower: &str, upper: &str) -> bool {
    match (page.first(), page.last()) {
        (Some(first), Some(last)) => {
            first.lower().eq_ignore_ascii_case(lower) && last.lower().eq_ignore_ascii_case(upper)
        }
        _ => false,
    }
}

/// What every part of one package's registration links to.
struct Registration<'a> {
    urls: Urls<'a>,
    detail: &'a PackageDetail,
    index_url: String,
    /// Whether the index inlines its single page (then pages are index fragments).
    inline: bool,
}

impl<'a> Registration<'a> {
    fn new(input: &'a IndexInput, detail: &'a PackageDetail, entries: &[Entry]) -> Self {
        let urls = Urls {
            base: &input.base_url,
        };
        Self {
            index_url: urls.registration_index(&detail.pkg.name),
            urls,
            detail,
            inline: entries.len() <= INLINE_LIMIT,
        }
    }

    fn leaf_url(&self, entry: &Entry) -> String {
        self.urls
            .registration_leaf(&self.detail.pkg.name, &entry.lower())
    }

    fn package_content(&self, entry: &Entry) -> String {
        self.urls
            .package_content(&self.detail.pkg.name, &entry.lower())
    }

    /// A page (never empty), with its leaves when `with_items`.
    fn page(&self, page: &[Entry], with_items: bool) -> Value {
        let (first, last) = (&page[0], &page[page.len() - 1]);
        let (lower, upper) = (first.lower(), last.lower());
        let id = if self.inline {
            format!("{}#page/{lower}/{upper}", self.index_url)
        } else {
            self.urls
                .registration_page(&self.detail.pkg.name, &lower, &upper)
        };
        let mut value = json!({
            "@id": id,
            "@type": "catalog:CatalogPage",
            "count": page.len(),
            "lower": first.full(),
            "upper": last.full(),
            "parent": self.index_url,
        });
        if with_items {
            let items: Vec<Value> = page.iter().map(|e| self.leaf_item(e)).collect();
            value["items"] = items.into();
        }
        value
    }

    /// A leaf as a page lists it, with the catalog entry inlined.
    fn leaf_item(&self, entry: &Entry) -> Value {
        let leaf = self.leaf_url(entry);
        json!({
            "@id": leaf,
            "@type": "Package",
            "catalogEntry": self.catalog_entry(entry, &leaf),
            "packageContent": self.package_content(entry),
            "registration": self.index_url,
        })
    }

    fn catalog_entry(&self, entry: &Entry, leaf: &str) -> Value {
        let meta = entry.meta();
        let license_expression = meta
            .license
            .as_ref()
            .filter(|l| l.kind == "expression")
            .map_or("", |l| l.value.as_str());
        let mut value = json!({
            "@id": leaf,
            "@type": "PackageDetails",
            "id": entry.id(self.detail),
            "version": entry.full(),
            "authors": meta.authors,
            "description": meta.description,
            "summary": meta.summary,
            "title": meta.title,
            "tags": tags(&meta.tags),
            "language": meta.language,
            "projectUrl": meta.project_url,
            // An embedded `<icon>` would need an icon endpoint, which the feed has not.
            "iconUrl": meta.icon_url,
            "licenseUrl": meta.license_url,
            "licenseExpression": license_expression,
            "minClientVersion": meta.min_client_version,
            "requireLicenseAcceptance": meta.require_license_acceptance,
            "listed": true,
            "published": iso8601(entry.detail.created),
            "packageContent": self.package_content(entry),
            "dependencyGroups": self.dependency_groups(meta, leaf),
        });
        if !meta.package_types.is_empty() {
            value["packageTypes"] = package_types(meta);
        }
        if let Some(nupkg) = entry.nupkg() {
            value["packageSize"] = json!(nupkg.size);
            if let Some(hash) = package_hash(nupkg) {
                value["packageHash"] = json!(hash);
                value["packageHashAlgorithm"] = json!("SHA512");
            }
        }
        value
    }

    fn dependency_groups(&self, meta: &Metadata, leaf: &str) -> Vec<Value> {
        meta.dependency_groups
            .iter()
            .map(|group| self.dependency_group(group, leaf))
            .collect()
    }

    fn dependency_group(&self, group: &DependencyGroup, leaf: &str) -> Value {
        let framework = group.target_framework.as_str();
        let group_id = match framework {
            "" => format!("{leaf}#dependencygroup"),
            tfm => format!("{leaf}#dependencygroup/{}", tfm.to_lowercase()),
        };
        let dependencies: Vec<Value> = group
            .dependencies
            .iter()
            .map(|d| {
                json!({
                    "@id": format!("{group_id}/{}", d.id.to_lowercase()),
                    "@type": "PackageDependency",
                    "id": d.id,
                    "range": normalize_range(&d.range),
                    "registration": self.urls.registration_index(&d.id),
                })
            })
            .collect();
        let mut value = json!({
            "@id": group_id,
            "@type": "PackageDependencyGroup",
            "dependencies": dependencies,
        });
        if !framework.is_empty() {
            value["targetFramework"] = framework.into();
        }
        value
    }
}

fn package_types(meta: &Metadata) -> Value {
    meta.package_types
        .iter()
        .map(|t| match t.version.as_str() {
            "" => json!({ "name": t.name }),
            version => json!({ "name": t.name, "version": version }),
        })
        .collect()
}

/// A nuspec version range in the normalized form nuget.org shows: a bare version is a
/// minimum (`1.0` → `[1.0.0, )`), bounds are normalized, no range means any version.
/// Floating or malformed ranges are passed through for the client to judge.
pub fn normalize_range(range: &str) -> String {
    let range = range.trim();
    if range.is_empty() {
        return "(, )".into();
    }
    let open = range.starts_with(['[', '(']);
    let close = range.ends_with([']', ')']);
    if !open && !close {
        return Version::parse(range)
            .map_or_else(|| range.to_string(), |v| format!("[{}, )", v.normalized()));
    }
    // Both ends are ASCII brackets here, so slicing at them is on char boundaries.
    let normalized = (open && close && range.len() >= 2)
        .then(|| {
            bracketed(
                &range[..1],
                &range[1..range.len() - 1],
                &range[range.len() - 1..],
            )
        })
        .flatten();
    normalized.unwrap_or_else(|| range.to_string())
}

/// `[1.0]` (exact) or `(min, max)` with either bound optional.
fn bracketed(open: &str, inner: &str, close: &str) -> Option<String> {
    let bound = |text: &str| match text.trim() {
        "" => Some(String::new()),
        text => Version::parse(text).map(|v| v.normalized()),
    };
    match inner.split_once(',') {
        None if open == "[" && close == "]" => {
            Version::parse(inner).map(|v| format!("[{}]", v.normalized()))
        }
        None => None,
        Some((min, max)) => Some(format!("{open}{}, {}{close}", bound(min)?, bound(max)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture::*;
    use crate::render::render;
    use crate::routes::{param, view};

    fn numbered(count: usize) -> Vec<String> {
        (1..=count).map(|i| format!("1.0.{i}")).collect()
    }

    fn package_of(versions: &[String]) -> PackageDetail {
        let refs: Vec<&str> = versions.iter().map(String::as_str).collect();
        package("Foo.Bar", &refs)
    }

    fn registration_index(versions: &[String]) -> Value {
        json(&input(view::REGISTRATION, &[], Some(package_of(versions))))
    }

    const INDEX: &str = "http://x/api/packages/alice/nuget/registration/foo.bar/index.json";

    #[test]
    fn up_to_128_versions_are_inlined_on_one_page() {
        let index = registration_index(&numbered(128));
        assert_eq!(index["@id"], INDEX);
        assert_eq!(
            index["@type"],
            json!([
                "catalog:CatalogRoot",
                "PackageRegistration",
                "catalog:Permalink"
            ])
        );
        assert_eq!(index["count"], 1);
        let page = &index["items"][0];
        assert_eq!(page["@id"], format!("{INDEX}#page/1.0.1/1.0.128"));
        assert_eq!(page["@type"], "catalog:CatalogPage");
        assert_eq!(
            (
                &page["count"],
                &page["lower"],
                &page["upper"],
                &page["parent"]
            ),
            (
                &json!(128),
                &json!("1.0.1"),
                &json!("1.0.128"),
                &json!(INDEX)
            )
        );
        assert_eq!(page["items"].as_array().unwrap().len(), 128);
    }

    #[test]
    fn more_than_128_versions_are_paged_without_items() {
        let index = registration_index(&numbered(129));
        assert_eq!(index["count"], 3);
        let pages = index["items"].as_array().unwrap();
        let base = "http://x/api/packages/alice/nuget/registration/foo.bar/page";
        let expected = [
            ("1.0.1", "1.0.64", 64),
            ("1.0.65", "1.0.128", 64),
            ("1.0.129", "1.0.129", 1),
        ];
        for (page, (lower, upper, count)) in pages.iter().zip(expected) {
            assert_eq!(page["@id"], format!("{base}/{lower}/{upper}.json"));
            assert_eq!(
                (&page["lower"], &page["upper"]),
                (&json!(lower), &json!(upper))
            );
            assert_eq!(page["count"], count);
            assert_eq!(page["parent"], INDEX);
            assert!(page.get("items").is_none());
        }
    }

    #[test]
    fn a_page_renders_its_leaves_when_its_bounds_match() {
        let detail = package_of(&numbered(129));
        let spec = routed("/registration/Foo.Bar/page/1.0.65/1.0.128.json", &[]);
        let page = json(&routed_input(spec, Some(detail.clone())));
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 64);
        assert_eq!(items[0]["catalogEntry"]["version"], "1.0.65");
        assert_eq!(page["count"], 64);
        for (lower, upper) in [
            ("1.0.65", "1.0.127"),
            ("1.0.1", "1.0.128"),
            ("1.0.65", ""),
            ("", ""),
        ] {
            let bounds = [(param::LOWER, lower), (param::UPPER, upper)];
            let err = render(&input(
                view::REGISTRATION_PAGE,
                &bounds,
                Some(detail.clone()),
            ));
            assert_eq!(err.unwrap_err().status, 404, "{lower} {upper}");
        }
        let bounds = [(param::LOWER, "1.0.65"), (param::UPPER, "1.0.127")];
        let err = render(&input(view::REGISTRATION_PAGE, &bounds, Some(detail))).unwrap_err();
        assert_eq!(err.message, "no registration page \"1.0.65\\01.0.127\"");
    }

    #[test]
    fn leaves_are_in_precedence_order_not_upload_order() {
        let versions = ["10.0.0", "1.0.0", "1.0.0.1", "1.0.0-rc"].map(String::from);
        let index = registration_index(&versions);
        let page = &index["items"][0];
        let order: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["catalogEntry"]["version"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["1.0.0-rc", "1.0.0", "1.0.0.1", "10.0.0"]);
        assert_eq!(
            (&page["lower"], &page["upper"]),
            (&json!("1.0.0-rc"), &json!("10.0.0"))
        );
    }

    #[test]
    fn leaf_items_carry_the_catalog_entry() {
        let meta = json!({
            "authors": "Ann, Bob",
            "description": "desc",
            "tags": "json, fast  tools",
            "license": { "type": "expression", "value": "MIT" },
            "licenseUrl": "https://licenses.nuget.org/MIT",
            "requireLicenseAcceptance": true,
            "packageTypes": [{ "name": "DotnetTool", "version": "" }],
            "dependencyGroups": [
                { "targetFramework": "net8.0", "dependencies": [
                    { "id": "Newtonsoft.Json", "range": "13.0.1" },
                    { "id": "Other", "range": "" },
                ]},
                { "targetFramework": "", "dependencies": [] },
            ],
        });
        let detail = with_versions("foo.bar", vec![version("Foo.Bar", "1.0-Beta+sha.1", meta)]);
        let index = json(&input(view::REGISTRATION, &[], Some(detail)));
        let item = &index["items"][0]["items"][0];
        let leaf = "http://x/api/packages/alice/nuget/registration/foo.bar/1.0.0-beta.json";
        let content =
            "http://x/api/packages/alice/nuget/package/foo.bar/1.0.0-beta/foo.bar.1.0.0-beta.nupkg";
        assert_eq!(item["@id"], leaf);
        assert_eq!(item["@type"], "Package");
        assert_eq!(item["packageContent"], content);
        assert_eq!(item["registration"], INDEX);
        let entry = &item["catalogEntry"];
        assert_eq!(entry["@type"], "PackageDetails");
        assert_eq!(
            (&entry["id"], &entry["version"]),
            (&json!("Foo.Bar"), &json!("1.0.0-Beta+sha.1"))
        );
        assert_eq!(entry["tags"], json!(["json", "fast", "tools"]));
        assert_eq!(entry["authors"], "Ann, Bob");
        assert_eq!(entry["licenseExpression"], "MIT");
        assert_eq!(entry["requireLicenseAcceptance"], true);
        assert_eq!(entry["listed"], true);
        assert_eq!(entry["published"], "2023-11-14T22:13:20.000Z");
        assert_eq!(entry["packageContent"], content);
        assert_eq!(entry["packageTypes"], json!([{ "name": "DotnetTool" }]));
        let groups = entry["dependencyGroups"].as_array().unwrap();
        assert_eq!(groups[0]["@id"], format!("{leaf}#dependencygroup/net8.0"));
        assert_eq!(groups[0]["@type"], "PackageDependencyGroup");
        assert_eq!(groups[0]["targetFramework"], "net8.0");
        let dep = &groups[0]["dependencies"][0];
        assert_eq!(
            dep["@id"],
            format!("{leaf}#dependencygroup/net8.0/newtonsoft.json")
        );
        assert_eq!(dep["@type"], "PackageDependency");
        assert_eq!(
            (&dep["id"], &dep["range"]),
            (&json!("Newtonsoft.Json"), &json!("[13.0.1, )"))
        );
        assert_eq!(
            dep["registration"],
            "http://x/api/packages/alice/nuget/registration/newtonsoft.json/index.json"
        );
        assert_eq!(groups[0]["dependencies"][1]["range"], "(, )");
        assert!(groups[1].get("targetFramework").is_none());
    }

    #[test]
    fn standalone_leaves() {
        let detail = package("Foo.Bar", &["1.0.0-RC", "2.0.0"]);
        let spec = routed("/registration/Foo.Bar/1.0.0-RC.json", &[]);
        let leaf = json(&routed_input(spec, Some(detail.clone())));
        let url = "http://x/api/packages/alice/nuget/registration/foo.bar/1.0.0-rc.json";
        assert_eq!(leaf["@id"], url);
        assert_eq!(
            leaf["@type"],
            json!(["Package", "http://schema.nuget.org/catalog#Permalink"])
        );
        assert_eq!(leaf["catalogEntry"], url);
        assert_eq!(leaf["listed"], true);
        assert_eq!(leaf["registration"], INDEX);
        assert_eq!(leaf["published"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            leaf["packageContent"],
            "http://x/api/packages/alice/nuget/package/foo.bar/1.0.0-rc/foo.bar.1.0.0-rc.nupkg"
        );
        let missing = [(param::VERSION, "3.0.0")];
        let missing = render(&input(view::REGISTRATION_LEAF, &missing, Some(detail)));
        assert_eq!(missing.unwrap_err().status, 404);
    }

    #[test]
    fn ranges_are_normalized_like_nuget_org() {
        for (raw, normalized) in [
            ("1.0", "[1.0.0, )"),
            (" 1.0.3.0 ", "[1.0.3, )"),
            ("", "(, )"),
            ("[1.0]", "[1.0.0]"),
            ("[1.0,2.0)", "[1.0.0, 2.0.0)"),
            ("(,2.0]", "(, 2.0.0]"),
            ("(1.0-beta, )", "(1.0.0-beta, )"),
            ("1.*", "1.*"),
            ("[1.0", "[1.0"),
            ("[a,b]", "[a,b]"),
            ("(1.0)", "(1.0)"),
            ("[", "["),
        ] {
            assert_eq!(normalize_range(raw), normalized, "{raw:?}");
        }
    }

    #[test]
    fn thousands_of_versions_are_paged() {
        let versions: Vec<String> = (0..3000).map(|i| format!("{}.{}.0", i % 7, i)).collect();
        let detail = package_of(&versions);
        let index = json(&input(view::REGISTRATION, &[], Some(detail.clone())));
        assert_eq!(index["count"], 47);
        let last = &index["items"][46];
        let bounds = [
            (param::LOWER, last["lower"].as_str().unwrap()),
            (param::UPPER, last["upper"].as_str().unwrap()),
        ];
        let page = json(&input(view::REGISTRATION_PAGE, &bounds, Some(detail)));
        // Speed is measured by benches/nuget.sh, not asserted here.
        assert_eq!(page["items"].as_array().unwrap().len(), 3000 - 46 * 64);
    }
}
