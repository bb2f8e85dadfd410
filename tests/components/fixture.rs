//! The part the misbehaving fixtures share: a format whose `match-route` calls the
//! crate's `misbehave()` for paths starting with `/boom`, answers `GET /ok` with `ok`
//! (to show the format still works afterwards), answers `GET /ambient` with what the
//! guest sees of the clock and of its random source, and has no uploads or indexes.

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
                Err(PluginError::new(500, "no uploads"))
            }

            fn render_index(_input: IndexInput) -> Result<Response, PluginError> {
                Err(PluginError::new(500, "no indexes"))
            }
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

        wharf_plugin_sdk::export!($ty);
    };
}
