//! Proxy repositories of a sparse cargo registry (issue 21).
//!
//! The configured upstream URL is the registry's sparse index root, without `sparse+`:
//! `https://index.crates.io` for crates.io, `{mount}` for another Wharf's or Gitea's
//! cargo registry. A proxy answers `config.json` itself, as any owner does (its `dl`
//! and `api` name this registry, so downloads come through the proxy).
//!
//! - An index file (`/{prefix}/{name}`) is fetched from the same path upstream and
//!   served unchanged: its lines hold no URLs. Each line declares the `.crate` of its
//!   version with the line's `cksum`, which the host checks the download against.
//! - A download (`/api/v1/crates/{name}/{version}/download`) is the `.crate` its index
//!   file declares.
//! - Search and owners are the upstream's business: a proxy answers them 404.
//!
//! Where a declared `.crate` is: the index does not say (the upstream's `config.json`
//! `dl` does, which `rewrite` never sees), so the rule is fixed: crates.io's index
//! (`index.crates.io`) downloads from `https://static.crates.io/crates`, every other
//! upstream from the `proxy-dl` setting, a `dl` value as cargo reads it (markers
//! `{crate}`, `{version}`, `{prefix}`, `{lowerprefix}`, `{sha256-checksum}`; without
//! any, `/{crate}/{version}/download` is appended), relative to the upstream's URL
//! when it starts with `/`. Its default, `/api/v1/crates`, is Wharf's and Gitea's.

use serde::Deserialize;
use wharf_plugin_sdk::upstream::upstream_get;
use wharf_plugin_sdk::{
    DeclaredArtifact, Digest, FetchPlan, HashAlgorithm, IndexSpec, Operation, PackageRef,
    PluginError, Response, RewriteInput, Rewritten, Selector, ServeSpec, SettingDecl, SettingKind,
    SettingValue, settings, upstream,
};

use crate::{names, render, routes};

/// The setting naming where upstreams other than crates.io keep their `.crate` files.
pub const DL_SETTING: &str = "proxy-dl";
/// Wharf's and Gitea's `dl`, relative to the registry's URL.
const DEFAULT_DL: &str = "/api/v1/crates";
/// crates.io's sparse index host and its `config.json` `dl`.
const CRATES_IO_INDEX: &str = "index.crates.io";
const CRATES_IO_DL: &str = "https://static.crates.io/crates";

pub fn dl_setting() -> SettingDecl {
    SettingDecl {
        name: DL_SETTING.into(),
        description: "Where cargo proxies download crates from upstreams other than \
            crates.io: the upstream's config.json `dl`, relative to its URL when it starts \
            with `/`"
            .into(),
        kind: SettingKind::Text,
        default: SettingValue::Text(DEFAULT_DL.into()),
    }
}

pub fn plan(operation: &Operation) -> FetchPlan {
    match operation {
        Operation::RenderIndex(IndexSpec {
            pkg: Some(pkg),
            view,
            ..
        }) if view == render::INDEX => FetchPlan::Document(upstream_get(
            format!("/{}", names::index_path(&pkg.name)),
            None,
        )),
        Operation::Serve(ServeSpec {
            selector: Selector::File(file),
            digest_of: None,
        }) => FetchPlan::declared(file.clone(), true, index_of(&file.version.pkg)),
        _ => FetchPlan::NotFound,
    }
}

/// The index file operation that declares a crate's downloads, as `match-route` gives
/// it for the lower-case path cargo asks for (so it is the same document cache entry).
fn index_of(pkg: &PackageRef) -> Operation {
    routes::index(
        PackageRef {
            owner: pkg.owner.clone(),
            name: pkg.name.to_ascii_lowercase(),
        },
        render::INDEX,
    )
}

/// What `rewrite` reads of an index line; the line itself passes through unread.
#[derive(Deserialize)]
struct Line {
    name: String,
    vers: String,
    cksum: String,
}

