//! Which operation each NuGet request is, decided from the request alone: the v3
//! resources NuGet.exe and dotnet use, and the v2 OData subset Gitea serves.

use wharf_plugin_sdk::{
    DeleteTarget, FileRef, IndexSpec, ListingSpec, Method, Operation, PackageRef, PluginError,
    Request, Route, Selector, VersionRef,
};

use crate::search::Visibility;
use crate::version::Version;
use crate::{service, upload};

/// Index views, as `render-index` receives them, with the [`param`]s each takes.
/// The params are the host's cache key: a view reads nothing of the request but them.
pub mod view {
    /// `registration/{id}/index.json`; no params.
    pub const REGISTRATION: &str = "registration";
    /// `registration/{id}/page/{lower}/{upper}.json`; `lower`, `upper` (normalized,
    /// lower case).
    pub const REGISTRATION_PAGE: &str = "registration-page";
    /// `registration/{id}/{version}.json`; `version`, lower-case normalized.
    pub const REGISTRATION_LEAF: &str = "registration-leaf";
    /// `package/{id}/index.json`; no params.
    pub const VERSIONS: &str = "versions";
    /// `query`; no package, listing of every version of matching ids; `skip`, `take`,
    /// `prerelease`, `semver2`.
    pub const SEARCH: &str = "search";
    /// `autocomplete?q=`: matching ids; params as [`SEARCH`].
    pub const AUTOCOMPLETE: &str = "autocomplete";
    /// `autocomplete?id=`: one package's versions; `prerelease`, `semver2`.
    pub const AUTOCOMPLETE_VERSIONS: &str = "autocomplete-versions";
    /// v2 `Packages(Id='…',Version='…')`; `version`, lower-case normalized.
    pub const V2_ENTRY: &str = "v2-entry";
    /// v2 `Packages()`/`Search()`: listing of every version of matching ids; `term`,
    /// `exact`, and what the feed's links echo: `skip`, `top`, `path` and each other
    /// query parameter as `query:NAME`.
    pub const V2_SEARCH: &str = "v2-search";
    /// The same as a plain-text count (`/$count`); `term`, `exact` only.
    pub const V2_SEARCH_COUNT: &str = "v2-search-count";
    /// v2 `FindPackagesById()`; `skip`, `top`, `path`, `query:NAME`.
    pub const V2_VERSIONS: &str = "v2-versions";
    /// The same as a plain-text count; no params.
    pub const V2_VERSIONS_COUNT: &str = "v2-versions-count";
}

/// Names of the index and upload params, one value each.
pub mod param {
    pub const LOWER: &str = "lower";
    pub const UPPER: &str = "upper";
    pub const VERSION: &str = "version";
    pub const SKIP: &str = "skip";
    pub const TAKE: &str = "take";
    pub const TOP: &str = "top";
    /// `true` or `false`.
    pub const PRERELEASE: &str = "prerelease";
    /// `true` or `false`.
    pub const SEMVER2: &str = "semver2";
    pub const TERM: &str = "term";
    /// `true` or `false`: whether `term` is an exact id.
    pub const EXACT: &str = "exact";
    /// The request path below the mount, as the client sent it (`/Search()`).
    pub const PATH: &str = "path";
    /// Prefix of a query parameter a v2 feed's next link repeats (`query:$filter`).
    pub const QUERY: &str = "query:";
    /// The upload's kind: [`crate::upload::PACKAGE`] or [`crate::upload::SYMBOLS`].
    pub const KIND: &str = "kind";
}

/// One param.
pub fn pair(name: &str, value: impl ToString) -> (String, String) {
    (name.to_string(), value.to_string())
}

/// Most results a search page returns, whatever the client asks.
pub const MAX_TAKE: u32 = 1000;
/// Results of a v3 search page when the client names none (nuget.org's default).
const DEFAULT_TAKE: u32 = 20;
/// Entries of a v2 feed page when the client names none (Gitea's page size).
const DEFAULT_TOP: u32 = 100;

