//! Manifest pushes: validation and the publish plan.

use wharf_plugin_sdk::{
    Digest, PackageRef, PluginError, PublishPlan, Request, UploadBody, UploadSpec,
};

/// Sizes of the package's blobs, asked of the host (faked in unit tests).
pub trait BlobSizes {
    fn blob_size(&self, pkg: &PackageRef, digest: &Digest) -> Option<u64>;
}

/// The host's view of the package's blobs.
pub struct HostBlobs;

impl BlobSizes for HostBlobs {
    fn blob_size(&self, pkg: &PackageRef, digest: &Digest) -> Option<u64> {
        wharf_plugin_sdk::host::package_blob_size(pkg, digest)
    }
}

pub fn parse_upload(
    _request: &Request,
    _spec: UploadSpec,
    _body: &(impl UploadBody + ?Sized),
    _blobs: &impl BlobSizes,
) -> Result<PublishPlan, PluginError> {
    Err(PluginError::internal("not yet"))
}
