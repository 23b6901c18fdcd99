// The UI mounted on a fake DataSource fed with real lab snapshots.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mount, type VueWrapper } from '@vue/test-utils';
import { nextTick } from 'vue';
import App from '../src/App.vue';
import { createStore, STORE, type Store } from '../src/state/store';
import { anomaly, FakeSource, flush, healthySnapshot, tick, unreachableSnapshot } from './helpers';
import { subjects } from '../src/lib/subject';
import type { Snapshot } from '../src/generated/Snapshot';

let wrapper: VueWrapper | null = null;

async function setup(opts: { kiosk?: boolean; readOnly?: boolean; snapshot?: Snapshot } = {}) {
  const source = new FakeSource();
  source.info = { ...source.info, read_only: opts.readOnly ?? false, kiosk: opts.kiosk ?? false };
  const store = createStore(source);
  wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
  await store.start();
  source.emit(opts.snapshot ?? healthySnapshot());
  await flush();
  return { source, store, w: wrapper };
}

const $ = (sel: string) => document.querySelector(sel) as HTMLElement | null;
const $$ = (sel: string) => [...document.querySelectorAll(sel)] as HTMLElement[];
const key = async (k: string, init: KeyboardEventInit = {}, target: EventTarget = window) => {
  target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...init }));
  await flush();
};
const translate = (el: Element) => {
  const m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(el.getAttribute('transform') ?? '')!;
  return { x: Number(m[1]), y: Number(m[2]) };
};

afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
  document.body.innerHTML = '';
  vi.useRealTimers();
});

describe('Overview on the 1 + 48 lab', () => {
  it('shows every node with its role, tier and upstream', async () => {
    const { store } = await setup();
    expect($('[data-view="overview"]')).not.toBeNull();
    const nodes = $$('[data-testid^="node-pg"]');
    expect(nodes).toHaveLength(49);
    const pg0 = $('[data-testid="node-pg0"]')!;
    expect([pg0.dataset.role, pg0.dataset.tier, pg0.dataset.upstream]).toEqual(['primary', '0', '']);
    const pg20 = $('[data-testid="node-pg20"]')!;
    expect([pg20.dataset.role, pg20.dataset.tier, pg20.dataset.upstream]).toEqual(['replica', '2', 'pg4']);
    expect(store.snapshot.value!.nodes.every((n) => $(`[data-testid="node-${n.name}"]`) !== null)).toBe(true);
  });

  it('draws a cascade under its upstream: the edge, one tier to the right, within its parent span', async () => {
    await setup();
    const edge = $('[data-testid="edge-pg4-pg20"]')!;
    expect(edge, 'pg4 → pg20 edge').not.toBeNull();
    expect(edge.dataset.healthy).toBe('true');
    expect(edge.textContent, 'lag written on the edge').toMatch(/B · /);
    const pg4 = translate($('[data-testid="node-pg4"]')!);
    const pg20 = translate($('[data-testid="node-pg20"]')!);
    const pg12 = translate($('[data-testid="node-pg12"]')!);
    expect(pg20.x).toBeGreaterThan(pg4.x);
    expect(pg4.y, 'parent between its children').toBeGreaterThanOrEqual(Math.min(pg12.y, pg20.y));
    expect(pg4.y).toBeLessThanOrEqual(Math.max(pg12.y, pg20.y));
    expect($$('[data-testid^="edge-"]')).toHaveLength(48);
  });

  it('marks an unhealthy edge and a paused replica with words, not colour alone', async () => {
    const s = healthySnapshot();
    const e = s.edges.find((x) => x.downstream === 'pg2')!;
    Object.assign(e, { healthy: false, lag_bytes: 300 * 1024 * 1024, lag_seconds: 95 });
    const n = s.nodes.find((x) => x.name === 'pg2')!;
    n.replay_paused = true;
    s.anomalies.push(anomaly('replay_paused', subjects.node('pg2'), { message: 'pg2 has WAL replay paused' }));
    await setup({ snapshot: s });
    const edge = $('[data-testid="edge-pg0-pg2"]')!;
    expect(edge.dataset.healthy).toBe('false');
    expect(edge.textContent).toContain('300 MiB');
    expect($('[data-testid="node-pg2"]')!.textContent).toContain('paused');
    expect($('[data-testid="node-pg2"]')!.dataset.health).toBe('warn');
  });

  it('marks a saturated pool', async () => {
    const s = healthySnapshot();
    const p = s.pools.find((x) => x.name === 'pgb0')!;
    Object.assign(p, { cl_waiting: 5, sv_active: 4, maxwait_seconds: 2.5, saturated: true, saturation_reasons: ['5 clients waiting'] });
    await setup({ snapshot: s });
    const cell = $('[data-testid="pool-pgb0-chat"]')!;
    expect(cell.dataset.saturated).toBe('true');
    expect(cell.textContent).toContain('SAT');
    expect($('[data-testid="pool-pgb1-chat"]')!.dataset.saturated).toBe('false');
    expect($$('[data-testid^="pool-pgb"]')).toHaveLength(49);
  });

  it('lists every anomaly, most severe first', async () => {
    await setup({ snapshot: unreachableSnapshot() });
    const items = $$('[data-testid="anomaly"]');
    expect(items).toHaveLength(98);
    expect(items[0]!.dataset.severity).toBe('critical');
    expect(items[items.length - 1]!.dataset.severity).toBe('warning');
    expect(items.some((i) => i.dataset.kind === 'no_primary' && i.dataset.subject === 'fleet')).toBe(true);
  });

  it('sets body.dataset.snapshotSeq after rendering and records the update time', async () => {
    const { source, store } = await setup();
    expect(document.body.dataset.snapshotSeq).toBe('0');
    source.emit(tick(healthySnapshot(), 5));
    await flush();
    expect(document.body.dataset.snapshotSeq).toBe('5');
    expect(store.perf.durations).toHaveLength(2);
    expect(store.perf.durations.every((d) => d >= 0)).toBe(true);
  });
});

