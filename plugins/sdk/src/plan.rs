//! Building publish plans and index specs: constructors for the common shape of each
//! record (a new version with its files, a file stored as it came, a whole listing), so
//! a format spells out only what it decides and struct-update syntax covers the rest.

use crate::{
    FileSource, IndexSpec, ListingSpec, Operation, PackageRef, PlanFile, PlanVersion, VersionMode,
    VersionRef,
};

impl PackageRef {
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
        }
    }
}

impl VersionRef {
    pub fn new(pkg: PackageRef, version: impl Into<String>) -> Self {
        Self {
            pkg,
            version: version.into(),
        }
    }
}

impl PlanVersion {
    /// `version` with its metadata and files: no tags, properties or references.
    pub fn new(
        version: impl Into<String>,
        mode: VersionMode,
        metadata: impl Into<String>,
        files: Vec<PlanFile>,
    ) -> Self {
        Self {
            version: version.into(),
            mode,
            metadata: metadata.into(),
            files,
            tags: Vec::new(),
            properties: Vec::new(),
            references: Vec::new(),
        }
    }
}

impl PlanFile {
    /// A file that is not the version's lead, never overwrites one of its name (409
    /// instead), and whose digest nobody announced.
    pub fn new(name: impl Into<String>, source: FileSource, content_type: &str) -> Self {
        Self {
            name: name.into(),
            source,
            content_type: content_type.to_string(),
            lead: false,
            overwrite: false,
            expect: None,
        }
    }

    /// The file downloads count and the version "is" (npm's tgz, a chart).
    pub fn lead(self) -> Self {
        Self { lead: true, ..self }
    }
}

impl ListingSpec {
    /// Every package the caller may read, each with its newest version only, in name
    /// order; set `all_versions`, `filter`, `offset`/`limit` or `after` on top.
    pub fn every_package() -> Self {
        Self {
            filter: String::new(),
            offset: 0,
            limit: 0,
            all_versions: false,
            after: String::new(),
        }
    }
}

impl Operation {
    /// Render `view` of one package; `render-index` gets its detail.
    pub fn render_package(pkg: PackageRef, view: &str) -> Self {
        Self::RenderIndex(IndexSpec {
            pkg: Some(pkg),
            view: view.to_string(),
            params: Vec::new(),
            digest_of: None,
            listing: None,
        })
    }

    /// Render `view` of the owner's packages as `listing` selects them.
    pub fn render_listing(view: &str, listing: ListingSpec) -> Self {
        Self::RenderIndex(IndexSpec {
            pkg: None,
            view: view.to_string(),
            params: Vec::new(),
            digest_of: None,
            listing: Some(listing),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_version_holds_only_what_the_format_decided() {
        let chart = PlanFile::new("a-1.tgz", FileSource::Whole, "application/gzip").lead();
        let v = PlanVersion::new("1", VersionMode::Create, "{}", vec![chart.clone()]);
        assert_eq!((v.version.as_str(), v.metadata.as_str()), ("1", "{}"));
        assert_eq!(v.files, std::slice::from_ref(&chart));
        assert!(v.tags.is_empty() && v.properties.is_empty() && v.references.is_empty());
        assert!(chart.lead && !chart.overwrite && chart.expect.is_none());
        assert!(!PlanFile::new("a.prov", FileSource::Whole, "text/plain").lead);
    }

    #[test]
    fn listings_select_every_package_unless_told_otherwise() {
        let all = ListingSpec {
            all_versions: true,
            ..ListingSpec::every_package()
        };
        let Operation::RenderIndex(spec) = Operation::render_listing("index", all.clone()) else {
            panic!()
        };
        assert_eq!((spec.pkg, spec.view.as_str()), (None, "index"));
        assert_eq!(spec.listing, Some(all));
        let pkg = PackageRef::new("alice", "a");
        let Operation::RenderIndex(spec) = Operation::render_package(pkg.clone(), "v") else {
            panic!()
        };
        assert_eq!((spec.pkg, spec.listing), (Some(pkg), None));
    }
}
