//! The generated `wharf:format` bindings, in one private place.
//!
//! The contract's records are the host's vocabulary for routes, plans and indexes, so
//! the rest of the host uses them through [`super::api`] rather than mirroring each one.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "format",
    imports: { default: trappable },
    with: {
        "wharf:format/host.upload": super::host_impl::UploadReader,
    },
});
