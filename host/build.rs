//! Builds the bundled format plugins for `wasm32-wasip2` and embeds them, so that
//! `cargo run` (or `cargo build`) is the only command a user needs.
//!
//! The nested cargo gets its own target dir (sharing the outer one deadlocks on its
//! lock) and a clean environment (the outer build's flags are for the host target).

use std::path::PathBuf;

#[path = "build_wasm.rs"]
mod build_wasm;

/// Format plugins shipped inside the `wharf` binary: (format name, crate name).
const BUNDLED: &[(&str, &str)] = &[
    ("generic", "wharf-format-generic"),
    ("npm", "wharf-format-npm"),
    ("maven", "wharf-format-maven"),
    ("nuget", "wharf-format-nuget"),
    ("oci", "wharf-format-oci"),
    ("helm", "wharf-format-helm"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = build_wasm::target_dir(&root);

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", root.join("plugins").display());

    let mut generated = String::from(
        "/// Bundled plugins: (format name, component bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for (format, krate) in BUNDLED {
        let wasm = build_wasm::build_component(&root, &target_dir, krate);
        let copy = out_dir.join(format!("{format}.wasm"));
        std::fs::copy(&wasm, &copy)
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", wasm.display()));
        generated.push_str(&format!(
            "    ({format:?}, include_bytes!({:?})),\n",
            copy.display().to_string()
        ));
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), generated).unwrap();
}
