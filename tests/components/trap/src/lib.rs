//! Test plugin `trap`: `match-route` panics (a wasm trap) for paths starting with `/boom`.
//! Proves the host turns a guest trap into a 500 for that request only and keeps serving
//! (`GET /ok` answers `ok`) with a fresh instance.

use wharf_plugin_sdk::{
    Challenge, Descriptor, ErrorStyle, IndexInput, Method, Operation, Plugin, PluginError,
    PublishPlan, Request, Response, Route, Upload, UploadSpec,
};

struct Trap;

impl Plugin for Trap {
    fn describe() -> Descriptor {
        Descriptor {
            name: "trap".to_string(),
            contract: wharf_plugin_sdk::CONTRACT_VERSION.to_string(),
            error_style: ErrorStyle::PlainText,
            challenge: Challenge::Basic("Wharf Package API".to_string()),
            digests: Vec::new(),
            case_insensitive_names: true,
        }
    }

    fn match_route(request: Request) -> Result<Route, PluginError> {
        if request.path.starts_with("/boom") {
            misbehave();
        }
        if !matches!(request.method, Method::Get) || request.path != "/ok" {
            return Ok(Route::not_found());
        }
        let ok = Response::new(200, "text/plain", "ok");
        Ok(Route::public(Operation::Respond(ok)))
    }

    fn parse_upload(
        _request: Request,
        _spec: UploadSpec,
        _body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        Err(PluginError::new(500, "no uploads"))
    }

    fn render_index(_input: IndexInput) -> Result<Response, PluginError> {
        Err(PluginError::new(500, "no indexes"))
    }
}

wharf_plugin_sdk::export!(Trap);

/// Panics; with `panic = "abort"` this is an `unreachable` trap in the guest.
fn misbehave() -> ! {
    panic!("trap test plugin: deliberate panic");
}