describe('server text is text', () => {
  it('renders HTML in query text, messages and labels literally', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const s = healthySnapshot();
    s.statements[0]!.top[0]!.query = evil;
    s.anomalies.push(anomaly('metrics_unavailable', { kind: 'metrics', source: '<b>x</b>' }, { message: `scrape failed: ${evil}` }));
    s.alerts.push({ name: 'Evil<script>', state: 'firing', severity: 'page', summary: evil, active_at: null, labels: { instance: evil } });
    s.caches[0]!.error = evil;
    const { store } = await setup({ snapshot: s });
    expect(document.body.innerHTML).not.toContain('<img');
    expect(document.querySelectorAll('img, script, b')).toHaveLength(0);
    expect(document.body.textContent).toContain(`scrape failed: ${evil}`);
    store.ui.view = 'queries';
    await flush();
    const rows = $$('[data-testid="statement"]');
    const row = rows.find((r) => r.textContent!.includes(evil));
    expect(row, 'the statement row shows the text').toBeDefined();
    row!.click();
    await flush();
    expect($('[data-testid="statement-text"]')!.textContent).toBe(evil);
    expect(document.querySelectorAll('img[src="x"]')).toHaveLength(0);
  });
});

describe('keyboard', () => {
  it('switches views with number keys', async () => {
    await setup();
    for (const [k, v] of [['2', 'topology'], ['3', 'pools'], ['4', 'queries'], ['5', 'cache'], ['6', 'ai'], ['1', 'overview']]) {
      await key(k!);
      expect($(`[data-view="${v}"]`), `key ${k}`).not.toBeNull();
    }
  });

  it('jumps to a node from the palette (:) and shows its detail', async () => {
    await setup();
    await key(':');
    const input = $('[data-testid="palette"]') as HTMLInputElement;
    expect(input).not.toBeNull();
    expect(document.activeElement).toBe(input);
    input.value = 'pg20';
    input.dispatchEvent(new Event('input'));
    await flush();
    expect($$('[data-testid="palette-item"]')[0]!.dataset.id).toBe('pg20');
    await key('Enter', {}, input);
    expect($('[data-testid="palette"]')).toBeNull();
    expect($('[data-view="topology"]')).not.toBeNull();
    const detail = $('[data-testid="node-detail"]')!;
    expect(detail.dataset.node).toBe('pg20');
    expect(detail.textContent).toContain('streams from pg4');
    expect(detail.textContent).toContain('0/EA31948');
    await key('Escape');
    expect($('[data-testid="node-detail"]')).toBeNull();
  });

  it('opens the palette with Ctrl-K and closes it with Esc', async () => {
    await setup();
    await key('k', { ctrlKey: true });
    expect($('[data-testid="palette"]')).not.toBeNull();
    await key('Escape', {}, $('[data-testid="palette"]')!);
    expect($('[data-testid="palette"]')).toBeNull();
  });

  it('jumps to a pool from the palette', async () => {
    const { store } = await setup();
    await key(':');
    const input = $('[data-testid="palette"]') as HTMLInputElement;
    input.value = 'pgb7';
    input.dispatchEvent(new Event('input'));
    await flush();
    await key('Enter', {}, input);
    expect(store.ui.view).toBe('pools');
    expect(store.ui.selectedPool).toBe('pgb7/chat/chat_app');
  });

  it('shows every shortcut on ? and closes on Esc', async () => {
    await setup();
    await key('?');
    const help = $('[data-testid="help"]')!;
    expect(help).not.toBeNull();
    for (const k of [':', 'Ctrl-K', '1', '6', 'w', 'Esc', '?']) expect(help.textContent).toContain(k);
    await key('Escape');
    expect($('[data-testid="help"]')).toBeNull();
  });

  it('opens a node detail with Enter on a focused tree node', async () => {
    const { store } = await setup();
    await key('2');
    const node = $('[data-testid="node-pg7"]')!;
    node.focus();
    await key('Enter', {}, node);
    expect(store.ui.selectedNode).toBe('pg7');
    expect($('[data-testid="node-detail"]')!.dataset.node).toBe('pg7');
  });
});

