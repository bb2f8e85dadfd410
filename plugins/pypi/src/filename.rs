//! Distribution file names: which kinds are accepted (wheels, and sdists as `.tar.gz`
//! or `.zip`, as PyPI accepts them today) and whether a name belongs to the project and
//! version it is uploaded as. pip reads the project and version of a file from its
//! name, so a file that names another version would install as that one.

use wharf_plugin_sdk::PluginError;

use crate::{names, version};

/// The kinds of distribution files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sdist,
    Wheel,
}

impl Kind {
    /// The `filetype` twine sends for this kind.
    pub fn filetype(self) -> &'static str {
        match self {
            Kind::Sdist => "sdist",
            Kind::Wheel => "bdist_wheel",
        }
    }
}

/// Longest file name accepted (PyPI's filesystem-friendly limit).
const MAX_LEN: usize = 255;

/// Checks that `filename` is a wheel or sdist of project `name` (normalized) at
/// `version` (normalized) and returns its kind; a 400 saying what is wrong otherwise.
pub fn check(filename: &str, name: &str, version: &str) -> Result<Kind, PluginError> {
    if !is_safe(filename) {
        return Err(PluginError::bad_request(format!(
            "invalid distribution file name {filename:?}"
        )));
    }
    let (kind, belongs) = if let Some(stem) = filename.strip_suffix(".whl") {
        (Kind::Wheel, wheel_belongs(stem, name, version))
    } else if let Some(stem) = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
    {
        (Kind::Sdist, sdist_belongs(stem, name, version))
    } else {
        return Err(PluginError::bad_request(format!(
            "{filename}: unsupported file type; upload wheels (.whl) and sdists (.tar.gz or .zip)"
        )));
    };
    if !belongs {
        return Err(PluginError::bad_request(format!(
            "{filename} is not a distribution of {name} {version}: the file name must start \
             with the project name and version"
        )));
    }
    Ok(kind)
}

/// Whether `filename` can be stored as a file name: not empty, not too long, no path
/// separators, no control characters, not hidden.
pub fn is_safe(filename: &str) -> bool {
    !filename.is_empty()
        && filename.len() <= MAX_LEN
        && !filename.starts_with('.')
        && !filename.contains(['/', '\\'])
        && !filename.chars().any(char::is_control)
}

