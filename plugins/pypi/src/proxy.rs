//! PyPI proxies: an upstream simple repository (PyPI, pypiserver, devpi, another Wharf)
//! behind a proxy owner. The proxy's upstream URL is the index's root, the one whose
//! `/simple/` is the project list (`https://pypi.upstream.example`, not `…/simple`).
//!
//! - Simple pages are documents: `/simple/` and `/simple/{name}/` at the upstream, asked
//!   for in the flavor (PEP 691 JSON or PEP 503 HTML) the client's page was routed to,
//!   revalidated after the proxy's TTL.
//! - `rewrite` points every file of a project page at this proxy's `/files/…` URL, the
//!   one hosted owners serve (so pip cannot tell), and declares the upstream URL with
//!   the page's digests (`#sha256=` / `hashes`) for the host to verify; hashes,
//!   `Requires-Python`, yanks and PEP 658/714 metadata (declared too, as
//!   `{file}.metadata`) stay as the upstream said. The page stays in the upstream's
//!   serialization (an upstream without PEP 691 answers HTML to a JSON request; pip
//!   reads either). A file whose name does not give this project's version (another
//!   project's, an installer) is left out: the proxy could not file it.
//! - Downloads are artifacts declared by the project page; the host fetches or
//!   revalidates the page when it holds no declaration of the file.

use serde_json::Value;
use wharf_plugin_sdk::upstream::{pair_digest, resolve, split_fragment, upstream_get};
use wharf_plugin_sdk::{
    DeclaredArtifact, Digest, FetchPlan, FileRef, HashAlgorithm, IndexSpec, Operation, PackageRef,
    PluginError, Response, RewriteInput, Rewritten, Selector, ServeSpec, params, percent_decode,
};

use crate::accept::Flavor;
use crate::html::{self, Anchor};
use crate::routes::{FLAVOR, view};
use crate::simple::{PAGE_END, encode, escape, page_start, projects_html};
use crate::upload::METADATA_SUFFIX;
use crate::{filename, names};

pub fn plan(operation: &Operation) -> Result<FetchPlan, PluginError> {
    Ok(match operation {
        Operation::RenderIndex(spec) => {
            let path = match (spec.view.as_str(), &spec.pkg) {
                (view::PROJECTS, _) => "/simple/".to_string(),
                (view::PROJECT, Some(pkg)) => format!("/simple/{}/", encode(&pkg.name)),
                _ => return Ok(FetchPlan::NotFound),
            };
            let flavor = Flavor::from_name(params::text(&spec.params, FLAVOR));
            FetchPlan::Document(upstream_get(path, Some(accept(flavor))))
        }
        Operation::Serve(ServeSpec {
            selector: Selector::File(file),
            ..
        }) => FetchPlan::declared(
            // The version comes from the declaration: the one the file's name gives.
            FileRef::versionless(file.version.pkg.clone(), &file.name),
            !file.name.ends_with(METADATA_SUFFIX),
            project_page(&file.version.pkg),
        ),
        _ => FetchPlan::NotFound,
    })
}

/// What the upstream is asked for a page of `flavor`: that flavor first, HTML as the
/// fallback every simple repository has.
fn accept(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Json => {
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
        }
        Flavor::HtmlV1 => "application/vnd.pypi.simple.v1+html, text/html;q=0.01",
        Flavor::Html => "text/html",
    }
}

/// The project page declaring a project's files, in the flavor pip asks for.
fn project_page(pkg: &PackageRef) -> Operation {
    Operation::RenderIndex(IndexSpec {
        pkg: Some(pkg.clone()),
        view: view::PROJECT.into(),
        params: params::owned(&[(FLAVOR, Flavor::Json.as_str())]),
        digest_of: None,
        listing: None,
    })
}

pub fn rewrite(input: &RewriteInput) -> Result<Rewritten, PluginError> {
    let Operation::RenderIndex(spec) = &input.operation else {
        return Err(PluginError::internal(
            "a PyPI document for an operation that is no page",
        ));
    };
    let text = std::str::from_utf8(&input.upstream.body)
        .map_err(|_| bad_upstream(input, "the page is not UTF-8"))?;
    let json = is_json(&input.upstream.content_type);
    match (spec.view.as_str(), &spec.pkg) {
        (view::PROJECT, Some(pkg)) if json => project_json(input, &pkg.name, text),
        (view::PROJECT, Some(pkg)) => Ok(project_html(input, &pkg.name, text)),
        (view::PROJECTS, _) if json => {
            serde_json::from_str::<Value>(text)
                .map_err(|e| bad_upstream(input, &format!("invalid JSON: {e}")))?;
            Ok(page(Flavor::Json.content_type(), text.into(), Vec::new()))
        }
        (view::PROJECTS, _) => Ok(projects(input, text)),
        _ => Err(PluginError::internal(format!(
            "unknown view {:?}",
            spec.view
        ))),
    }
}