describe('war-room mode', () => {
  it('has no buttons, no SQL box, no ANALYZE, and shows the incident clock', async () => {
    const { store } = await setup({ kiosk: true });
    expect(store.ui.kiosk).toBe(true);
    expect(document.documentElement.classList.contains('kiosk')).toBe(true);
    for (const v of ['overview', 'topology', 'pools', 'queries', 'cache', 'ai'] as const) {
      store.ui.view = v;
      if (v === 'topology') store.ui.selectedNode = 'pg2';
      await flush();
      expect(document.querySelectorAll('button'), `no buttons in ${v}`).toHaveLength(0);
      expect($('[data-testid="sql-box"]')).toBeNull();
      expect($('[data-testid="analyze"]')).toBeNull();
      expect($('[data-testid="incident-clock"]')).not.toBeNull();
    }
  });

  it('draws the tree for the room: one-line boxes, short lag labels, scaled to fit and never scrolled', async () => {
    const s = healthySnapshot();
    Object.assign(s.edges.find((e) => e.downstream === 'pg2')!, { healthy: false, lag_bytes: 314572800, lag_seconds: 98 });
    s.anomalies.push(anomaly('lag_over_threshold', subjects.edge('pg0', 'pg2'), { since: s.taken_at }));
    const { store } = await setup({ snapshot: s });
    const tree = () => $('[data-view="overview"] .tree-wrap')!;
    const svg = () => tree().querySelector('svg')!;
    expect(tree().classList.contains('look-compact'), 'at a desk').toBe(true);
    expect(svg().querySelectorAll('.col-label').length, 'tier captions at a desk').toBe(4);
    expect($('[data-testid="edge-pg0-pg2"]')!.textContent).toContain('300 MiB · 1 min 38 s');
    await key('w');
    expect(store.ui.kiosk).toBe(true);
    expect(tree().classList.contains('look-kiosk')).toBe(true);
    expect(svg().querySelectorAll('.col-label'), 'no tier captions in the war room').toHaveLength(0);
    expect($('[data-testid="edge-pg0-pg2"]')!.textContent, 'the short lag fits the column gap at a large size').toContain('! 300M 1m38s');
    expect($('[data-testid="edge-pg4-pg20"]')!.textContent).toMatch(/^\s*pg4 → pg20: streaming.*\d+(\.\d)?[BKMG] \d/s);
    expect(svg().style.minWidth, 'never wider than its panel: the whole tree is on the wall').toBe('0px');
    expect(svg().getAttribute('preserveAspectRatio')).toBe('xMidYMin meet');
    expect($('[data-testid="node-pg2"]')!.textContent).toContain('lag');
    // Redis and inference have their own views in the cycle; the overview gives the room to the tree and the anomalies.
    expect($('[aria-label="Redis fleet"]')).toBeNull();
    expect($('[aria-label="Active anomalies"]')).not.toBeNull();
    await key('2');
    expect($('[data-view="topology"] .tree-wrap')!.classList.contains('look-kiosk-wide'), 'Topology: wide one-line boxes').toBe(true);
    expect($('[data-testid="node-pg2"]')!.textContent).toMatch(/lagging · \d+\/\d+ conns/);
  });

  it('cycles views every 15 s and toggles with w', async () => {
    vi.useFakeTimers();
    const { store } = await setupWithFakeTimers();
    await keyFake('w');
    expect(store.ui.kiosk).toBe(true);
    expect(store.ui.view).toBe('overview');
    vi.advanceTimersByTime(15_000);
    await nextTick();
    expect(store.ui.view).toBe('topology');
    vi.advanceTimersByTime(15_000);
    await nextTick();
    expect(store.ui.view).toBe('pools');
    await keyFake('w');
    vi.advanceTimersByTime(60_000);
    await nextTick();
    expect(store.ui.view, 'no cycling outside war-room').toBe('pools');
  });
});

