//! Test plugin `hog`: `match-route` allocates memory without bound for paths starting
//! with `/boom`. Proves the host's linear-memory cap stops a guest (the failed
//! allocation aborts) and that the format keeps serving (`GET /ok` answers `ok`).

use wharf_plugin_sdk::{
    Challenge, Descriptor, ErrorStyle, IndexInput, Method, Operation, Plugin, PluginError,
    PublishPlan, Request, Response, Route, Upload, UploadSpec,
};

struct Hog;

impl Plugin for Hog {
    fn describe() -> Descriptor {
        Descriptor {
            name: "hog".to_string(),
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

wharf_plugin_sdk::export!(Hog);

/// Hoards 1 MiB buffers of non-zero bytes (so every page is touched) until allocation fails.
fn misbehave() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xA5; 1 << 20]);
        std::hint::black_box(&mut hoard);
    }
}
