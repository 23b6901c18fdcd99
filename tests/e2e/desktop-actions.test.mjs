// Guarded actions in the desktop app, end to end and keyboard only: the app
// under tauri-driver and Xvfb, on the running default lab (`lab/lab up`: pg0
// the primary, pg1 and pg2 under it, pg3 cascading from pg1).
//
// The app starts read-only (the shell refuses execution; the panel offers
// the unlock); a switchover to the cascade replica pg3 is refused with its
// reason and changes nothing; a switchover to pg1 runs from the Actions
// panel with its steps streamed live, ends DONE and is audited. Then the lab
// is put back as built, whatever happened: `lab/lab rejoin pg0`, the CLI's
// `fleetdeck switchover --to pg0`, `lab/lab rejoin pg1`, and the layout
// (lib/layout.mjs). Other users of the lab see pg1 as the primary for well
// under a minute. Every action is recorded in a scratch FLEETDECK_DATA_DIR.
//
// Screenshots: artifacts/desktop-actions-{plan,steps,done,audit}.png.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDesktop } from './lib/desktop.mjs';
import { fleetPath, waitFor } from './lib/lab.mjs';
import { inactiveSlots, isBuilt, lagBytes, restoreLab, roles } from './lib/layout.mjs';
import { screenshotDisplay as grab } from './lib/screenshot.mjs';
import { drawnSeq } from './lib/views.mjs';

const ENTER = '\uE007';
const ESCAPE = '\uE00C';
const TAB = '\uE004';

const fleet = fleetPath();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-data-'));
/** The default lab's layout is what these tests act on; another size is skipped. */
const defaultLab = roles(fleet).nodes.size === 4;
let desktop;
let s;

before(async () => {
  if (!defaultLab) return;
  // Another user of the lab (the CLI's switchover tests) may be moving its
  // primary right now: start from the lab as built.
  await waitFor('the lab as built (pg0 the primary, pg3 under pg1, nothing fenced)', () => isBuilt(roles(fleet)), {
    timeout: 300_000,
    interval: 2000,
  });
  desktop = await startDesktop(['--fleet', fleet], { env: { FLEETDECK_DATA_DIR: dataDir } });
  s = desktop.session;
  const ui = { find: (css) => s.find(css), attr: (el, n) => s.attribute(el, n) };
  await waitFor('the first snapshot drawn', async () => (await drawnSeq(ui)) !== null, { timeout: 60_000 });
});

