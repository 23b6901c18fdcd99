#!/usr/bin/env bash
# FleetDeck's main job: bring up the lab (installing its packages on first use),
# build the desktop app and open it on the lab. Arguments go to `lab/lab up`
# (e.g. --replicas 48). Closing the window leaves the lab running;
# `lab/lab down` stops it. Without a display (no DISPLAY or WAYLAND_DISPLAY)
# the same UI is served to browsers instead, read-only, on 127.0.0.1:8686.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh

ensure_packages "${BUILD_PACKAGES[@]}"
lab/lab up "$@"
step "build: the UI, then the desktop app and the CLI, which both compile it in"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)
cargo build -q -p fleetdeck-desktop -p fleetdeck-cli
fleet=$(lab/lab fleet)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    step "FleetDeck on $fleet (press ? for the shortcuts, w for war-room mode)"
    exec "$CARGO_TARGET_DIR/debug/fleetdeck-desktop" --fleet "$fleet"
fi
step "no display: serving the UI to browsers instead"
exec "$CARGO_TARGET_DIR/debug/fleetdeck" serve --fleet "$fleet"
