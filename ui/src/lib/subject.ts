// What an anomaly concerns, read from the typed `Subject` the engine sends
// (never parsed out of a string). One place turns a subject into the three
// things the UI needs: a short label for people (`pg0→pg2`, `pgb0/chat`), a
// canonical key for maps and memo keys, and the fleet names it touches. The
// label follows the engine's own `Display` (crates/core/src/snapshot.rs), so
// the CLI, the notifications and the screen say the same thing.
import type { Subject } from '../generated/Subject';

/** A subject of a kind this UI does not know yet (a newer engine): shown by its kind, never a crash. */
const unknownKind = (s: Subject): string => String((s as { kind?: unknown }).kind ?? '?');

/** The short human form: `fleet`, `pg0`, `pg0, pg1`, `pg0→pg2`, `pg1/slot_a`, `pgb0/chat`, `redis0→redis1`, `prometheus`. */
export function subjectLabel(s: Subject): string {
  switch (s.kind) {
    case 'fleet':
      return 'fleet';
    case 'node':
      return s.node;
    case 'nodes':
      return s.nodes.join(', ');
    case 'edge':
      return `${s.upstream}→${s.downstream}`;
    case 'slot':
      return `${s.node}/${s.slot}`;
    case 'pooler':
      return s.pooler;
    case 'pool':
      return `${s.pooler}/${s.database}`;
    case 'cache':
      return s.cache;
    case 'cache_link':
      return `${s.master}→${s.replica}`;
    case 'metrics':
      return s.source;
    default:
      return unknownKind(s);
  }
}

/** Every fleet name the subject concerns (both ends of an edge, each node of a split brain), as the engine's `Subject::names`. */
export function subjectNames(s: Subject): string[] {
  switch (s.kind) {
    case 'fleet':
      return [];
    case 'node':
    case 'slot':
      return [s.node];
    case 'nodes':
      return [...s.nodes];
    case 'edge':
      return [s.upstream, s.downstream];
    case 'pooler':
    case 'pool':
      return [s.pooler];
    case 'cache':
      return [s.cache];
    case 'cache_link':
      return [s.master, s.replica];
    case 'metrics':
      return [s.source];
    default:
      return [];
  }
}

/**
 * A canonical string for the subject: equal subjects give equal keys whatever
 * the order of fields on the wire, and no two subjects share one (the kind
 * leads, and fields are separated by a character names cannot contain).
 */
export function subjectKey(s: Subject): string {
  const parts = (() => {
    switch (s.kind) {
      case 'fleet':
        return [];
      case 'node':
        return [s.node];
      case 'nodes':
        return [...s.nodes].sort();
      case 'edge':
        return [s.upstream, s.downstream];
      case 'slot':
        return [s.node, s.slot];
      case 'pooler':
        return [s.pooler];
      case 'pool':
        return [s.pooler, s.database];
      case 'cache':
        return [s.cache];
      case 'cache_link':
        return [s.master, s.replica];
      case 'metrics':
        return [s.source];
      default:
        return [JSON.stringify(s)];
    }
  })();
  return [s.kind, ...parts].join('\u0000');
}

/** The PostgreSQL node names whose box shows this subject's anomalies: the node, a slot's node, an edge's downstream, each node of a split brain. */
export function subjectNodes(s: Subject): string[] {
  switch (s.kind) {
    case 'node':
    case 'slot':
      return [s.node];
    case 'nodes':
      return [...s.nodes];
    case 'edge':
      // Lag on pg0→pg2 is pg2 falling behind, not pg0 misbehaving.
      return [s.downstream];
    default:
      return [];
  }
}

/** Subjects the UI looks up by what it draws. */
export const subjects = {
  node: (node: string): Subject => ({ kind: 'node', node }),
  edge: (upstream: string, downstream: string): Subject => ({ kind: 'edge', upstream, downstream }),
  pooler: (pooler: string): Subject => ({ kind: 'pooler', pooler }),
  pool: (pooler: string, database: string): Subject => ({ kind: 'pool', pooler, database }),
  cache: (cache: string): Subject => ({ kind: 'cache', cache }),
};
