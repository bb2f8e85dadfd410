//! Index specs and inputs across the contracts. A 0.2 rendering may read the routed
//! request (its path, its query), which 0.3 no longer passes because the cache does not
//! key on it. So the route carries them as parameters, which the cache does key on, and
//! the request a 0.2 `render-index` gets is rebuilt from them: a cached rendering stays
//! right for everyone it is served to.

use super::{Convert, old, records};
use crate::plugins::api;

/// Parameter that carries 0.2's index `argument`.
const ARGUMENT: &str = "argument";
/// Parameter that carries the routed request's path to a 0.2 `render-index`.
const PATH: &str = "path";
/// Prefix of the parameters that carry the routed request's query, one per item.
const QUERY: &str = "query.";

records! { old => api: ListingSpec { filter, offset, limit, all_versions, after } }

/// A 0.2 index spec routed for `request`: its argument, and the request's path and
/// query, become parameters.
pub(super) fn index_spec(spec: old::IndexSpec, request: &api::Request) -> api::IndexSpec {
    let mut params = vec![
        (ARGUMENT.to_string(), spec.argument),
        (PATH.to_string(), request.path.clone()),
    ];
    params.extend(
        request
            .query
            .iter()
            .map(|(name, value)| (format!("{QUERY}{name}"), value.clone())),
    );
    api::IndexSpec {
        pkg: spec.pkg.convert(),
        view: spec.view,
        params,
        digest_of: spec.digest_of.convert(),
        listing: spec.listing.convert(),
    }
}

/// The input of a 0.2 `render-index`, with the request rebuilt from what the route put
/// into the params: a GET of that path and query, from the mount's owner and base URL.
/// Headers and user are not part of the cache key, so the rendering never sees them.
pub fn index_input(input: &api::IndexInput) -> old::IndexInput {
    let params = &input.spec.params;
    let request = old::Request {
        method: old::Method::Get,
        path: param(params, PATH).unwrap_or_default(),
        query: params
            .iter()
            .filter_map(|(name, value)| {
                Some((name.strip_prefix(QUERY)?.to_string(), value.clone()))
            })
            .collect(),
        headers: Vec::new(),
        owner: input.owner.clone(),
        base_url: input.base_url.clone(),
        user: None,
    };
    let spec = &input.spec;
    old::IndexInput {
        request,
        spec: old::IndexSpec {
            pkg: spec.pkg.clone().convert(),
            view: spec.view.clone(),
            argument: param(params, ARGUMENT).unwrap_or_default(),
            digest_of: spec.digest_of.convert(),
            listing: spec.listing.clone().convert(),
        },
        detail: input.detail.clone().convert(),
        listing: input.listing.clone().convert(),
        listing_total: input.listing_total,
    }
}

/// The first value of the parameter `name`.
pub(super) fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `GET /app/tags/list?n=2&last=v1` routes to, as a 0.2 plugin said it.
    fn index_route() -> api::IndexSpec {
        let spec = old::IndexSpec {
            pkg: Some(old::PackageRef {
                owner: "alice".into(),
                name: "app".into(),
            }),
            view: "tags".into(),
            argument: "a\0b".into(),
            digest_of: Some(old::HashAlgorithm::Md5),
            listing: Some(old::ListingSpec {
                filter: "x".into(),
                offset: 1,
                limit: 2,
                all_versions: true,
                after: "m".into(),
            }),
        };
        index_spec(spec, &super::super::tags_request())
    }

    #[test]
    fn index_routes_key_on_the_argument_path_and_query() {
        let spec = index_route();
        let pairs: Vec<(&str, &str)> = spec
            .params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("argument", "a\0b"),
                ("path", "/app/tags/list"),
                ("query.n", "2"),
                ("query.last", "v1"),
            ]
        );
        assert_eq!(spec.view, "tags");
        assert_eq!(spec.digest_of, Some(api::HashAlgorithm::Md5));
        assert!(matches!(&spec.listing, Some(l) if l.all_versions && l.after == "m"));
    }

    #[test]
    fn a_0_2_render_gets_the_request_rebuilt_from_the_params() {
        let spec = index_route();
        let input = api::IndexInput {
            base_url: "http://h/v2".into(),
            owner: Some("alice".into()),
            spec,
            detail: Some(api::PackageDetail {
                pkg: api::PackageRef {
                    owner: "alice".into(),
                    name: "app".into(),
                },
                created: 1,
                modified: 2,
                versions: vec![api::VersionDetail {
                    version: "1.0".into(),
                    metadata: "{}".into(),
                    created: 3,
                    downloads: 4,
                    files: vec![api::FileInfo {
                        name: "app.tgz".into(),
                        size: 5,
                        lead: true,
                        content_type: "application/gzip".into(),
                        digests: Vec::new(),
                        created: 6,
                    }],
                    properties: Vec::new(),
                }],
                tags: vec![("latest".into(), "1.0".into())],
            }),
            listing: Vec::new(),
            listing_total: 9,
            rendered_at: 1_700_000_000,
        };
        let old = index_input(&input);
        let r = &old.request;
        assert!(matches!(r.method, old::Method::Get));
        assert_eq!(r.path, "/app/tags/list");
        assert_eq!(
            r.query,
            [
                ("n".to_string(), "2".to_string()),
                ("last".to_string(), "v1".to_string())
            ]
        );
        assert!(r.headers.is_empty());
        assert_eq!(r.user, None);
        assert_eq!(r.owner.as_deref(), Some("alice"));
        assert_eq!(r.base_url, "http://h/v2");
        assert_eq!(old.spec.argument, "a\0b");
        assert_eq!(old.spec.view, "tags");
        assert!(matches!(old.spec.digest_of, Some(old::HashAlgorithm::Md5)));
        assert!(
            matches!(&old.spec.listing, Some(l) if l.filter == "x" && l.offset == 1 && l.limit == 2)
        );
        let detail = old.detail.unwrap();
        assert_eq!(detail.versions[0].files[0].size, 5);
        assert_eq!(detail.tags, [("latest".to_string(), "1.0".to_string())]);
        assert_eq!(old.listing_total, 9);
    }
}