async function setupWithFakeTimers() {
  const source = new FakeSource();
  const store = createStore(source);
  wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
  await store.start();
  source.emit(healthySnapshot());
  await nextTick();
  return { source, store };
}
async function keyFake(k: string) {
  window.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
  await nextTick();
}

describe('incident clock', () => {
  it('runs from when the UI first saw an anomaly the engine sent no start for, and resets when none are active', async () => {
    let now = 1_000_000;
    const source = new FakeSource();
    const store: Store = createStore(source, { now: () => now });
    wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
    await store.start();
    const healthy = healthySnapshot();
    healthy.anomalies = [];
    source.emit(healthy);
    await flush();
    const clock = () => $('[data-testid="incident-clock"]')!;
    expect(clock().dataset.active).toBe('false');
    const broken = tick(healthy, 1);
    broken.anomalies = [anomaly('node_unreachable', subjects.node('pg3'), { severity: 'critical', since: null })];
    now += 1000;
    source.emit(broken);
    await flush();
    expect(clock().dataset.active).toBe('true');
    expect(clock().dataset.since).toBe(new Date(now).toISOString());
    now += 65_000;
    source.emit(tick(broken, 2));
    await flush();
    expect(clock().textContent).toContain('00:01:05');
    now += 1000;
    source.emit(tick(healthy, 4));
    await flush();
    expect(clock().dataset.active).toBe('false');
  });

  it("after a restart, counts from the engine's `since` (the episode's true start), in war-room mode too", async () => {
    // The engine kept the episode across the app's restart: it began 47 min
    // before this fresh app got its first snapshot.
    const began = '2026-11-23T08:34:46.201Z';
    const healthy = healthySnapshot();
    let now = Date.parse(healthy.taken_at) + 300;
    const source = new FakeSource();
    source.info = { ...source.info, kiosk: true };
    const store: Store = createStore(source, { now: () => now });
    wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
    await store.start();
    const s = tick(healthy, 0);
    s.anomalies = [
      anomaly('lag_over_threshold', subjects.edge('pg0', 'pg2'), { since: '2026-11-23T09:01:00.000Z' }),
      anomaly('node_unreachable', subjects.node('pg3'), { severity: 'critical', since: began }),
    ];
    source.emit(s);
    await flush();
    const clock = $('[data-testid="incident-clock"]')!;
    expect(document.documentElement.classList.contains('kiosk')).toBe(true);
    expect(clock.dataset.active).toBe('true');
    expect(clock.dataset.since, 'the earliest start among the active anomalies').toBe(began);
    expect(clock.textContent).toContain('00:47:00');
    const items = $$('[data-testid="anomaly"]');
    expect(items.map((i) => i.dataset.since)).toEqual([began, '2026-11-23T09:01:00.000Z']);
    expect(items[0]!.textContent, 'each anomaly shows how long it has been going on').toContain('47m');
    now += 2000;
    source.emit(tick(s, 2));
    await flush();
    expect(clock.textContent).toContain('00:47:02');
  });
});

