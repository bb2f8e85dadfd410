//! The generated bindings of contract 0.2 (`wit/v0.2/format.wit`), apart from the
//! current ones: the two contracts' records share names but not types.

wasmtime::component::bindgen!({
    path: "../wit/v0.2",
    world: "format",
    imports: { default: trappable },
    // As for the current contract: routing runs on the async executor.
    exports: { "wharf:format/plugin.match-route": async },
    with: {
        // One upload type for both contracts, so the host hands either the same reader.
        "wharf:format/host.upload": crate::plugins::host_impl::UploadReader,
    },
});

/// The 0.2 types the conversion layer reads and builds, by their contract names.
pub mod api {
    pub use super::exports::wharf::format::plugin::{
        BearerChallenge, BlobRef, BlobReference, ByteRange, Challenge, Descriptor, ErrorStyle,
        FileByName, FileDigestRef, FileInfo, FileSource, IndexInput, IndexSpec, ListingSpec,
        MountRequest, Operation, PackageDetail, PlanFile, PlanVersion, PublishPlan, ReplyTemplate,
        Route, SessionOp, SessionRequest, TagChange, TagRef, TaggedFile, TokenRequest, UploadSpec,
        VersionDetail, VersionMode,
    };
    pub use super::wharf::format::host::{LogLevel, VersionInfo};
    pub use super::wharf::format::types::{
        Access, Digest, FileRef, HashAlgorithm, Method, PackageRef, PluginError, Request, Response,
        VersionRef,
    };
}
