// The local incident store (one SQLite file in $FLEETDECK_DATA_DIR), read the
// way an operator reads it: `fleetdeck incidents --json`.
import { execFileSync } from 'node:child_process';
import { cliBinary } from './binaries.mjs';

/**
 * The incident episodes recorded for `fleet` in the store under `dataDir`,
 * open ones first: [{ id, fleet, kind, subject, severity, first_seen,
 * last_seen, cleared_at, … }]. SQLite's WAL lets this read while an app writes.
 */
export function storedEpisodes(fleet, dataDir) {
  const out = execFileSync(cliBinary(), ['incidents', '--fleet', fleet, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, FLEETDECK_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out);
}
