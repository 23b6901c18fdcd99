// `fleetdeck serve` on a free loopback port, and Chromium (playwright-core,
// the system's /usr/bin/chromium) to look at it.
import { spawn, execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { cliBinary } from './binaries.mjs';
import { freePort, portOpen } from './ports.mjs';

/**
 * Starts `fleetdeck serve --fleet FLEET --bind HOST:PORT` on a free port and
 * returns { url, port, output(), close() }; `url` is on loopback either way.
 */
export async function startServe(fleet, { host = '127.0.0.1' } = {}) {
  const port = await freePort();
  const child = spawn(cliBinary(), ['serve', '--fleet', fleet, '--bind', `${host}:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const close = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  try {
    await portOpen(port);
  } catch (e) {
    close();
    throw new Error(`${e.message}\nfleetdeck serve said:\n${out}`);
  }
  return { url: `http://127.0.0.1:${port}/`, port, output: () => out, close };
}

/** Chromium as the tests run it: headless, no sandbox, nothing phoning home. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // A container's /dev/shm is often 64 MB, too small for a page this size.
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** One snapshot of the fleet by the engine itself (the CLI), as ground truth for the UI. */
export function engineSnapshot(fleet) {
  return JSON.parse(execFileSync(cliBinary(), ['snapshot', '--fleet', fleet, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}
