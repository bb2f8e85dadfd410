//! A Wharf format plugin to copy: rename [`FORMAT`], then replace the routes, the
//! upload parsing and the index with your format's. `docs/plugins.md` walks through it.
//!
//! The format is small but real: text files stored by package name and version, one
//! file per version, whose first line is the summary the index shows. Below the mount
//! (`/api/packages/{owner}/template`):
//!
//! | Request | Operation | Access |
//! |---|---|---|
//! | `PUT /{name}/{version}/{file}` | store the body as the version's file (409 if the version exists) | write |
//! | `GET`, `HEAD /{name}/{version}/{file}` | stream the file (the host does Range and ETag) | read |
//! | `GET`, `HEAD /{name}` | the package's versions as JSON | read |
//! | `DELETE /{name}/{version}` | delete the version | write |

use std::io::Read;

use serde::{Deserialize, Serialize};
use wharf_plugin_sdk::{
    Descriptor, FileRef, FileSource, IndexInput, IndexSpec, Method, Operation, PackageRef,
    PlanFile, PlanVersion, Plugin, PluginError, PublishPlan, Request, Response, Route, Upload,
    UploadBody, UploadReader, UploadSpec, VersionMode, VersionRef, json,
};

/// The format's name; the `[formats.NAME]` table that enables the plugin must match it.
pub const FORMAT: &str = "template";

/// The one index this format renders (`GET /{name}`).
const VERSIONS_VIEW: &str = "versions";

/// Bytes of the file read for its summary: the first line, cut at this length.
const MAX_SUMMARY: u64 = 200;

struct Template;

impl Plugin for Template {
    fn describe() -> Descriptor {
        // Plain-text errors, a Basic challenge, no digests beyond sha256,
        // case-insensitive names: the common shape.
        Descriptor::basic(FORMAT)
    }

    /// Decides from the request alone: no lookups here (it runs before authentication).
    fn match_route(request: Request) -> Result<Route, PluginError> {
        let owner = request.mount_owner()?;
        let segments = request
            .segments()
            .ok_or_else(|| PluginError::bad_request("invalid percent-encoding in the path"))?;
        let route = match (&request.method, segments.as_slice()) {
            (Method::Get | Method::Head, [name]) => {
                Route::read(Operation::RenderIndex(IndexSpec {
                    pkg: Some(package_ref(&owner, name)?),
                    view: VERSIONS_VIEW.to_string(),
                    argument: String::new(),
                    digest_of: None,
                    listing: None,
                }))
            }
            (Method::Get | Method::Head, [name, version, file]) => {
                Route::read(Operation::ServeFile(file_ref(&owner, name, version, file)?))
            }
            (Method::Put, [name, version, file]) => {
                let file = file_ref(&owner, name, version, file)?;
                Route::write(Operation::AcceptUpload(UploadSpec {
                    // Both are validated segments without '/', so '/' separates them.
                    context: format!("{}/{}", file.version.version, file.name),
                    pkg: file.version.pkg,
                    max_size: 0,
                }))
            }
            (Method::Delete, [name, version]) => Route::write(Operation::DeleteVersion(
                version_ref(&owner, name, version)?,
            )),
            (_, [_] | [_, _] | [_, _, _]) => return Err(PluginError::method_not_allowed()),
            _ => Route::not_found(),
        };
        Ok(route)
    }

    fn parse_upload(
        _request: Request,
        spec: UploadSpec,
        body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        plan(spec, body)
    }

    /// Output depends only on the spec, the package and the base URL: the host caches
    /// it until the package changes.
    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        if input.spec.view != VERSIONS_VIEW {
            return Err(PluginError::internal("unknown index view"));
        }
        let detail = input
            .detail
            .ok_or_else(|| PluginError::not_found("no such package"))?;
        let base = input.request.base_url;
        let name = &detail.pkg.name;
        let versions = detail
            .versions
            .iter()
            .map(|v| IndexVersion {
                version: &v.version,
                summary: serde_json::from_str::<Metadata>(&v.metadata)
                    .unwrap_or_default()
                    .summary,
                created: v.created,
                downloads: v.downloads,
                files: v
                    .files
                    .iter()
                    .map(|f| IndexFile {
                        name: &f.name,
                        size: f.size,
                        sha256: f.digests.first().map_or("", |d| d.hex.as_str()),
                        // Names, versions and file names are unreserved characters
                        // only, so they need no percent-encoding.
                        url: format!("{base}/{name}/{}/{}", v.version, f.name),
                    })
                    .collect(),
            })
            .collect();
        json::response(200, &Index { name, versions })
    }
}

wharf_plugin_sdk::export!(Template);

/// What the plugin stores with each version (the host keeps it as opaque JSON).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Metadata {
    summary: String,
}

