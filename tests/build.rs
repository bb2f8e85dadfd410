//! Builds the misbehaving plugin fixtures (`components/*`) and the plugins tested as
//! third parties ship them (loaded from a `.wasm` path, never bundled into the host),
//! and exposes their paths to the tests as `WHARF_TEST_<NAME>_WASM`.

use std::path::PathBuf;

#[path = "../host/build_wasm.rs"]
mod build_wasm;

const FIXTURES: &[(&str, &str)] = &[
    ("TRAP", "wharf-test-trap"),
    ("SPIN", "wharf-test-spin"),
    ("HOG", "wharf-test-hog"),
    // Registry-shaped routes behind a Bearer challenge (tests/registry_tokens.rs).
    ("BEARER", "wharf-test-bearer"),
    ("CARGO", "wharf-format-cargo"),
    ("PYPI", "wharf-format-pypi"),
    // Not bundled in the host yet: the OCI tests load it from its file.
    ("OCI", "wharf-format-oci"),
    // Loaded from its file as a third party's plugin would be (tests/plugin_kit.rs).
    ("TEMPLATE", "wharf-format-template"),
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let target_dir = build_wasm::target_dir(&root);
    println!(
        "cargo:rerun-if-changed={}",
        root.join("tests").join("components").display()
    );
    for plugin in ["sdk", "cargo", "pypi", "oci", "template"] {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("plugins").join(plugin).display()
        );
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for (name, krate) in FIXTURES {
        let wasm = build_wasm::build_component(&root, &target_dir, krate);
        println!("cargo:rustc-env=WHARF_TEST_{name}_WASM={}", wasm.display());
    }
}
