//! A second kind of file, to show the SDK's archive and YAML helpers: a file named
//! `….tar.gz` or `….tgz` is a bundle, and its summary is the `summary` of the
//! `about.yaml` at its root instead of its first line. `archive::read_tar_entry`
//! streams the upload once and keeps only that entry (within [`LIMITS`]: an upload is
//! untrusted); `yaml::parse` makes it a typed value, or a 400 naming the file. A format
//! without archives deletes this module and the `tar` and `yaml` features.

use serde::Deserialize;
use wharf_plugin_sdk::archive::{Limits, Wanted, read_tar_entry};
use wharf_plugin_sdk::{PluginError, UploadBody, UploadReader, yaml};

/// `about.yaml` is a few lines; a bundle of more than 1,000 entries or 64 MiB of tar
/// (after gunzipping: what a gzip bomb inflates to) is refused before it is walked.
const LIMITS: Limits = Limits {
    entry: 64 << 10,
    entries: 1000,
    bytes_read: 64 << 20,
};

pub fn is_bundle(file: &str) -> bool {
    file.ends_with(".tar.gz") || file.ends_with(".tgz")
}

/// What the template reads of `about.yaml`; other keys are ignored.
#[derive(Deserialize)]
struct About {
    summary: String,
}

/// The `summary` of the bundle's `about.yaml`, or a 400 saying why there is none.
pub fn summary(body: &(impl UploadBody + ?Sized)) -> Result<String, PluginError> {
    let wanted = Wanted {
        archive: "bundle",
        entry: "about.yaml at its root",
        // `tar -czf b.tgz about.yaml …` and `tar -czf b.tgz .` name it either way.
        matches: &|name| name.strip_prefix(b"./").unwrap_or(name) == b"about.yaml",
    };
    let (_, bytes) = read_tar_entry(UploadReader::new(body), &wanted, &LIMITS)?;
    let about: About = yaml::parse(&bytes, "about.yaml")?;
    Ok(about.summary)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use wharf_plugin_sdk::testing::FakeUpload;

    use super::*;

    /// A `.tgz` of these files, as `tar -czf` makes it.
    fn tgz(files: &[(&str, &str)]) -> FakeUpload {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, name, content.as_bytes())
                .unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        FakeUpload::new(gz.finish().unwrap())
    }

    #[test]
    fn a_bundles_summary_is_its_about_yaml_s() {
        assert!(is_bundle("notes-1.0.tgz") && is_bundle("n.tar.gz") && !is_bundle("n.txt"));
        let bundle = tgz(&[
            ("notes.txt", "Not this line\n"),
            (
                "./about.yaml",
                "summary: Release notes, bundled\nauthor: me\n",
            ),
        ]);
        assert_eq!(summary(&bundle).unwrap(), "Release notes, bundled");
    }

    #[test]
    fn a_bundle_without_a_readable_about_yaml_is_a_400_saying_why() {
        let refused = |upload: FakeUpload, expected: &str| {
            let err = summary(&upload).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(expected), "{}", err.message);
        };
        refused(tgz(&[("notes.txt", "x")]), "has no about.yaml at its root");
        refused(
            tgz(&[("docs/about.yaml", "summary: x")]),
            "has no about.yaml",
        );
        refused(tgz(&[("about.yaml", "summary: [")]), "invalid about.yaml");
        refused(
            tgz(&[("about.yaml", "title: x")]),
            "missing field `summary`",
        );
        refused(FakeUpload::new(b"plain text".to_vec()), "not a valid tar");
    }
}
