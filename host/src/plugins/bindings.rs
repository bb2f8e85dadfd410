//! The generated `wharf:format` bindings, in one private place.
//!
//! The contract's records are the host's vocabulary for routes, plans and indexes, so
//! the rest of the host uses them through [`super::api`] rather than mirroring each one.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "format",
    imports: { default: trappable },
    // Routing runs on the async executor (see `Plugin::match_route`); the other calls
    // may wait on host imports and run on the blocking pool.
    exports: { "wharf:format/plugin.match-route": async },
    with: {
        "wharf:format/host.upload": super::host_impl::UploadReader,
    },
});
