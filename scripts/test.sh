#!/usr/bin/env bash
# FleetDeck's whole test suite, from a bare Debian 12 machine: installs what the
# tests need, builds, runs the unit tests, starts a fresh lab, runs every test
# that needs real servers against it, and stops the lab.
#
# Warm runs reuse the Cargo target directory $CARGO_TARGET_DIR
# (default ~/.cache/fleetdeck-target, outside the clone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh

# Beyond the build: the desktop app's end-to-end tests drive it under Xvfb
# through WebKitWebDriver, photograph the display with ImageMagick's `import`,
# and look at `fleetdeck serve` with Chromium.
ensure_packages "${BUILD_PACKAGES[@]}" xvfb xauth webkit2gtk-driver imagemagick chromium

step "ui: npm ci, unit tests, build (the desktop shell embeds ui/dist)"
(cd ui && npm ci --no-audit --no-fund && npm test && npm run build)

step "end-to-end tools: tauri-driver, playwright-core (the system's Chromium; no browser download)"
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
export TAURI_DRIVER=$CARGO_HOME/bin/tauri-driver
[ -x "$TAURI_DRIVER" ] || cargo install --locked tauri-driver --version 2.1.0
(cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)

step "build"
cargo build --workspace --all-targets --locked

step "unit and parser tests"
cargo test --workspace --locked --lib --bins
cargo test --locked -p fleetdeck-exposition -p fleetdeck-chatload --tests

step "generated TypeScript contract is current"
cargo test --locked -p fleetdeck-core --lib export_bindings >/dev/null
git diff --exit-code -- ui/src/generated || { echo "ui/src/generated is stale: commit the regenerated files"; exit 1; }
untracked=$(git ls-files --others --exclude-standard -- ui/src/generated)
[ -z "$untracked" ] || { echo "ui/src/generated has new files not committed: $untracked"; exit 1; }

step "lab: fresh start"
lab/lab down --purge
trap 'lab/lab down >/dev/null 2>&1 || true' EXIT
lab/lab up

step "tests against the lab"
# Serial: incidents change state every test shares.
cargo test --locked -p fleetdeck-lab-tests --test lab -- --test-threads=1
cargo test --locked -p fleetdeck-core --test core -- --test-threads=1
cargo test --locked -p fleetdeck-cli --test cli -- --test-threads=1
cargo test --locked -p fleetdeck-desktop --test desktop -- --test-threads=1

step "end to end: the desktop app (tauri-driver, Xvfb) and fleetdeck serve (Chromium); screenshots in artifacts/"
(cd tests/e2e && FLEETDECK_DESKTOP="$CARGO_TARGET_DIR/debug/fleetdeck-desktop" \
    FLEETDECK_CLI="$CARGO_TARGET_DIR/debug/fleetdeck" npm test)

step "lab: down leaves nothing behind"
cargo test --locked -p fleetdeck-lab-tests --test down
trap - EXIT
