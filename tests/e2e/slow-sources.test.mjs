// A failing monitoring stack never slows the database view: with the lab's
// Prometheus SIGSTOPped for 20 s (as an overloaded Prometheus behaves in a big
// incident) and a scrape target that accepts connections and never answers,
// `fleetdeck serve` keeps streaming a snapshot about every probe interval, the
// AI reading says how old it is and why, and after SIGCONT it recovers by
// itself. An SSE client counts the snapshots.
// Run: node --test slow-sources.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fleetPath, waitFor } from './lib/lab.mjs';
import { startServe } from './lib/serve.mjs';

const STOPPED_MS = 20_000;

/** Reads `url`'s Server-Sent Events, calling `onSnapshot(snapshot, receivedAtMs)` for each `snapshot` event. */
function subscribe(url, onSnapshot) {
  const abort = new AbortController();
  const done = (async () => {
    const res = await fetch(url, { signal: abort.signal, headers: { accept: 'text/event-stream' } });
    assert.equal(res.status, 200, 'the snapshot stream opens');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        if (!lines.includes('event: snapshot')) continue;
        const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        onSnapshot(JSON.parse(data), Date.now());
      }
    }
  })().catch((e) => {
    if (e.name !== 'AbortError') throw e;
  });
  return { close: () => abort.abort(), done };
}

test('a SIGSTOPped Prometheus and a hung scrape target leave the snapshot cadence alone, and it recovers', async () => {
  const labFleet = fleetPath();
  const prometheusPid = Number(fs.readFileSync(path.join(path.dirname(labFleet), 'pid', 'prometheus.pid'), 'utf8').trim());
  assert.ok(prometheusPid > 0, 'the lab records its Prometheus pid');

  // A scrape target that accepts and never answers.
  const held = [];
  const hung = net.createServer((socket) => held.push(socket));
  await new Promise((resolve) => hung.listen(0, '127.0.0.1', resolve));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-e2e-slow-'));
  const fleet = path.join(scratch, 'fleet.toml');
  fs.writeFileSync(
    fleet,
    `${fs.readFileSync(labFleet, 'utf8')}\n[[scrape]]\nname = "hung"\nurl = "http://127.0.0.1:${hung.address().port}/metrics"\n`,
  );
  process.env.FLEETDECK_DATA_DIR = path.join(scratch, 'data');

  const serve = await startServe(fleet);
  const seen = [];
  const stream = subscribe(`${serve.url}api/snapshots`, (s, at) => seen.push({ s, at }));
  let stopped = false;
  try {
    const info = await (await fetch(`${serve.url}api/fleet`)).json();
    const interval = info.interval_ms;
    const latest = () => seen.at(-1)?.s;
    await waitFor('Prometheus answered once', () => latest()?.ai.available && latest()?.ai.read_at, { timeout: 30_000 });

    process.kill(prometheusPid, 'SIGSTOP');
    stopped = true;
    const from = Date.now();
    const before = seen.length;
    await waitFor(`${STOPPED_MS} ms with Prometheus stopped`, () => Date.now() - from >= STOPPED_MS, { timeout: STOPPED_MS + 5_000 });
    const during = seen.slice(before);
    const stale = latest();
    process.kill(prometheusPid, 'SIGCONT');
    stopped = false;

    console.log(`${during.length} snapshots in ${STOPPED_MS} ms with Prometheus stopped (interval ${interval} ms); AI reading ${stale.ai.age_seconds} s old: ${stale.ai.errors.join('; ')}`);
    // Inline, every refresh would wait out Prometheus' 2 s timeout: at most 10 in 20 s.
    const expected = STOPPED_MS / interval;
    assert.ok(
      during.length >= 0.65 * expected,
      `${during.length} snapshots in ${STOPPED_MS} ms with Prometheus stopped; about ${expected} expected at ${interval} ms`,
    );
    assert.ok(
      stale.ai.errors.some((e) => e.startsWith('prometheus:')),
      `the AI reading says why it is old: ${JSON.stringify(stale.ai.errors)}`,
    );
    assert.ok(stale.ai.age_seconds >= 10, `and how old it is: ${stale.ai.age_seconds} s`);
    assert.ok(stale.ai.available, 'the last good values stay, never a blank panel');
    const scrape = stale.scrapes.find((x) => x.name === 'hung');
    assert.ok(scrape && !scrape.reachable && scrape.error, `the hung scrape target is reported: ${JSON.stringify(scrape)}`);
    assert.ok(stale.nodes.some((n) => n.reachable), 'the database side was read all along');

    await waitFor(
      'the AI reading is fresh again after SIGCONT',
      () => {
        const s = latest();
        return s.ai.errors.every((e) => !e.startsWith('prometheus:')) && s.ai.age_seconds !== null && s.ai.age_seconds < 3;
      },
      { timeout: 30_000 },
    );
  } finally {
    if (stopped) process.kill(prometheusPid, 'SIGCONT');
    stream.close();
    serve.close();
    for (const s of held) s.destroy();
    hung.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