describe('typed subjects', () => {
  it('labels every subject kind and colours what it concerns', async () => {
    const s = healthySnapshot();
    const replica = s.caches.find((c) => c.role === 'replica')!;
    const master = s.caches.find((c) => c.role === 'master')!;
    s.anomalies.push(
      anomaly('lag_over_threshold', subjects.edge('pg4', 'pg20'), { since: '2026-11-23T09:20:00.000Z' }),
      anomaly('slot_retaining_wal', { kind: 'slot', node: 'pg1', slot: 'standby_pg9' }, { severity: 'critical' }),
      anomaly('pool_saturated', subjects.pool('pgb7', 'chat')),
      anomaly('cache_replica_link_down', { kind: 'cache_link', master: master.name, replica: replica.name }),
    );
    await setup({ snapshot: s });
    const bySubject = new Map($$('[data-testid="anomaly"]').map((el) => [el.dataset.subject, el]));
    expect([...bySubject.keys()].sort()).toEqual(
      ['pg1/standby_pg9', 'pg4→pg20', 'pgb7/chat', 'prometheus', `${master.name}→${replica.name}`].sort(),
    );
    const edge = bySubject.get('pg4→pg20')!;
    expect([edge.dataset.subjectKind, edge.dataset.names]).toEqual(['edge', 'pg4 pg20']);
    expect(edge.querySelector('.subject')!.textContent).toBe('pg4→pg20');
    // The edge's downstream is the one lagging; its upstream is fine.
    expect($('[data-testid="node-pg20"]')!.dataset.health).toBe('warn');
    expect($('[data-testid="node-pg20"]')!.textContent).toContain('lag');
    expect($('[data-testid="node-pg4"]')!.dataset.health).toBe('ok');
    // A slot colours the node that holds it.
    expect($('[data-testid="node-pg1"]')!.dataset.health).toBe('crit');
    // A Redis link colours the replica, not its master.
    expect($(`[data-testid="cache-${replica.name}"]`)!.dataset.health).toBe('warn');
    expect($(`[data-testid="cache-${master.name}"]`)!.dataset.health).toBe('ok');
  });

  it("shows a split brain's anomaly in each of its nodes' detail", async () => {
    const s = healthySnapshot();
    Object.assign(s.nodes.find((n) => n.name === 'pg1')!, { role: 'primary', upstream: null, tier: 0 });
    s.edges = s.edges.filter((e) => e.downstream !== 'pg1');
    s.anomalies.push(anomaly('split_brain', { kind: 'nodes', nodes: ['pg0', 'pg1'] }, { severity: 'critical', message: 'SPLIT BRAIN: 2 nodes' }));
    const { store } = await setup({ snapshot: s });
    expect($('[data-testid="anomaly"][data-kind="split_brain"]')!.dataset.subject).toBe('pg0, pg1');
    for (const n of ['pg0', 'pg1']) {
      store.ui.selectedNode = n;
      store.ui.view = 'topology';
      await flush();
      expect($('[data-testid="node-detail"]')!.textContent, n).toContain('SPLIT BRAIN: 2 nodes');
    }
  });
});