pub fn match_route(request: &Request) -> Result<Route, PluginError> {
    let owner = request.mount_owner()?;
    let Some(segments) = request.segments() else {
        return Err(PluginError::bad_request("malformed path"));
    };
    let segments: Vec<&str> = segments
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let get = matches!(request.method, Method::Get | Method::Head);
    let package = |id: &str| PackageRef {
        owner: owner.clone(),
        name: id.to_string(),
    };
    let index = |id: &str, view: &str, params: Vec<(String, String)>| {
        Route::read(Operation::RenderIndex(IndexSpec {
            pkg: Some(package(id)),
            view: view.into(),
            params,
            digest_of: None,
            listing: None,
        }))
    };

    let route = match (&request.method, segments.as_slice()) {
        (_, []) if get => Route::public(Operation::Respond(service::v2_service_document(
            &request.base_url,
        ))),
        (Method::Put, []) => Route::write(accept(&owner, upload::PACKAGE)),
        (Method::Put, ["symbolpackage"]) => Route::write(accept(&owner, upload::SYMBOLS)),
        (_, ["index.json"]) if get => {
            Route::public(Operation::Respond(service::index(&request.base_url)))
        }
        (_, ["$metadata"]) if get => Route::public(Operation::Respond(service::edmx())),
        (_, ["query"]) if get => search(request),
        (_, ["autocomplete"]) if get => autocomplete(request, &owner),

        (_, ["registration", id, "index.json"]) if get && is_valid_id(id) => {
            index(id, view::REGISTRATION, Vec::new())
        }
        (_, ["registration", id, "page", lower, upper]) if get && is_valid_id(id) => {
            match (
                normalized(lower),
                upper.strip_suffix(".json").and_then(normalized),
            ) {
                (Some(lower), Some(upper)) => index(
                    id,
                    view::REGISTRATION_PAGE,
                    vec![pair(param::LOWER, lower), pair(param::UPPER, upper)],
                ),
                _ => Route::not_found(),
            }
        }
        (_, ["registration", id, leaf]) if get && is_valid_id(id) => {
            match leaf.strip_suffix(".json").and_then(normalized) {
                Some(v) => index(id, view::REGISTRATION_LEAF, vec![pair(param::VERSION, v)]),
                None => Route::not_found(),
            }
        }
        (_, ["package", id, "index.json"]) if get && is_valid_id(id) => {
            index(id, view::VERSIONS, Vec::new())
        }
        (_, ["package", id, version, file]) if get && is_valid_id(id) => {
            match normalized(version) {
                Some(version) => Route::read(Operation::serve(Selector::File(FileRef {
                    version: VersionRef {
                        pkg: package(id),
                        version,
                    },
                    name: file.to_lowercase(),
                }))),
                None => Route::not_found(),
            }
        }
        (Method::Delete, [id, version]) if is_valid_id(id) => match normalized(version) {
            Some(version) => Route::write(Operation::Delete(DeleteTarget::Version(VersionRef {
                pkg: package(id),
                version,
            }))),
            None => Route::not_found(),
        },
        (_, [function, rest @ ..]) if get && function.contains('(') => {
            v2_route(request, &owner, function, rest)
        }
        _ => Route::not_found(),
    };
    Ok(route)
}

/// NuGet's id rule (Gitea's too): word characters separated by single dots or dashes.
pub fn is_valid_id(id: &str) -> bool {
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    id.len() <= 100 && id.split(['.', '-']).all(word)
}

/// The lower-case normalized form of a version in a URL, the form the host stores.
fn normalized(text: &str) -> Option<String> {
    Version::parse(text).map(|v| v.normalized().to_lowercase())
}

fn accept(owner: &str, kind: &str) -> Operation {
    // The id is only known from the nuspec inside the body.
    let pkg = PackageRef {
        owner: owner.to_string(),
        name: String::new(),
    };
    Operation::accept_upload(pkg, &[(param::KIND, kind)], 0)
}

