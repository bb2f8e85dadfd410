//! Which components this host accepts as format plugins: the `wharf:format` version
//! rule, and reading a component's contract interfaces before linking it.
//!
//! A component names the contract twice: in the interfaces it imports and exports
//! (`wharf:format/host@0.3.0`, `wharf:format/plugin@0.3.0`), which is what wasmtime links
//! and type-checks, and in `descriptor.contract`, which it reports about itself. Both
//! must be on one *track* this host loads: its own, or contract 0.2's, whose plugins
//! load through a conversion layer (`plugins::compat`). Tracks follow semver as
//! wasmtime's linker applies it when it matches versioned names: `1.2.3` is on `1`,
//! `0.2.3` on `0.2`, and `0.0.z` or a pre-release only on itself. Within a track the
//! host only ever adds imports (`wit/format.wit`), so a plugin built against the host's
//! version or an older one links; one built against a newer one links unless it imports
//! something this host lacks, which the linker then names.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::bail;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract this host implements.
pub const CONTRACT: &str = "0.3.2";

/// The WIT package of the contract, as interface names spell it.
const PACKAGE: &str = "wharf:format/";

/// The interface every plugin exports.
const PLUGIN_INTERFACE: &str = "plugin";

/// A contract track this host loads plugins of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// [`CONTRACT`]'s: the host's own types.
    Current,
    /// `0.2.x`, converted to and from the current types.
    V02,
}

impl Track {
    /// Every track this host loads, its own first.
    pub const ALL: [Track; 2] = [Track::Current, Track::V02];

    /// The version of the contract this host implements for the track.
    pub fn version(self) -> &'static str {
        match self {
            Track::Current => CONTRACT,
            Track::V02 => "0.2.0",
        }
    }

    /// The track a plugin built against `version` is on, if this host loads it.
    pub fn of(version: &str) -> Option<Track> {
        let wanted = track(version)?;
        Self::ALL
            .into_iter()
            .find(|t| track(t.version()).as_ref() == Some(&wanted))
    }
}

/// `0.3.x`: the versions of the track.
impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = self.version();
        match track(version) {
            Some(t) if t != version => write!(f, "{t}.x"),
            _ => f.write_str(version),
        }
    }
}

/// The part of a version two versions must share to be compatible (see the module docs).
fn track(version: &str) -> Option<String> {
    let v = semver::Version::parse(version).ok()?;
    Some(if !v.pre.is_empty() || (v.major, v.minor) == (0, 0) {
        version.to_string()
    } else if v.major == 0 {
        format!("0.{}", v.minor)
    } else {
        v.major.to_string()
    })
}

/// The versions this host loads, for messages: `0.3.x and 0.2.x`.
pub fn accepted() -> String {
    Track::ALL.map(|t| t.to_string()).join(" and ")
}

/// The interfaces a component imports and exports, by full name, contract ones apart.
#[derive(Debug, Clone, Default)]
pub struct Interfaces {
    /// `wharf:format/…` imports.
    pub imports: Vec<String>,
    /// `wharf:format/…` exports.
    pub exports: Vec<String>,
    /// Every other import (`wasi:…` for std guests).
    pub other_imports: Vec<String>,
    /// Every other export.
    pub other_exports: Vec<String>,
}

impl Interfaces {
    pub fn of(component: &Component, engine: &Engine) -> Self {
        let ty = component.component_type();
        let mut found = Self::default();
        for (name, _) in ty.imports(engine) {
            let list = if name.starts_with(PACKAGE) {
                &mut found.imports
            } else {
                &mut found.other_imports
            };
            list.push(name.to_string());
        }
        for (name, _) in ty.exports(engine) {
            let list = if name.starts_with(PACKAGE) {
                &mut found.exports
            } else {
                &mut found.other_exports
            };
            list.push(name.to_string());
        }
        found
    }

    /// The distinct contract versions the interface names carry (`""` for a name
    /// without a version).
    pub fn versions(&self) -> BTreeSet<&str> {
        self.imports
            .iter()
            .chain(&self.exports)
            .map(|name| name.split_once('@').map_or("", |(_, v)| v))
            .collect()
    }

    /// The track the component's contract interfaces are on; fails unless they all
    /// are on one track this host loads and it exports `wharf:format/plugin`. Versions
    /// come first: a plugin of another contract is best told so, whatever else differs.
    pub fn check(&self) -> anyhow::Result<Track> {
        let versions = self.versions();
        let wrong: Vec<&str> = versions
            .iter()
            .copied()
            .filter(|v| Track::of(v).is_none())
            .collect();
        if !wrong.is_empty() {
            let built = wrong
                .iter()
                .map(|v| match *v {
                    "" => "an unversioned wharf:format".to_string(),
                    v => format!("wharf:format@{v}"),
                })
                .collect::<Vec<_>>()
                .join(" and ");
            bail!(
                "it is built against {built}, but this host implements wharf:format@{CONTRACT} \
                 (it loads {}); rebuild the plugin against a {} contract, or run a host that \
                 implements its version",
                accepted(),
                Track::Current
            );
        }
        let tracks: BTreeSet<String> = versions
            .iter()
            .filter_map(|v| Track::of(v))
            .map(|t| t.to_string())
            .collect();
        if tracks.len() > 1 {
            bail!(
                "it mixes contract tracks ({}): its imports and exports must all be built \
                 against one wharf:format version",
                tracks.into_iter().collect::<Vec<_>>().join(" and ")
            );
        }
        let plugin = format!("{PACKAGE}{PLUGIN_INTERFACE}");
        let exports_plugin = self
            .exports
            .iter()
            .any(|name| name.split('@').next() == Some(plugin.as_str()));
        if !exports_plugin {
            let exports: Vec<&str> = self
                .exports
                .iter()
                .chain(&self.other_exports)
                .map(String::as_str)
                .collect();
            bail!(
                "it does not export {plugin}, so it is not a Wharf format plugin (its exports: \
                 {}); a plugin implements the world wharf:format/format",
                if exports.is_empty() {
                    "none".to_string()
                } else {
                    exports.join(", ")
                }
            );
        }
        // Exporting the plugin interface, the component names at least one version.
        let track = versions.iter().find_map(|v| Track::of(v));
        Ok(track.unwrap_or(Track::Current))
    }
}

