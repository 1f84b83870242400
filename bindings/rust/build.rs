//! Finds libzlayer_tunnel with the `pkg-config` command (no crates are needed for that).
//!
//! Set `PKG_CONFIG_PATH` to the directory holding `zlayer-tunnel.pc`: the installed one, or
//! `<build>/pkgconfig-uninstalled` to use a build tree without installing. `PKG_CONFIG` names
//! another pkg-config program.

use std::env;
use std::process::Command;

const MODULE: &str = "zlayer-tunnel";

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-changed=build.rs");

    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
    let output = match Command::new(&program)
        .args(["--libs", "--cflags", MODULE])
        .output()
    {
        Ok(output) => output,
        Err(err) => panic!(
            "\n\nzlayer-tunnel: cannot run `{program}` ({err}).\n\
             Install pkg-config, or set PKG_CONFIG to its path.\n\n"
        ),
    };
    if !output.status.success() {
        panic!(
            "\n\nzlayer-tunnel: `{program} --libs --cflags {MODULE}` failed:\n{}\n\
             Set PKG_CONFIG_PATH to the directory that holds {MODULE}.pc (for a build tree \
             that is not installed: <build>/pkgconfig-uninstalled).\n\
             PKG_CONFIG_PATH is currently {:?}.\n\n",
            String::from_utf8_lossy(&output.stderr).trim(),
            env::var("PKG_CONFIG_PATH").unwrap_or_default(),
        );
    }

    let flags = String::from_utf8(output.stdout).expect("pkg-config printed non-UTF-8 output");
    let mut rpaths: Vec<String> = Vec::new();
    let mut add_rpath = |dir: &str| {
        if !rpaths.iter().any(|d| d == dir) {
            rpaths.push(dir.to_owned());
        }
    };
    for token in flags.split_whitespace() {
        if let Some(dir) = token.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
            // So that test binaries and examples find the library without LD_LIBRARY_PATH.
            add_rpath(dir);
        } else if let Some(lib) = token.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        } else if let Some(dirs) = token.strip_prefix("-Wl,-rpath,") {
            dirs.split(',').for_each(&mut add_rpath);
        }
        // -I and other compiler flags are for C sources; this crate has none.
    }
    for dir in &rpaths {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