describe('fleet thresholds and the incident store', () => {
  it('warns about connections from the fleet file\'s connections_near_max_ratio, not a fixed 90 %', async () => {
    const s = healthySnapshot();
    const pg5 = s.nodes.find((n) => n.name === 'pg5')!;
    pg5.connections = { ...pg5.connections, total: 60, max: 100 };
    const source = new FakeSource();
    source.info = { ...source.info, connections_near_max_ratio: 0.5 };
    const store = createStore(source);
    wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
    await store.start();
    source.emit(s);
    store.ui.view = 'pools';
    await flush();
    const row = $('[data-testid="backends-pg5"]')!;
    expect(row.dataset.health, '60 of 100 is past a 0.5 threshold').toBe('warn');
    expect(row.textContent).toContain('near max');
    expect($('[data-view="pools"]')!.textContent).toContain('warning from 50 %');
    store.ui.selectedNode = 'pg5';
    store.ui.view = 'topology';
    await flush();
    expect($('[data-testid="node-connections"]')!.dataset.health, 'the node detail agrees').toBe('warn');
    store.info.value = { ...store.info.value!, connections_near_max_ratio: 0.9 };
    await flush();
    expect($('[data-testid="node-connections"]')!.dataset.health, 'and 60 of 100 is not past 0.9').toBe('ok');
    store.ui.view = 'pools';
    await flush();
    expect($('[data-testid="backends-pg5"]')!.dataset.health).toBe('ok');
  });

  it('says, as text, when incidents are not being recorded', async () => {
    const s = healthySnapshot();
    s.store = { path: '/home/oncall/.local/share/fleetdeck/fleetdeck.sqlite3', error: 'database is locked <b>x</b>' };
    const { source } = await setup({ snapshot: s });
    const line = $('[data-testid="store-error"]')!;
    expect(line.textContent).toContain('incidents not recorded: database is locked <b>x</b>');
    expect(line.querySelector('b'), 'the error is text').toBeNull();
    const fixed = tick(s, 1);
    fixed.store = { path: s.store.path, error: null };
    source.emit(fixed);
    await flush();
    expect($('[data-testid="store-error"]')).toBeNull();
  });
});

