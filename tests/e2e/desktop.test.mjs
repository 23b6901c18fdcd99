// The desktop app end to end: the binary (ui/dist embedded by its default
// custom-protocol feature) under tauri-driver and Xvfb,
// watching the running lab. Run: xvfb-run -a node --test desktop.test.mjs
//
// Works on any lab size; the cascade assertion (pg3 under pg1) is specific
// to the default lab and checked only there. Incidents are always cleared.
// No fixed sleeps: every step waits for what it asserts (a drawn snapshot,
// an attribute), with a timeout.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDesktop } from './lib/desktop.mjs';
import { clearIncidents, fleetPath, incident, waitFor } from './lib/lab.mjs';
import { screenshotDisplay as grab } from './lib/screenshot.mjs';
import { engineSnapshot } from './lib/serve.mjs';
import { storedEpisodes } from './lib/store.mjs';
import { drawnSeq, nextSnapshotDrawn, gotoView, palette } from './lib/views.mjs';

const fleet = fleetPath();
// One incident store for every app this file starts, so that a restarted app
// finds the episodes the one before it recorded; never the user's store.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-data-'));
let desktop;
/** The adapter lib/views.mjs expects, over the WebDriver session. */
let ui;

/** Starts the app on the lab (a new process, its own scratch config home, the file's store) and waits for its first drawn snapshot. */
async function launch() {
  desktop = await startDesktop(['--fleet', fleet], { env: { FLEETDECK_DATA_DIR: dataDir } });
  const s = desktop.session;
  ui = {
    find: (css) => s.find(css),
    attr: (el, name) => s.attribute(el, name),
    text: (el) => s.text(el),
    click: (el) => s.click(el),
    type: (el, text) => s.type(el, text),
    keys: (k) => s.keys(k === '\n' ? '\uE007' : k),
    waitFor: (what, check, opts) => waitFor(what, check, opts),
  };
  await waitFor('the first snapshot drawn', async () => (await drawnSeq(ui)) !== null, { timeout: 60_000 });
}

before(launch);

/** The window as it is now, in artifacts/NAME.png. */
async function screenshotDisplay(name) {
  await desktop.session.painted();
  grab(name);
}

