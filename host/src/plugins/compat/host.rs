//! The 0.2 host imports, answered by the current ones: each call converts its
//! arguments, delegates to `host_impl`, and converts the answer back, so both contracts
//! see the same data under the same scoping rules.

use wasmtime::Result;
use wasmtime::component::Resource;

use super::bindings::wharf::format::{host as old_host, types as old_types};
use super::convert::Convert;
use crate::plugins::bindings::wharf::format::host as new_host;
use crate::plugins::host_impl::{State, UploadReader};

impl old_types::Host for State {}

impl old_host::HostUpload for State {
    fn size(&mut self, this: Resource<UploadReader>) -> Result<u64> {
        new_host::HostUpload::size(self, this)
    }

    fn sha256(&mut self, this: Resource<UploadReader>) -> Result<String> {
        new_host::HostUpload::sha256(self, this)
    }

    fn read(&mut self, this: Resource<UploadReader>, offset: u64, len: u32) -> Result<Vec<u8>> {
        new_host::HostUpload::read(self, this, offset, len)
    }

    fn find(
        &mut self,
        this: Resource<UploadReader>,
        offset: u64,
        needle: Vec<u8>,
    ) -> Result<Option<u64>> {
        new_host::HostUpload::find(self, this, offset, needle)
    }

    fn drop(&mut self, this: Resource<UploadReader>) -> Result<()> {
        new_host::HostUpload::drop(self, this)
    }
}

impl old_host::Host for State {
    fn log(&mut self, level: old_host::LogLevel, message: String) -> Result<()> {
        new_host::Host::log(self, level.convert(), message)
    }

    fn get_version(
        &mut self,
        version: old_types::VersionRef,
    ) -> Result<Option<old_host::VersionInfo>> {
        Ok(new_host::Host::get_version(self, version.convert())?.convert())
    }

    fn find_versions_by_property(
        &mut self,
        pkg: old_types::PackageRef,
        name: String,
        value: String,
    ) -> Result<Vec<old_host::VersionInfo>> {
        Ok(new_host::Host::find_versions_by_property(self, pkg.convert(), name, value)?.convert())
    }

    fn package_has_blob(
        &mut self,
        pkg: old_types::PackageRef,
        digest: old_types::Digest,
    ) -> Result<bool> {
        new_host::Host::package_has_blob(self, pkg.convert(), digest.convert())
    }

    fn package_blob_size(
        &mut self,
        pkg: old_types::PackageRef,
        digest: old_types::Digest,
    ) -> Result<Option<u64>> {
        new_host::Host::package_blob_size(self, pkg.convert(), digest.convert())
    }

    fn file_digest(
        &mut self,
        version: old_types::VersionRef,
        file_name: String,
        algorithm: old_types::HashAlgorithm,
    ) -> Result<Option<old_types::Digest>> {
        let digest =
            new_host::Host::file_digest(self, version.convert(), file_name, algorithm.convert())?;
        Ok(digest.convert())
    }
}