/// Extensions of the source distributions PyPI has ever listed, the legacy ones
/// (`.tar.bz2`, `.tgz`, …) included: an upstream page may still list them, and a proxy
/// passes them on.
const SDIST_SUFFIXES: [&str; 6] = [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar"];

/// The normalized version of a distribution file of project `name` (normalized), read
/// from its name as pip reads it: wheels and eggs by their `-`-separated parts, sdists
/// (any extension PyPI listed) by the split whose left side is the project. `None`
/// for another project's file, another kind of file or a name without a PEP 440
/// version.
pub fn version_of(filename: &str, name: &str) -> Option<String> {
    if let Some(stem) = filename
        .strip_suffix(".whl")
        .filter(|stem| wheel_parts(stem))
        .or_else(|| filename.strip_suffix(".egg"))
    {
        let mut parts = stem.split('-');
        let project = parts.next()?;
        let version = parts.next()?;
        return (names::normalized(project).as_deref() == Some(name))
            .then(|| version::normalize(version))
            .flatten();
    }
    let stem = SDIST_SUFFIXES
        .iter()
        .find_map(|suffix| filename.strip_suffix(suffix))?;
    stem.match_indices('-').find_map(|(at, _)| {
        (names::normalized(&stem[..at]).as_deref() == Some(name))
            .then(|| version::normalize(&stem[at + 1..]))
            .flatten()
    })
}

/// Whether a wheel's stem has the spec's parts: five, or six with a build tag starting
/// with a digit, none empty.
fn wheel_parts(stem: &str) -> bool {
    let parts: Vec<&str> = stem.split('-').collect();
    let build_ok = match parts.len() {
        5 => true,
        6 => parts[2].starts_with(|c: char| c.is_ascii_digit()),
        _ => false,
    };
    build_ok && parts.iter().all(|p| !p.is_empty())
}

/// `{name}-{version}(-{build})?-{python}-{abi}-{platform}` (the wheel spec): names and
/// versions in wheel names cannot contain `-`, so the parts are found by splitting.
fn wheel_belongs(stem: &str, name: &str, version: &str) -> bool {
    let parts: Vec<&str> = stem.split('-').collect();
    wheel_parts(stem)
        && names::normalized(parts[0]).as_deref() == Some(name)
        && version::normalize(parts[1]).as_deref() == Some(version)
}

/// `{name}-{version}`, where older tools left `-` in both (`my-pkg-1.0-1.tar.gz`): any
/// split into a name of this project and this version will do.
fn sdist_belongs(stem: &str, name: &str, version: &str) -> bool {
    stem.match_indices('-').any(|(at, _)| {
        names::normalized(&stem[..at]).as_deref() == Some(name)
            && version::normalize(&stem[at + 1..]).as_deref() == Some(version)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_file_names_of_the_project() {
        for (file, version) in [
            ("wharf_base-1.0.0-py3-none-any.whl", Some("1.0.0")),
            (
                "Wharf.Base-1.0.0RC1-1-cp311-cp311-manylinux_2_17_x86_64.whl",
                Some("1.0.0rc1"),
            ),
            ("wharf-base-1.0-1.tar.gz", Some("1.0.post1")),
            ("wharf_base-2.0.zip", Some("2.0")),
            ("wharf-base-0.9.tar.bz2", Some("0.9")),
            ("wharf-base-0.8.tgz", Some("0.8")),
            ("wharf_base-0.7-py2.7.egg", Some("0.7")),
            ("wharf_base-0.7.egg", Some("0.7")),
            ("other-1.0.tar.gz", None),
            ("wharf_base_extra-1.0.tar.gz", None),
            ("wharf_base-1.0-py3-any.whl", None),
            ("wharf_base-latest.tar.gz", None),
            ("wharf_base-1.0.exe", None),
            ("wharf_base-1.0.tar.gz.asc", None),
        ] {
            assert_eq!(version_of(file, "wharf-base").as_deref(), version, "{file}");
        }
    }

    #[test]
    fn wheels_and_sdists_of_the_version_are_accepted() {
        for (file, name, version, kind) in [
            (
                "wharf_base-1.0.0-py3-none-any.whl",
                "wharf-base",
                "1.0.0",
                Kind::Wheel,
            ),
            (
                "Wharf.Base-1.0.0rc1-1-cp311-cp311-manylinux_2_17_x86_64.whl",
                "wharf-base",
                "1.0.0rc1",
                Kind::Wheel,
            ),
            (
                "wharf_base-1.0.0.tar.gz",
                "wharf-base",
                "1.0.0",
                Kind::Sdist,
            ),
            (
                "wharf-base-1.0.0-RC1.tar.gz",
                "wharf-base",
                "1.0.0rc1",
                Kind::Sdist,
            ),
            (
                "Wharf-Base-1.0-1.zip",
                "wharf-base",
                "1.0.post1",
                Kind::Sdist,
            ),
            (
                "numpy-2.0+local.1-py3-none-any.whl",
                "numpy",
                "2.0+local.1",
                Kind::Wheel,
            ),
        ] {
            assert_eq!(check(file, name, version).unwrap(), kind, "{file}");
        }
    }

    #[test]
    fn files_of_other_projects_or_versions_are_refused() {
        for (file, name, version) in [
            ("other-1.0.0-py3-none-any.whl", "wharf-base", "1.0.0"),
            ("wharf_base-1.0.1-py3-none-any.whl", "wharf-base", "1.0.0"),
            ("wharf_base-1.0.0-py3-any.whl", "wharf-base", "1.0.0"),
            ("wharf_base-1.0.0-x-py3-none-any.whl", "wharf-base", "1.0.0"),
            ("wharf-base-1.0.0-py3-none-any.whl", "wharf-base", "1.0.0"),
            ("wharf_base-1.0.tar.gz", "wharf-base", "1.0.0"),
            ("wharf_base.tar.gz", "wharf-base", "1.0.0"),
            ("wharf_base_extra-1.0.0.tar.gz", "wharf-base", "1.0.0"),
        ] {
            let err = check(file, name, version).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(
                err.message.contains("is not a distribution of"),
                "{file}: {}",
                err.message
            );
        }
    }

    #[test]
    fn other_kinds_and_unsafe_names_are_refused() {
        for (file, expected) in [
            ("wharf_base-1.0.0.tar.bz2", "unsupported file type"),
            ("wharf_base-1.0.0-py3.11.egg", "unsupported file type"),
            ("wharf_base-1.0.0.win32.exe", "unsupported file type"),
            (
                "../wharf_base-1.0.0.tar.gz",
                "invalid distribution file name",
            ),
            (".whl", "invalid distribution file name"),
            ("a\nb.whl", "invalid distribution file name"),
            ("", "invalid distribution file name"),
        ] {
            let err = check(file, "wharf-base", "1.0.0").unwrap_err();
            assert!(err.message.contains(expected), "{file}: {}", err.message);
        }
    }
}
