// `fleetdeck serve` end to end: Chromium (headless, playwright-core) on the
// served UI, watching the running lab through Server-Sent Events.
// Run: xvfb-run -a node --test serve.test.mjs
//
// No fixed sleeps: every step waits for what it asserts, with a timeout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliBinary } from './lib/binaries.mjs';
import { fleetPath, repo, waitFor } from './lib/lab.mjs';
import { freePort, portOpen } from './lib/ports.mjs';
import { artifacts } from './lib/screenshot.mjs';
import { engineSnapshot, launchChromium, startServe } from './lib/serve.mjs';
import { drawnSeq, nextSnapshotDrawn, gotoView, palette } from './lib/views.mjs';

// Every fleetdeck serve started here (they inherit this environment) records
// incident episodes in a scratch store, never in the user's.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-data-'));
process.env.FLEETDECK_DATA_DIR = dataDir;

const fleet = fleetPath();
let serve;
let browser;
let page;
let ui;
const consoleErrors = [];

before(async () => {
  serve = await startServe(fleet);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  ui = {
    find: (css) => page.$(css),
    attr: (h, name) => h.getAttribute(name),
    click: (h) => h.click(),
    type: (h, text) => h.type(text),
    keys: (k) => (k === '\n' ? page.keyboard.press('Enter') : page.keyboard.type(k)),
    waitFor,
  };
  await page.goto(serve.url);
  await waitFor('the first snapshot drawn', async () => (await drawnSeq(ui)) !== null, { timeout: 30_000 });
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    serve?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the overview shows the primary and every replica, each under its discovered upstream', async () => {
  const truth = engineSnapshot(fleet);
  for (const node of truth.nodes) {
    const el = await waitFor(`node-${node.name} drawn`, () => ui.find(`[data-testid=node-${node.name}]`));
    const upstream = (await el.getAttribute('data-upstream')) || null;
    assert.equal(upstream, node.upstream ?? null, `${node.name} is drawn under the upstream the engine discovered`);
  }
  if (truth.nodes.length === 4) {
    assert.ok(await ui.find('[data-testid=node-pg3][data-upstream=pg1]'), 'the cascade pg1 → pg3 is drawn under pg1');
  }
  await page.screenshot({ path: path.join(artifacts, 'serve-overview.png') });
  assert.deepEqual(consoleErrors, [], 'no script errors (a CSP violation shows up here too)');
});

test('every view renders (screenshots in artifacts/)', async () => {
  for (const view of ['overview', 'topology', 'pools', 'queries', 'cache', 'ai']) {
    await gotoView(ui, view);
    // The view drawn with a snapshot that arrived after it opened.
    await nextSnapshotDrawn(ui, `the ${view} view`);
    await page.screenshot({ path: path.join(artifacts, `serve-view-${view}.png`) });
  }
  await gotoView(ui, 'ai');
  await waitFor('AI history charts drawn', () => ui.find('[data-view=ai] canvas'), { timeout: 15_000 });
  await gotoView(ui, 'overview');
  assert.deepEqual(consoleErrors, [], 'no script errors on any view');
});

test('snapshots keep arriving over Server-Sent Events', async () => {
  const first = await drawnSeq(ui);
  const later = await waitFor('two more snapshots drawn', async () => {
    const seq = await drawnSeq(ui);
    return seq !== null && seq >= first + 2 && seq;
  });
  assert.ok(later > first, `body[data-snapshot-seq] went from ${first} to ${later}`);
});

test('the server is read-only and serves the desktop CSP', async () => {
  const info = await (await fetch(new URL('api/fleet', serve.url))).json();
  assert.equal(info.read_only, true, 'browsers never get actions');
  const post = await fetch(new URL('api/fleet', serve.url), { method: 'POST' });
  assert.equal(post.status, 405, 'nothing but GET is routed');
  const html = await fetch(serve.url);
  const csp = html.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/, `the page carries the CSP: ${csp}`);
  const analyze = await fetch(new URL('api/explain?node=pg1&sql=SELECT%201&analyze=true', serve.url));
  assert.equal(analyze.status, 403, 'EXPLAIN ANALYZE is never run for a browser');
  assert.equal((await analyze.json()).code, 'refused');
});

