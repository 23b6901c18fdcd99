// The running lab, through `lab/lab`: its fleet file and its incidents. Every
// test that stages an incident clears it in a `finally`, so a failed
// assertion never leaves the lab broken for the next test or another user.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The repository root. */
export const repo = path.resolve(import.meta.dirname, '../../..');

/** Runs `lab/lab ARGS…` and returns its stdout; throws with stderr on failure. */
export function lab(...args) {
  return execFileSync(path.join(repo, 'lab/lab'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Path of the running lab's fleet file. */
export function fleetPath() {
  return lab('fleet').trim();
}

/** Stages incident `name` (replica-lag, pool-saturation, …). */
export function incident(name) {
  lab('incident', name);
}

/** Undoes every staged incident. */
export function clearIncidents() {
  lab('incident', 'clear');
}

/**
 * Polls `check` every `interval` ms until it returns a truthy value, which is
 * returned; throws after `timeout` ms with `what` and the last value seen.
 */
export async function waitFor(what, check, { timeout = 30_000, interval = 250 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
