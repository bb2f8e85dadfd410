//! A listing served under another repository name than the one it was made for: an
//! upstream's tag list or referrers under the proxy (`library/alpine` becomes
//! `dockerhub/library/alpine`), a member's under the group. A tag list names its
//! repository, and a paging `Link` points at the listing's own path: both must be the
//! client's, or the client's next page would go to a name it never asked for. The
//! referrers index names no repository: its bytes pass through as they came.

use serde_json::{Map, Value};
use wharf_plugin_sdk::{IndexSpec, Response, params};

use crate::manifest::OCI_INDEX;
use crate::render::mount_path;
use crate::routes::{REFERRERS_VIEW, SUBJECT, TAGS_VIEW};

/// Headers a listing keeps: its paging link (rewritten) and the referrers filter flag.
/// Anything else an upstream sent (cookies, its own caching headers) stays behind.
const LINK: &str = "Link";
const FILTERS_APPLIED: &str = "OCI-Filters-Applied";

/// `listing`, the tag list or referrers index `spec` asks for, as the listing of the
/// repository `{owner}/{spec's package}` on the mount `base_url`. `Err` says what is
/// malformed about it.
pub fn relocate(
    listing: &Response,
    owner: &str,
    base_url: &str,
    spec: &IndexSpec,
) -> Result<Response, String> {
    let pkg = spec.pkg.as_ref().ok_or("a listing of no repository")?;
    let repository = format!("{owner}/{}", pkg.name);
    let local = format!("{}/{repository}", mount_path(base_url));
    let (local, body, fallback_type) = match spec.view.as_str() {
        TAGS_VIEW => (
            format!("{local}/tags/list"),
            renamed(&listing.body, &repository)?,
            "application/json",
        ),
        REFERRERS_VIEW => {
            let subject = params::text(&spec.params, SUBJECT);
            object(&listing.body)?;
            (
                format!("{local}/referrers/{subject}"),
                listing.body.clone(),
                OCI_INDEX,
            )
        }
        other => return Err(format!("{other:?} is not a listing of a repository")),
    };
    let content_type = match content_type(listing) {
        "" => fallback_type,
        given => given,
    };
    let mut response = Response::new(200, content_type, body);
    if let Some(link) = header(listing, LINK) {
        response = response.header(LINK, relinked(link, &local));
    }
    if let Some(filters) = header(listing, FILTERS_APPLIED) {
        response = response.header(FILTERS_APPLIED, filters);
    }
    Ok(response)
}

/// A response's content type: its field, else a `content-type` header (the host hands
/// upstream answers over with every header, lower case).
pub fn content_type(response: &Response) -> &str {
    match response.content_type.as_str() {
        "" => header(response, "content-type").unwrap_or_default(),
        given => given,
    }
}

/// A header of `response`, by case-insensitive name.
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a JSON object: {e}"))
}

/// A tag list `{"name","tags"}` naming `repository`; other fields pass through.
fn renamed(body: &[u8], repository: &str) -> Result<Vec<u8>, String> {
    let mut list = object(body)?;
    match list.get("tags") {
        // Some registries write `null` for a repository without tags.
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => {}
        Some(_) => return Err("\"tags\" is not a list of names".into()),
    }
    list.insert("name".into(), repository.into());
    serde_json::to_vec(&list).map_err(|e| e.to_string())
}