fn is_json(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    media_type.to_ascii_lowercase().ends_with("json")
}

fn bad_upstream(input: &RewriteInput, why: &str) -> PluginError {
    PluginError::new(
        502,
        format!("{} is not a simple repository page: {why}", input.url),
    )
}

fn page(content_type: &str, body: Vec<u8>, declares: Vec<DeclaredArtifact>) -> Rewritten {
    Rewritten {
        response: Response::new(200, content_type, body).header("vary", "Accept"),
        declares,
    }
}

/// One file of an upstream project page, as this proxy lists and fetches it.
struct Dist {
    version: String,
    /// The absolute upstream URL, without fragment.
    upstream: String,
    /// This proxy's URL for it.
    local: String,
}

impl Dist {
    /// `None` for a file the proxy cannot file under `name` (see the module header) or
    /// a link that is no http(s) URL.
    fn new(input: &RewriteInput, name: &str, filename: &str, href: &str) -> Option<Self> {
        let version =
            filename::version_of(filename, name).filter(|_| filename::is_safe(filename))?;
        let upstream = resolve(&input.url, split_fragment(href).0)?;
        let local = format!(
            "{}/files/{}/{}/{}",
            input.base_url,
            encode(name),
            encode(&version),
            encode(filename)
        );
        Some(Self {
            version,
            upstream,
            local,
        })
    }

    /// The file and, when the page says it has one, its PEP 658 metadata file.
    fn declare(
        &self,
        filename: &str,
        digests: Vec<Digest>,
        metadata: Option<Vec<Digest>>,
    ) -> Vec<DeclaredArtifact> {
        let mut declared = vec![DeclaredArtifact {
            name: filename.to_string(),
            version: self.version.clone(),
            url: self.upstream.clone(),
            digests,
        }];
        if let Some(digests) = metadata {
            declared.push(DeclaredArtifact {
                name: format!("{filename}{METADATA_SUFFIX}"),
                version: self.version.clone(),
                url: format!("{}{METADATA_SUFFIX}", self.upstream),
                digests,
            });
        }
        declared
    }
}

/// A PEP 691 project page: each file's `url` replaced, everything else kept.
fn project_json(input: &RewriteInput, name: &str, text: &str) -> Result<Rewritten, PluginError> {
    let mut page_json: Value = serde_json::from_str(text)
        .map_err(|e| bad_upstream(input, &format!("invalid JSON: {e}")))?;
    let files = page_json
        .get_mut("files")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| bad_upstream(input, "no \"files\" list"))?;
    let mut declares = Vec::new();
    files.retain_mut(|file| {
        let (Some(filename), Some(href)) = (
            file.get("filename").and_then(Value::as_str),
            file.get("url").and_then(Value::as_str),
        ) else {
            return false;
        };
        let filename = filename.to_string();
        let Some(dist) = Dist::new(input, name, &filename, href) else {
            return false;
        };
        let digests = json_digests(file.get("hashes"));
        let metadata = match file.get("core-metadata").or(file.get("dist-info-metadata")) {
            Some(Value::Bool(true)) => Some(Vec::new()),
            Some(hashes @ Value::Object(_)) => Some(json_digests(Some(hashes))),
            _ => None,
        };
        declares.extend(dist.declare(&filename, digests, metadata));
        file["url"] = Value::String(dist.local);
        true
    });
    let body = serde_json::to_vec(&page_json).expect("a JSON value serializes");
    Ok(page(Flavor::Json.content_type(), body, declares))
}

/// The digests of a PEP 691 `hashes` object the host can check.
fn json_digests(hashes: Option<&Value>) -> Vec<Digest> {
    let Some(Value::Object(hashes)) = hashes else {
        return Vec::new();
    };
    hashes
        .iter()
        .filter_map(|(name, hex)| Digest::from_hex(HashAlgorithm::from_name(name)?, hex.as_str()?))
        .collect()
}

