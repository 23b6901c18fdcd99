// The desktop app end to end: the binary (ui/dist embedded by its default
// custom-protocol feature) under tauri-driver and Xvfb,
// watching the running lab. Run: xvfb-run -a node --test desktop.test.mjs
//
// Works on any lab size; the cascade assertion (pg3 under pg1) is specific
// to the default lab and checked only there. Incidents are always cleared.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDesktop } from './lib/desktop.mjs';
import { clearIncidents, fleetPath, incident, waitFor } from './lib/lab.mjs';
import { screenshotDisplay as grab } from './lib/screenshot.mjs';
import { engineSnapshot } from './lib/serve.mjs';
import { drawnSeq, gotoView, palette } from './lib/views.mjs';

const fleet = fleetPath();
let desktop;
/** The adapter lib/views.mjs expects, over the WebDriver session. */
let ui;

before(async () => {
  desktop = await startDesktop(['--fleet', fleet]);
  const s = desktop.session;
  ui = {
    find: (css) => s.find(css),
    attr: (el, name) => s.attribute(el, name),
    click: (el) => s.click(el),
    type: (el, text) => s.type(el, text),
    keys: (k) => s.keys(k === '\n' ? '\uE007' : k),
    waitFor: (what, check, opts) => waitFor(what, check, opts),
  };
  await waitFor('the first snapshot drawn', async () => (await drawnSeq(ui)) !== null, { timeout: 60_000 });
});

/** The window as it is now, in artifacts/NAME.png. */
async function screenshotDisplay(name) {
  await desktop.session.painted();
  grab(name);
}

after(async () => {
  await desktop?.close();
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

test('replica-lag turns edge pg0→pg2 unhealthy and raises an anomaly; clear heals it', async () => {
  try {
    incident('replica-lag');
    await waitFor('edge-pg0-pg2 unhealthy', () => ui.find('[data-testid=edge-pg0-pg2][data-healthy=false]'), { timeout: 45_000 });
    await waitFor('a replay anomaly', () =>
      ui.find('[data-testid=anomaly][data-kind=replay_paused], [data-testid=anomaly][data-kind=lag_over_threshold]'),
    );
    await screenshotDisplay('desktop-replica-lag');
  } finally {
    clearIncidents();
  }
  await waitFor('edge-pg0-pg2 healthy again', () => ui.find('[data-testid=edge-pg0-pg2][data-healthy=true]'), { timeout: 60_000 });
});

test('pool-saturation marks the pgb0 chat pool saturated', async () => {
  try {
    incident('pool-saturation');
    await waitFor('pool-pgb0-chat saturated', () => ui.find('[data-testid=pool-pgb0-chat][data-saturated=true]'), { timeout: 45_000 });
    await screenshotDisplay('desktop-pool-saturation');
  } finally {
    clearIncidents();
  }
});

test('every view renders (screenshots in artifacts/)', async () => {
  for (const view of ['overview', 'topology', 'pools', 'queries', 'cache', 'ai']) {
    await gotoView(ui, view);
    // Give charts one refresh to fill in before the picture.
    await new Promise((r) => setTimeout(r, 1500));
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
  // A plain SELECT: the monitoring login may read every table but not write,
  // so PostgreSQL refuses even to plan an INSERT or a SELECT … FOR KEY SHARE
  // (foreign-key checks) for it. Click a cell: the row is wider than its
  // scrolled panel, so its centre may be out of view.
  const plainSelect = '[data-testid=statement]:has(td[title^="SELECT"]:not([title*=" FOR "])) td';
  const cell = await waitFor('a plain SELECT to explain', () => ui.find(plainSelect), { timeout: 30_000 });
  await ui.click(cell);
  // PEV2 draws its own tree inside the plan panel.
  await waitFor('a PEV2 plan', () => ui.find('[data-testid=plan] .plan-node'), { timeout: 30_000 });
  await screenshotDisplay('desktop-queries-plan');
});
