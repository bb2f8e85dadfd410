//! Which operation each NuGet request is, decided from the request alone: the v3
//! resources NuGet.exe and dotnet use, and the v2 OData subset Gitea serves.

use wharf_plugin_sdk::{
    FileRef, IndexSpec, ListingSpec, Method, Operation, PackageRef, PluginError, Request, Route,
    UploadSpec, VersionRef,
};

use crate::version::Version;
use crate::{search, service, upload};

/// Index views, as `render-index` receives them. Arguments join their fields with NUL.
pub mod view {
    /// `registration/{id}/index.json`; argument empty.
    pub const REGISTRATION: &str = "registration";
    /// `registration/{id}/page/{lower}/{upper}.json`; argument `lower\0upper`.
    pub const REGISTRATION_PAGE: &str = "registration-page";
    /// `registration/{id}/{version}.json`; argument the lower-case normalized version.
    pub const REGISTRATION_LEAF: &str = "registration-leaf";
    /// `package/{id}/index.json`; argument empty.
    pub const VERSIONS: &str = "versions";
    /// `query`; no package, listing of every version of matching ids; argument
    /// `q\0skip\0take\0prerelease\0semver2` (the last two `true`/`false`).
    pub const SEARCH: &str = "search";
    /// `autocomplete?q=`: matching ids; argument `skip\0take\0prerelease\0semver2`.
    pub const AUTOCOMPLETE: &str = "autocomplete";
    /// `autocomplete?id=`: one package's versions; argument `prerelease\0semver2`.
    pub const AUTOCOMPLETE_VERSIONS: &str = "autocomplete-versions";
    /// v2 `Packages(Id='…',Version='…')`; argument the lower-case normalized version.
    pub const V2_ENTRY: &str = "v2-entry";
    /// v2 `Packages()`/`Search()`: listing of every version of matching ids; argument
    /// `term\0skip\0top\0exact` (exact `true`/`false`).
    pub const V2_SEARCH: &str = "v2-search";
    /// The same as a plain-text count (`/$count`).
    pub const V2_SEARCH_COUNT: &str = "v2-search-count";
    /// v2 `FindPackagesById()`; argument `skip\0top`.
    pub const V2_VERSIONS: &str = "v2-versions";
    pub const V2_VERSIONS_COUNT: &str = "v2-versions-count";
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
    let index = |id: &str, view: &str, argument: String| {
        Route::read(Operation::RenderIndex(IndexSpec {
            pkg: Some(package(id)),
            view: view.into(),
            argument,
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
            index(id, view::REGISTRATION, String::new())
        }
        (_, ["registration", id, "page", lower, upper]) if get && is_valid_id(id) => {
            match (
                normalized(lower),
                upper.strip_suffix(".json").and_then(normalized),
            ) {
                (Some(lower), Some(upper)) => {
                    index(id, view::REGISTRATION_PAGE, format!("{lower}\0{upper}"))
                }
                _ => Route::not_found(),
            }
        }
        (_, ["registration", id, leaf]) if get && is_valid_id(id) => {
            match leaf.strip_suffix(".json").and_then(normalized) {
                Some(v) => index(id, view::REGISTRATION_LEAF, v),
                None => Route::not_found(),
            }
        }
        (_, ["package", id, "index.json"]) if get && is_valid_id(id) => {
            index(id, view::VERSIONS, String::new())
        }
        (_, ["package", id, version, file]) if get && is_valid_id(id) => {
            match normalized(version) {
                Some(version) => Route::read(Operation::ServeFile(FileRef {
                    version: VersionRef {
                        pkg: package(id),
                        version,
                    },
                    name: file.to_lowercase(),
                })),
                None => Route::not_found(),
            }
        }
        (Method::Delete, [id, version]) if is_valid_id(id) => match normalized(version) {
            Some(version) => Route::write(Operation::DeleteVersion(VersionRef {
                pkg: package(id),
                version,
            })),
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

fn accept(owner: &str, context: &str) -> Operation {
    Operation::AcceptUpload(UploadSpec {
        // The id is only known from the nuspec inside the body.
        pkg: PackageRef {
            owner: owner.to_string(),
            name: String::new(),
        },
        context: context.into(),
        max_size: 0,
    })
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

fn owner_index(view: &str, argument: String, listing: Option<ListingSpec>) -> Route {
    Route::read(Operation::RenderIndex(IndexSpec {
        pkg: None,
        view: view.into(),
        argument,
        digest_of: None,
        listing,
    }))
}

/// v3 search: ids containing `q`, paged by the host in the database unless versions
/// are hidden from the client (`search::listing_window`).
fn search(request: &Request) -> Route {
    let (q, skip, take) = search_page(request);
    let visibility = visibility(request);
    let (offset, limit) = search::listing_window(&visibility, skip, take);
    owner_index(
        view::SEARCH,
        format!("{q}\0{skip}\0{take}\0{visibility}"),
        listing(q, offset, limit),
    )
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
            argument: visibility(request),
            digest_of: None,
            listing: None,
        }));
    }
    let (q, skip, take) = search_page(request);
    let visibility = visibility(request);
    let (offset, limit) = search::listing_window(&visibility, skip, take);
    owner_index(
        view::AUTOCOMPLETE,
        format!("{skip}\0{take}\0{visibility}"),
        listing(q, offset, limit),
    )
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

/// Which versions a search client may see: `prerelease\0semver2`. Clients that send no
/// `semVerLevel=2.0.0` cannot parse SemVer 2.0 versions, so they do not get them.
fn visibility(request: &Request) -> String {
    let prerelease = request
        .query_param("prerelease")
        .is_some_and(|p| p.eq_ignore_ascii_case("true"));
    let semver2 = request
        .query_param("semVerLevel")
        .and_then(|level| level.split('.').next()?.trim().parse::<u32>().ok())
        .is_some_and(|major| major >= 2);
    format!("{prerelease}\0{semver2}")
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
                        argument: version,
                        digest_of: None,
                        listing: None,
                    }))
                }
                _ => Route::not_found(),
            }
        }
        ("Packages" | "Search", true) => {
            let (term, exact) = v2_term(request);
            let view = if count {
                view::V2_SEARCH_COUNT
            } else {
                view::V2_SEARCH
            };
            // v2 pages over versions, not ids: the plugin pages what the host lists.
            owner_index(
                view,
                format!("{term}\0{skip}\0{top}\0{exact}"),
                listing(if exact { "" } else { &term }, 0, 0),
            )
        }
        ("FindPackagesById", true) => {
            let id = request.query_param("id").map(unquote).unwrap_or_default();
            if !is_valid_id(&id) {
                return Route::not_found();
            }
            let view = if count {
                view::V2_VERSIONS_COUNT
            } else {
                view::V2_VERSIONS
            };
            Route::read(Operation::RenderIndex(IndexSpec {
                pkg: Some(PackageRef {
                    owner: owner.to_string(),
                    name: id,
                }),
                view: view.into(),
                argument: format!("{skip}\0{top}"),
                digest_of: None,
                listing: None,
            }))
        }
        _ => Route::not_found(),
    }
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
    use wharf_plugin_sdk::Access;
    use wharf_plugin_sdk::testing;

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

    #[test]
    fn pushes_are_uploads_named_by_their_body() {
        for (path, context) in [("/", upload::PACKAGE), ("/symbolpackage", upload::SYMBOLS)] {
            let r = route(Method::Put, path, &[]);
            assert_eq!(r.access, Access::Write);
            match r.operation {
                Operation::AcceptUpload(u) => {
                    assert_eq!(u.pkg.owner, "alice");
                    assert_eq!(u.pkg.name, "");
                    assert_eq!(u.context, context);
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
            Operation::ServeFile(f) => {
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
        assert_eq!(spec(&r).argument, "1.0.0");
        let r = route(
            Method::Get,
            "/registration/foo/page/1.0.0/2.0.0-rc.json",
            &[],
        );
        assert_eq!(spec(&r).view, view::REGISTRATION_PAGE);
        assert_eq!(spec(&r).argument, "1.0.0\u{0}2.0.0-rc");
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
        assert_eq!(spec(&r).argument, "x\u{0}0\u{0}20\u{0}false\u{0}true");
        let r = route(Method::Get, "/query", &[("prerelease", "True")]);
        assert_eq!(spec(&r).argument, "\u{0}0\u{0}20\u{0}true\u{0}false");
        let r = route(
            Method::Get,
            "/autocomplete",
            &[("id", "Foo"), ("semVerLevel", "2.0.0")],
        );
        assert_eq!(spec(&r).view, view::AUTOCOMPLETE_VERSIONS);
        assert_eq!(spec(&r).pkg.as_ref().map(|p| p.name.as_str()), Some("Foo"));
        let r = route(Method::Get, "/autocomplete", &[("q", "fo"), ("take", "5")]);
        assert_eq!(spec(&r).view, view::AUTOCOMPLETE);
        assert_eq!(spec(&r).argument, "0\u{0}5\u{0}false\u{0}false");
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
            Operation::DeleteVersion(v) => {
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
        assert_eq!(spec(&r).argument, "foo\u{0}0\u{0}30\u{0}true");
        let r = route(Method::Get, "/Search()/$count", &[("searchTerm", "'ba'")]);
        assert_eq!(spec(&r).view, view::V2_SEARCH_COUNT);
        assert_eq!(
            spec(&r).listing.as_ref().map(|l| l.filter.as_str()),
            Some("ba")
        );
        let r = route(Method::Get, "/FindPackagesById()", &[("id", "'Foo'")]);
        assert_eq!(spec(&r).view, view::V2_VERSIONS);
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