after(async () => {
  try {
    await desktop?.close();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the overview shows the primary and every replica, each under its discovered upstream', async () => {
  const truth = engineSnapshot(fleet);
  assert.ok(truth.nodes.some((n) => n.role === 'primary'), 'the lab has a primary');
  for (const node of truth.nodes) {
    const el = await waitFor(`node-${node.name} drawn`, () => ui.find(`[data-testid=node-${node.name}]`));
    const upstream = (await ui.attr(el, 'data-upstream')) || null;
    assert.equal(upstream, node.upstream ?? null, `${node.name} is drawn under the upstream the engine discovered`);
  }
  if (truth.nodes.length === 4) {
    // Default lab: pg3 cascades from pg1, one tier below it.
    const pg3 = await ui.find('[data-testid=node-pg3][data-upstream=pg1]');
    assert.ok(pg3, 'the cascade pg1 → pg3 is drawn under pg1');
    const tier = await ui.attr(pg3, 'data-tier');
    if (tier !== null) assert.equal(tier, '2', 'pg3 is on the second tier below the primary');
  }
  await screenshotDisplay('desktop-overview');
});

// Anomalies name their subject in typed fields; the UI writes the engine's
// label (pg2, pg0→pg2, pgb0/chat) to data-subject, its kind to
// data-subject-kind and every fleet name it concerns to data-names.
const PG2_LAG_ANOMALY = [
  '[data-testid=anomaly][data-kind=replay_paused][data-subject-kind=node][data-subject=pg2]',
  '[data-testid=anomaly][data-kind=lag_over_threshold][data-subject-kind=edge][data-subject="pg0→pg2"]',
].join(', ');
const PGB0_CHAT_ANOMALY = '[data-testid=anomaly][data-kind=pool_saturated][data-subject-kind=pool][data-subject="pgb0/chat"]';

test('replica-lag turns edge pg0→pg2 unhealthy and raises an anomaly about pg2 that the clock counts from; clear heals it', async () => {
  try {
    incident('replica-lag');
    await waitFor('edge-pg0-pg2 unhealthy', () => ui.find('[data-testid=edge-pg0-pg2][data-healthy=false]'), { timeout: 45_000 });
    const anomaly = await waitFor('a replay anomaly about pg2', () => ui.find(PG2_LAG_ANOMALY));
    assert.match(await ui.attr(anomaly, 'data-names'), /(^| )pg2( |$)/, 'the anomaly concerns pg2');
    // The engine tracks the episode's start; the incident clock counts from
    // the earliest start among the active anomalies, so never after this one's.
    const since = await ui.attr(anomaly, 'data-since');
    assert.ok(Number.isFinite(Date.parse(since)), `the engine sent the episode's start: ${JSON.stringify(since)}`);
    const clock = await waitFor('the incident clock running', () => ui.find('[data-testid=incident-clock][data-active=true]'));
    const clockSince = await ui.attr(clock, 'data-since');
    assert.ok(Date.parse(clockSince) <= Date.parse(since), `the clock (${clockSince}) starts no later than the anomaly (${since})`);
    await screenshotDisplay('desktop-replica-lag');
  } finally {
    clearIncidents();
  }
  await waitFor('edge-pg0-pg2 healthy again', () => ui.find('[data-testid=edge-pg0-pg2][data-healthy=true]'), { timeout: 60_000 });
  await waitFor('no anomaly about pg2 left', async () => (await ui.find(PG2_LAG_ANOMALY)) === null, { timeout: 60_000 });
});

test('pool-saturation marks the pgb0 chat pool saturated and raises an anomaly about it; clear heals it', async () => {
  try {
    incident('pool-saturation');
    await waitFor('pool-pgb0-chat saturated', () => ui.find('[data-testid=pool-pgb0-chat][data-saturated=true]'), { timeout: 45_000 });
    await waitFor('a pool_saturated anomaly about pgb0/chat', () => ui.find(PGB0_CHAT_ANOMALY));
    await screenshotDisplay('desktop-pool-saturation');
  } finally {
    clearIncidents();
  }
  await waitFor('pool-pgb0-chat no longer saturated', () => ui.find('[data-testid=pool-pgb0-chat][data-saturated=false]'), { timeout: 60_000 });
});

test('every view renders (screenshots in artifacts/)', async () => {
  for (const view of ['overview', 'topology', 'pools', 'queries', 'cache', 'ai']) {
    await gotoView(ui, view);
    // Charts fill in from the snapshots drawn after the switch: wait for one.
    await nextSnapshotDrawn(ui, `the ${view} view`);
    await screenshotDisplay(`desktop-view-${view}`);
  }
  // Regression: under LANG=C.UTF-8 WebKitGTK reported navigator.language "C",
  // the chart library threw on load and every chart was silently blank.
  await gotoView(ui, 'ai');
  await waitFor('AI history charts drawn', () => ui.find('[data-view=ai] canvas'), { timeout: 15_000 });
  await gotoView(ui, 'overview');
});

test('the palette navigates to a node', async () => {
  await palette(ui, 'pg2');
  await waitFor('node detail of pg2', () => ui.find('[data-testid=node-detail][data-node=pg2]'));
  await screenshotDisplay('desktop-node-pg2');
});

test("a query's plan renders in the Queries view", async () => {
  await gotoView(ui, 'queries');
  // pg_stat_statements is read every few refreshes; picking a row explains it.
  // A plain SELECT of the workload (chat_app): the monitoring login may read
  // every table but not write, so PostgreSQL refuses even to plan an INSERT
  // or a SELECT … FOR KEY SHARE (foreign-key checks) for it, nor may it call
  // what other logins do (pg_rewind's pg_read_binary_file, after a
  // `lab/lab rejoin`, tops the list then). Click a cell: the row is wider
  // than its scrolled panel, so its centre may be out of view.
  const plainSelect = '[data-testid=statement][data-user=chat_app]:has(td[title^="SELECT"]:not([title*=" FOR "])) td';
  const cell = await waitFor('a plain SELECT to explain', () => ui.find(plainSelect), { timeout: 30_000 });
  await ui.click(cell);
  // PEV2 draws its own tree inside the plan panel.
  await waitFor('a PEV2 plan', () => ui.find('[data-testid=plan] .plan-node'), { timeout: 30_000 });
  await screenshotDisplay('desktop-queries-plan');
});

/** Seconds on the incident clock's face ("00:01:07", "1d 02:00:00"). */
function clockSeconds(text) {
  const m = /(?:(\d+)d )?(\d+):(\d\d):(\d\d)/.exec(text);
  assert.ok(m, `the incident clock shows a time: ${JSON.stringify(text)}`);
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** The running incident clock's face, in seconds (null while it is not running). */
async function clockFace() {
  const face = await ui.find('[data-testid=incident-clock][data-active=true] .time');
  return face && clockSeconds(await ui.text(face));
}

/** How long the clock runs before the restart: longer than a restart takes, so a clock that restarted with the app would show less. */
const CLOCK_BEFORE_RESTART_S = 5;

// Last: it replaces the app every other test uses.
test("restarting the app during an incident keeps the incident clock's start (the engine adopts the open episode from the store)", async (t) => {
  // The anomaly rows are on the overview (a restarted app opens on it).
  await gotoView(ui, 'overview');
  try {
    incident('replica-lag');
    const first = await waitFor(
      'a replay anomaly about pg2 with its start',
      async () => {
        const el = await ui.find(PG2_LAG_ANOMALY);
        return el && (await ui.attr(el, 'data-since')) ? el : null;
      },
      { timeout: 45_000 },
    );
    const kind = await ui.attr(first, 'data-kind');
    const subject = await ui.attr(first, 'data-subject');
    const since = await ui.attr(first, 'data-since');
    const clock = await waitFor('the incident clock running', () => ui.find('[data-testid=incident-clock][data-active=true]'));
    const clockSince = await ui.attr(clock, 'data-since');
    assert.ok(Date.parse(clockSince) <= Date.parse(since), `the clock (${clockSince}) starts no later than the anomaly (${since})`);
    const shownBefore = await waitFor(`the incident clock past ${CLOCK_BEFORE_RESTART_S} s`, async () => {
      const s = await clockFace();
      return s !== null && s >= CLOCK_BEFORE_RESTART_S ? s : null;
    });
    // What the next app adopts: the episode written, still open, with this start.
    const episode = await waitFor(`the open ${kind} episode of ${since} in the store`, () =>
      storedEpisodes(fleet, dataDir).find((e) => e.kind === kind && e.cleared_at === null && Date.parse(e.first_seen) === Date.parse(since)),
    );

    await desktop.close();
    desktop = null;
    await launch();

    const row = `[data-testid=anomaly][data-kind=${kind}][data-subject="${subject}"]`;
    const again = await waitFor(`the ${kind} anomaly about ${subject} drawn by the restarted app`, () => ui.find(row), { timeout: 60_000 });
    assert.equal(
      await ui.attr(again, 'data-since'),
      since,
      `the restarted app shows the episode's start from before the restart (stored first_seen ${episode.first_seen}), not its own start`,
    );
    const clockAfter = await waitFor('the incident clock running in the restarted app', () => ui.find('[data-testid=incident-clock][data-active=true]'));
    const clockSinceAfter = await ui.attr(clockAfter, 'data-since');
    assert.ok(Date.parse(clockSinceAfter) <= Date.parse(since), `the clock (${clockSinceAfter}) still starts no later than the anomaly (${since})`);
    // The face ticks every second from the start: it shows at least the time
    // since the anomaly began, give or take its one-second tick, and so more
    // than it showed before the restart (a clock restarted with the app
    // would start again near zero).
    const elapsed = Math.floor((Date.now() - Date.parse(since)) / 1000);
    const shown = await waitFor('the restarted clock face', clockFace);
    t.diagnostic(`episode since ${since}; clock ${shownBefore} s before the restart, ${shown} s after (${elapsed} s elapsed)`);
    assert.ok(shown >= shownBefore, `the clock shows ${shown} s after the restart, not less than the ${shownBefore} s it showed before`);
    assert.ok(shown >= elapsed - 2, `the clock shows ${shown} s, at least the ${elapsed} s since the anomaly began at ${since}`);
    await screenshotDisplay('desktop-restart-incident-clock');
  } finally {
    clearIncidents();
  }
  await waitFor('edge-pg0-pg2 healthy again', () => ui.find('[data-testid=edge-pg0-pg2][data-healthy=true]'), { timeout: 60_000 });
});
