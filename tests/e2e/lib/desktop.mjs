// The desktop app under WebDriver: tauri-driver (installed with
// `cargo install --locked tauri-driver`) in front of WebKitWebDriver, on free
// ports, with the app started as `fleetdeck-desktop --fleet <lab fleet>`.
// Needs a display: run under `xvfb-run -a`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { desktopBinary } from './binaries.mjs';
import { freePort, portOpen } from './ports.mjs';
import { Session } from './webdriver.mjs';

function tauriDriverPath() {
  return process.env.TAURI_DRIVER ?? path.join(os.homedir(), '.cargo/bin/tauri-driver');
}

/**
 * Starts tauri-driver and a session running the desktop app with `args`
 * (and `env` added to its environment). Unless `env` names one, the app gets
 * a scratch XDG_CONFIG_HOME, so it never remembers the lab's fleet in place
 * of the user's, and a scratch FLEETDECK_DATA_DIR, so the lab's incidents are
 * never recorded in the user's store. A test that restarts the app on one
 * store passes the same FLEETDECK_DATA_DIR to each start (and removes it).
 * Returns { session, driverLog, close() }; close() ends the session (which
 * ends the app) and stops the tauri-driver this call started, with
 * everything it started.
 */
export async function startDesktop(args, { env = {} } = {}) {
  if (!process.env.DISPLAY) throw new Error('no DISPLAY: run the desktop tests under xvfb-run -a');
  const port = await freePort();
  const nativePort = await freePort();
  const scratch = env.XDG_CONFIG_HOME ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-config-'));
  const scratchData = env.FLEETDECK_DATA_DIR ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-data-'));
  const driver = spawn(tauriDriverPath(), ['--port', String(port), '--native-port', String(nativePort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: WebKitWebDriver and the app go with it.
    detached: true,
    // The app inherits tauri-driver's environment (through WebKitWebDriver).
    env: {
      ...process.env,
      ...(scratch ? { XDG_CONFIG_HOME: scratch } : {}),
      ...(scratchData ? { FLEETDECK_DATA_DIR: scratchData } : {}),
      ...env,
    },
  });
  const log = [];
  const keep = (chunk) => {
    log.push(chunk.toString());
    if (log.length > 500) log.shift();
  };
  driver.stdout.on('data', keep);
  driver.stderr.on('data', keep);
  const stop = () => {
    try {
      // The whole group: an app whose session could not be deleted must not
      // keep probing the lab (or cover the display in the next screenshot).
      process.kill(-driver.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    for (const dir of [scratch, scratchData]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    // tauri-driver answers on its port before WebKitWebDriver listens on the
    // native one; a session requested in between fails with "tcp connect error".
    await portOpen(port);
    await portOpen(nativePort);
    const startedAt = performance.now();
    const session = await Session.create(`http://127.0.0.1:${port}`, desktopBinary(), args);
    return {
      session,
      startedAt,
      driverLog: () => log.join(''),
      async close() {
        try {
          await session.delete();
        } catch {
          /* the app may already be gone */
        }
        stop();
      },
    };
  } catch (e) {
    stop();
    throw new Error(`${e.message}\ntauri-driver said:\n${log.join('')}`);
  }
}