#[derive(Serialize)]
struct Index<'a> {
    name: &'a str,
    versions: Vec<IndexVersion<'a>>,
}

#[derive(Serialize)]
struct IndexVersion<'a> {
    version: &'a str,
    summary: String,
    created: i64,
    downloads: u64,
    files: Vec<IndexFile<'a>>,
}

#[derive(Serialize)]
struct IndexFile<'a> {
    name: &'a str,
    size: u64,
    sha256: &'a str,
    url: String,
}

/// Turns a stored upload into a plan: one new version holding the whole body. Generic
/// over [`UploadBody`] so that unit tests pass a `FakeUpload` where the guest passes
/// the host's upload.
fn plan(spec: UploadSpec, body: &(impl UploadBody + ?Sized)) -> Result<PublishPlan, PluginError> {
    let (version, file) = spec
        .context
        .split_once('/')
        .ok_or_else(|| PluginError::internal("malformed upload context"))?;
    let metadata = Metadata {
        summary: summary(body)?,
    };
    Ok(PublishPlan {
        pkg: spec.pkg.clone(),
        versions: vec![PlanVersion {
            references: Vec::new(),
            version: version.to_string(),
            // The host answers 409 when the version exists.
            mode: VersionMode::Create,
            metadata: serde_json::to_string(&metadata)
                .map_err(|e| PluginError::internal(e.to_string()))?,
            files: vec![PlanFile {
                name: file.to_string(),
                source: FileSource::Whole,
                content_type: "text/plain; charset=utf-8".to_string(),
                lead: true,
                overwrite: false,
                expect: None,
            }],
            tags: Vec::new(),
            properties: Vec::new(),
        }],
        reply: Response::created(),
    })
}

/// The file's first line, trimmed, at most [`MAX_SUMMARY`] bytes. Reads only those
/// bytes from the host, however large the file.
fn summary(body: &(impl UploadBody + ?Sized)) -> Result<String, PluginError> {
    if body.size() == 0 {
        return Err(PluginError::bad_request("the file is empty"));
    }
    let mut head = Vec::new();
    UploadReader::range(body, 0, MAX_SUMMARY)
        .read_to_end(&mut head)
        .map_err(|e| PluginError::internal(e.to_string()))?;
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        // Cut inside a character by the length limit: keep the complete ones.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&line[..e.valid_up_to()])
            .map_err(|_| PluginError::internal("utf-8 prefix"))?,
        Err(_) => return Err(PluginError::bad_request("the first line is not UTF-8 text")),
    };
    Ok(text.trim().to_string())
}

/// A segment of 1 to `max` characters from `allowed`, starting with a letter or digit
/// (so never `.` or `..`).
fn valid(segment: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    segment.len() <= max
        && segment.starts_with(|c: char| c.is_ascii_alphanumeric())
        && segment.chars().all(allowed)
}

fn package_ref(owner: &str, name: &str) -> Result<PackageRef, PluginError> {
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if !valid(name, 64, lower) {
        return Err(PluginError::bad_request(
            "invalid package name: 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit",
        ));
    }
    Ok(PackageRef {
        owner: owner.to_string(),
        name: name.to_string(),
    })
}

/// Versions and file names: letters, digits and `. _ + -`.
fn word(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._+-".contains(c)
}

fn version_ref(owner: &str, name: &str, version: &str) -> Result<VersionRef, PluginError> {
    let pkg = package_ref(owner, name)?;
    if !valid(version, 64, word) {
        return Err(PluginError::bad_request("invalid version"));
    }
    Ok(VersionRef {
        pkg,
        version: version.to_string(),
    })
}

