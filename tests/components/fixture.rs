//! The part the misbehaving fixtures share: a format whose `match-route` calls the
//! crate's `misbehave()` for paths starting with `/boom`, answers `GET /ok` with `ok`
//! (to show the format still works afterwards), and has no uploads or indexes.

macro_rules! misbehaving_plugin {
    ($ty:ident, $name:literal) => {
        use wharf_plugin_sdk::{
            Descriptor, IndexInput, Method, Operation, Plugin, PluginError, PublishPlan, Request,
            Response, Route, Upload, UploadSpec,
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

        wharf_plugin_sdk::export!($ty);
    };
}
