#!/usr/bin/env bash
# FleetDeck's main job: bring up the lab (installing its packages on first use)
# and watch it live with FleetDeck, refreshing every second. Ctrl-C leaves the
# lab running; `lab/lab down` stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/fleetdeck-target}
lab/lab up "$@"
cargo build -q -p fleetdeck-cli
exec "$CARGO_TARGET_DIR/debug/fleetdeck" watch --fleet "$(lab/lab fleet)"
