import { describe, expect, it } from 'vitest';
import { HistoryRecorder, keys, poolId } from '../src/state/history';
import { SeriesRing } from '../src/state/ring';
import { healthySnapshot, tick } from './helpers';

describe('HistoryRecorder', () => {
  it('records the numbers the charts need from a real 49-node snapshot', () => {
    const h = new HistoryRecorder();
    const s = healthySnapshot();
    expect(h.record(s)).toBe(true);
    const r = h.ring;
    const pool = s.pools.find((p) => p.name === 'pgb0')!;
    expect(r.latest(keys.pool(poolId(pool), 'cl_active'))).toBe(pool.cl_active);
    expect(r.latest(keys.pool(poolId(pool), 'pool_size'))).toBe(4);
    const pg20 = s.nodes.find((n) => n.name === 'pg20')!;
    expect(r.latest(keys.nodeLagBytes('pg20'))).toBe(pg20.replay_lag_bytes);
    expect(r.latest(keys.nodeBackendsTotal('pg20'))).toBe(pg20.connections.total);
    expect(r.latest(keys.cache('redis0', 'hit_ratio'))).toBeCloseTo(s.caches[0]!.hit_ratio!, 5);
    expect(r.latest(keys.ai('generation_tokens_per_second'))).toBeCloseTo(s.ai.generation_tokens_per_second!, 0);
    expect(r.latest(keys.moderation('allowed'))).toBeCloseTo(s.ai.moderation_per_second.allowed!, 3);
  });

  it('turns the cumulative evicted_keys into evictions per second', () => {
    const h = new HistoryRecorder();
    const a = healthySnapshot();
    const b = tick(a, 2);
    b.caches[0]!.evicted_keys = a.caches[0]!.evicted_keys + 50;
    h.record(a);
    expect(Number.isNaN(h.ring.latest(keys.cache('redis0', 'evictions_per_second'))), 'no rate from one sample').toBe(true);
    h.record(b);
    expect(h.ring.latest(keys.cache('redis0', 'evictions_per_second'))).toBe(25);
  });

  it('ignores the same snapshot twice', () => {
    const h = new HistoryRecorder();
    const s = healthySnapshot();
    h.record(s);
    expect(h.record(s)).toBe(false);
    expect(h.ring.length).toBe(1);
  });

  it('clear() starts over with an empty ring of the same sizes (benchmark backfill)', () => {
    const opts = { fineRows: 120, chunkSize: 60, bucketSeconds: 30, buckets: 40, bucketChunk: 20 };
    const h = new HistoryRecorder(new SeriesRing(opts));
    const s = healthySnapshot();
    h.record(s);
    h.record(tick(s, 1));
    const v = h.version;
    h.clear();
    expect(h.ring.length).toBe(0);
    expect(h.ring.bytes(), 'nothing allocated until a row arrives').toBe(0);
    expect(h.ring.options).toEqual(opts);
    expect(h.version, 'charts redraw after a clear').toBeGreaterThan(v);
    expect(h.record(s), 'the same snapshot is new to a cleared history').toBe(true);
    expect(h.ring.latest(keys.poolsWaiting())).toBe(s.pools.reduce((n, p) => n + p.cl_waiting, 0));
  });
});