fn listing(filter: &str, offset: u32, limit: u32) -> Option<ListingSpec> {
    Some(ListingSpec {
        after: String::new(),
        filter: filter.trim().to_string(),
        offset,
        limit,
        all_versions: true,
    })
}

fn owner_index(view: &str, params: Vec<(String, String)>, listing: Option<ListingSpec>) -> Route {
    Route::read(Operation::RenderIndex(IndexSpec {
        pkg: None,
        view: view.into(),
        params,
        digest_of: None,
        listing,
    }))
}

/// v3 search: ids containing `q`, paged by the host in the database unless versions
/// are hidden from the client ([`Visibility::listing_window`]).
fn search(request: &Request) -> Route {
    search_index(request, view::SEARCH)
}

/// A v3 search or id autocomplete: `q` is the listing's filter, the page and what the
/// client may see are params.
fn search_index(request: &Request, view: &str) -> Route {
    let (q, skip, take) = search_page(request);
    let visibility = visibility(request);
    let (offset, limit) = visibility.listing_window(skip, take);
    let mut params = vec![pair(param::SKIP, skip), pair(param::TAKE, take)];
    params.extend(visibility.params());
    owner_index(view, params, listing(q, offset, limit))
}

/// Autocomplete: ids containing `q` (paged like search), or with `id`, the versions of
/// that package.
fn autocomplete(request: &Request, owner: &str) -> Route {
    if let Some(id) = request.query_param("id") {
        if !is_valid_id(id) {
            return Route::not_found();
        }
        return Route::read(Operation::RenderIndex(IndexSpec {
            pkg: Some(PackageRef {
                owner: owner.to_string(),
                name: id.to_string(),
            }),
            view: view::AUTOCOMPLETE_VERSIONS.into(),
            params: visibility(request).params(),
            digest_of: None,
            listing: None,
        }));
    }
    search_index(request, view::AUTOCOMPLETE)
}

/// `q`, `skip` and `take` of a search, with nuget.org's defaults and cap.
fn search_page(request: &Request) -> (&str, u32, u32) {
    let q = request.query_param("q").unwrap_or_default();
    let skip = number(request.query_param("skip")).unwrap_or(0);
    let take = number(request.query_param("take"))
        .unwrap_or(DEFAULT_TAKE)
        .min(MAX_TAKE);
    (q, skip, take)
}

/// Which versions a search client may see. Clients that send no `semVerLevel=2.0.0`
/// cannot parse SemVer 2.0 versions, so they do not get them.
fn visibility(request: &Request) -> Visibility {
    let prerelease = request
        .query_param("prerelease")
        .is_some_and(|p| p.eq_ignore_ascii_case("true"));
    let semver2 = request
        .query_param("semVerLevel")
        .and_then(|level| level.split('.').next()?.trim().parse::<u32>().ok())
        .is_some_and(|major| major >= 2);
    Visibility {
        prerelease,
        semver2,
    }
}

fn number(value: Option<&str>) -> Option<u32> {
    value.and_then(|v| v.trim().parse().ok())
}

