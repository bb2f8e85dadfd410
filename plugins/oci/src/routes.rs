//! Which operation each request below `/v2` is.

use wharf_plugin_sdk::{PluginError, Request, Route};

pub fn match_route(_request: &Request) -> Result<Route, PluginError> {
    Ok(Route::not_found())
}
