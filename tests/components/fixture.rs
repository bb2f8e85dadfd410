//! The part the misbehaving fixtures share: a format whose `match-route` calls the
//! crate's `misbehave()` for paths starting with `/boom`, sleeps for an hour for paths
//! starting with `/sleep` and in `parse-upload` (`PUT /upload`), answers `GET /ok` with `ok`
//! (to show the format still works afterwards), answers `GET /ambient` with what the
//! guest sees of the clock and of its random source, and has no uploads or indexes.
//! Its `pages.describe` misbehaves for every package (a page must survive that).
//!
//! Below `/sessions/{pkg}` it maps requests to the host's upload sessions, the way an
//! OCI-like format would (`tests/upload_sessions.rs`): `POST` starts one (or, with
//! `?digest=`, uploads a whole blob), `PATCH …/{id}` appends at the `Content-Range`
//! start, `GET …/{id}` reports, `PUT …/{id}?digest=` finishes, `DELETE …/{id}` cancels.

macro_rules! misbehaving_plugin {
    ($ty:ident, $name:literal) => {
        use wharf_plugin_sdk::{
            Descriptor, Digest, HashAlgorithm, IndexInput, Method, Operation, PackageRef, Plugin,
            PluginError, PublishPlan, ReplyTemplate, Request, Response, Route, SessionOp,
            SessionRequest, Upload, UploadSpec,
        };

        struct $ty;

        impl Plugin for $ty {
            fn describe() -> Descriptor {
                Descriptor::basic($name)
            }

            fn match_route(request: Request) -> Result<Route, PluginError> {
                if request.path.starts_with("/boom") {
                    misbehave();
                }
                // Waits inside a WASI clock subscription, where epoch ticks never land.
                if request.path.starts_with("/sleep") {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
                // An upload whose `parse-upload` sleeps: the same wait, on a blocking thread.
                if request.path == "/upload" && matches!(request.method, Method::Put) {
                    let pkg = PackageRef {
                        owner: request.mount_owner()?,
                        name: "upload".to_string(),
                    };
                    return Ok(Route::write(Operation::accept_upload(pkg, &[], 0)));
                }
                if request.path.starts_with("/sessions/") {
                    return session_route(&request);
                }
                if !matches!(request.method, Method::Get) {
                    return Ok(Route::not_found());
                }
                let body = match request.path.as_str() {
                    "/ok" => "ok".to_string(),
                    "/ambient" => ambient(),
                    _ => return Ok(Route::not_found()),
                };
                Ok(Route::public(Operation::Respond(Response::new(
                    200,
                    "text/plain",
                    body,
                ))))
            }

            fn parse_upload(
                _request: Request,
                _spec: UploadSpec,
                _body: &Upload,
            ) -> Result<PublishPlan, PluginError> {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Err(PluginError::new(500, "no uploads"))
            }

            fn render_index(_input: IndexInput) -> Result<Response, PluginError> {
                Err(PluginError::new(500, "no indexes"))
            }
        }

        /// An upload-session route with OCI-like replies (`Location`, `Range`).
        fn session_route(request: &Request) -> Result<Route, PluginError> {
            // The id is passed on as the client sent it, `%2F` decoded too: the host
            // must refuse whatever is not a session id (`../x`).
            let rest = request.path.trim_start_matches("/sessions/");
            let (pkg_name, id) = rest.split_once('/').unwrap_or((rest, ""));
            let decode = |s: &str| {
                wharf_plugin_sdk::percent_decode_keeping_slashes(s)
                    .ok_or_else(|| PluginError::bad_request("bad path"))
            };
            let (pkg_name, id) = (decode(pkg_name)?, decode(id)?);
            let pkg = PackageRef {
                owner: request.mount_owner()?,
                name: pkg_name.clone(),
            };
            let digest = request
                .query_param("digest")
                .map(parse_digest)
                .transpose()?;
            let progress = |status: u16| {
                ReplyTemplate::new(status, "", "")
                    .header("location", &format!("/sessions/{pkg_name}/{{id}}"))
                    .header("range", "0-{end}")
                    .header("upload-uuid", "{id}")
            };
            let finished = ReplyTemplate::new(201, "", "")
                .header("location", &format!("/blobs/{pkg_name}/{{digest}}"))
                .header("content-digest", "{digest}");
            let (op, reply) = match (&request.method, id.is_empty(), digest) {
                (Method::Post, true, None) => (SessionOp::Start, progress(202)),
                (Method::Post, true, Some(d)) => (SessionOp::Finish(d), finished),
                (Method::Patch, false, _) => {
                    let start = request
                        .header("content-range")
                        .map(range_start)
                        .transpose()?;
                    (SessionOp::Append(start), progress(202))
                }
                (Method::Get, false, _) => (SessionOp::Status, progress(204)),
                (Method::Put, false, Some(d)) => (SessionOp::Finish(d), finished),
                (Method::Put, false, None) => {
                    return Err(PluginError::bad_request("digest missing"));
                }
                (Method::Delete, false, _) => (SessionOp::Cancel, ReplyTemplate::new(204, "", "")),
                _ => return Err(PluginError::method_not_allowed()),
            };
            let op = Operation::UploadSession(SessionRequest { pkg, id, op });
            Ok(Route::write(op).reply(reply))
        }

        /// `sha256:<hex>` or `sha512:<hex>`; the host checks the hex.
        fn parse_digest(text: &str) -> Result<Digest, PluginError> {
            let (algorithm, hex) = match text.split_once(':') {
                Some(("sha256", hex)) => (HashAlgorithm::Sha256, hex),
                Some(("sha512", hex)) => (HashAlgorithm::Sha512, hex),
                _ => return Err(PluginError::bad_request("unsupported digest")),
            };
            Ok(Digest {
                algorithm,
                hex: hex.to_string(),
            })
        }

        /// The start of `Content-Range: <start>-<end>` (OCI's form, `bytes ` allowed).
        fn range_start(text: &str) -> Result<u64, PluginError> {
            text.trim_start_matches("bytes ")
                .split_once('-')
                .and_then(|(start, _)| start.parse().ok())
                .ok_or_else(|| PluginError::bad_request("malformed Content-Range"))
        }

        /// Seconds since the epoch, and a hash keyed by std's random seed.
        fn ambient() -> String {
            use std::hash::BuildHasher;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(u64::MAX, |d| d.as_secs());
            let keyed = std::collections::hash_map::RandomState::new().hash_one(1u8);
            format!("{now} {keyed}")
        }

        wharf_plugin_sdk::impl_pages!($ty, |_input| misbehave());

        wharf_plugin_sdk::export!($ty with Pages);
    };
}