/// The v2 OData functions: `Packages(Id='x',Version='y')`, `Packages()`, `Search()`,
/// `FindPackagesById()`, each with an optional `/$count`.
fn v2_route(request: &Request, owner: &str, function: &str, rest: &[&str]) -> Route {
    let count = match rest {
        [] => false,
        ["$count"] => true,
        _ => return Route::not_found(),
    };
    let skip = number(request.query_param("$skip")).unwrap_or(0);
    let top = number(request.query_param("$top"))
        .unwrap_or(DEFAULT_TOP)
        .min(MAX_TAKE);
    let Some((name, args)) = function.strip_suffix(')').and_then(|f| f.split_once('(')) else {
        return Route::not_found();
    };
    match (name, args.is_empty()) {
        ("Packages", false) if !count => {
            let id = odata_arg(args, "Id");
            let version = odata_arg(args, "Version").and_then(|v| normalized(&v));
            match (id, version) {
                (Some(id), Some(version)) if is_valid_id(&id) => {
                    Route::read(Operation::RenderIndex(IndexSpec {
                        pkg: Some(PackageRef {
                            owner: owner.to_string(),
                            name: id,
                        }),
                        view: view::V2_ENTRY.into(),
                        params: vec![pair(param::VERSION, version)],
                        digest_of: None,
                        listing: None,
                    }))
                }
                _ => Route::not_found(),
            }
        }
        ("Packages" | "Search", true) => {
            let (term, exact) = v2_term(request);
            let filter = listing(if exact { "" } else { &term }, 0, 0);
            let mut params = vec![pair(param::TERM, &term), pair(param::EXACT, exact)];
            // v2 pages over versions, not ids: the plugin pages what the host lists.
            if count {
                owner_index(view::V2_SEARCH_COUNT, params, filter)
            } else {
                params.extend(v2_feed_params(request, skip, top));
                owner_index(view::V2_SEARCH, params, filter)
            }
        }
        ("FindPackagesById", true) => {
            let id = request.query_param("id").map(unquote).unwrap_or_default();
            if !is_valid_id(&id) {
                return Route::not_found();
            }
            let (view, params) = if count {
                (view::V2_VERSIONS_COUNT, Vec::new())
            } else {
                (view::V2_VERSIONS, v2_feed_params(request, skip, top))
            };
            Route::read(Operation::RenderIndex(IndexSpec {
                pkg: Some(PackageRef {
                    owner: owner.to_string(),
                    name: id,
                }),
                view: view.into(),
                params,
                digest_of: None,
                listing: None,
            }))
        }
        _ => Route::not_found(),
    }
}

/// What a v2 feed page prints besides its entries: its page, and the path and query it
/// answers (its `id` and `next` link), the query without the paging the link replaces.
fn v2_feed_params(request: &Request, skip: u32, top: u32) -> Vec<(String, String)> {
    let mut params = vec![
        pair(param::SKIP, skip),
        pair(param::TOP, top),
        pair(param::PATH, &request.path),
    ];
    params.extend(
        request
            .query
            .iter()
            .filter(|(name, _)| name != "$skip" && name != "$top")
            .map(|(name, value)| (format!("{}{name}", param::QUERY), value.clone())),
    );
    params
}

/// The search term of a v2 query: `searchTerm='x'`, else the first quoted string of
/// `$filter`, which is an exact id match when the filter compares with `eq`.
fn v2_term(request: &Request) -> (String, bool) {
    if let Some(term) = request.query_param("searchTerm") {
        return (unquote(term), false);
    }
    let filter = request.query_param("$filter").unwrap_or_default();
    let quoted = filter
        .split_once('\'')
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(term, _)| term.to_string());
    match quoted {
        Some(term) => (term, filter.contains(" eq ")),
        None => (String::new(), false),
    }
}

