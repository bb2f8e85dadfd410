//! One entry out of a tar or a gzipped tar (a Helm chart's `Chart.yaml`), streamed:
//! a tar has no directory, so the archive is read once from start to end (checking
//! that exactly one entry matches) and only the wanted entry's bytes are kept.

use std::io::{BufRead, BufReader, Read};

use flate2::bufread::GzDecoder;

use super::{Budget, Limits, Wanted};
use crate::PluginError;

/// The name and bytes of the single regular file `wanted` picks in a tar archive,
/// gunzipped first when it starts with gzip's magic bytes (`.tgz`, `.tar.gz`).
/// `limits.bytes_read` bounds the tar stream after gunzipping.
pub fn read_tar_entry<R: Read>(
    reader: R,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<(String, Vec<u8>), PluginError> {
    let mut buffered = BufReader::new(reader);
    let gzipped = buffered
        .fill_buf()
        .map_err(|e| wanted.unreadable(&e))?
        .starts_with(&[0x1f, 0x8b]);
    if gzipped {
        walk(GzDecoder::new(buffered), wanted, limits)
    } else {
        walk(buffered, wanted, limits)
    }
}

fn walk<R: Read>(
    stream: R,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<(String, Vec<u8>), PluginError> {
    let mut budget = Budget::new(stream, limits.bytes_read);
    let result = extract(&mut budget, wanted, limits);
    if budget.exceeded {
        // Whatever error the tar or gzip reader made of the refused read, this is why.
        return Err(wanted.refuse(format_args!(
            " is too large (more than {} bytes of tar to read)",
            limits.bytes_read
        )));
    }
    result
}

fn extract<R: Read>(
    stream: R,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<(String, Vec<u8>), PluginError> {
    let invalid =
        |e: std::io::Error| wanted.refuse(format_args!(" is not a valid tar archive: {e}"));
    let mut archive = tar::Archive::new(stream);
    let mut found = None;
    let mut count = 0;
    for entry in archive.entries().map_err(invalid)? {
        let entry = entry.map_err(invalid)?;
        count += 1;
        wanted.check_count(count, limits)?;
        let name = entry.path_bytes();
        if !entry.header().entry_type().is_file() || !(wanted.matches)(&name) {
            continue;
        }
        let name = String::from_utf8_lossy(&name).into_owned();
        if found.is_some() {
            // A later entry of a tar replaces an earlier one when unpacked; which one
            // a client takes is not something to guess.
            return Err(wanted.twice());
        }
        let bytes = wanted.read_bounded(entry.size(), entry, &name, limits)?;
        found = Some((name, bytes));
    }
    found.ok_or_else(|| wanted.missing())
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::super::shared_tests::{LIMITS, Reader};
    use super::*;

    const CHART: Reader = Reader {
        archive: "chart",
        entry: "Chart.yaml",
        matches: |name| name.split(|b| *b == b'/').eq([&b"app"[..], b"Chart.yaml"]),
        wanted: "app/Chart.yaml",
        read: read_tar_entry,
        build: tar,
    };

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn the_wanted_entry_is_read_from_plain_and_gzipped_tars() {
        let chart = tar(&[
            ("app/values.yaml", b"a: 1"),
            ("app/Chart.yaml", b"name: app"),
            ("app/charts/sub/Chart.yaml", b"name: sub"),
        ]);
        for bytes in [chart.clone(), gzip(&chart)] {
            let (name, content) = CHART.read(bytes, &LIMITS).unwrap();
            assert_eq!(
                (name.as_str(), &content[..]),
                ("app/Chart.yaml", &b"name: app"[..])
            );
        }
    }

    #[test]
    fn long_names_are_read_whole() {
        // Past 100 bytes a name goes into a GNU long-name entry before the file's.
        let deep = format!("app/templates/{}.yaml", "x".repeat(150));
        let chart = tar(&[
            (deep.as_str(), b"kind: Pod"),
            ("app/Chart.yaml", b"name: app"),
        ]);
        let wanted = Wanted {
            archive: "chart",
            entry: "template",
            matches: &|name| name.starts_with(b"app/templates/"),
        };
        let (name, _) = read_tar_entry(Cursor::new(gzip(&chart)), &wanted, &LIMITS).unwrap();
        assert_eq!(name, deep);
    }

    #[test]
    fn anything_but_one_wanted_entry_is_refused() {
        let refused = |bytes, expected| CHART.refused(bytes, &LIMITS, expected);
        refused(
            b"not a tar at all, just text".to_vec(),
            "chart is not a valid tar",
        );
        refused(vec![0x1f, 0x8b, 0, 0, 1, 2, 3], "not a valid tar");
        refused(
            gzip(&tar(&[("app/values.yaml", b"")])),
            "the chart has no Chart.yaml",
        );
        refused(Vec::new(), "has no Chart.yaml");
        refused(
            tar(&[("app/Chart.yaml", b"1"), ("app/Chart.yaml", b"2")]),
            "more than one Chart.yaml",
        );
        let mut truncated = tar(&[("app/Chart.yaml", &[b'a'; 600])]);
        truncated.truncate(700);
        refused(truncated, "not a valid tar");
    }

    #[test]
    fn oversized_entries_bombs_and_crowds_are_refused() {
        CHART.caps_the_entry_size();
        CHART.caps_the_entry_count();
        // 4 MiB of zeros gzip to a few KiB; the walk stops at the budget.
        let bomb = gzip(&tar(&[
            ("app/big", &vec![0; 4 << 20]),
            ("app/Chart.yaml", b""),
        ]));
        assert!(bomb.len() < 10_000);
        CHART.refused(bomb, &LIMITS, "more than 1048576 bytes of tar to read");
    }
}
