// Health words and classes derived from the snapshot's anomalies, so the
// colours on screen agree with the anomaly list (the backend decides what is
// wrong; the UI only shows it). Every colour comes with a word.
import type { Anomaly } from '../generated/Anomaly';
import type { Node } from '../generated/Node';
import type { Pool } from '../generated/Pool';
import type { Pooler } from '../generated/Pooler';
import type { Cache } from '../generated/Cache';
import type { Snapshot } from '../generated/Snapshot';
import type { Subject } from '../generated/Subject';
import { subjectKey, subjectNodes, subjects } from './subject';

export type Health = 'ok' | 'warn' | 'crit' | 'unknown';

export const HEALTH_WORD: Record<Health, string> = { ok: 'OK', warn: 'WARN', crit: 'CRIT', unknown: '?' };
export const HEALTH_GLYPH: Record<Health, string> = { ok: '✓', warn: '!', crit: '✕', unknown: '?' };

export const worse = (a: Health, b: Health): Health => {
  const r: Record<Health, number> = { ok: 0, unknown: 1, warn: 2, crit: 3 };
  return r[a] >= r[b] ? a : b;
};

/**
 * What else an anomaly's subject colours: the node holding a slot, the
 * pooler of a pool, the replica whose Redis link is down, each node of a
 * split brain. (An edge colours its downstream through `nodeHealth`, which
 * looks up the node's incoming edge.)
 */
function owners(s: Subject): Subject[] {
  switch (s.kind) {
    case 'slot':
      return [subjects.node(s.node)];
    case 'pool':
      return [subjects.pooler(s.pooler)];
    case 'cache_link':
      return [subjects.cache(s.replica)];
    case 'nodes':
      return s.nodes.map(subjects.node);
    default:
      return [];
  }
}

/** Worst severity of the anomalies about each subject and its owners, keyed by `subjectKey`; read it with `healthOf`. */
export function healthBySubject(anomalies: readonly Anomaly[]): Map<string, Health> {
  const m = new Map<string, Health>();
  for (const a of anomalies) {
    const h: Health = a.severity === 'critical' ? 'crit' : 'warn';
    for (const s of [a.subject, ...owners(a.subject)]) {
      const k = subjectKey(s);
      m.set(k, worse(m.get(k) ?? 'ok', h));
    }
  }
  return m;
}

/** The health the anomalies give `subject` ('ok' when none concern it). */
export function healthOf(bySubject: ReadonlyMap<string, Health>, subject: Subject): Health {
  return bySubject.get(subjectKey(subject)) ?? 'ok';
}

/** What a fenced former primary is called wherever a node's status is written. */
export const FENCED_STATUS = 'fenced · needs rejoin';

export function nodeHealth(n: Node, bySubject: ReadonlyMap<string, Health>, isSplitBrain = false): Health {
  let h: Health = n.reachable ? 'ok' : 'crit';
  if (isSplitBrain && n.role === 'primary') h = 'crit';
  // Read-only and out of the tree until rejoined: never green, never a primary.
  if (n.role === 'fenced') h = worse(h, 'warn');
  if (n.role === 'unknown' && n.reachable) h = worse(h, 'unknown');
  h = worse(h, healthOf(bySubject, subjects.node(n.name)));
  if (n.upstream) h = worse(h, healthOf(bySubject, subjects.edge(n.upstream, n.name)));
  if (n.replay_paused) h = worse(h, 'warn');
  return h;
}

/**
 * Anomalies by the PostgreSQL node whose box and detail show them (see
 * `subjectNodes`: the node, a slot's node, an edge's downstream, each node of
 * a split brain). Built once per snapshot so per-node lookups are a map get.
 */
export function anomaliesByNode(anomalies: readonly Anomaly[]): Map<string, Anomaly[]> {
  const m = new Map<string, Anomaly[]>();
  for (const a of anomalies) {
    for (const name of subjectNodes(a.subject)) {
      const l = m.get(name);
      if (l) {
        if (l[l.length - 1] !== a) l.push(a);
      } else m.set(name, [a]);
    }
  }
  return m;
}

/** A short word for what is wrong with a node, for the box label. `mine`: anomalies about it (anomaliesByNode). */
export function nodeStatus(n: Node, mine: readonly Anomaly[], isSplitBrain = false): string {
  if (!n.reachable) return 'down';
  if (isSplitBrain && n.role === 'primary') return 'SPLIT BRAIN';
  if (n.role === 'fenced') return FENCED_STATUS;
  if (n.replay_paused) return 'paused';
  if (mine.some((a) => a.kind === 'lag_over_threshold')) return 'lagging';
  if (mine.some((a) => a.kind === 'replica_not_streaming')) return 'not streaming';
  if (mine.some((a) => a.kind === 'slot_retaining_wal')) return 'slot WAL';
  if (mine.some((a) => a.kind === 'connections_near_max')) return 'conns';
  if (n.role === 'unknown') return 'unknown';
  return 'ok';
}

/**
 * A pool's health: a paused database (PgBouncer `PAUSE`, left behind by an
 * action that did not finish) is critical, since its clients queue until
 * `RESUME`; else saturation decides.
 */
export function poolHealth(p: Pool, paused = false): Health {
  if (paused) return 'crit';
  if (!p.saturated) return 'ok';
  return p.cl_waiting > 0 ? 'crit' : 'warn';
}

/** `pooler/database` of every paused PgBouncer database (`Pooler.paused`). */
export function pausedPools(poolers: readonly Pick<Pooler, 'name' | 'paused'>[]): Set<string> {
  const out = new Set<string>();
  for (const p of poolers) for (const db of p.paused ?? []) out.add(`${p.name}/${db}`);
  return out;
}

/** sv_active / pool_size, 0..1+ (the saturation bar). */
export function poolUse(p: Pool): number {
  return p.pool_size > 0 ? p.sv_active / p.pool_size : 0;
}

export function cacheHealth(c: Cache, bySubject: ReadonlyMap<string, Health>): Health {
  let h: Health = c.reachable ? 'ok' : 'crit';
  if (c.master_link_status === 'down') h = worse(h, 'crit');
  return worse(h, healthOf(bySubject, subjects.cache(c.name)));
}

/** The engine's default `[thresholds] connections_near_max_ratio`, until the fleet info says otherwise. */
export const DEFAULT_CONNECTIONS_NEAR_MAX_RATIO = 0.9;

/** A node's backends against max_connections: warn from `nearMaxRatio` (the fleet's threshold) up, crit when down. */
export function connectionsHealth(n: Pick<Node, 'reachable' | 'connections'>, nearMaxRatio: number): Health {
  if (!n.reachable) return 'crit';
  const { total, max } = n.connections;
  return max > 0 && total >= nearMaxRatio * max ? 'warn' : 'ok';
}

/** Split brain is the one thing that must be impossible to miss. */
export function splitBrain(s: Snapshot): boolean {
  return s.anomalies.some((a) => a.kind === 'split_brain') || s.nodes.filter((n) => n.role === 'primary').length > 1;
}

/** The same word, short enough for a compact tree box. */
export function shortStatus(status: string): string {
  const m: Record<string, string> = {
    'not streaming': 'no stream',
    'SPLIT BRAIN': 'SPLIT',
    [FENCED_STATUS]: 'fenced',
    lagging: 'lag',
    'slot WAL': 'slot',
    unknown: '?',
  };
  return m[status] ?? status;
}
