//! Build script (`build` in Cargo.toml): link flags that depend on the target.
//!
//! Static musl builds (the ones for small devices) are static PIEs: they relocate themselves
//! at start, reading a table with one entry per pointer to patch. Packed relative
//! relocations (`-z pack-relative-relocs`, DT_RELR) shrink that table from about 80 KB to
//! 1 KB, and the pages it and its neighbours kept resident with it: idle RSS 0.3 MB lower,
//! address-space randomisation kept. musl's start-up code reads the packed form from musl
//! 1.2.4 on, which Rust's musl targets ship from Rust 1.90; older toolchains link without
//! it.
//!
//! On Linux the daemon is also linked with `src/cold_text.ld`, which gathers the code an
//! idle server never runs (TLS, configuration files, monitoring, routes and leafnodes) in
//! one place, so that the 64 KB windows the kernel maps around the code that does run hold
//! little else: idle RSS about 0.4 MB (musl) to 0.7 MB (glibc) lower. The script only adds
//! an output section ahead of `.text` (`INSERT BEFORE`); GNU ld and LLD both read it. mold
//! reads no such script: the build leaves it out when the Rust flags choose mold
//! (`-fuse-ld=mold`), or when `NATSD_NO_COLD_TEXT` is set (for a linker chosen some other
//! way).

use std::env;
use std::process::Command;

/// The first Rust release whose musl targets ship musl 1.2.5.
const RELR_RUST_MINOR: u32 = 90;

fn main() {
    println!("cargo:rerun-if-changed=src/build.rs");
    let musl = env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "musl");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if musl && linux && rustc_minor().is_some_and(|minor| minor >= RELR_RUST_MINOR) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-env-changed=NATSD_NO_COLD_TEXT");
    let mold = env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|flags| flags.contains("mold"));
    if linux && !mold && env::var_os("NATSD_NO_COLD_TEXT").is_none() {
        let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
        println!("cargo:rerun-if-changed=src/cold_text.ld");
        println!("cargo:rustc-link-arg-bin=natsd=-Wl,-T,{manifest_dir}/src/cold_text.ld");
    }
}

/// The minor version of the compiler building this crate (`rustc 1.95.0 (…)` → 95).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    let mut parts = version.split_whitespace().nth(1)?.split('.');
    match (parts.next()?, parts.next()?) {
        ("1", minor) => minor.parse().ok(),
        _ => None,
    }
}
