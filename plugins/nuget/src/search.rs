//! v3 search (`SearchQueryService`) and autocomplete. The host matches ids in the
//! database; this decides which packages are hits and shapes each the way nuget.org
//! answers.
//!
//! When the client sees every version, every matching package is a hit and the host
//! pages. When it hides prereleases or SemVer 2.0 versions, whether a package is a hit
//! depends on its versions, so the host lists every match and the page is cut here,
//! after filtering: `totalHits` then counts exactly what `skip`/`take` page through.

use serde_json::{Value, json};
use wharf_plugin_sdk::params::{flag, number};
use wharf_plugin_sdk::{IndexInput, PackageDetail, Response};

use crate::render::{Entry, Urls, entries, json_response, names, tags};
use crate::routes::{pair, param};

/// Which versions the client asked to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visibility {
    pub prerelease: bool,
    pub semver2: bool,
}

impl Visibility {
    /// As the route put it into the view's params.
    fn of(params: &[(String, String)]) -> Self {
        Self {
            prerelease: flag(params, param::PRERELEASE),
            semver2: flag(params, param::SEMVER2),
        }
    }

    /// The params that carry it.
    pub fn params(&self) -> Vec<(String, String)> {
        vec![
            pair(param::PRERELEASE, self.prerelease),
            pair(param::SEMVER2, self.semver2),
        ]
    }

    /// What a search or id autocomplete asks the host to list for `skip`/`take`:
    /// `(offset, limit)`, limit 0 being all.
    pub fn listing_window(&self, skip: u32, take: u32) -> (u32, u32) {
        if self.hides_some() {
            (0, 0)
        } else {
            (skip, take)
        }
    }

    /// Whether some versions are hidden from this client.
    fn hides_some(&self) -> bool {
        !(self.prerelease && self.semver2)
    }

    /// The package's versions this client may see, in precedence order.
    fn versions<'a>(&self, package: &'a PackageDetail) -> Vec<Entry<'a>> {
        entries(package)
            .into_iter()
            .filter(|e| self.prerelease || !e.version.is_prerelease())
            .filter(|e| self.semver2 || !e.is_semver2())
            .collect()
    }
}

/// The hits of a listing the client may see, with their total: the page the host cut,
/// or the page cut here after filtering (see the module docs).
fn hits(input: &IndexInput) -> (Visibility, u64, Vec<&PackageDetail>) {
    let params = &input.spec.params;
    let visibility = Visibility::of(params);
    let take: usize = number(params, param::TAKE, 0);
    let skip: usize = number(params, param::SKIP, 0);
    if !visibility.hides_some() {
        let page = input.listing.iter().take(take).collect();
        return (visibility, input.listing_total, page);
    }
    let visible: Vec<&PackageDetail> = input
        .listing
        .iter()
        .filter(|package| !visibility.versions(package).is_empty())
        .collect();
    let total = visible.len() as u64;
    (
        visibility,
        total,
        visible.into_iter().skip(skip).take(take).collect(),
    )
}

pub fn render(input: &IndexInput) -> Response {
    let (visibility, total, page) = hits(input);
    let urls = Urls {
        base: &input.base_url,
    };
    let data: Vec<Value> = page
        .into_iter()
        .filter_map(|package| hit(&urls, package, visibility))
        .collect();
    json_response(&json!({ "totalHits": total, "data": data }))
}

/// Autocomplete by id: the ids with a version the client may see.
pub fn autocomplete_ids(input: &IndexInput) -> Response {
    let (visibility, total, page) = hits(input);
    let data: Vec<String> = page
        .into_iter()
        .filter_map(|package| {
            let visible = visibility.versions(package);
            Some(visible.last()?.id(package).to_string())
        })
        .collect();
    json_response(&json!({ "totalHits": total, "data": data }))
}

/// Autocomplete of one package's versions (full versions, ascending).
pub fn autocomplete_versions(input: &IndexInput, package: &PackageDetail) -> Response {
    let visibility = Visibility::of(&input.spec.params);
    let data: Vec<String> = visibility
        .versions(package)
        .iter()
        .map(Entry::full)
        .collect();
    json_response(&json!({ "totalHits": data.len(), "data": data }))
}

