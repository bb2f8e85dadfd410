//! Shared by the build scripts that compile guest components (the host's bundled
//! plugins, the tests' misbehaving fixtures).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where guest components are built: `wasm/` inside the outer build's target dir, so a
/// shared `CARGO_TARGET_DIR` (CI's cache) keeps them too.
pub fn target_dir(root: &Path) -> PathBuf {
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("wasm"),
        None => root.join("target").join("wasm"),
    }
}

/// Builds one guest crate as a component for wasm32-wasip2 with the size-optimized
/// profile. Guest crates are plain libraries (so their unit tests run natively under
/// `cargo test`); the component crate type is asked for here, for the wasm build only.
pub fn build_component(root: &Path, target_dir: &Path, krate: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "rustc",
            "--lib",
            "--crate-type",
            "cdylib",
            "--profile",
            "wasm",
            "--target",
            "wasm32-wasip2",
        ])
        .args(["-p", krate, "--target-dir"])
        .arg(target_dir);
    // The outer build's settings are for the host target, not for this one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .expect("cannot run cargo to build a plugin component");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("wasm32-wasip2")
            && (stderr.contains("target may not be installed")
                || stderr.contains("can't find crate for `core`"))
        {
            panic!("the wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`");
        }
        panic!("building the plugin {krate} failed:\n{stderr}");
    }
    target_dir
        .join("wasm32-wasip2")
        .join("wasm")
        .join(format!("{}.wasm", krate.replace('-', "_")))
}
