//! Listings rendered from the database: tags, referrers, the catalog.

use wharf_plugin_sdk::{IndexInput, PluginError, Response};

pub fn render(_input: IndexInput) -> Result<Response, PluginError> {
    Err(PluginError::not_found("no such index"))
}
