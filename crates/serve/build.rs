//! Refuses to build without the UI. `fleetdeck serve` compiles `ui/dist` into
//! the binary (src/pages.rs), as the desktop app does; a binary built without
//! it would answer every browser with an error page wherever it is copied,
//! which is the failure this crate exists to end. The desktop's build fails
//! the same way, CI (scripts/test.sh) and scripts/demo.sh build the UI first,
//! and `cargo build --workspace` already needs it for the desktop, so the
//! rule is the same everywhere: build ui/ first.

use std::path::Path;

fn main() {
    // Read at run time: cargo reuses one compiled build script for every
    // checkout that shares a target directory (CI's and a developer's).
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let repo = Path::new(&manifest_dir).ancestors().nth(2).expect("crates/serve is two levels down");
    let dist = repo.join("ui/dist");
    // A rebuilt UI has new hashed asset names: embed the new set.
    println!("cargo:rerun-if-changed={}", dist.display());
    if !dist.join("index.html").is_file() {
        eprintln!(
            "\nfleetdeck-serve embeds the built UI, and {} has no index.html.\n\
             Build the UI first:  cd ui && npm ci && npm run build\n",
            dist.display()
        );
        std::process::exit(1);
    }
}