describe('queries and plans', () => {
  it('explains a picked statement on its node, without ANALYZE, and draws the plan', async () => {
    const { source, store } = await setup();
    store.ui.view = 'queries';
    await flush();
    const row = $$('[data-testid="statement"]').find((r) => r.dataset.node === 'pg1')!;
    row.focus();
    await key('Enter', {}, row);
    expect(source.explained[0]).toEqual({ node: 'pg1', target: { queryId: row.dataset.queryId }, analyze: false });
    await vi.waitFor(() => expect($('[data-testid="plan"]')).not.toBeNull(), { timeout: 10_000 });
    expect($('[data-testid="plan"]')!.dataset.node).toBe('pg1');
    const analyze = $('[data-testid="analyze"]') as HTMLButtonElement;
    expect(analyze, 'ANALYZE offered on a replica in a read-write desktop session').not.toBeNull();
    expect(analyze.disabled).toBe(false);
    analyze.click();
    await flush();
    expect(source.explained[1]!.analyze).toBe(true);
  }, 20_000);

  it('offers no ANALYZE in a read-only session, but keeps the SQL box', async () => {
    const { source, store } = await setup({ readOnly: true });
    store.ui.view = 'queries';
    await flush();
    $$('[data-testid="statement"]')[0]!.click();
    await flush();
    expect($('[data-testid="analyze"]')).toBeNull();
    expect($('[data-testid="analyze-sql"]')).toBeNull();
    const box = $('[data-testid="sql-input"]') as HTMLTextAreaElement;
    box.value = 'SELECT * FROM messages WHERE user_id = 7';
    box.dispatchEvent(new Event('input'));
    await flush();
    ($('[data-testid="explain-sql"]') as HTMLButtonElement).click();
    await flush();
    expect(source.explained.at(-1)).toMatchObject({ target: { sql: 'SELECT * FROM messages WHERE user_id = 7' }, analyze: false });
  });

  it('sorts by mean time and by calls', async () => {
    const { store } = await setup();
    store.ui.view = 'queries';
    await flush();
    const means = () => $$('[data-testid="statement"]').map((r) => r.children[3]!.textContent);
    ($('[data-testid="sort-calls"]') as HTMLButtonElement).click();
    await flush();
    const calls = store.snapshot.value!.statements.flatMap((n) => n.top).map((s) => s.calls).sort((a, b) => b - a);
    expect($$('[data-testid="statement"]')[0]!.children[1]!.textContent).toBe(calls[0]! >= 1e4 ? `${(calls[0]! / 1e3).toFixed(1)}k` : String(calls[0]));
    ($('[data-testid="sort-mean"]') as HTMLButtonElement).click();
    await flush();
    expect(means()[0]).toBe('8.27 s');
  });
});

describe('stream health and notifications', () => {
  it('shows a banner while the stream is down', async () => {
    const { source } = await setup();
    expect($('[data-testid="stream-banner"]')).toBeNull();
    source.stream('down');
    await flush();
    expect($('[data-testid="stream-banner"]')!.textContent).toContain('disconnected');
    source.stream('up');
    await flush();
    expect($('[data-testid="stream-banner"]')).toBeNull();
  });

  it('notifies a new anomaly once across refreshes', async () => {
    const { source } = await setup();
    const base = healthySnapshot();
    expect(source.notified).toHaveLength(1); // the fixture's metrics_unavailable
    for (let i = 1; i <= 5; i++) source.emit(tick(base, i));
    await flush();
    expect(source.notified).toHaveLength(1);
    const worse = tick(base, 6);
    worse.anomalies.push(anomaly('pool_saturated', subjects.pool('pgb0', 'chat'), { message: 'pool pgb0/chat is saturated' }));
    source.emit(worse);
    source.emit(tick(worse, 1));
    await flush();
    expect(source.notified).toHaveLength(2);
    expect(source.notified[1]!.body).toContain('pgb0/chat');
  });

  it('shows the fleet chooser when no fleet is open', async () => {
    const source = new FakeSource();
    source.fleetInfo = () => Promise.reject({ code: 'not_configured', message: 'no fleet file: start with --fleet FILE' });
    const setFleet = vi.fn(async () => ({ ...source.info }));
    (source as unknown as { setFleet: typeof setFleet }).setFleet = setFleet;
    const store = createStore(source);
    wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
    await store.start();
    await flush();
    const chooser = $('[data-testid="fleet-chooser"]')!;
    expect(chooser.dataset.code).toBe('not_configured');
    expect(chooser.textContent).toContain('no fleet file');
    const input = chooser.querySelector('input')!;
    input.value = '/tmp/fleet.toml';
    input.dispatchEvent(new Event('input'));
    await flush();
    chooser.querySelector('form')!.dispatchEvent(new Event('submit'));
    await flush();
    expect(setFleet).toHaveBeenCalledWith('/tmp/fleet.toml');
  });
});

