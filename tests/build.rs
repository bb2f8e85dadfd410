//! Builds the misbehaving plugin fixtures (`components/*`) and the plugins the host
//! does not bundle (Cargo, PyPI, the template: loaded from a `.wasm` path as a third
//! party's plugin is), and exposes their paths to the tests as `WHARF_TEST_<NAME>_WASM`.
//! The bundled formats (OCI among them) are tested as they ship, from the host.

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
    for plugin in ["sdk", "cargo", "pypi", "template"] {
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