/// Tells apart what is not a component before compiling: a core module (built for
/// `wasm32-unknown-unknown` or `wasm32-wasip1`) or not WebAssembly at all.
pub fn check_binary(wasm: &[u8]) -> anyhow::Result<()> {
    let Some(header) = wasm.get(..8).filter(|h| h.starts_with(b"\0asm")) else {
        bail!("it is not WebAssembly (no \\0asm header)");
    };
    if header[4..] == [1, 0, 0, 0] {
        bail!(
            "it is a core WebAssembly module, not a component: build it with \
             `cargo build --target wasm32-wasip2` (wasm32-unknown-unknown and wasm32-wasip1 \
             produce core modules)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_on_a_track_the_host_loads_are_accepted() {
        assert_eq!(Track::of("0.3.0"), Some(Track::Current));
        assert_eq!(Track::of("0.3.7"), Some(Track::Current));
        assert_eq!(Track::of("0.2.0"), Some(Track::V02));
        assert_eq!(Track::of("0.2.9"), Some(Track::V02));
        // Each minor changed records and variants: 0.1 plugins no longer type-check.
        assert_eq!(Track::of("0.1.0"), None);
        assert_eq!(Track::of("0.4.0"), None);
        assert_eq!(Track::of("1.2.0"), None);
        assert_eq!(Track::of("0.3"), None);
        assert_eq!(Track::of("0.3.0-rc.1"), None);
        assert_eq!(Track::of(""), None);
        assert_eq!(accepted(), "0.3.x and 0.2.x");
        assert_eq!(Track::V02.to_string(), "0.2.x");
        assert_eq!(track("2.3.4").as_deref(), Some("2"));
        assert_eq!(track("0.0.3").as_deref(), Some("0.0.3"));
    }

    fn interfaces(imports: &[&str], exports: &[&str]) -> Interfaces {
        let owned = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        Interfaces {
            imports: owned(imports),
            exports: owned(exports),
            ..Interfaces::default()
        }
    }

    #[test]
    fn interface_versions_are_checked_by_name() {
        let current = interfaces(
            &["wharf:format/types@0.3.0", "wharf:format/host@0.3.2"],
            &["wharf:format/plugin@0.3.0"],
        );
        assert_eq!(current.check().unwrap(), Track::Current);
        assert_eq!(
            current.versions().into_iter().collect::<Vec<_>>(),
            ["0.3.0", "0.3.2"]
        );
        let previous = interfaces(
            &["wharf:format/types@0.2.0", "wharf:format/host@0.2.0"],
            &["wharf:format/plugin@0.2.1"],
        );
        assert_eq!(previous.check().unwrap(), Track::V02);

        let older = interfaces(&["wharf:format/host@0.1.0"], &["wharf:format/plugin@0.1.0"]);
        let err = older.check().unwrap_err().to_string();
        assert!(err.contains("wharf:format@0.1.0"), "{err}");
        assert!(err.contains("implements wharf:format@0.3.2"), "{err}");
        assert!(err.contains("loads 0.3.x and 0.2.x"), "{err}");
        assert!(err.contains("against a 0.3.x contract"), "{err}");

        let mixed = interfaces(&["wharf:format/host@0.2.0"], &["wharf:format/plugin@0.3.0"]);
        let err = mixed.check().unwrap_err().to_string();
        assert!(
            err.contains("mixes contract tracks (0.2.x and 0.3.x)"),
            "{err}"
        );

        let unversioned = interfaces(&[], &["wharf:format/plugin"]);
        let err = unversioned.check().unwrap_err().to_string();
        assert!(err.contains("unversioned"), "{err}");
    }

    #[test]
    fn a_component_without_the_plugin_export_is_not_a_plugin() {
        let err = interfaces(&["wharf:format/host@0.3.0"], &[])
            .check()
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not export wharf:format/plugin"), "{err}");
        assert!(err.contains("its exports: none"), "{err}");
    }

    #[test]
    fn core_modules_and_other_files_are_told_apart() {
        let core = b"\0asm\x01\0\0\0";
        assert!(
            check_binary(core)
                .unwrap_err()
                .to_string()
                .contains("core WebAssembly module")
        );
        assert!(
            check_binary(b"PK\x03\x04....")
                .unwrap_err()
                .to_string()
                .contains("not WebAssembly")
        );
        check_binary(b"\0asm\x0d\0\x01\0").unwrap();
    }
}