/// A PEP 503 project page, written again in the shape Wharf renders with each link
/// pointing here and its fragment and `data-` attributes as they were.
fn project_html(input: &RewriteInput, name: &str, text: &str) -> Rewritten {
    let mut body = page_start(&format!("Links for {name}"));
    let mut declares = Vec::new();
    for anchor in html::anchors(text) {
        let Some(href) = anchor.get("href") else {
            continue;
        };
        let Some(filename) = link_filename(&input.url, href) else {
            continue;
        };
        let Some(dist) = Dist::new(input, name, &filename, href) else {
            continue;
        };
        let fragment = split_fragment(href).1;
        let digests = fragment.and_then(pair_digest).into_iter().collect();
        let metadata = anchor
            .get("data-core-metadata")
            .or(anchor.get("data-dist-info-metadata"))
            .filter(|value| *value != "false")
            .map(|value| pair_digest(value).into_iter().collect());
        declares.extend(dist.declare(&filename, digests, metadata));
        let href = match fragment {
            Some(fragment) => format!("{}#{fragment}", dist.local),
            None => dist.local,
        };
        body.push_str(&format!("    <a href=\"{}\"", escape(&href)));
        for (attribute, value) in data_attributes(&anchor) {
            body.push_str(&format!(" {attribute}=\"{}\"", escape(value)));
        }
        body.push_str(&format!(">{}</a><br/>\n", escape(&filename)));
    }
    body.push_str(PAGE_END);
    page(html_type(input), body.into_bytes(), declares)
}

/// The file name a link names, as pip reads it: the last segment of its URL's path,
/// decoded.
fn link_filename(base: &str, href: &str) -> Option<String> {
    let url = resolve(base, split_fragment(href).0)?;
    let path = url.split(['?', '#']).next()?;
    percent_decode(path.rsplit('/').next()?).filter(|f| !f.is_empty())
}

