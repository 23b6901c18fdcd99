# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run): the Cargo
# target directory outside the clone, step headings, and Debian packages
# installed only when missing.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/fleetdeck-target}
export CARGO_TERM_COLOR=never
step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

# What building the desktop shell (Tauri 2) needs: WebKitGTK and friends.
BUILD_PACKAGES=(build-essential pkg-config curl procps iproute2 libwebkit2gtk-4.1-dev libgtk-3-dev
    librsvg2-dev libayatana-appindicator3-dev libssl-dev)

# apt-installs those of the named Debian packages that are not installed yet.
ensure_packages() {
    local sudo=() need=() p
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
    done
    [ ${#need[@]} -gt 0 ] || return 0
    step "apt: ${need[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}
