//! The simple repository API pages, rendered from the database: the project list and
//! each project's files, as PEP 503 HTML or PEP 691 JSON (API version 1.1, PEP 700),
//! with sha256 hashes in every link, `Requires-Python` (PEP 503, escaped), yanks
//! (PEP 592) and the wheel metadata files (PEP 658, under both PEP 714 names).

use std::fmt::Write;

use serde_json::{Value, json};
use wharf_plugin_sdk::{
    FileInfo, HashAlgorithm, IndexInput, PackageDetail, PluginError, Response, VersionDetail,
    params, time,
};

use crate::accept::Flavor;
use crate::metadata::{self, FileFacts};
use crate::routes::{FLAVOR, view};
use crate::upload::METADATA_SUFFIX;

/// The API version both serializations announce (PEP 629, PEP 700).
const API_VERSION: &str = "1.1";

pub fn render(input: &IndexInput) -> Result<Response, PluginError> {
    let flavor = Flavor::from_name(params::text(&input.spec.params, FLAVOR));
    let base = &input.base_url;
    let body = match input.spec.view.as_str() {
        view::PROJECTS => {
            let names: Vec<&str> = input.listing.iter().map(|p| p.pkg.name.as_str()).collect();
            match flavor {
                Flavor::Json => projects_json(&names),
                _ => projects_html(base, &names),
            }
        }
        view::PROJECT => {
            let Some(detail) = &input.detail else {
                return Err(PluginError::not_found("no such project"));
            };
            let files = files(base, detail);
            match flavor {
                Flavor::Json => project_json(detail, &files),
                _ => project_html(&detail.pkg.name, &files),
            }
        }
        other => return Err(PluginError::new(500, format!("unknown view {other:?}"))),
    };
    Ok(Response::new(200, flavor.content_type(), body).header("vary", "Accept"))
}

/// What a page says about one distribution file.
#[derive(Debug)]
struct Dist<'a> {
    file: &'a FileInfo,
    url: String,
    sha256: &'a str,
    requires_python: String,
    /// `Some(reason)` when the version is yanked.
    yanked: Option<String>,
    /// sha256 of the wheel's `.metadata` file, when there is one.
    metadata_sha256: Option<&'a str>,
}

/// The distribution files of every version, oldest version first.
fn files<'a>(base: &str, detail: &'a PackageDetail) -> Vec<Dist<'a>> {
    let name = &detail.pkg.name;
    let mut out = Vec::new();
    for version in &detail.versions {
        let yanked = metadata::yanked(&version.properties);
        for file in version.files.iter().filter(|f| f.lead) {
            out.push(Dist {
                url: format!(
                    "{base}/files/{}/{}/{}",
                    encode(name),
                    encode(&version.version),
                    encode(&file.name)
                ),
                sha256: sha256(file).unwrap_or_default(),
                requires_python: requires_python(version, &file.name),
                yanked: yanked.clone(),
                metadata_sha256: version
                    .files
                    .iter()
                    .find(|m| m.name.strip_suffix(METADATA_SUFFIX) == Some(file.name.as_str()))
                    .and_then(sha256),
                file,
            });
        }
    }
    out
}

fn sha256(file: &FileInfo) -> Option<&str> {
    file.digests
        .iter()
        .find(|d| d.algorithm == HashAlgorithm::Sha256)
        .map(|d| d.hex.as_str())
}

