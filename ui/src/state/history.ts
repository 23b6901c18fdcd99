// Which snapshot numbers are kept as history, and under which keys. One place
// decides it, so a chart asks for `pool:pgb0/chat/chat_app:cl_waiting` and
// the recorder is the only code that knows where that number comes from.
import type { Snapshot } from '../generated/Snapshot';
import type { Pool } from '../generated/Pool';
import { SeriesRing } from './ring';

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
  readonly ring: SeriesRing;
  private prevEvicted = new Map<string, { t: number; v: number }>();
  /** Bumped on every recorded row; charts watch it. */
  version = 0;

  constructor(ring = new SeriesRing()) {
    this.ring = ring;
  }

  record(s: Snapshot): boolean {
    const t = Date.parse(s.taken_at) / 1000;
    if (!Number.isFinite(t) || !this.ring.beginRow(t)) return false;
    const r = this.ring;
    let waiting = 0;
    let ratioMax = 0;
    for (const p of s.pools) {
      const id = poolId(p);
      for (const f of POOL_FIELDS) r.set(keys.pool(id, f), p[f]);
      waiting += p.cl_waiting;
      if (p.pool_size > 0) ratioMax = Math.max(ratioMax, p.sv_active / p.pool_size);
    }
    r.set(keys.poolsWaiting(), waiting);
    r.set(keys.poolsActiveRatioMax(), ratioMax);
    for (const n of s.nodes) {
      if (!n.reachable) continue;
      r.set(keys.nodeLagBytes(n.name), n.replay_lag_bytes);
      r.set(keys.nodeLagSeconds(n.name), n.replay_lag_seconds);
      r.set(keys.nodeBackendsTotal(n.name), n.connections.total);
      r.set(keys.nodeMaxConnections(n.name), n.connections.max);
      for (const st of BACKEND_STATES) r.set(keys.nodeBackends(n.name, st), n.connections.by_state[st] ?? 0);
    }
    for (const c of s.caches) {
      if (!c.reachable) continue;
      r.set(keys.cache(c.name, 'hit_ratio'), c.hit_ratio);
      r.set(keys.cache(c.name, 'used_memory_bytes'), c.used_memory_bytes);
      r.set(keys.cache(c.name, 'fragmentation_ratio'), c.fragmentation_ratio);
      r.set(keys.cache(c.name, 'ops_per_second'), c.ops_per_second);
      r.set(keys.cache(c.name, 'replication_offset_lag'), c.replication_offset_lag);
      const prev = this.prevEvicted.get(c.name);
      if (prev !== undefined && t > prev.t && c.evicted_keys >= prev.v) {
        r.set(keys.cache(c.name, 'evictions_per_second'), (c.evicted_keys - prev.v) / (t - prev.t));
      }
      this.prevEvicted.set(c.name, { t, v: c.evicted_keys });
    }
    if (s.ai.available) {
      for (const f of AI_FIELDS) r.set(keys.ai(f), s.ai[f]);
      for (const [d, v] of Object.entries(s.ai.moderation_per_second)) r.set(keys.moderation(d), v);
    }
    this.version++;
    return true;
  }
}