describe('history range', () => {
  it('steps with [ and ] through 5m · 15m · 1h · 6h · 24h', async () => {
    const { store } = await setup();
    expect(store.ui.range).toBe(900);
    await key(']');
    expect(store.ui.range).toBe(3600);
    await key(']');
    await key(']');
    await key(']');
    expect(store.ui.range, 'stops at 24 h').toBe(86_400);
    for (let i = 0; i < 5; i++) await key('[');
    expect(store.ui.range, 'stops at 5 min').toBe(300);
    expect($('[data-testid="range-5m"]')!.getAttribute('aria-pressed')).toBe('true');
  });
});

describe('AI panels', () => {
  it('draw each panel from its PromQL via range(), and an edited query drives that panel', async () => {
    const source = new FakeSource();
    source.info = { ...source.info, prometheus: true };
    const store = createStore(source);
    wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
    await store.start();
    source.emit(healthySnapshot());
    await flush();
    store.ui.view = 'ai';
    await flush();
    const q = source.info.queries.generation_tokens_per_second!;
    expect(source.ranges).toContainEqual({ promql: q, rangeSeconds: 900 });
    const panel = $('[data-testid="ai-panel-generation_tokens_per_second"]')!;
    expect(panel.dataset.query).toBe(q);
    const input = $('[data-testid="promql-generation_tokens_per_second"]') as HTMLInputElement;
    input.value = 'sum(rate(vllm:generation_tokens_total{model="gpt"}[5m]))';
    input.dispatchEvent(new Event('input'));
    await key('Enter', {}, input);
    expect(source.ranges.at(-1)).toEqual({ promql: 'sum(rate(vllm:generation_tokens_total{model="gpt"}[5m]))', rangeSeconds: 900 });
    expect($('[data-testid="ai-panel-generation_tokens_per_second"]')!.dataset.query).toContain('model="gpt"');
    expect($('[data-testid="ai-panel-moderation_per_second"]')!.dataset.query, 'other panels keep theirs').toBe(source.info.queries.moderation_per_second);
  });
});

describe('split brain and a broken fleet', () => {
  it('shouts split brain and shows both primaries as roots', async () => {
    const s = healthySnapshot();
    const pg1 = s.nodes.find((n) => n.name === 'pg1')!;
    Object.assign(pg1, { role: 'primary', upstream: null, tier: 0, timeline: 2 });
    s.edges = s.edges.filter((e) => e.downstream !== 'pg1');
    s.anomalies.push(anomaly('split_brain', { kind: 'nodes', nodes: ['pg0', 'pg1'] }, { severity: 'critical', message: 'SPLIT BRAIN: 2 nodes are out of recovery' }));
    await setup({ snapshot: s });
    expect($('[data-testid="split-brain-banner"]')!.textContent).toContain('pg1 (timeline 2)');
    for (const n of ['pg0', 'pg1']) {
      const el = $(`[data-testid="node-${n}"]`)!;
      expect([el.dataset.role, el.dataset.health]).toEqual(['primary', 'crit']);
      expect(el.textContent).toContain('SPLIT');
    }
  });

  it('draws a fleet whose every probe timed out: all nodes down, no edges, no overlap', async () => {
    await setup({ snapshot: unreachableSnapshot() });
    const nodes = $$('[data-testid^="node-pg"]');
    expect(nodes).toHaveLength(49);
    expect(nodes.every((n) => n.dataset.reachable === 'false' && n.dataset.health === 'crit')).toBe(true);
    expect(nodes.every((n) => n.textContent!.includes('down'))).toBe(true);
    const ys = nodes.map((n) => translate(n).y);
    expect(new Set(ys).size, 'one row each').toBe(49);
    expect($$('[data-testid^="edge-"]')).toHaveLength(0);
    expect($$('[data-testid^="pooler-down-"]').length).toBeGreaterThan(40);
  });
});
