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
//! | `GET`, `HEAD /-/{file}` | stream the newest file of that name among the owner's packages | read |
//! | `GET`, `HEAD /{name}` | the package's versions as JSON | read |
//! | `GET`, `HEAD /[?page=N]` | the owner's packages with their newest version, 50 a page | read |
//! | `DELETE /{name}/{version}` | delete the version | write |
//!
//! One setting, `summary-bytes`, shows how an operator tunes a plugin from
//! `registry.toml` (`[formats.template.settings]`). A file named `….tgz` or `….tar.gz`
//! is a bundle whose summary comes from the `about.yaml` inside it (`bundle.rs`, the
//! SDK's tar and YAML helpers).
//!
//! Proxy and group repositories work through two optional exports: `proxy.rs` says
//! what to fetch from an upstream registry of this format and rewrites its index
//! (URLs pointing back here, files declared with their upstream URL and sha256), and
//! `group.rs` merges the members' indexes. Without them (`export!(Template)`), the
//! format simply has neither. The third optional export, `pages.rs`, describes a
//! package's web page (setup and install snippets, fields, the README).

mod bundle;
mod group;
mod index;
mod pages;
mod proxy;

use std::io::Read;

use serde::{Deserialize, Serialize};
use wharf_plugin_sdk::{
    DeleteTarget, Descriptor, FileRef, FileSource, IndexInput, IntegerRange, ListingSpec, Method,
    Operation, OwnerFile, PackageRef, PlanFile, PlanVersion, Plugin, PluginError, PublishPlan,
    Request, Response, Route, Selector, SettingDecl, SettingKind, SettingValue, Upload, UploadBody,
    UploadReader, UploadSpec, VersionMode, VersionRef, params, settings,
};

/// The format's name; the `[formats.NAME]` table that enables the plugin must match it.
pub const FORMAT: &str = "template";

/// The setting bounding a summary: bytes of the file read for it (its first line, cut
/// at this length). Declared in the descriptor so that the host refuses a bad value at
/// startup; the plugin never sees one.
const SUMMARY_BYTES: &str = "summary-bytes";
const DEFAULT_SUMMARY_BYTES: i64 = 200;

/// Packages a listing page shows.
const PAGE_SIZE: u32 = 50;

/// Upload params: the path names the version and file, and `parse-upload` gets them
/// from `match-route` this way, one value per name.
const VERSION: &str = "version";
const FILE: &str = "file";

struct Template;

impl Plugin for Template {
    fn describe() -> Descriptor {
        // Plain-text errors, a Basic challenge, no digests beyond sha256,
        // case-insensitive names: the common shape, plus the setting.
        Descriptor {
            settings: vec![SettingDecl {
                name: SUMMARY_BYTES.to_string(),
                description: "bytes of a file's first line kept as its version's summary"
                    .to_string(),
                kind: SettingKind::Integer(IntegerRange { min: 1, max: 4096 }),
                default: SettingValue::Integer(DEFAULT_SUMMARY_BYTES),
            }],
            ..Descriptor::basic(FORMAT)
        }
    }

    /// Decides from the request alone: no lookups here (it runs before authentication).
    fn match_route(request: Request) -> Result<Route, PluginError> {
        let owner = request.mount_owner()?;
        let segments = request
            .segments()
            .ok_or_else(|| PluginError::bad_request("invalid percent-encoding in the path"))?;
        let get = matches!(request.method, Method::Get | Method::Head);
        let route = match (&request.method, segments.as_slice()) {
            (_, []) if get => Route::read(listing(&request)),
            // `-` is no package name (those start with a letter or digit), so this path
            // cannot shadow one.
            (_, [dash, file]) if get && dash == "-" => {
                Route::read(Operation::serve(Selector::OwnerFile(OwnerFile {
                    owner,
                    name: file_name(file)?,
                })))
            }
            (_, [name]) if get => Route::read(versions_index(package_ref(&owner, name)?)),
            (_, [name, version, file]) if get => Route::read(Operation::serve(Selector::File(
                file_ref(&owner, name, version, file)?,
            ))),
            (Method::Put, [name, version, file]) => {
                let file = file_ref(&owner, name, version, file)?;
                let params = [(VERSION, file.version.version.as_str()), (FILE, &file.name)];
                Route::write(Operation::accept_upload(
                    file.version.pkg.clone(),
                    &params,
                    0,
                ))
            }
            (Method::Delete, [name, version]) => Route::write(Operation::Delete(
                DeleteTarget::Version(version_ref(&owner, name, version)?),
            )),
            (_, [] | [_] | [_, _] | [_, _, _]) => return Err(PluginError::method_not_allowed()),
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

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        index::render(&input)
    }
}

// Proxy repositories of this format (`[proxies.NAME]` with `format = "template"`):
// `impl_proxy!` writes `impl Proxy for Template`, whose `supports_proxy` answers true
// and whose `plan(operation, request)` and `rewrite(input)` call these closures.
wharf_plugin_sdk::impl_proxy!(
    Template,
    |operation, _request| Ok(proxy::plan(&operation)),
    |input| proxy::rewrite(&input)
);

// Group repositories of this format (`[groups.NAME]`): `supports_groups` true, and
// `merge(input)` calls this.
wharf_plugin_sdk::impl_group!(Template, |input| group::merge(&input));

// The web UI's package pages: `supports_pages` true, and `describe(input)` calls this.
wharf_plugin_sdk::impl_pages!(Template, pages::describe);

wharf_plugin_sdk::export!(Template with Proxy, Group, Pages);

/// What the plugin stores with each version (the host keeps it as opaque JSON).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Metadata {
    summary: String,
}

