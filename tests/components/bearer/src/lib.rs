//! Test plugin `bearer`: a format mounted without an owner segment (like OCI's `/v2`)
//! whose challenge is `Bearer` with the host's token endpoint, so the host's registry
//! tokens can be tested apart from any real format. Routes:
//!
//! - `GET /` — any signed-in caller (a guest token counts): `{}`.
//! - `GET|POST /token` — a short-lived registry token.
//! - `GET|HEAD|PUT|DELETE /{owner}/{name…}/files/{file}` — read, store or delete one
//!   file of the package `name` (which may contain `/`) of `owner`.

use wharf_plugin_sdk::{
    BearerChallenge, Challenge, DeleteTarget, Descriptor, FileRef, FileSource, IndexInput, Method,
    Operation, PackageFile, PackageRef, PlanFile, PlanVersion, Plugin, PluginError, PublishPlan,
    Request, Response, Route, Selector, TokenRequest, Upload, UploadSpec, VersionMode, VersionRef,
};

struct Bearer;

/// Every stored file belongs to this one version.
const VERSION: &str = "1";

impl Plugin for Bearer {
    fn describe() -> Descriptor {
        Descriptor {
            // The distribution spec's codes for what the host refuses.
            error_codes: [
                (401, "UNAUTHORIZED"),
                (403, "DENIED"),
                (404, "NAME_UNKNOWN"),
            ]
            .map(|(status, code)| (status, code.to_string()))
            .to_vec(),
            challenge: Challenge::Bearer(BearerChallenge {
                token_path: "/v2/token".to_string(),
                service: "wharf".to_string(),
            }),
            case_insensitive_names: false,
            // The distribution spec's codes for what the host refuses.
            ..Descriptor::basic("bearer").error_envelope(&[
                (401, "UNAUTHORIZED"),
                (403, "DENIED"),
                (404, "NAME_UNKNOWN"),
            ])
        }
    }

    fn match_route(request: Request) -> Result<Route, PluginError> {
        match (request.path.as_str(), &request.method) {
            ("/", Method::Get) => {
                return Ok(Route::authenticated(Operation::Respond(Response::json(
                    "{}",
                ))));
            }
            ("/token", Method::Get | Method::Post) => {
                return Ok(Route::public(Operation::IssueToken(TokenRequest {
                    name: "registry token".to_string(),
                    persistent: false,
                    user: None,
                })));
            }
            _ => {}
        }
        let Some((pkg, file)) = file_path(&request.path) else {
            return Ok(Route::not_found());
        };
        Ok(match request.method {
            Method::Get | Method::Head => {
                Route::read(Operation::serve(Selector::PackageFile(PackageFile {
                    pkg,
                    name: file,
                })))
            }
            Method::Put => Route::write(Operation::accept_upload(pkg, &[("file", &file)], 0)),
            Method::Delete => Route::write(Operation::Delete(DeleteTarget::File(FileRef {
                version: VersionRef {
                    pkg,
                    version: VERSION.to_string(),
                },
                name: file,
            }))),
            _ => return Err(PluginError::method_not_allowed()),
        })
    }

    fn parse_upload(
        _request: Request,
        spec: UploadSpec,
        _body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        Ok(PublishPlan {
            pkg: spec.pkg,
            versions: vec![PlanVersion {
                version: VERSION.to_string(),
                mode: VersionMode::CreateOrExtend,
                metadata: "{}".to_string(),
                files: vec![PlanFile {
                    name: wharf_plugin_sdk::params::text(&spec.params, "file").to_string(),
                    source: FileSource::Whole,
                    content_type: "application/octet-stream".to_string(),
                    lead: true,
                    overwrite: true,
                    expect: None,
                }],
                tags: Vec::new(),
                properties: Vec::new(),
                references: Vec::new(),
            }],
            reply: Response::created(),
        })
    }

    fn render_index(_input: IndexInput) -> Result<Response, PluginError> {
        Err(PluginError::new(500, "no indexes"))
    }
}

/// `/{owner}/{name…}/files/{file}` as the package and the file name.
fn file_path(path: &str) -> Option<(PackageRef, String)> {
    let (repository, file) = path.strip_prefix('/')?.rsplit_once("/files/")?;
    let (owner, name) = repository.split_once('/')?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            })
    };
    if !plain(owner) || !plain(name) || !plain(file) || file.contains('/') {
        return None;
    }
    Some((
        PackageRef {
            owner: owner.to_string(),
            name: name.to_string(),
        },
        file.to_string(),
    ))
}

wharf_plugin_sdk::export!(Bearer);
