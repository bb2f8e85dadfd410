//! Test plugin `spin`: `match-route` loops forever for paths starting with `/boom`.
//! Proves the host's fuel/epoch limit interrupts a guest that never returns, and that
//! the format keeps serving (`GET /ok` answers `ok`) afterwards.

use wharf_plugin_sdk::{
    Challenge, Descriptor, ErrorStyle, IndexInput, Method, Operation, Plugin, PluginError,
    PublishPlan, Request, Response, Route, Upload, UploadSpec,
};

struct Spin;

impl Plugin for Spin {
    fn describe() -> Descriptor {
        Descriptor {
            name: "spin".to_string(),
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

wharf_plugin_sdk::export!(Spin);

/// Counts forever; `black_box` keeps the optimizer from removing the loop.
fn misbehave() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}
