// Where the binaries under test are: FLEETDECK_DESKTOP / FLEETDECK_CLI when
// set, else the release build (then the debug one) in $CARGO_TARGET_DIR,
// which defaults to ~/.cache/fleetdeck-target as in scripts/test.sh.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const target = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/fleetdeck-target');

function find(envVar, name) {
  const explicit = process.env[envVar];
  if (explicit) return explicit;
  for (const profile of ['release', 'debug']) {
    const p = path.join(target, profile, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} is not built: cargo build --release -p ${name === 'fleetdeck' ? 'fleetdeck-cli' : 'fleetdeck-desktop'} (or set ${envVar})`);
}

/** The desktop app (its default custom-protocol feature embeds ui/dist). */
export const desktopBinary = () => find('FLEETDECK_DESKTOP', 'fleetdeck-desktop');
/** The `fleetdeck` CLI (for `serve`). */
export const cliBinary = () => find('FLEETDECK_CLI', 'fleetdeck');