/// A package as a hit, or `None` when no version is visible (every one a prerelease
/// or SemVer 2.0 version the client cannot take).
fn hit(urls: &Urls, package: &PackageDetail, visibility: Visibility) -> Option<Value> {
    let visible = visibility.versions(package);
    let latest = visible.last()?;
    let meta = latest.meta();
    let registration = urls.registration_index(&package.pkg.name);
    let versions: Vec<Value> = visible
        .iter()
        .map(|e| {
            json!({
                "version": e.full(),
                "downloads": e.detail.downloads,
                "@id": urls.registration_leaf(&package.pkg.name, &e.lower()),
            })
        })
        .collect();
    // Owners are feed accounts on nuget.org; here the owner the feed belongs to
    // stands in when the nuspec names none.
    let owners = match names(&meta.owners) {
        owners if owners.is_empty() => vec![package.pkg.owner.as_str()],
        owners => owners,
    };
    Some(json!({
        "@id": registration,
        "@type": "Package",
        "registration": registration,
        "id": latest.id(package),
        "version": latest.full(),
        "description": meta.description,
        "summary": meta.summary,
        "title": meta.title,
        "iconUrl": meta.icon_url,
        "licenseUrl": meta.license_url,
        "projectUrl": meta.project_url,
        "tags": tags(&meta.tags),
        "authors": names(&meta.authors),
        "owners": owners,
        "totalDownloads": package.versions.iter().map(|v| v.downloads).sum::<u64>(),
        "verified": false,
        "packageTypes": package_types(latest),
        "versions": versions,
    }))
}