/// The `data-` attributes of an anchor (`data-requires-python`, `data-yanked`,
/// `data-dist-info-metadata`, `data-core-metadata`, `data-gpg-sig`, …), with names
/// the page may safely carry.
fn data_attributes(anchor: &Anchor) -> impl Iterator<Item = (&str, &str)> {
    anchor
        .attributes
        .iter()
        .filter(|(name, _)| {
            name.starts_with("data-")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .map(|(name, value)| (name.as_str(), value.as_str()))
}

/// The upstream's HTML media type when it is one of PEP 691's, else PEP 503's.
fn html_type(input: &RewriteInput) -> &'static str {
    let upstream = input.upstream.content_type.to_ascii_lowercase();
    if upstream.starts_with(Flavor::HtmlV1.content_type()) {
        Flavor::HtmlV1.content_type()
    } else {
        Flavor::Html.content_type()
    }
}

/// The project list in HTML: every valid project name of the upstream's, linked to
/// this proxy's page of it.
fn projects(input: &RewriteInput, text: &str) -> Rewritten {
    let names: Vec<String> = html::anchors(text)
        .iter()
        .filter_map(|anchor| names::normalized(&anchor.text))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let body = projects_html(&input.base_url, &names);
    page(html_type(input), body.into_bytes(), Vec::new())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use wharf_plugin_sdk::testing::request;
    use wharf_plugin_sdk::{ArtifactSource, HashAlgorithm, Method, Request};

    use crate::routes::match_route;

    const JSON: &str = "application/vnd.pypi.simple.v1+json";
    /// The proxy's mount.
    const BASE: &str = "http://wharf.test/api/packages/public/pypi";

    pub(crate) fn sha(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn get(path: &str, accept: Option<&str>) -> Request {
        let request = request(Method::Get, path).with_base_url(BASE);
        match accept {
            Some(accept) => request.with_header("accept", accept),
            None => request,
        }
    }

    fn planned(request: &Request) -> FetchPlan {
        plan(&match_route(request).expect("route").operation).expect("plan")
    }

    #[test]
    fn pages_are_documents_asked_for_in_their_flavor() {
        for (path, accept, upstream, asked) in [
            ("/simple/", None, "/simple/", "text/html"),
            (
                "/simple/wharf-base/",
                Some(JSON),
                "/simple/wharf-base/",
                "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01",
            ),
            (
                "/simple/wharf-base",
                Some("application/vnd.pypi.simple.v1+html"),
                "/simple/wharf-base/",
                "application/vnd.pypi.simple.v1+html, text/html;q=0.01",
            ),
        ] {
            let FetchPlan::Document(request) = planned(&get(path, accept)) else {
                panic!("{path}: not a document");
            };
            assert_eq!(request.path, upstream, "{path}");
            assert_eq!(request.accept.as_deref(), Some(asked), "{path}");
            assert!(request.head_validator.is_none());
        }
    }

    #[test]
    fn downloads_are_declared_by_the_project_page() {
        for (file, lead) in [
            ("wharf_base-1.0.0-py3-none-any.whl", true),
            ("wharf_base-1.0.0-py3-none-any.whl.metadata", false),
        ] {
            let path = format!("/files/Wharf.Base/1.0/{file}");
            let FetchPlan::Artifact(plan) = planned(&get(&path, None)) else {
                panic!("{path}: not an artifact");
            };
            assert_eq!(plan.file.version.pkg.name, "wharf-base");
            assert_eq!(plan.file.version.version, "", "the declaration names it");
            assert_eq!(plan.file.name, file);
            assert_eq!(plan.lead, lead);
            let ArtifactSource::DeclaredIn(Operation::RenderIndex(spec)) = plan.source else {
                panic!("{path}: not declared by a page");
            };
            assert_eq!(spec.pkg.map(|p| p.name).as_deref(), Some("wharf-base"));
            assert_eq!(spec.view, view::PROJECT);
            assert_eq!(spec.params, params::owned(&[(FLAVOR, "json")]));
        }
        assert!(matches!(
            plan(&Operation::NotFound).unwrap(),
            FetchPlan::NotFound
        ));
    }

    pub(crate) fn input(path: &str, url: &str, content_type: &str, body: &str) -> RewriteInput {
        let request = get(path, None);
        RewriteInput {
            operation: match_route(&request).unwrap().operation,
            base_url: request.base_url,
            owner: "public".into(),
            url: url.into(),
            upstream: Response::new(200, content_type, body.as_bytes().to_vec()),
        }
    }

    fn sha256(c: char) -> Digest {
        Digest {
            algorithm: HashAlgorithm::Sha256,
            hex: sha(c),
        }
    }

    fn declared(name: &str, version: &str, url: &str, digests: Vec<Digest>) -> DeclaredArtifact {
        DeclaredArtifact {
            name: name.into(),
            version: version.into(),
            url: url.into(),
            digests,
        }
    }

    fn same<T: std::fmt::Debug>(a: &T, b: &T) {
        assert_eq!(format!("{a:#?}"), format!("{b:#?}"));
    }

    /// What [`pypi_html`] and [`pypi_json`] declare: an sdist on the file host, and a
    /// wheel and its metadata on `wheel_host`.
    fn pypi_declares(wheel_host: &str) -> Vec<DeclaredArtifact> {
        let wheel = format!("https://{wheel_host}/packages/cd/wharf_base-1.1.0-py3-none-any.whl");
        vec![
            declared(
                "wharf_base-1.0.0.tar.gz",
                "1.0.0",
                "https://files.test/packages/ab/wharf_base-1.0.0.tar.gz",
                vec![sha256('a')],
            ),
            declared(
                "wharf_base-1.1.0-py3-none-any.whl",
                "1.1.0",
                &wheel,
                vec![sha256('b')],
            ),
            declared(
                "wharf_base-1.1.0-py3-none-any.whl.metadata",
                "1.1.0",
                &format!("{wheel}.metadata"),
                vec![sha256('c')],
            ),
        ]
    }

    /// PyPI's page: absolute links to its file host, PEP 658/714 metadata, a yank.
    pub(crate) fn pypi_html() -> String {
        format!(
            "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
             <title>Links for wharf-base</title>\n  </head>\n  <body>\n    <h1>Links for wharf-base</h1>\n\
             <a href=\"https://files.test/packages/ab/wharf_base-1.0.0.tar.gz#sha256={a}\" >wharf_base-1.0.0.tar.gz</a><br />\n\
             <a href=\"https://files.test/packages/cd/wharf_base-1.1.0-py3-none-any.whl#sha256={b}\" data-requires-python=\"&gt;=3.8\" \
             data-dist-info-metadata=\"sha256={c}\" data-core-metadata=\"sha256={c}\" data-yanked=\"broken &lt;build&gt;\">wharf_base-1.1.0-py3-none-any.whl</a><br />\n\
             <a href=\"https://files.test/packages/ef/setup.exe#sha256={a}\">setup.exe</a><br />\n\
             <a href=\"javascript:alert(1)\">wharf_base-6.6.tar.gz</a><br />\n\
             </body>\n</html>\n<!--SERIAL 42-->\n",
            a = sha('a'),
            b = sha('b'),
            c = sha('c'),
        )
    }

    /// pypiserver's page: links relative to the page, no metadata.
    pub(crate) fn pypiserver_html() -> String {
        format!(
            "<!DOCTYPE html><html><head><title>Links for wharf-base</title></head><body>\n\
             <h1>Links for wharf-base</h1>\n\
             <a href=\"../../packages/wharf-base-2.0.tar.gz#sha256={d}\">wharf-base-2.0.tar.gz</a><br>\n\
             <a href=\"../../packages/Wharf_Base-2.0-py3-none-any.whl\">Wharf_Base-2.0-py3-none-any.whl</a><br>\n\
             </body></html>",
            d = sha('d'),
        )
    }

    #[test]
    fn pypi_html_points_here_and_declares_upstream() {
        let rewritten = rewrite(&input(
            "/simple/wharf-base/",
            "https://pypi.test/simple/wharf-base/",
            "text/html",
            &pypi_html(),
        ))
        .unwrap();
        let html = String::from_utf8(rewritten.response.body.clone()).unwrap();
        assert!(html.contains(&format!(
            "<a href=\"{BASE}/files/wharf-base/1.0.0/wharf_base-1.0.0.tar.gz#sha256={}\">wharf_base-1.0.0.tar.gz</a><br/>",
            sha('a')
        )), "{html}");
        assert!(html.contains(&format!(
            "<a href=\"{BASE}/files/wharf-base/1.1.0/wharf_base-1.1.0-py3-none-any.whl#sha256={b}\" \
             data-requires-python=\"&gt;=3.8\" data-dist-info-metadata=\"sha256={c}\" \
             data-core-metadata=\"sha256={c}\" data-yanked=\"broken &lt;build&gt;\">wharf_base-1.1.0-py3-none-any.whl</a>",
            b = sha('b'),
            c = sha('c')
        )), "{html}");
        assert!(
            !html.contains("setup.exe")
                && !html.contains("javascript")
                && !html.contains("files.test"),
            "{html}"
        );
        assert_eq!(rewritten.response.content_type, "text/html; charset=utf-8");
        same(&rewritten.declares, &pypi_declares("files.test"));
    }

    #[test]
    fn pypiserver_relative_links_resolve_against_the_page() {
        let rewritten = rewrite(&input(
            "/simple/wharf-base/",
            "http://127.0.0.1:8080/simple/wharf-base/",
            "text/html; charset=UTF-8",
            &pypiserver_html(),
        ))
        .unwrap();
        same(
            &rewritten.declares,
            &vec![
                declared(
                    "wharf-base-2.0.tar.gz",
                    "2.0",
                    "http://127.0.0.1:8080/packages/wharf-base-2.0.tar.gz",
                    vec![sha256('d')],
                ),
                // No hash in the link: nothing to verify against, still served.
                declared(
                    "Wharf_Base-2.0-py3-none-any.whl",
                    "2.0",
                    "http://127.0.0.1:8080/packages/Wharf_Base-2.0-py3-none-any.whl",
                    Vec::new(),
                ),
            ],
        );
        let html = String::from_utf8(rewritten.response.body).unwrap();
        assert!(html.contains(&format!(
            "<a href=\"{BASE}/files/wharf-base/2.0/Wharf_Base-2.0-py3-none-any.whl\">Wharf_Base-2.0-py3-none-any.whl</a>"
        )), "{html}");
    }

    /// PyPI's PEP 691 page.
    pub(crate) fn pypi_json() -> String {
        serde_json::json!({
            "meta": {"_last-serial": 42, "api-version": "1.1"},
            "name": "wharf-base",
            "versions": ["1.0.0", "1.1.0"],
            "files": [
                {
                    "filename": "wharf_base-1.0.0.tar.gz",
                    "url": "https://files.test/packages/ab/wharf_base-1.0.0.tar.gz",
                    "hashes": {"sha256": sha('a'), "blake2b_256": "00"},
                    "requires-python": null,
                    "size": 100,
                    "upload-time": "2024-01-01T00:00:00.000000Z",
                    "yanked": false,
                    "core-metadata": false,
                    "data-dist-info-metadata": false
                },
                {
                    "filename": "wharf_base-1.1.0-py3-none-any.whl",
                    "url": "/packages/cd/wharf_base-1.1.0-py3-none-any.whl",
                    "hashes": {"sha256": sha('b')},
                    "requires-python": ">=3.8",
                    "size": 200,
                    "upload-time": "2024-02-01T00:00:00.000000Z",
                    "yanked": "broken build",
                    "core-metadata": {"sha256": sha('c')},
                    "dist-info-metadata": {"sha256": sha('c')}
                },
                {"filename": "../../etc/wharf_base-9.9.tar.gz", "url": "x", "hashes": {}},
                {"filename": "wharf_base-1.2.0.tar.gz", "hashes": {}}
            ]
        })
        .to_string()
    }

    #[test]
    fn pypi_json_points_here_and_keeps_the_rest() {
        let rewritten = rewrite(&input(
            "/simple/wharf-base/",
            "https://pypi.test/simple/wharf-base/",
            JSON,
            &pypi_json(),
        ))
        .unwrap();
        assert_eq!(rewritten.response.content_type, JSON);
        let page: Value = serde_json::from_slice(&rewritten.response.body).unwrap();
        let files = page["files"].as_array().unwrap();
        assert_eq!(files.len(), 2, "{page:#}");
        assert_eq!(
            files[0]["url"],
            format!("{BASE}/files/wharf-base/1.0.0/wharf_base-1.0.0.tar.gz")
        );
        assert_eq!(files[0]["hashes"]["blake2b_256"], "00");
        assert_eq!(files[1]["yanked"], "broken build");
        assert_eq!(files[1]["upload-time"], "2024-02-01T00:00:00.000000Z");
        assert_eq!(page["meta"]["_last-serial"], 42);
        assert_eq!(page["versions"], serde_json::json!(["1.0.0", "1.1.0"]));
        same(&rewritten.declares, &pypi_declares("pypi.test"));
    }

    #[test]
    fn an_html_answer_to_a_json_request_stays_html() {
        let mut input = input(
            "/simple/wharf-base/",
            "http://127.0.0.1:8080/simple/wharf-base/",
            "text/html",
            &pypiserver_html(),
        );
        input.operation = match_route(&get("/simple/wharf-base/", Some(JSON)))
            .unwrap()
            .operation;
        let rewritten = rewrite(&input).unwrap();
        assert_eq!(rewritten.response.content_type, "text/html; charset=utf-8");
        assert_eq!(rewritten.declares.len(), 2);
    }

    #[test]
    fn the_project_list_links_here() {
        let html = "<html><body><a href=\"/simple/frob/\">Frob</a><a href=\"/simple/x/\">-bad-</a>\
                    <a href=\"/simple/wharf-base/\">Wharf_Base</a></body></html>";
        let rewritten = rewrite(&input(
            "/simple/",
            "https://pypi.test/simple/",
            "text/html",
            html,
        ))
        .unwrap();
        let body = String::from_utf8(rewritten.response.body).unwrap();
        assert!(
            body.contains(&format!("<a href=\"{BASE}/simple/frob/\">frob</a><br/>")),
            "{body}"
        );
        assert!(
            body.contains(&format!(
                "<a href=\"{BASE}/simple/wharf-base/\">wharf-base</a><br/>"
            )),
            "{body}"
        );
        assert!(!body.contains("bad"), "{body}");
        assert!(rewritten.declares.is_empty());
        let json = r#"{"meta":{"api-version":"1.1"},"projects":[{"name":"Frob"}]}"#;
        let rewritten =
            rewrite(&input("/simple/", "https://pypi.test/simple/", JSON, json)).unwrap();
        assert_eq!(rewritten.response.body, json.as_bytes());
    }

    #[test]
    fn malformed_pages_are_502() {
        for (path, content_type, body) in [
            ("/simple/wharf-base/", JSON, "{\"files\": "),
            ("/simple/wharf-base/", JSON, "{\"meta\": {}}"),
            ("/simple/wharf-base/", JSON, "[]"),
            ("/simple/", JSON, "<html>"),
        ] {
            let err = rewrite(&input(path, "https://pypi.test/x", content_type, body)).unwrap_err();
            assert_eq!(err.status, 502, "{body}");
            assert!(
                err.message
                    .starts_with("https://pypi.test/x is not a simple repository page: "),
                "{}",
                err.message
            );
        }
        let mut binary = input(
            "/simple/wharf-base/",
            "https://pypi.test/x",
            "text/html",
            "",
        );
        binary.upstream.body = vec![0xff, 0xfe, 0x00];
        assert_eq!(rewrite(&binary).unwrap_err().status, 502);
        // HTML without anchors is an empty project page, as a browser would show it.
        let empty = rewrite(&input(
            "/simple/wharf-base/",
            "https://pypi.test/x",
            "text/html",
            "Not Found",
        ))
        .unwrap();
        assert!(empty.declares.is_empty());
    }
}
