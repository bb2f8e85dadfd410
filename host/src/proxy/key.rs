//! The key a proxy's document is cached under: everything of a `render-index` spec that
//! can change which upstream document it is. The mount's base URL is not in it (the raw
//! document does not depend on it; the rewritten one is cached per base URL in memory),
//! nor is `digest-of` (a `.sha1` of a document is a digest of the same document, taken
//! of the rewritten body as the hosted index cache does).

use crate::plugins::api::IndexSpec;

/// A stable text for `spec`: JSON, so no choice of names or params can make two specs
/// collide.
pub fn document_key(spec: &IndexSpec) -> String {
    let listing = spec
        .listing
        .as_ref()
        .map(|l| serde_json::json!([l.filter, l.offset, l.limit, l.all_versions, l.after]));
    serde_json::json!([
        spec.pkg.as_ref().map(|p| &p.name),
        spec.view,
        spec.params,
        listing
    ])
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::api::{HashAlgorithm, ListingSpec, PackageRef};

    fn spec(name: Option<&str>, view: &str, params: &[(&str, &str)]) -> IndexSpec {
        IndexSpec {
            pkg: name.map(|n| PackageRef {
                owner: "proxy".into(),
                name: n.into(),
            }),
            view: view.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            digest_of: None,
            listing: None,
        }
    }

    #[test]
    fn keys_tell_specs_apart_and_ignore_the_digest() {
        let base = document_key(&spec(Some("app"), "packument", &[]));
        assert_eq!(base, r#"["app","packument",[],null]"#);
        let others = [
            spec(Some("app"), "abbreviated", &[]),
            spec(Some("ap"), "ppackument", &[]),
            spec(Some("app"), "packument", &[("v", "1")]),
            spec(None, "packument", &[]),
        ];
        for other in others {
            assert_ne!(document_key(&other), base);
        }
        let mut sha1 = spec(Some("app"), "packument", &[]);
        sha1.digest_of = Some(HashAlgorithm::Sha1);
        assert_eq!(document_key(&sha1), base);
        let mut listed = spec(None, "search", &[]);
        listed.listing = Some(ListingSpec {
            filter: "a".into(),
            offset: 0,
            limit: 20,
            all_versions: false,
            after: String::new(),
        });
        assert_eq!(
            document_key(&listed),
            r#"[null,"search",[],["a",0,20,false,""]]"#
        );
    }
}