fn package_types(entry: &Entry) -> Vec<Value> {
    let types = &entry.meta().package_types;
    if types.is_empty() {
        return vec![json!({ "name": "Dependency" })];
    }
    types.iter().map(|t| json!({ "name": t.name })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture::*;
    use crate::routes::view;

    /// The render input of a GET of `path` with `query`, over a listing of `packages`.
    fn searched(path: &str, query: &[(&str, &str)], packages: Vec<PackageDetail>) -> IndexInput {
        with_listing(routed_input(routed(path, query), None), packages)
    }

    fn search(prerelease: bool, packages: Vec<PackageDetail>, total: u64) -> Value {
        let prerelease = prerelease.to_string();
        let query = [
            ("q", "foo"),
            ("prerelease", prerelease.as_str()),
            ("semVerLevel", "2.0.0"),
        ];
        let mut input = searched("/query", &query, packages);
        input.listing_total = total;
        json(&input)
    }

    fn ids(result: &Value) -> Vec<&str> {
        result["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn hits_list_every_version_with_the_latest_fields() {
        let newest = version(
            "Foo.Bar",
            "2.0.0",
            json!({
                "description": "new",
                "authors": "Ann, Bob Smith",
                "tags": "a b,c",
                "packageTypes": [{ "name": "DotnetTool" }],
            }),
        );
        let package = with_versions(
            "foo.bar",
            vec![
                newest,
                version("foo.bar", "1.0.0", json!({ "description": "old" })),
            ],
        );
        let result = search(true, vec![package], 7);
        assert_eq!(result["totalHits"], 7);
        let hit = &result["data"][0];
        let registration = "http://x/api/packages/alice/nuget/registration/foo.bar/index.json";
        assert_eq!(
            (&hit["@id"], &hit["registration"]),
            (&json!(registration), &json!(registration))
        );
        assert_eq!(hit["@type"], "Package");
        assert_eq!(
            (&hit["id"], &hit["version"]),
            (&json!("Foo.Bar"), &json!("2.0.0"))
        );
        assert_eq!(hit["description"], "new");
        assert_eq!(hit["authors"], json!(["Ann", "Bob Smith"]));
        assert_eq!(hit["owners"], json!(["alice"]));
        assert_eq!(hit["tags"], json!(["a", "b", "c"]));
        assert_eq!(hit["totalDownloads"], 6);
        assert_eq!(hit["verified"], false);
        assert_eq!(hit["packageTypes"], json!([{ "name": "DotnetTool" }]));
        assert_eq!(
            hit["versions"],
            json!([
                { "version": "1.0.0", "downloads": 3, "@id": "http://x/api/packages/alice/nuget/registration/foo.bar/1.0.0.json" },
                { "version": "2.0.0", "downloads": 3, "@id": "http://x/api/packages/alice/nuget/registration/foo.bar/2.0.0.json" },
            ])
        );
    }

    #[test]
    fn prereleases_are_dropped_unless_asked_for() {
        let packages = || {
            vec![
                package("Alpha", &["1.0.0", "2.0.0-rc.1"]),
                package("Beta", &["1.0.0-beta"]),
            ]
        };
        let released = search(false, packages(), 2);
        assert_eq!(ids(&released), ["Alpha"]);
        assert_eq!(
            released["totalHits"], 1,
            "counts the hits, not the ids matched"
        );
        assert_eq!(released["data"][0]["version"], "1.0.0");
        assert_eq!(released["data"][0]["versions"].as_array().unwrap().len(), 1);
        assert_eq!(
            released["data"][0]["packageTypes"],
            json!([{ "name": "Dependency" }])
        );

        let all = search(true, packages(), 2);
        assert_eq!(ids(&all), ["Alpha", "Beta"]);
        assert_eq!(all["data"][0]["version"], "2.0.0-rc.1");
    }

    #[test]
    fn the_host_page_is_rendered_as_given() {
        // The host pages in the database: the listing is the page, the total counts all.
        let result = search(true, vec![package("C", &["1.0.0"])], 41);
        assert_eq!(result["totalHits"], 41);
        assert_eq!(ids(&result), ["C"]);
        assert_eq!(
            search(true, Vec::new(), 0),
            json!({ "totalHits": 0, "data": [] })
        );
    }

    #[test]
    fn hidden_versions_are_filtered_before_the_page_is_cut() {
        let packages = || {
            vec![
                package("A", &["1.0.0"]),
                package("B", &["1.0.0-beta"]),
                package("C", &["1.0.0", "2.0.0-rc"]),
                package("D", &["1.0.0"]),
            ]
        };
        // The host listed every match (4); the client sees three, one a page.
        let page = |skip: u32| {
            let skip = skip.to_string();
            let query = [("skip", skip.as_str()), ("take", "1"), ("semVerLevel", "2")];
            let mut input = searched("/query", &query, packages());
            input.listing_total = 4;
            json(&input)
        };
        let pages: Vec<Value> = (0..4).map(page).collect();
        for (skip, expected) in [(0, vec!["A"]), (1, vec!["C"]), (2, vec!["D"]), (3, vec![])] {
            assert_eq!(ids(&pages[skip]), expected, "skip {skip}");
            assert_eq!(pages[skip]["totalHits"], 3);
        }
        // A query whose only match is hidden has no hits at all.
        let only_beta = searched(
            "/query",
            &[("q", "b"), ("semVerLevel", "2.0.0")],
            vec![package("B", &["1.0.0-beta"])],
        );
        assert_eq!(json(&only_beta), json!({ "totalHits": 0, "data": [] }));
        let window = |prerelease, semver2| {
            let visibility = Visibility {
                prerelease,
                semver2,
            };
            visibility.listing_window(5, 20)
        };
        assert_eq!(window(false, true), (0, 0));
        assert_eq!(window(true, false), (0, 0));
        assert_eq!(window(true, true), (5, 20));
    }

    #[test]
    fn semver2_versions_need_a_semver2_client() {
        let packages = || {
            vec![with_versions(
                "Gamma",
                vec![
                    version("Gamma", "1.0.0", json!({})),
                    version("Gamma", "2.0.0+build.7", json!({ "semver2": true })),
                ],
            )]
        };
        let old = searched("/query", &[("q", "gamma")], packages());
        assert_eq!(json(&old)["data"][0]["version"], "1.0.0");
        let query = [("q", "gamma"), ("semVerLevel", "2.0.0")];
        let new = searched("/query", &query, packages());
        assert_eq!(json(&new)["data"][0]["version"], "2.0.0+build.7");
    }

    #[test]
    fn autocomplete_lists_ids_and_versions() {
        let packages = vec![
            package("Alpha", &["1.0.0"]),
            package("Beta", &["1.0.0-beta"]),
        ];
        let ids = searched("/autocomplete", &[("semVerLevel", "2.0.0")], packages);
        assert_eq!(ids.spec.view, view::AUTOCOMPLETE);
        assert_eq!(json(&ids), json!({ "totalHits": 1, "data": ["Alpha"] }));

        let query = [
            ("id", "Alpha"),
            ("prerelease", "true"),
            ("semVerLevel", "2.0.0"),
        ];
        let spec = routed("/autocomplete", &query);
        assert_eq!(spec.view, view::AUTOCOMPLETE_VERSIONS);
        let detail = package("Alpha", &["2.0.0-rc", "1.0.0"]);
        let versions = routed_input(spec, Some(detail));
        assert_eq!(
            json(&versions),
            json!({ "totalHits": 2, "data": ["1.0.0", "2.0.0-rc"] })
        );
    }
}