pub fn rewrite(input: RewriteInput) -> Result<Rewritten, PluginError> {
    let Operation::RenderIndex(IndexSpec { pkg: Some(pkg), .. }) = &input.operation else {
        return Err(PluginError::internal(
            "cargo proxies fetch only index files",
        ));
    };
    let path = format!("/{}", names::index_path(&pkg.name));
    let root = upstream::base_of(&input.url, &path)
        .ok_or_else(|| bad(&input.url, "not fetched from the index path planned"))?;
    let dl = match upstream::host(root).as_deref() {
        Some(CRATES_IO_INDEX) => CRATES_IO_DL.to_string(),
        _ => settings::text(DL_SETTING, DEFAULT_DL),
    };
    let text = std::str::from_utf8(&input.upstream.body)
        .map_err(|_| bad(&input.url, "the index file is not UTF-8"))?;
    let declares = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| declared(line, &pkg.name, &dl, &input.url))
        .collect::<Result<_, _>>()?;
    Ok(Rewritten {
        response: Response::new(200, render::INDEX_TYPE, input.upstream.body),
        declares,
    })
}

/// The `.crate` an index line declares.
fn declared(
    line: &str,
    crate_name: &str,
    dl: &str,
    url: &str,
) -> Result<DeclaredArtifact, PluginError> {
    let line: Line = serde_json::from_str(line)
        .map_err(|e| bad(url, &format!("an index line is not a crate version: {e}")))?;
    if !line.name.eq_ignore_ascii_case(crate_name) || line.vers.is_empty() {
        return Err(bad(
            url,
            &format!("a line names {} {:?}", line.name, line.vers),
        ));
    }
    let digest = Digest::from_hex(HashAlgorithm::Sha256, &line.cksum).ok_or_else(|| {
        bad(
            url,
            &format!("{} {}: cksum is not a sha256", line.name, line.vers),
        )
    })?;
    Ok(DeclaredArtifact {
        name: names::crate_file(&line.name, &line.vers),
        url: download_url(dl, &line.name, &line.vers, &digest.hex),
        version: line.vers,
        digests: vec![digest],
    })
}

/// A `dl` template expanded as cargo expands it.
fn download_url(dl: &str, name: &str, version: &str, sha256: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| dl.contains(m)) {
        return format!("{}/{name}/{version}/download", dl.trim_end_matches('/'));
    }
    let prefix = names::prefix(name);
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
        .replace("{prefix}", &prefix)
        .replace("{sha256-checksum}", sha256)
}

