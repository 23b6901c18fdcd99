#!/usr/bin/env bash
# FleetDeck's whole test suite, from a bare Debian 12 machine: installs what the
# tests need, builds, runs the unit tests, starts a fresh lab, runs every test
# that needs real servers against it, and stops the lab.
#
# Warm runs reuse the Cargo target directory $CARGO_TARGET_DIR
# (default ~/.cache/fleetdeck-target, outside the clone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/fleetdeck-target}
export CARGO_TERM_COLOR=never
step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
need=()
# The desktop shell (Tauri 2) links WebKitGTK and friends.
for p in build-essential pkg-config curl procps iproute2 libwebkit2gtk-4.1-dev libgtk-3-dev \
    librsvg2-dev libayatana-appindicator3-dev libssl-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    step "apt: ${need[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

step "ui: npm ci, unit tests, build (the desktop shell embeds ui/dist)"
(cd ui && npm ci --no-audit --no-fund && npm test && npm run build)

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

step "lab: down leaves nothing behind"
cargo test --locked -p fleetdeck-lab-tests --test down
trap - EXIT