/// Every `<url>` of a `Link` header pointed at `local`, keeping the URL's query (the
/// page it asks for) and the link's parameters. Whatever path the URL had (relative,
/// absolute, the upstream's name for the repository), the next page is of the same
/// listing.
pub fn relinked(link: &str, local: &str) -> String {
    let mut out = String::new();
    let mut rest = link;
    while let Some(start) = rest.find('<') {
        let Some(length) = rest[start..].find('>') else {
            break;
        };
        let url = &rest[start + 1..start + length];
        out.push_str(&rest[..start]);
        out.push('<');
        out.push_str(local);
        if let Some((_, query)) = url.split_once('?') {
            out.push('?');
            out.push_str(query);
        }
        out.push('>');
        rest = &rest[start + length + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::{IndexSpec, PackageRef};

    use super::*;

    const BASE: &str = "http://wharf.test/v2";
    const DIGEST: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";

    fn spec(view: &str) -> IndexSpec {
        IndexSpec {
            pkg: Some(PackageRef {
                owner: "hub".into(),
                name: "library/alpine".into(),
            }),
            view: view.into(),
            params: params::owned(&[(SUBJECT, DIGEST)]),
            digest_of: None,
            listing: None,
        }
    }

    fn listing(body: &str, headers: &[(&str, &str)]) -> Response {
        let mut response = Response::new(200, "", body);
        for (name, value) in headers {
            response = response.header(name, *value);
        }
        response
    }

    #[test]
    fn a_tag_list_names_the_local_repository_and_keeps_the_rest() {
        let upstream = listing(
            r#"{"tags":["3.19","3.20"],"name":"library/alpine","x":1}"#,
            &[("content-type", "application/json; charset=utf-8")],
        );
        let moved = relocate(&upstream, "hub", BASE, &spec(TAGS_VIEW)).unwrap();
        assert_eq!(
            String::from_utf8(moved.body).unwrap(),
            r#"{"name":"hub/library/alpine","tags":["3.19","3.20"],"x":1}"#
        );
        assert_eq!(moved.content_type, "application/json; charset=utf-8");
        assert!(moved.headers.is_empty(), "no Link: no more pages");
        let untagged = relocate(
            &listing(r#"{"name":"library/alpine","tags":null}"#, &[]),
            "hub",
            BASE,
            &spec(TAGS_VIEW),
        )
        .unwrap();
        assert_eq!(untagged.content_type, "application/json");
        assert_eq!(
            untagged.body,
            br#"{"name":"hub/library/alpine","tags":null}"#
        );
    }

    #[test]
    fn malformed_tag_lists_are_refused() {
        for body in [
            "not json",
            "[]",
            r#"{"name":"x","tags":"latest"}"#,
            r#"{"name":"x","tags":[1]}"#,
        ] {
            let e = relocate(&listing(body, &[]), "hub", BASE, &spec(TAGS_VIEW));
            assert!(e.is_err(), "{body}");
        }
    }

    #[test]
    fn links_page_through_the_local_listing() {
        let local = "/v2/hub/library/alpine/tags/list";
        for (upstream, expected) in [
            (
                r#"</v2/library/alpine/tags/list?n=2&last=3.19>; rel="next""#,
                r#"</v2/hub/library/alpine/tags/list?n=2&last=3.19>; rel="next""#,
            ),
            (
                r#"<https://registry.example/v2/library/alpine/tags/list?last=b&n=5>; rel="next""#,
                r#"</v2/hub/library/alpine/tags/list?last=b&n=5>; rel="next""#,
            ),
            (
                r#"<other>; rel="first", </x?n=1>; rel="next""#,
                r#"</v2/hub/library/alpine/tags/list>; rel="first", </v2/hub/library/alpine/tags/list?n=1>; rel="next""#,
            ),
            ("garbage", "garbage"),
            ("<unclosed", "<unclosed"),
        ] {
            assert_eq!(relinked(upstream, local), expected, "{upstream}");
        }
    }

    #[test]
    fn referrers_pass_through_with_their_link_and_filter() {
        let body = r#"{"schemaVersion":2,"manifests":[]}"#;
        let upstream = listing(
            body,
            &[
                (
                    "link",
                    "</v2/library/alpine/referrers/x?last=y>; rel=\"next\"",
                ),
                ("oci-filters-applied", "artifactType"),
                ("set-cookie", "upstream=1"),
            ],
        );
        let moved = relocate(
            &upstream,
            "hub",
            "https://h/prefix/v2",
            &spec(REFERRERS_VIEW),
        )
        .unwrap();
        assert_eq!(moved.body, body.as_bytes());
        assert_eq!(moved.content_type, OCI_INDEX);
        assert_eq!(
            moved.headers,
            [
                (
                    "Link".to_string(),
                    format!(
                        "</prefix/v2/hub/library/alpine/referrers/{DIGEST}?last=y>; rel=\"next\""
                    )
                ),
                (
                    "OCI-Filters-Applied".to_string(),
                    "artifactType".to_string()
                ),
            ]
        );
        let e = relocate(&listing("<html>", &[]), "hub", BASE, &spec(REFERRERS_VIEW));
        assert!(e.is_err());
    }

    #[test]
    fn only_repository_listings_relocate() {
        let mut catalog = spec("catalog");
        assert!(relocate(&listing("{}", &[]), "hub", BASE, &catalog).is_err());
        catalog.view = TAGS_VIEW.into();
        catalog.pkg = None;
        assert!(relocate(&listing("{}", &[]), "hub", BASE, &catalog).is_err());
    }
}