/// A document the proxy cannot serve: the upstream's fault, so 502.
fn bad(url: &str, why: &str) -> PluginError {
    PluginError::new(502, format!("upstream index file {url}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing::{self, UPSTREAM};
    use wharf_plugin_sdk::{ArtifactSource, FileRef, Method, Request, UpstreamRequest, VersionRef};

    const SHA: &str = "1c8a3f0b8b0b7b6d9a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa99";

    fn request(path: &str) -> Request {
        testing::request(Method::Get, path)
            .with_owner(Some("crates-io"))
            .with_base_url("http://wharf.test/api/packages/crates-io/cargo")
    }

    fn operation(path: &str) -> Operation {
        routes::match_route(&request(path)).unwrap().operation
    }

    fn line(name: &str, vers: &str, cksum: &str) -> String {
        format!(
            r#"{{"name":"{name}","vers":"{vers}","deps":[],"cksum":"{cksum}","features":{{}},"yanked":false}}"#
        )
    }

    /// What `rewrite` gets for `serde`'s index file, fetched below `upstream`.
    fn input(upstream: &str, body: &str) -> RewriteInput {
        let mut input = testing::rewrite_input(
            request("/se/rd/serde"),
            operation("/se/rd/serde"),
            "/se/rd/serde",
            "text/plain",
            body,
        );
        input.url = format!("{upstream}/se/rd/serde");
        input
    }

    #[test]
    fn index_files_come_from_the_same_path_upstream() {
        for (path, upstream) in [
            ("/se/rd/serde", "/se/rd/serde"),
            ("/1/a", "/1/a"),
            ("/3/s/syn", "/3/s/syn"),
        ] {
            assert_eq!(
                plan(&operation(path)),
                FetchPlan::Document(UpstreamRequest {
                    path: upstream.into(),
                    accept: None,
                    head_validator: None,
                })
            );
        }
    }

    #[test]
    fn downloads_are_declared_in_the_lower_case_index_file() {
        let plan = plan(&operation("/api/v1/crates/Serde/1.0.0/download"));
        let FetchPlan::Artifact(artifact) = plan else {
            panic!("{plan:?}");
        };
        assert_eq!(
            artifact.file,
            FileRef {
                version: VersionRef {
                    pkg: PackageRef {
                        owner: "crates-io".into(),
                        name: "Serde".into()
                    },
                    version: "1.0.0".into(),
                },
                name: "Serde-1.0.0.crate".into(),
            }
        );
        assert!(artifact.lead);
        assert_eq!(
            artifact.source,
            ArtifactSource::DeclaredIn(operation("/se/rd/serde"))
        );
    }

    #[test]
    fn config_search_and_owners_are_not_fetched() {
        // config.json is answered by the plugin, as for hosted owners.
        assert!(matches!(operation("/config.json"), Operation::Respond(_)));
        for path in ["/api/v1/crates?q=serde", "/api/v1/crates/serde/owners"] {
            assert_eq!(plan(&operation(path)), FetchPlan::NotFound, "{path}");
        }
    }

    #[test]
    fn lines_pass_through_and_declare_their_crate() {
        let body = format!(
            "{}\n\n{}\n",
            line("serde", "1.0.0", SHA),
            line("serde", "1.0.1+b", &SHA.to_uppercase())
        );
        let rewritten = rewrite(input("http://up.test/api/packages/bob/cargo", &body)).unwrap();
        assert_eq!(rewritten.response.body, body.as_bytes());
        assert_eq!(rewritten.response.content_type, render::INDEX_TYPE);
        let first = &rewritten.declares[0];
        assert_eq!(
            (
                first.name.as_str(),
                first.version.as_str(),
                first.url.as_str()
            ),
            (
                "serde-1.0.0.crate",
                "1.0.0",
                "/api/v1/crates/serde/1.0.0/download"
            )
        );
        assert_eq!(
            first.digests,
            [Digest {
                algorithm: HashAlgorithm::Sha256,
                hex: SHA.into()
            }]
        );
        assert_eq!(rewritten.declares[1].digests[0].hex, SHA, "lower-cased");
        assert_eq!(
            rewritten.declares[1].url,
            "/api/v1/crates/serde/1.0.1+b/download"
        );
    }

    #[test]
    fn crates_io_downloads_from_its_static_host() {
        let rewritten = rewrite(input(
            "https://index.crates.io",
            &line("serde", "1.0.0", SHA),
        ))
        .unwrap();
        assert_eq!(
            rewritten.declares[0].url,
            "https://static.crates.io/crates/serde/1.0.0/download"
        );
    }

    #[test]
    fn the_dl_setting_expands_cargos_markers() {
        let templates = [
            (
                "https://dl.test/{prefix}/{crate}-{version}.crate?{sha256-checksum}",
                format!("https://dl.test/Se/rd/Serde-1.0.0.crate?{SHA}"),
            ),
            (
                "/files/{lowerprefix}/{crate}/{version}",
                "/files/se/rd/Serde/1.0.0".into(),
            ),
            (
                "https://dl.test/crates/",
                "https://dl.test/crates/Serde/1.0.0/download".into(),
            ),
        ];
        for (template, url) in templates {
            let rewritten = testing::with_settings(
                &[(DL_SETTING, SettingValue::Text(template.into()))],
                || rewrite(input(UPSTREAM, &line("Serde", "1.0.0", SHA))).unwrap(),
            );
            assert_eq!(rewritten.declares[0].url, url, "{template}");
        }
    }

    #[test]
    fn malformed_index_files_are_502() {
        for body in [
            "not json".to_string(),
            line("serde", "1.0.0", "abc"),
            line("other", "1.0.0", SHA),
            line("serde", "", SHA),
            r#"{"name":"serde","vers":"1.0.0"}"#.to_string(),
        ] {
            let e = rewrite(input(UPSTREAM, &body)).unwrap_err();
            assert_eq!(e.status, 502, "{body}");
        }
        let mut latin1 = input(UPSTREAM, "");
        latin1.upstream.body = vec![0xff];
        assert_eq!(rewrite(latin1).unwrap_err().status, 502);
        let mut elsewhere = input(UPSTREAM, &line("serde", "1.0.0", SHA));
        elsewhere.url = format!("{UPSTREAM}/other");
        assert_eq!(rewrite(elsewhere).unwrap_err().status, 502);
    }
}
