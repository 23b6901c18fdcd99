// Which snapshot numbers are kept as history, and under which keys. One place
// decides it, so a chart asks for `pool:pgb0/chat/chat_app:cl_waiting` and
// the recorder is the only code that knows where that number comes from.
import type { Snapshot } from '../generated/Snapshot';
import type { Pool } from '../generated/Pool';
import { SeriesRing, type Column } from './ring';

export const POOL_FIELDS = ['cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'maxwait_seconds', 'pool_size'] as const;
export type PoolField = (typeof POOL_FIELDS)[number];

/** Backend states charted per node (the rest only as the total). */
export const BACKEND_STATES = ['active', 'idle', 'idle in transaction'] as const;

export const CACHE_FIELDS = [
  'hit_ratio',
  'evictions_per_second',
  'used_memory_bytes',
  'fragmentation_ratio',
  'ops_per_second',
  'replication_offset_lag',
] as const;
export type CacheField = (typeof CACHE_FIELDS)[number];

export const AI_FIELDS = [
  'generation_tokens_per_second',
  'prompt_tokens_per_second',
  'requests_running',
  'requests_waiting',
  'ttft_p50_seconds',
  'ttft_p99_seconds',
  'e2e_p99_seconds',
  'success_per_second',
  'kv_cache_usage',
  'moderation_p99_seconds',
] as const;
export type AiField = (typeof AI_FIELDS)[number];

export const poolId = (p: Pick<Pool, 'name' | 'database' | 'user'>): string => `${p.name}/${p.database}/${p.user}`;

export const keys = {
  pool: (id: string, f: PoolField) => `pool:${id}:${f}`,
  poolsWaiting: () => 'pools:cl_waiting',
  poolsActiveRatioMax: () => 'pools:sv_active_ratio_max',
  nodeLagBytes: (n: string) => `node:${n}:lag_bytes`,
  nodeLagSeconds: (n: string) => `node:${n}:lag_seconds`,
  nodeBackends: (n: string, state: string) => `node:${n}:backends:${state}`,
  nodeBackendsTotal: (n: string) => `node:${n}:backends`,
  nodeMaxConnections: (n: string) => `node:${n}:max_connections`,
  cache: (c: string, f: CacheField) => `cache:${c}:${f}`,
  ai: (f: string) => `ai:${f}`,
  moderation: (decision: string) => `ai:moderation:${decision}`,
};

/** Records one row per snapshot into a ring. */
export class HistoryRecorder {
  ring: SeriesRing;
  private prevEvicted = new Map<string, { t: number; v: number }>();
  /** Column handles per pool / node / cache, so a snapshot costs map gets, not key strings. */
  private handles = new Map<string, Column[]>();
  /** Bumped on every recorded row; charts watch it. */
  version = 0;

  constructor(ring = new SeriesRing()) {
    this.ring = ring;
  }

  /** Start over with an empty ring (benchmark backfill). */
  clear(): void {
    this.ring = new SeriesRing(this.ring.options);
    this.prevEvicted.clear();
    this.handles.clear();
    this.version++;
  }

  private cols(id: string, make: () => string[]): Column[] {
    let h = this.handles.get(id);
    if (h === undefined) {
      h = make().map((k) => this.ring.column(k));
      this.handles.set(id, h);
    }
    return h;
  }

  record(s: Snapshot): boolean {
    const t = Date.parse(s.taken_at) / 1000;
    if (!Number.isFinite(t) || !this.ring.beginRow(t)) return false;
    const r = this.ring;
    let waiting = 0;
    let ratioMax = 0;
    for (const p of s.pools) {
      const id = poolId(p);
      const c = this.cols(`pool\u0000${id}`, () => POOL_FIELDS.map((f) => keys.pool(id, f)));
      r.setCol(c[0]!, p.cl_active);
      r.setCol(c[1]!, p.cl_waiting);
      r.setCol(c[2]!, p.sv_active);
      r.setCol(c[3]!, p.sv_idle);
      r.setCol(c[4]!, p.maxwait_seconds);
      r.setCol(c[5]!, p.pool_size);
      waiting += p.cl_waiting;
      if (p.pool_size > 0) ratioMax = Math.max(ratioMax, p.sv_active / p.pool_size);
    }
    const fleet = this.cols('fleet', () => [keys.poolsWaiting(), keys.poolsActiveRatioMax()]);
    r.setCol(fleet[0]!, waiting);
    r.setCol(fleet[1]!, ratioMax);
    for (const n of s.nodes) {
      if (!n.reachable) continue;
      const c = this.cols(`node\u0000${n.name}`, () => [
        keys.nodeLagBytes(n.name),
        keys.nodeLagSeconds(n.name),
        keys.nodeBackendsTotal(n.name),
        keys.nodeMaxConnections(n.name),
        ...BACKEND_STATES.map((st) => keys.nodeBackends(n.name, st)),
      ]);
      r.setCol(c[0]!, n.replay_lag_bytes);
      r.setCol(c[1]!, n.replay_lag_seconds);
      r.setCol(c[2]!, n.connections.total);
      r.setCol(c[3]!, n.connections.max);
      for (let i = 0; i < BACKEND_STATES.length; i++) r.setCol(c[4 + i]!, n.connections.by_state[BACKEND_STATES[i]!] ?? 0);
    }
    for (const c of s.caches) {
      if (!c.reachable) continue;
      const h = this.cols(`cache\u0000${c.name}`, () => CACHE_FIELDS.map((f) => keys.cache(c.name, f)));
      r.setCol(h[0]!, c.hit_ratio);
      const prev = this.prevEvicted.get(c.name);
      if (prev !== undefined && t > prev.t && c.evicted_keys >= prev.v) {
        r.setCol(h[1]!, (c.evicted_keys - prev.v) / (t - prev.t));
      }
      this.prevEvicted.set(c.name, { t, v: c.evicted_keys });
      r.setCol(h[2]!, c.used_memory_bytes);
      r.setCol(h[3]!, c.fragmentation_ratio);
      r.setCol(h[4]!, c.ops_per_second);
      r.setCol(h[5]!, c.replication_offset_lag);
    }
    if (s.ai.available) {
      const h = this.cols('ai', () => AI_FIELDS.map((f) => keys.ai(f)));
      for (let i = 0; i < AI_FIELDS.length; i++) r.setCol(h[i]!, s.ai[AI_FIELDS[i]!]);
      for (const [d, v] of Object.entries(s.ai.moderation_per_second)) {
        r.setCol(this.cols(`moderation\u0000${d}`, () => [keys.moderation(d)])[0]!, v);
      }
    }
    this.version++;
    return true;
  }
}
