// The desktop app's start modes, each in its own app instance: the war-room
// kiosk (full screen, FleetInfo.kiosk) and a first start without any fleet
// (the UI's fleet chooser, then set_fleet). Run under xvfb-run like the rest.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startDesktop } from './lib/desktop.mjs';
import { fleetPath, waitFor } from './lib/lab.mjs';
import { screenshotDisplay } from './lib/screenshot.mjs';
import { drawnSeq } from './lib/views.mjs';

const fleet = fleetPath();

/** A scratch XDG config home: the app's remembered fleet lives under it. */
function scratchConfig() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-config-'));
}

test('--kiosk opens full screen and tells the UI it is the war-room display', async () => {
  const config = scratchConfig();
  const desktop = await startDesktop(['--fleet', fleet, '--kiosk'], { env: { XDG_CONFIG_HOME: config } });
  const s = desktop.session;
  try {
    await waitFor('body[data-kiosk=true]', () => s.find('body[data-kiosk=true]'), { timeout: 30_000 });
    const rect = await s.cmd('GET', '/window/rect');
    const screen = await s.execute('return { w: screen.width, h: screen.height };');
    assert.ok(rect.width >= screen.w && rect.height >= screen.h, `the window covers the screen: ${JSON.stringify({ rect, screen })}`);
    assert.equal(await s.find('[data-testid=tab-queries]'), null, 'kiosk shows no view tabs');
    await waitFor('a snapshot drawn', async () => (await drawnSeq({ find: (c) => s.find(c), attr: (e, n) => s.attribute(e, n) })) !== null);
    // No action exists in the war room: its window (labelled war-room) is
    // granted none of the action commands, and the UI draws no control.
    for (const [cmd, args] of [
      ['actions_state', {}],
      ['actions_unlock', { operator: 'war room' }],
      ['action_plan', { kind: 'switchover', target: 'pg1' }],
      ['action_execute', { kind: 'switchover', target: 'pg1', confirm: 'pg1' }],
      ['audit_trail', { limit: 5 }],
    ]) {
      const r = await s.cmd('POST', '/execute/async', {
        script: `const done = arguments[arguments.length - 1];
          window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then((v) => done({ answered: v }), (e) => done({ failed: String(e) }));`,
        args: [cmd, args],
      });
      assert.match(r.failed ?? '', /not allowed/, `${cmd} is refused by the ACL in the war room: ${JSON.stringify(r)}`);
    }
    assert.equal(await s.find('[data-testid=actions-lock]'), null, 'no lock or unlock control');
    await s.keys('a');
    assert.equal(await s.find('[data-testid=audit-trail]'), null, 'no audit trail');
    assert.equal(await s.find('[data-testid=actions-panel]'), null, 'no Actions panel');
    await s.painted();
    screenshotDisplay('desktop-kiosk');
  } finally {
    await desktop.close();
    fs.rmSync(config, { recursive: true, force: true });
  }
});

test('a first start without --fleet shows the fleet chooser, and the choice is remembered', async () => {
  const config = scratchConfig();
  try {
    const first = await startDesktop([], { env: { XDG_CONFIG_HOME: config } });
    try {
      const s = first.session;
      await waitFor('the fleet chooser', () => s.find('[data-testid=fleet-chooser]'), { timeout: 30_000 });
      await s.painted();
      screenshotDisplay('desktop-fleet-chooser');
      // The chooser's own controls are the UI's business; the shell's part is set_fleet.
      const info = await s.cmd('POST', '/execute/async', {
        script: `const done = arguments[arguments.length - 1];
          window.__TAURI_INTERNALS__.invoke('set_fleet', { path: arguments[0] }).then(done, (e) => done({ error: e }));`,
        args: [fleet],
      });
      assert.equal(info.name, 'lab', `set_fleet opens the lab fleet: ${JSON.stringify(info)}`);
    } finally {
      await first.close();
    }
    const second = await startDesktop([], { env: { XDG_CONFIG_HOME: config } });
    try {
      const s = second.session;
      await waitFor('the remembered fleet drawn', () => s.find('[data-testid=node-pg0]'), { timeout: 30_000 });
    } finally {
      await second.close();
    }
  } finally {
    fs.rmSync(config, { recursive: true, force: true });
  }
});
