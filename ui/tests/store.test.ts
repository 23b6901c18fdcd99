import { describe, expect, it } from 'vitest';
import { createStore } from '../src/state/store';
import { keys } from '../src/state/history';
import { FakeSource, flush, healthySnapshot, tick } from './helpers';

describe('store', () => {
  it('ignores a snapshot delivered twice (latest_snapshot, then the event) and an older one', async () => {
    const body = document.createElement('div');
    const store = createStore(new FakeSource(), { body });
    const s = healthySnapshot();
    store.ingest(s);
    store.ingest(structuredClone(s));
    store.ingest(tick(s, -1));
    await flush();
    expect(store.history.ring.length).toBe(1);
    expect(store.perf.durations).toHaveLength(1);
    expect(body.dataset.snapshotSeq).toBe('0');
  });

  it('keeps the last 1000 update durations for the benchmark', async () => {
    const store = createStore(new FakeSource(), { body: document.createElement('div') });
    const s = healthySnapshot();
    const t0 = Date.parse(s.taken_at);
    for (let i = 0; i < 1010; i++) store.ingest({ ...s, seq: i, taken_at: new Date(t0 + i * 1000).toISOString() });
    await flush();
    expect(store.perf.durations).toHaveLength(1000);
    expect(store.perf.total).toBe(1010);
    const st = store.perf.stats();
    expect(st.count).toBe(1000);
    expect(st.p99).toBeGreaterThanOrEqual(st.median);
  });

  it('backfills an hour of history for the benchmark without keeping snapshots', async () => {
    const store = createStore(new FakeSource(), { body: document.createElement('div') });
    store.ingest(healthySnapshot());
    expect(store.perf.backfill(3600)).toBe(3601);
    const r = store.history.ring;
    const w = r.window([keys.poolsWaiting(), keys.nodeLagBytes('pg20')], r.timeAt(0), r.timeAt(r.length - 1), 100000);
    expect(w.x).toHaveLength(3601);
    expect(w.ys[1]!.every((v) => v !== null)).toBe(true);
  });
});