/// `GET /{name}`: the package's versions.
fn versions_index(pkg: PackageRef) -> Operation {
    Operation::render_package(pkg, index::VERSIONS)
}

/// `GET /?page=N`: the host selects the page of packages (only those the caller may
/// read); the plugin only says which.
fn listing(request: &Request) -> Operation {
    let page = request
        .query_param("page")
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    let page = ListingSpec {
        offset: (page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
        ..ListingSpec::every_package()
    };
    Operation::render_listing(index::PACKAGES, page)
}

/// Turns a stored upload into a plan: one new version holding the whole body. Generic
/// over [`UploadBody`] so that unit tests pass a `FakeUpload` where the guest passes
/// the host's upload.
fn plan(spec: UploadSpec, body: &(impl UploadBody + ?Sized)) -> Result<PublishPlan, PluginError> {
    let (version, file) = (
        params::text(&spec.params, VERSION),
        params::text(&spec.params, FILE),
    );
    let metadata = Metadata {
        summary: summary(file, body)?,
    };
    let content_type = match bundle::is_bundle(file) {
        true => "application/gzip",
        false => "text/plain; charset=utf-8",
    };
    let metadata =
        serde_json::to_string(&metadata).map_err(|e| PluginError::internal(e.to_string()))?;
    Ok(PublishPlan {
        pkg: spec.pkg.clone(),
        versions: vec![PlanVersion::new(
            version,
            // The host answers 409 when the version exists.
            VersionMode::Create,
            metadata,
            vec![PlanFile::new(file, FileSource::Whole, content_type).lead()],
        )],
        reply: Response::created(),
    })
}

/// The first line, trimmed, of the file (of a bundle's `about.yaml` summary), at most
/// `summary-bytes` bytes. Reads only those bytes of a plain file from the host, however
/// large it is.
fn summary(file: &str, body: &(impl UploadBody + ?Sized)) -> Result<String, PluginError> {
    if body.size() == 0 {
        return Err(PluginError::bad_request("the file is empty"));
    }
    // The host checked the value against the declared range; the fallback is for the
    // plugin's own bugs (an undeclared name) only.
    let max = settings::integer(SUMMARY_BYTES, DEFAULT_SUMMARY_BYTES).max(1) as u64;
    let mut head = Vec::new();
    if bundle::is_bundle(file) {
        head = bundle::summary(body)?.into_bytes();
        head.truncate(max as usize);
    } else {
        UploadReader::range(body, 0, max)
            .read_to_end(&mut head)
            .map_err(|e| PluginError::internal(e.to_string()))?;
    }
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

fn file_name(file: &str) -> Result<String, PluginError> {
    if !valid(file, 128, word) {
        return Err(PluginError::bad_request("invalid file name"));
    }
    Ok(file.to_string())
}

fn file_ref(owner: &str, name: &str, version: &str, file: &str) -> Result<FileRef, PluginError> {
    Ok(FileRef {
        version: version_ref(owner, name, version)?,
        name: file_name(file)?,
    })
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing::{self, FakeUpload, OWNER};
    use wharf_plugin_sdk::{Access, CONTRACT_VERSION, ServeSpec};

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
        let [setting] = &d.settings[..] else {
            panic!("one setting")
        };
        assert_eq!(setting.name, SUMMARY_BYTES);
        assert!(matches!(
            setting.kind,
            SettingKind::Integer(IntegerRange { min: 1, max: 4096 })
        ));
        assert!(matches!(setting.default, SettingValue::Integer(200)));
    }

    #[test]
    fn requests_map_to_operations_with_their_access() {
        let r = route(Method::Get, "/notes/1.0/notes.txt").unwrap();
        assert_eq!(r.access, Access::Read);
        let Operation::Serve(ServeSpec {
            selector: Selector::File(f),
            digest_of: None,
        }) = r.operation
        else {
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
        assert!(matches!(r.operation, Operation::RenderIndex(ref s) if s.view == index::VERSIONS));

        let r = route(Method::Get, "/-/notes.txt").unwrap();
        assert_eq!(r.access, Access::Read);
        assert!(matches!(r.operation, Operation::Serve(ServeSpec {
            selector: Selector::OwnerFile(ref f),
            digest_of: None,
        }) if f.owner == OWNER && f.name == "notes.txt"));

        let r = route(Method::Delete, "/notes/1.0").unwrap();
        assert_eq!(r.access, Access::Write);
        assert!(
            matches!(r.operation, Operation::Delete(DeleteTarget::Version(ref v)) if v.version == "1.0")
        );

        let r = route(Method::Put, "/notes/1.0/notes.txt").unwrap();
        assert_eq!(r.access, Access::Write);
    }

    #[test]
    fn the_path_reaches_parse_upload_as_named_params() {
        let spec = upload_spec("/notes/1.0/notes.txt");
        assert_eq!(
            spec.params,
            params::owned(&[("version", "1.0"), ("file", "notes.txt")])
        );
    }

    #[test]
    fn the_listing_pages_through_the_owners_packages() {
        let listing = |path, page: Option<&str>| {
            let request = testing::request(Method::Get, path);
            let request = match page {
                Some(page) => request.with_query("page", page),
                None => request,
            };
            match Template::match_route(request).unwrap() {
                Route {
                    operation: Operation::RenderIndex(spec),
                    access: Access::Read,
                    ..
                } => spec,
                other => panic!("{path}: {other:?}"),
            }
        };
        for (path, page, offset) in [
            ("/", None, 0),
            ("", None, 0),
            ("/", Some("x"), 0),
            ("/", Some("0"), 0),
            ("/", Some("3"), 100),
        ] {
            let spec = listing(path, page);
            assert_eq!(spec.view, index::PACKAGES);
            assert!(spec.pkg.is_none());
            let l = spec.listing.unwrap();
            assert_eq!((l.offset, l.limit, l.all_versions), (offset, 50, false));
        }
    }

    #[test]
    fn unknown_paths_are_not_found_and_wrong_methods_405() {
        assert!(matches!(
            route(Method::Get, "/a/b/c/d").unwrap().operation,
            Operation::NotFound
        ));
        assert_eq!(route(Method::Post, "/notes").unwrap_err().status, 405);
        assert_eq!(route(Method::Get, "/notes/1.0").unwrap_err().status, 405);
        assert_eq!(route(Method::Put, "/").unwrap_err().status, 405);
        assert_eq!(route(Method::Get, "/-/a%20b").unwrap_err().status, 400);
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
    fn a_bundle_is_stored_whole_with_its_about_yaml_s_summary() {
        let spec = upload_spec("/notes/1.0/notes.tgz");
        let mut tar = tar::Builder::new(Vec::new());
        let about = b"summary: Bundled notes\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(about.len() as u64);
        tar.append_data(&mut header, "about.yaml", &about[..])
            .unwrap();
        let plan = plan(spec, &FakeUpload::new(tar.into_inner().unwrap())).unwrap();
        let version = &plan.versions[0];
        assert_eq!(version.metadata, r#"{"summary":"Bundled notes"}"#);
        assert_eq!(version.files[0].content_type, "application/gzip");
        let err = plan_err("/notes/1.0/notes.tgz", b"not a tar");
        assert!(err.contains("not a valid tar"), "{err}");
    }

    fn plan_err(path: &str, body: &[u8]) -> String {
        plan(upload_spec(path), &FakeUpload::new(body))
            .unwrap_err()
            .message
    }

    #[test]
    fn the_summary_length_is_an_operators_setting() {
        let body = || FakeUpload::new(b"Release notes\n".to_vec());
        let summary_with = |bytes| {
            testing::with_settings(&[(SUMMARY_BYTES, SettingValue::Integer(bytes))], || {
                let plan = plan(upload_spec("/n/1/f"), &body()).unwrap();
                serde_json::from_str::<Metadata>(&plan.versions[0].metadata)
                    .unwrap()
                    .summary
            })
        };
        assert_eq!(summary_with(7), "Release");
        assert_eq!(summary_with(4096), "Release notes");
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
}