after(async () => {
  try {
    await desktop?.close();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

/** The focused element's data-testid (or its tag). */
function focused() {
  return s.execute('const a = document.activeElement; return a ? (a.getAttribute("data-testid") || a.tagName) : null;');
}

async function waitFocus(testid, timeout = 30_000) {
  await waitFor(`the focus on ${testid}`, async () => (await focused()) === testid, { timeout });
}

async function textOf(css) {
  const el = await s.find(css);
  return el === null ? null : s.text(el);
}

/** Invokes a shell command from the page, as the UI would: { value } or { failed } (a WebDriver answer may not name `error`). */
function invoke(cmd, args = {}) {
  return s.cmd('POST', '/execute/async', {
    script: `const done = arguments[arguments.length - 1];
      window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then((value) => done({ value }), (failed) => done({ failed }));`,
    args: [cmd, args],
  });
}

/** The window as it is now, in artifacts/NAME.png. */
async function screenshot(name) {
  await s.painted();
  return grab(name);
}

/** Keyboard only: the palette jumps to `node` in Topology (its tree box focused), then `s` opens the Actions panel on it. */
async function actionsPanelFor(node) {
  await s.keys(':');
  await waitFocus('palette');
  await s.keys(node);
  await s.keys(ENTER);
  await waitFocus(`node-${node}`);
  await s.keys('s');
  await waitFor(`the Actions panel on ${node}`, () => s.find(`[data-testid=actions-panel][data-kind=switchover][data-target=${node}]`));
}

/** Every check row the panel shows: [id, status, evidence, overridable]. */
function checkRows() {
  return s.execute(`return [...document.querySelectorAll('[data-testid=action-check]')].map((r) =>
    [r.dataset.id, r.dataset.status, r.querySelector('[data-testid=check-evidence]').textContent.trim(), r.dataset.overridable === 'true']);`);
}

test('the app starts read-only: the shell refuses to execute, and the unlock is offered', { skip: !defaultLab && 'not the default lab' }, async () => {
  const lock = await waitFor('the lock in the header', () => s.find('[data-testid=actions-lock][data-unlocked=false]'), { timeout: 30_000 });
  assert.match(await s.text(lock), /READ-ONLY/);
  const state = await invoke('actions_state');
  assert.equal(state.value?.unlocked, false, `locked at start: ${JSON.stringify(state)}`);
  const refused = await invoke('action_execute', { kind: 'switchover', target: 'pg1', confirm: 'pg1' });
  assert.equal(refused.failed?.code, 'refused', `the shell refuses execution while locked: ${JSON.stringify(refused)}`);
  assert.match(refused.failed.message, /locked/);
  assert.ok(isBuilt(roles(fleet)), 'nothing changed');
});

test('keyboard only: a switchover to the cascade replica pg3 is refused with its reason, and nothing changes', { skip: !defaultLab && 'not the default lab' }, async () => {
  await actionsPanelFor('pg3');
  const dry = await waitFor('the dry run refused', () => s.find('[data-testid=action-dry-run][data-kind=refused]'), { timeout: 90_000 });
  const why = await s.text(dry);
  assert.match(why, /REFUSED/, why);
  assert.match(why, /pg3 .*upstream pg1/, `the refusal says why: pg3 streams from pg1, not the primary (${why})`);
  const rows = await checkRows();
  const direct = rows.find(([id]) => id === 'target_direct_child');
  assert.deepEqual(direct?.slice(0, 2), ['target_direct_child', 'fail'], `the failed check is listed: ${JSON.stringify(rows)}`);
  assert.ok(rows.every(([, , evidence]) => evidence.length > 0), `every check with its evidence: ${JSON.stringify(rows)}`);
  assert.ok(await s.find('[data-testid=actions-unlock]'), 'locked: the panel offers the unlock');
  assert.equal(await focused(), 'action-dry-run', 'the focus is on the refusal');
  assert.equal(await s.attribute(await s.find('[data-testid=action-execute]'), 'disabled'), 'true', 'nothing to run');
  await s.keys(ESCAPE);
  await waitFor('the panel closed by Esc', async () => (await s.find('[data-testid=actions-panel]')) === null);
  assert.ok(isBuilt(roles(fleet)), 'nothing changed: pg0 is still the primary, pg3 still under pg1');
});

test('keyboard only: a switchover to pg1 runs from the Actions panel — plan, checks, unlock, typed name, live steps, DONE, audit record; then the lab is put back', { skip: !defaultLab && 'not the default lab' }, async (t) => {
  try {
    // The lab's workload writes all the time, and others use the lab: a
    // replica catching up (just rejoined, a checkpoint) fails the lag checks
    // for a moment, another user's open transaction the write-path check.
    // Such checks are overridable, and pass again a moment later: close,
    // await the lab as built with pg1 caught up, and plan again.
    let dry = null;
    for (let attempt = 1; dry === null; attempt++) {
      await waitFor(
        "the lab as built, pg1 replaying within 1 MiB of the primary (the fleet's max_lag_bytes)",
        () => isBuilt(roles(fleet)) && (lagBytes('pg1') ?? Infinity) < 1 << 20,
        { timeout: 300_000, interval: 1000 },
      );
      await actionsPanelFor('pg1');
      const any = await waitFor('the dry run', () => s.find('[data-testid=action-dry-run]'), { timeout: 90_000 });
      if ((await s.attribute(any, 'data-kind')) === 'planned') {
        dry = any;
        break;
      }
      const failed = (await checkRows()).filter(([, status]) => status === 'fail');
      const why = await s.text(any);
      assert.ok(attempt < 6 && failed.every(([, , , overridable]) => overridable), `the dry run is refused: ${why}`);
      t.diagnostic(`dry run ${attempt} refused by a passing condition of the lab: ${why}`);
      await s.keys(ESCAPE);
      await waitFor('the panel closed by Esc', async () => (await s.find('[data-testid=actions-panel]')) === null);
    }
    assert.match(await s.text(dry), /READY/);
    const rows = await checkRows();
    assert.ok(rows.length >= 5, `every preflight check is listed: ${JSON.stringify(rows)}`);
    assert.ok(rows.every(([, status, evidence]) => ['pass', 'warn'].includes(status) && evidence.length > 0), `each passes, with its evidence: ${JSON.stringify(rows)}`);
    const steps = await s.findAll('[data-testid=plan-step]');
    assert.ok(steps.length >= 5, `the plan's steps are numbered: ${steps.length}`);

    // Locked: the name first (the session asks it once), then the confirmation.
    await waitFocus('unlock-name');
    await s.keys('E2E Operator');
    await s.keys(ENTER);
    await waitFor('the session unlocked', () => s.find('[data-testid=actions-lock][data-unlocked=true]'));
    assert.match(await textOf('[data-testid=actions-lock]'), /UNLOCKED · E2E Operator · re-locks in \d+:\d\d/);
    await waitFocus('action-confirm');
    await s.keys('pg');
    await s.keys(ENTER);
    assert.equal(await s.find('[data-testid=action-progress]'), null, 'Enter runs nothing before the typed name matches');
    assert.equal(await textOf('[data-testid=action-why]'), 'type pg1 to confirm');
    await s.keys('1');
    await waitFor('the confirmation matching', () => s.find('[data-testid=action-confirm][data-matches=true]'));
    t.diagnostic(`screenshot ${await screenshot('desktop-actions-plan')}`);
    await s.keys(ENTER);

    await waitFor('the first step heard', () => s.find('[data-testid=action-step]'), { timeout: 30_000 });
    // The lab's switchover takes well under a second: this picture usually shows it finished.
    t.diagnostic(`screenshot ${await screenshot('desktop-actions-steps')}`);
    const outcome = await waitFor('the outcome', () => s.find('[data-testid=action-outcome]'), { timeout: 180_000 });
    const kind = await s.attribute(outcome, 'data-kind');
    assert.equal(kind, 'done', `the switchover is done and verified: ${await s.text(outcome)}`);
    const ran = await s.execute(`return [...document.querySelectorAll('[data-testid=action-step]')].map((r) =>
      [r.dataset.id, r.dataset.phase, r.querySelector('.ms').textContent.trim()]);`);
    assert.ok(ran.length >= 5, `the steps as they ran: ${JSON.stringify(ran)}`);
    assert.ok(ran.every(([, phase, ms]) => phase === 'ok' && /^\d+(\.\d)? (ms|s)$/.test(ms)), `each ✓ with its time: ${JSON.stringify(ran)}`);
    const verified = await s.execute(`return [...document.querySelectorAll('[data-testid=verify-check]')].map((r) => r.dataset.status);`);
    assert.ok(verified.length > 0 && verified.every((v) => v === 'pass'), `the verification passes: ${JSON.stringify(verified)}`);
    t.diagnostic(`screenshot ${await screenshot('desktop-actions-done')}`);

    // Outcome → Tab → "audit #N" → Enter: the record in the audit trail.
    assert.equal(await focused(), 'action-outcome', 'the focus lands on the outcome');
    await s.keys(TAB);
    await waitFocus('action-audit-link');
    const seq = Number((await textOf('[data-testid=action-audit-link]')).match(/#(\d+)/)[1]);
    await s.keys(ENTER);
    const record = await waitFor(`audit record #${seq}`, () => s.find(`[data-testid=audit-record][data-seq="${seq}"]`));
    assert.equal(await s.attribute(record, 'data-action'), 'switchover');
    assert.equal(await s.attribute(record, 'data-outcome'), 'done');
    assert.match(await s.text(record), /E2E Operator/, 'the operator named at unlock is audited');
    assert.equal(await s.attribute(await s.find('[data-testid=audit-verdict]'), 'data-intact'), 'true', 'the chain is intact');
    assert.ok(await s.find('[data-testid=audit-body]'), "the record's body is open");
    t.diagnostic(`screenshot ${await screenshot('desktop-actions-audit')}`);
    await s.keys(ESCAPE);
    await waitFor('the audit trail closed', async () => (await s.find('[data-testid=audit-trail]')) === null);

    const now = roles(fleet);
    assert.deepEqual(now.primaries, ['pg1'], 'pg1 is the primary');
    assert.equal(now.nodes.get('pg0').role, 'fenced', 'the old primary is fenced');
    await waitFor('pg0 drawn fenced', () => s.find('[data-testid=node-pg0][data-role=fenced]'), { timeout: 30_000 });
    const box = await s.execute(`const g = document.querySelector('[data-testid=node-pg0]'); return [g.textContent, g.classList.contains('primary')];`);
    assert.match(box[0], /fenced · needs rejoin/, 'drawn as a fenced node that needs a rejoin');
    assert.equal(box[1], false, 'never as a primary');
  } finally {
    const did = await restoreLab(fleet, dataDir);
    t.diagnostic(`lab put back: ${did.join('; ')}`);
  }
  assert.ok(isBuilt(roles(fleet)), 'the lab is as built again');
  await waitFor('no inactive replication slot left behind (each holds WAL)', async () => inactiveSlots(fleet).length === 0, { timeout: 30_000 }).catch((e) => {
    throw new Error(`${e.message}: ${inactiveSlots(fleet).join(', ')}`);
  });
});