/// `Id='x'` out of `Id='x',Version='y'`.
fn odata_arg(args: &str, key: &str) -> Option<String> {
    args.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| unquote(v))
    })
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    v.strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(v)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing;
    use wharf_plugin_sdk::{Access, ServeSpec};

    fn request(method: Method, path: &str, query: &[(&str, &str)]) -> Request {
        let request =
            testing::request(method, path).with_base_url("http://x/api/packages/alice/nuget");
        query.iter().fold(request, |r, (k, v)| r.with_query(k, v))
    }

    fn route(method: Method, path: &str, query: &[(&str, &str)]) -> Route {
        match_route(&request(method, path, query)).expect("route")
    }

    fn spec(route: &Route) -> &IndexSpec {
        match &route.operation {
            Operation::RenderIndex(spec) => spec,
            other => panic!("expected an index, got {other:?}"),
        }
    }

    #[test]
    fn service_documents_need_no_access() {
        for path in ["/index.json", "/", "", "/$metadata"] {
            let r = route(Method::Get, path, &[]);
            assert_eq!(r.access, Access::None, "{path}");
            assert!(matches!(r.operation, Operation::Respond(_)), "{path}");
        }
    }

    /// Params as a test writes them.
    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        wharf_plugin_sdk::params::owned(pairs)
    }

    #[test]
    fn pushes_are_uploads_named_by_their_body() {
        for (path, kind) in [("/", upload::PACKAGE), ("/symbolpackage", upload::SYMBOLS)] {
            let r = route(Method::Put, path, &[]);
            assert_eq!(r.access, Access::Write);
            match r.operation {
                Operation::AcceptUpload(u) => {
                    assert_eq!(u.pkg.owner, "alice");
                    assert_eq!(u.pkg.name, "");
                    assert_eq!(u.params, params(&[(param::KIND, kind)]));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn downloads_use_lower_case_normalized_versions() {
        let r = route(
            Method::Get,
            "/package/Foo.Bar/1.0.0.0-Beta/Foo.Bar.1.0.0-beta.nupkg",
            &[],
        );
        match r.operation {
            Operation::Serve(ServeSpec {
                selector: Selector::File(f),
                digest_of: None,
            }) => {
                assert_eq!(f.version.pkg.name, "Foo.Bar");
                assert_eq!(f.version.version, "1.0.0-beta");
                assert_eq!(f.name, "foo.bar.1.0.0-beta.nupkg");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn registration_views() {
        let r = route(Method::Get, "/registration/foo/index.json", &[]);
        assert_eq!(spec(&r).view, view::REGISTRATION);
        let r = route(Method::Get, "/registration/foo/1.0.json", &[]);
        assert_eq!(spec(&r).view, view::REGISTRATION_LEAF);
        assert_eq!(spec(&r).params, params(&[(param::VERSION, "1.0.0")]));
        let r = route(
            Method::Get,
            "/registration/foo/page/1.0.0/2.0.0-rc.json",
            &[],
        );
        assert_eq!(spec(&r).view, view::REGISTRATION_PAGE);
        assert_eq!(
            spec(&r).params,
            params(&[(param::LOWER, "1.0.0"), (param::UPPER, "2.0.0-rc")])
        );
        let r = route(Method::Get, "/registration/foo/nope.json", &[]);
        assert!(matches!(r.operation, Operation::NotFound));
    }

    #[test]
    fn search_visibility_follows_prerelease_and_semver_level() {
        let r = route(
            Method::Get,
            "/query",
            &[("q", "x"), ("semVerLevel", "2.0.0")],
        );
        let page = |skip, take, prerelease, semver2| {
            params(&[
                (param::SKIP, skip),
                (param::TAKE, take),
                (param::PRERELEASE, prerelease),
                (param::SEMVER2, semver2),
            ])
        };
        assert_eq!(spec(&r).params, page("0", "20", "false", "true"));
        let r = route(Method::Get, "/query", &[("prerelease", "True")]);
        assert_eq!(spec(&r).params, page("0", "20", "true", "false"));
        let r = route(
            Method::Get,
            "/autocomplete",
            &[("id", "Foo"), ("semVerLevel", "2.0.0")],
        );
        assert_eq!(spec(&r).view, view::AUTOCOMPLETE_VERSIONS);
        assert_eq!(spec(&r).pkg.as_ref().map(|p| p.name.as_str()), Some("Foo"));
        assert_eq!(
            spec(&r).params,
            params(&[(param::PRERELEASE, "false"), (param::SEMVER2, "true")])
        );
        let r = route(Method::Get, "/autocomplete", &[("q", "fo"), ("take", "5")]);
        assert_eq!(spec(&r).view, view::AUTOCOMPLETE);
        assert_eq!(spec(&r).params, page("0", "5", "false", "false"));
        // Hidden versions: every match is listed, the page is cut after filtering.
        assert_eq!(spec(&r).listing.as_ref().map(|l| l.limit), Some(0));
    }

    #[test]
    fn search_pages_in_the_database() {
        let query = [
            ("q", "Foo"),
            ("skip", "5"),
            ("take", "99999"),
            ("prerelease", "true"),
            ("semVerLevel", "2.0.0"),
        ];
        let r = route(Method::Get, "/query", &query);
        let s = spec(&r);
        assert!(s.pkg.is_none());
        let listing = s.listing.as_ref().expect("listing");
        assert_eq!(
            (listing.filter.as_str(), listing.offset, listing.limit),
            ("Foo", 5, MAX_TAKE)
        );
        assert!(listing.all_versions);
        // A client that hides prereleases gets every match listed, paged after filtering.
        let r = route(Method::Get, "/query", &query[..3]);
        let listing = spec(&r).listing.clone().expect("listing");
        assert_eq!((listing.offset, listing.limit), (0, 0));
    }

    #[test]
    fn delete_is_by_id_and_version() {
        let r = route(Method::Delete, "/Foo/1.0", &[]);
        assert_eq!(r.access, Access::Write);
        match r.operation {
            Operation::Delete(DeleteTarget::Version(v)) => {
                assert_eq!((v.pkg.name.as_str(), v.version.as_str()), ("Foo", "1.0.0"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn v2_functions() {
        let r = route(Method::Get, "/Packages(Id='Foo',Version='1.0')", &[]);
        assert_eq!(spec(&r).view, view::V2_ENTRY);
        assert_eq!(spec(&r).pkg.as_ref().map(|p| p.name.as_str()), Some("Foo"));
        let r = route(
            Method::Get,
            "/Packages()",
            &[("$filter", "tolower(Id) eq 'foo'"), ("$top", "30")],
        );
        assert_eq!(spec(&r).view, view::V2_SEARCH);
        assert_eq!(
            spec(&r).params,
            params(&[
                (param::TERM, "foo"),
                (param::EXACT, "true"),
                (param::SKIP, "0"),
                (param::TOP, "30"),
                (param::PATH, "/Packages()"),
                ("query:$filter", "tolower(Id) eq 'foo'"),
            ])
        );
        let r = route(Method::Get, "/Search()/$count", &[("searchTerm", "'ba'")]);
        assert_eq!(spec(&r).view, view::V2_SEARCH_COUNT);
        assert_eq!(
            spec(&r).params,
            params(&[(param::TERM, "ba"), (param::EXACT, "false")])
        );
        assert_eq!(
            spec(&r).listing.as_ref().map(|l| l.filter.as_str()),
            Some("ba")
        );
        let r = route(
            Method::Get,
            "/FindPackagesById()",
            &[("$top", "5"), ("id", "'Foo'"), ("semVerLevel", "2.0.0")],
        );
        assert_eq!(spec(&r).view, view::V2_VERSIONS);
        assert_eq!(
            spec(&r).params,
            params(&[
                (param::SKIP, "0"),
                (param::TOP, "5"),
                (param::PATH, "/FindPackagesById()"),
                ("query:id", "'Foo'"),
                ("query:semVerLevel", "2.0.0"),
            ])
        );
        let r = route(
            Method::Get,
            "/FindPackagesById()/$count",
            &[("id", "'Foo'")],
        );
        assert!(spec(&r).params.is_empty());
        let r = route(Method::Get, "/FindPackagesById()", &[("id", "'../x'")]);
        assert!(matches!(r.operation, Operation::NotFound));
    }

    #[test]
    fn ids_follow_nugets_rule() {
        for good in ["Foo", "Foo.Bar", "foo-bar_2", "A.B-C"] {
            assert!(is_valid_id(good), "{good}");
        }
        for bad in ["", ".Foo", "Foo.", "Foo..Bar", "../x", "a b", "é"] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }
}