fn file_ref(owner: &str, name: &str, version: &str, file: &str) -> Result<FileRef, PluginError> {
    let version = version_ref(owner, name, version)?;
    if !valid(file, 128, word) {
        return Err(PluginError::bad_request("invalid file name"));
    }
    Ok(FileRef {
        version,
        name: file.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing::{self, FakeUpload, OWNER};
    use wharf_plugin_sdk::{Access, CONTRACT_VERSION};

    use super::*;

    fn route(method: Method, path: &str) -> Result<Route, PluginError> {
        Template::match_route(testing::request(method, path))
    }

    fn upload_spec(path: &str) -> UploadSpec {
        match route(Method::Put, path).unwrap().operation {
            Operation::AcceptUpload(spec) => spec,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn it_describes_itself_under_its_format_name() {
        let d = Template::describe();
        assert_eq!(
            (d.name.as_str(), d.contract.as_str()),
            (FORMAT, CONTRACT_VERSION)
        );
    }

    #[test]
    fn requests_map_to_operations_with_their_access() {
        let r = route(Method::Get, "/notes/1.0/notes.txt").unwrap();
        assert_eq!(r.access, Access::Read);
        let Operation::ServeFile(f) = r.operation else {
            panic!("{:?}", r.operation)
        };
        assert_eq!(
            (f.version.pkg.owner.as_str(), f.version.pkg.name.as_str()),
            (OWNER, "notes")
        );
        assert_eq!(
            (f.version.version.as_str(), f.name.as_str()),
            ("1.0", "notes.txt")
        );

        let r = route(Method::Head, "/notes").unwrap();
        assert_eq!(r.access, Access::Read);
        assert!(matches!(r.operation, Operation::RenderIndex(ref s) if s.view == VERSIONS_VIEW));

        let r = route(Method::Delete, "/notes/1.0").unwrap();
        assert_eq!(r.access, Access::Write);
        assert!(matches!(r.operation, Operation::DeleteVersion(ref v) if v.version == "1.0"));

        let r = route(Method::Put, "/notes/1.0/notes.txt").unwrap();
        assert_eq!(r.access, Access::Write);
    }

    #[test]
    fn unknown_paths_are_not_found_and_wrong_methods_405() {
        for path in ["/", "/a/b/c/d"] {
            assert!(matches!(
                route(Method::Get, path).unwrap().operation,
                Operation::NotFound
            ));
        }
        assert_eq!(route(Method::Post, "/notes").unwrap_err().status, 405);
        assert_eq!(route(Method::Get, "/notes/1.0").unwrap_err().status, 405);
    }

    #[test]
    fn bad_names_are_refused_before_anything_is_stored() {
        for path in [
            "/Notes/1.0/a.txt",
            "/../1.0/a.txt",
            "/notes/.hidden/a.txt",
            "/notes/1.0/a%20b.txt",
            "/notes/1.0/a%2fb",
        ] {
            assert_eq!(route(Method::Put, path).unwrap_err().status, 400, "{path}");
        }
    }

    #[test]
    fn an_upload_becomes_a_new_version_with_its_summary() {
        let spec = upload_spec("/notes/1.0/notes.txt");
        let upload = FakeUpload::new(b"  Release notes  \r\nmore text\n".to_vec());
        let plan = plan(spec, &upload).unwrap();
        assert_eq!(plan.pkg.name, "notes");
        let [version] = &plan.versions[..] else {
            panic!("one version")
        };
        assert_eq!(version.version, "1.0");
        assert!(matches!(version.mode, VersionMode::Create));
        assert_eq!(version.metadata, r#"{"summary":"Release notes"}"#);
        let [file] = &version.files[..] else {
            panic!("one file")
        };
        assert_eq!(file.name, "notes.txt");
        assert_eq!(upload.stored(&file.source), upload.bytes());
        assert_eq!((plan.reply.status, plan.reply.body.len()), (0, 0));
    }

    #[test]
    fn summaries_are_cut_between_characters() {
        let long = "é".repeat(150); // 300 bytes, no newline
        let plan = plan(upload_spec("/n/1/f"), &FakeUpload::new(long)).unwrap();
        let meta: Metadata = serde_json::from_str(&plan.versions[0].metadata).unwrap();
        assert_eq!(meta.summary, "é".repeat(100));
    }

    #[test]
    fn empty_and_binary_files_are_refused() {
        for body in [&b""[..], b"\xff\xfe binary"] {
            let err = plan(upload_spec("/n/1/f"), &FakeUpload::new(body)).unwrap_err();
            assert_eq!(err.status, 400, "{}", err.message);
        }
    }

    #[test]
    fn the_index_lists_versions_with_absolute_urls() {
        let Operation::RenderIndex(spec) = route(Method::Get, "/notes").unwrap().operation else {
            panic!("an index")
        };
        let request = testing::request(Method::Get, "/notes");
        let base = request.base_url.clone();
        let detail = testing::package(
            "notes",
            vec![testing::version(
                "1.0",
                r#"{"summary":"Hello"}"#,
                vec![testing::file("notes.txt", 5, "ab12")],
            )],
        );
        let response =
            Template::render_index(testing::index_input(request, spec, Some(detail))).unwrap();
        assert_eq!(
            (response.status, response.content_type.as_str()),
            (200, "application/json")
        );
        let index: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(index["versions"][0]["summary"], "Hello");
        assert_eq!(index["versions"][0]["files"][0]["sha256"], "ab12");
        assert_eq!(
            index["versions"][0]["files"][0]["url"],
            format!("{base}/notes/1.0/notes.txt")
        );
    }

    #[test]
    fn the_index_of_a_missing_package_is_404() {
        let Operation::RenderIndex(spec) = route(Method::Get, "/none").unwrap().operation else {
            panic!("an index")
        };
        let input = testing::index_input(testing::request(Method::Get, "/none"), spec, None);
        assert_eq!(Template::render_index(input).unwrap_err().status, 404);
    }
}
