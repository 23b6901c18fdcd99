// Health words and classes derived from the snapshot's anomalies, so the
// colours on screen agree with the anomaly list (the backend decides what is
// wrong; the UI only shows it). Every colour comes with a word.
import type { Anomaly } from '../generated/Anomaly';
import type { Node } from '../generated/Node';
import type { Pool } from '../generated/Pool';
import type { Cache } from '../generated/Cache';
import type { Snapshot } from '../generated/Snapshot';

export type Health = 'ok' | 'warn' | 'crit' | 'unknown';

export const HEALTH_WORD: Record<Health, string> = { ok: 'OK', warn: 'WARN', crit: 'CRIT', unknown: '?' };
export const HEALTH_GLYPH: Record<Health, string> = { ok: '✓', warn: '!', crit: '✕', unknown: '?' };

export const worse = (a: Health, b: Health): Health => {
  const r: Record<Health, number> = { ok: 0, unknown: 1, warn: 2, crit: 3 };
  return r[a] >= r[b] ? a : b;
};

/** Worst severity of the anomalies about each subject (node, `up→down` edge, `pgb0/chat` pool, cache). */
export function healthBySubject(anomalies: readonly Anomaly[]): Map<string, Health> {
  const m = new Map<string, Health>();
  for (const a of anomalies) {
    const h: Health = a.severity === 'critical' ? 'crit' : 'warn';
    m.set(a.subject, worse(m.get(a.subject) ?? 'ok', h));
    // `pg1/slot_x` (a slot) also colours pg1; `pgb0/chat` (a pool) colours pgb0.
    const slash = a.subject.indexOf('/');
    if (slash > 0) {
      const owner = a.subject.slice(0, slash);
      m.set(owner, worse(m.get(owner) ?? 'ok', h));
    }
  }
  return m;
}

export function edgeSubject(up: string, down: string): string {
  return `${up}→${down}`;
}

export function nodeHealth(n: Node, bySubject: Map<string, Health>, isSplitBrain = false): Health {
  let h: Health = n.reachable ? 'ok' : 'crit';
  if (isSplitBrain && n.role === 'primary') h = 'crit';
  if (n.role === 'unknown' && n.reachable) h = worse(h, 'unknown');
  h = worse(h, bySubject.get(n.name) ?? 'ok');
  if (n.upstream) h = worse(h, bySubject.get(edgeSubject(n.upstream, n.name)) ?? 'ok');
  if (n.replay_paused) h = worse(h, 'warn');
  return h;
}

/**
 * Anomalies grouped by what they concern: the subject itself, the owner of a
 * `node/slot` or `pooler/db` subject, and the downstream of an `up→down` edge.
 * Built once per snapshot so per-node lookups are a map get, not a scan.
 */
export function anomaliesByOwner(anomalies: readonly Anomaly[]): Map<string, Anomaly[]> {
  const m = new Map<string, Anomaly[]>();
  const add = (k: string, a: Anomaly) => {
    const l = m.get(k);
    if (l) {
      if (l[l.length - 1] !== a) l.push(a);
    } else m.set(k, [a]);
  };
  for (const a of anomalies) {
    add(a.subject, a);
    const slash = a.subject.indexOf('/');
    if (slash > 0) add(a.subject.slice(0, slash), a);
    const arrow = a.subject.indexOf('→');
    if (arrow > 0) add(a.subject.slice(arrow + 1), a);
  }
  return m;
}

/** A short word for what is wrong with a node, for the box label. `mine`: anomalies about it (anomaliesByOwner). */
export function nodeStatus(n: Node, mine: readonly Anomaly[], isSplitBrain = false): string {
  if (!n.reachable) return 'down';
  if (isSplitBrain && n.role === 'primary') return 'SPLIT BRAIN';
  if (n.replay_paused) return 'paused';
  if (mine.some((a) => a.kind === 'lag_over_threshold')) return 'lagging';
  if (mine.some((a) => a.kind === 'replica_not_streaming')) return 'not streaming';
  if (mine.some((a) => a.kind === 'slot_retaining_wal')) return 'slot WAL';
  if (mine.some((a) => a.kind === 'connections_near_max')) return 'conns';
  if (n.role === 'unknown') return 'unknown';
  return 'ok';
}

export function poolHealth(p: Pool): Health {
  if (!p.saturated) return 'ok';
  return p.cl_waiting > 0 ? 'crit' : 'warn';
}

/** sv_active / pool_size, 0..1+ (the saturation bar). */
export function poolUse(p: Pool): number {
  return p.pool_size > 0 ? p.sv_active / p.pool_size : 0;
}

export function cacheHealth(c: Cache, bySubject: Map<string, Health>): Health {
  let h: Health = c.reachable ? 'ok' : 'crit';
  if (c.master_link_status === 'down') h = worse(h, 'crit');
  return worse(h, bySubject.get(c.name) ?? 'ok');
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
    lagging: 'lag',
    'slot WAL': 'slot',
    unknown: '?',
  };
  return m[status] ?? status;
}