/// The file's own `Requires-Python`, else the release's.
fn requires_python(version: &VersionDetail, filename: &str) -> String {
    let property = metadata::file_property(filename);
    let facts = version
        .properties
        .iter()
        .find(|(n, _)| *n == property)
        .map(|(_, v)| FileFacts::from_json(v))
        .unwrap_or_default();
    if !facts.requires_python.is_empty() {
        return facts.requires_python;
    }
    serde_json::from_str::<Value>(&version.metadata)
        .ok()
        .and_then(|m| m.get("requires_python")?.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn projects_html(base: &str, names: &[&str]) -> String {
    let mut body = page_start("Simple index");
    for name in names {
        let _ = writeln!(
            body,
            "    <a href=\"{}\">{}</a><br/>",
            escape(&format!("{base}/simple/{}/", encode(name))),
            escape(name)
        );
    }
    body + PAGE_END
}

fn projects_json(names: &[&str]) -> String {
    let projects: Vec<Value> = names.iter().map(|n| json!({ "name": n })).collect();
    json!({ "meta": { "api-version": API_VERSION }, "projects": projects }).to_string()
}

fn project_html(name: &str, files: &[Dist<'_>]) -> String {
    let mut body = page_start(&format!("Links for {name}"));
    for dist in files {
        let mut attributes = format!(
            "href=\"{}\"",
            escape(&format!("{}#sha256={}", dist.url, dist.sha256))
        );
        if !dist.requires_python.is_empty() {
            let _ = write!(
                attributes,
                " data-requires-python=\"{}\"",
                escape(&dist.requires_python)
            );
        }
        if let Some(sha256) = dist.metadata_sha256 {
            let _ = write!(
                attributes,
                " data-dist-info-metadata=\"sha256={sha256}\" data-core-metadata=\"sha256={sha256}\""
            );
        }
        if let Some(reason) = &dist.yanked {
            let _ = write!(attributes, " data-yanked=\"{}\"", escape(reason));
        }
        let _ = writeln!(
            body,
            "    <a {attributes}>{}</a><br/>",
            escape(&dist.file.name)
        );
    }
    body + PAGE_END
}

fn project_json(detail: &PackageDetail, files: &[Dist<'_>]) -> String {
    let mut versions: Vec<(Option<pep440_rs::Version>, &str)> = detail
        .versions
        .iter()
        .map(|v| (crate::version::parse(&v.version), v.version.as_str()))
        .collect();
    versions.sort();
    let files: Vec<Value> = files
        .iter()
        .map(|dist| {
            let metadata = match dist.metadata_sha256 {
                Some(sha256) => json!({ "sha256": sha256 }),
                None => json!(false),
            };
            let mut file = json!({
                "filename": dist.file.name,
                "url": dist.url,
                "hashes": { "sha256": dist.sha256 },
                "size": dist.file.size,
                "upload-time": time::iso8601(dist.file.created),
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
                "yanked": match &dist.yanked {
                    None => json!(false),
                    Some(reason) if reason.is_empty() => json!(true),
                    Some(reason) => json!(reason),
                },
            });
            if !dist.requires_python.is_empty() {
                file["requires-python"] = json!(dist.requires_python);
            }
            file
        })
        .collect();
    json!({
        "meta": { "api-version": API_VERSION },
        "name": detail.pkg.name,
        "versions": versions.iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "files": files,
    })
    .to_string()
}

pub fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    \
         <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    \
         <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n",
        title = escape(title)
    )
}

pub const PAGE_END: &str = "  </body>\n</html>\n";

/// Escapes text for HTML content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment: everything but RFC 3986 unreserved characters and
/// the sub-delimiters versions and file names use (`+` of local versions, `!` of epochs).
pub fn encode(segment: &str) -> String {
    wharf_plugin_sdk::upstream::encode_segment_keeping(segment, b"!+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::{Digest, IndexSpec, PackageRef};

    fn file(name: &str, lead: bool, sha256: &str) -> FileInfo {
        FileInfo {
            name: name.into(),
            size: 1234,
            lead,
            content_type: "application/octet-stream".into(),
            digests: vec![Digest {
                algorithm: HashAlgorithm::Sha256,
                hex: sha256.into(),
            }],
            created: 1_700_000_000,
        }
    }

    fn version(v: &str, files: Vec<FileInfo>, properties: &[(&str, &str)]) -> VersionDetail {
        VersionDetail {
            version: v.into(),
            metadata: r#"{"requires_python":">=3.7"}"#.into(),
            created: 0,
            downloads: 0,
            files,
            properties: properties
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn detail() -> PackageDetail {
        PackageDetail {
            pkg: PackageRef {
                owner: "alice".into(),
                name: "wharf-base".into(),
            },
            created: 0,
            modified: 0,
            versions: vec![
                version(
                    "1.1.0",
                    vec![
                        file("wharf_base-1.1.0-py3-none-any.whl", true, "aa"),
                        file("wharf_base-1.1.0-py3-none-any.whl.metadata", false, "bb"),
                    ],
                    &[
                        (
                            "file:wharf_base-1.1.0-py3-none-any.whl",
                            r#"{"requires_python":">=3.8, <4"}"#,
                        ),
                        ("yanked", "true"),
                        ("yanked-reason", "broken \"fast\" path"),
                    ],
                ),
                version(
                    "1.0.0+local",
                    vec![file("wharf_base-1.0.0+local.tar.gz", true, "cc")],
                    &[],
                ),
            ],
            tags: Vec::new(),
        }
    }

    fn input(view: &str, flavor: Flavor, detail: Option<PackageDetail>) -> IndexInput {
        IndexInput {
            base_url: "http://x/api/packages/alice/pypi".into(),
            owner: Some("alice".into()),
            spec: IndexSpec {
                pkg: None,
                view: view.into(),
                params: params::owned(&[(FLAVOR, flavor.as_str())]),
                digest_of: None,
                listing: None,
            },
            listing: detail.clone().into_iter().collect(),
            listing_total: 1,
            detail,
            rendered_at: wharf_plugin_sdk::testing::RENDERED_AT,
        }
    }

    fn body(response: &Response) -> String {
        String::from_utf8(response.body.clone()).unwrap()
    }

    #[test]
    fn the_project_page_in_html() {
        let response = render(&input(view::PROJECT, Flavor::Html, Some(detail()))).unwrap();
        assert_eq!(response.content_type, "text/html; charset=utf-8");
        assert_eq!(
            response.headers,
            [("vary".to_string(), "Accept".to_string())]
        );
        let html = body(&response);
        assert!(
            html.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"),
            "{html}"
        );
        assert!(html.contains(
            "<a href=\"http://x/api/packages/alice/pypi/files/wharf-base/1.1.0/wharf_base-1.1.0-py3-none-any.whl#sha256=aa\" \
             data-requires-python=\"&gt;=3.8, &lt;4\" data-dist-info-metadata=\"sha256=bb\" \
             data-core-metadata=\"sha256=bb\" data-yanked=\"broken &quot;fast&quot; path\">\
             wharf_base-1.1.0-py3-none-any.whl</a><br/>"
        ), "{html}");
        // The release's Requires-Python stands in for a file that has none of its own.
        assert!(html.contains(
            "<a href=\"http://x/api/packages/alice/pypi/files/wharf-base/1.0.0+local/wharf_base-1.0.0+local.tar.gz#sha256=cc\" \
             data-requires-python=\"&gt;=3.7\">wharf_base-1.0.0+local.tar.gz</a>"
        ), "{html}");
        assert!(
            !html.contains(".metadata<"),
            "metadata files are not listed: {html}"
        );
    }

    #[test]
    fn the_project_page_in_json() {
        let response = render(&input(view::PROJECT, Flavor::Json, Some(detail()))).unwrap();
        assert_eq!(response.content_type, "application/vnd.pypi.simple.v1+json");
        let page: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(page["meta"]["api-version"], "1.1");
        assert_eq!(page["name"], "wharf-base");
        assert_eq!(page["versions"], json!(["1.0.0+local", "1.1.0"]));
        let wheel = &page["files"][0];
        assert_eq!(wheel["filename"], "wharf_base-1.1.0-py3-none-any.whl");
        assert_eq!(wheel["hashes"], json!({ "sha256": "aa" }));
        assert_eq!(wheel["requires-python"], ">=3.8, <4");
        assert_eq!(wheel["core-metadata"], json!({ "sha256": "bb" }));
        assert_eq!(wheel["dist-info-metadata"], json!({ "sha256": "bb" }));
        assert_eq!(wheel["yanked"], "broken \"fast\" path");
        assert_eq!(wheel["size"], 1234);
        assert_eq!(wheel["upload-time"], "2023-11-14T22:13:20.000Z");
        let sdist = &page["files"][1];
        assert_eq!(sdist["yanked"], false);
        assert_eq!(sdist["core-metadata"], false);
        assert_eq!(page["files"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_yank_without_reason_is_true_in_json_and_empty_in_html() {
        let mut detail = detail();
        detail.versions[0]
            .properties
            .retain(|(n, _)| n != "yanked-reason");
        let json_page = render(&input(view::PROJECT, Flavor::Json, Some(detail.clone()))).unwrap();
        let page: Value = serde_json::from_slice(&json_page.body).unwrap();
        assert_eq!(page["files"][0]["yanked"], true);
        let html = body(&render(&input(view::PROJECT, Flavor::HtmlV1, Some(detail))).unwrap());
        assert!(html.contains(" data-yanked=\"\">"), "{html}");
    }

    #[test]
    fn the_project_list_and_a_missing_project() {
        let html = body(&render(&input(view::PROJECTS, Flavor::Html, Some(detail()))).unwrap());
        assert!(html.contains(
            "<a href=\"http://x/api/packages/alice/pypi/simple/wharf-base/\">wharf-base</a><br/>"
        ), "{html}");
        let json_page = render(&input(view::PROJECTS, Flavor::Json, Some(detail()))).unwrap();
        let page: Value = serde_json::from_slice(&json_page.body).unwrap();
        assert_eq!(page["projects"], json!([{ "name": "wharf-base" }]));
        let err = render(&input(view::PROJECT, Flavor::Html, None)).unwrap_err();
        assert_eq!(err.status, 404);
    }

    #[test]
    fn escaping_and_encoding() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(encode("1!2.0+local.1"), "1!2.0+local.1");
        assert_eq!(encode("a b/c%#?"), "a%20b%2Fc%25%23%3F");
    }
}