// Guarded actions exist only in the desktop app: serve routes none, and the
// UI it serves offers none (its data source has no actions).
test('serve has no action: plausible action routes are 404, and the page shows no Actions panel, lock or audit trail', async () => {
  const routes = [
    'api/actions',
    'api/actions/state',
    'api/actions/unlock',
    'api/actions/plan',
    'api/actions/execute',
    'api/action',
    'api/action_execute',
    'api/switchover',
    'api/switchover?to=pg1&confirm=pg1',
    'api/failover',
    'api/recovery',
    'api/audit',
    'api/audit_trail',
  ];
  for (const route of routes) {
    for (const method of ['GET', 'POST']) {
      const r = await fetch(new URL(route, serve.url), { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{"target":"pg1","confirm":"pg1"}' : undefined });
      assert.equal(r.status, 404, `${method} /${route} is no endpoint`);
      assert.equal((await r.json()).code, 'bad_request', `${method} /${route} answers a UiError`);
    }
  }
  for (const page of ['switchover', 'actions']) {
    const r = await fetch(new URL(page, serve.url), { method: 'POST' });
    assert.ok(r.status >= 400, `POST /${page} is refused (${r.status}): nothing but GET is routed`);
  }

  assert.equal(await ui.find('[data-testid=actions-lock]'), null, 'no lock or unlock control in the header');
  await palette(ui, 'pg1');
  await waitFor('node detail of pg1', () => ui.find('[data-testid=node-detail][data-node=pg1]'));
  assert.equal(await ui.find('[data-testid=node-switchover]'), null, 'no switchover offered on a replica');
  await page.keyboard.press('s');
  await page.keyboard.press('a');
  await nextSnapshotDrawn(ui, 'the topology view');
  assert.equal(await ui.find('[data-testid=actions-panel]'), null, 's opens no Actions panel');
  assert.equal(await ui.find('[data-testid=audit-trail]'), null, 'a opens no audit trail');
  assert.equal(await ui.find('[data-testid=actions-unlock]'), null);
  await page.keyboard.type(':');
  const input = await waitFor('the palette', () => ui.find('[data-testid=palette]'));
  await input.type('switchover');
  assert.equal(await ui.find('[data-testid=palette-item][data-kind=action]'), null, 'the palette offers no action');
  await page.keyboard.press('Escape');
  await gotoView(ui, 'overview');
  assert.deepEqual(consoleErrors, [], 'no script errors');
});

test('bound off loopback, it prints a token and refuses every request without it', async () => {
  const open = await startServe(fleet, { host: '0.0.0.0' });
  try {
    const token = (await waitFor('the printed token', () => open.output().match(/[?&]token=([0-9a-f]+)/)))[1];
    assert.equal((await fetch(new URL('api/fleet', open.url))).status, 401, 'no token, no fleet');
    assert.equal((await fetch(new URL('api/fleet?token=x' + token, open.url))).status, 401, 'a wrong token is refused');
    assert.equal((await fetch(open.url)).status, 401, 'nor the page');
    const info = await (await fetch(new URL(`api/fleet?token=${token}`, open.url))).json();
    assert.equal(info.read_only, true);
    const authorised = await fetch(new URL('api/fleet', open.url), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(authorised.status, 200, 'the bearer header works too');
  } finally {
    open.close();
  }
});

// Regression: serve looked for ui/dist above its executable and above the
// current directory, so started anywhere else (an on-call laptop, a war-room
// box, a copied binary) it answered "the web UI is not built". The UI is now
// compiled into the binary.
test('started outside the repository, it serves the UI built into it', async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-cwd-'));
  assert.ok(path.relative(repo, cwd).startsWith('..'), `${cwd} is outside the repository`);
  const port = await freePort();
  const child = spawn(cliBinary(), ['serve', '--fleet', fleet, '--bind', `127.0.0.1:${port}`], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  try {
    await portOpen(port).catch((e) => {
      throw new Error(`${e.message}\nfleetdeck serve said:\n${out}`);
    });
    const base = `http://127.0.0.1:${port}/`;
    const index = await fetch(base);
    assert.equal(index.status, 200, `the page, not "the web UI is not built" (serve said: ${out})`);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    const html = await index.text();
    const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+\.js)"/g)].map((m) => m[1]);
    assert.ok(scripts.length > 0, `index.html loads a script: ${html}`);
    for (const src of scripts) {
      const js = await fetch(new URL(src, base));
      assert.equal(js.status, 200, `${src} is served`);
      assert.match(js.headers.get('content-type') ?? '', /javascript/, `${src} as JavaScript (a module script is refused otherwise)`);
      assert.ok((await js.text()).length > 0, `${src} has content`);
    }
    assert.match(out, /UI built in/, `serve says where the UI comes from: ${out}`);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(cwd, { recursive: true, force: true });
  }
});
