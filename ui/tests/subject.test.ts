import { describe, expect, it } from 'vitest';
import type { Subject } from '../src/generated/Subject';
import { subjectKey, subjectLabel, subjectNames, subjectNodes } from '../src/lib/subject';
import { anomaliesByNode, healthBySubject, healthOf } from '../src/lib/health';
import { subjects } from '../src/lib/subject';
import { anomaly } from './helpers';

// Every kind the engine sends, with the label its `Display` prints.
const CASES: [Subject, string, string[]][] = [
  [{ kind: 'fleet' }, 'fleet', []],
  [{ kind: 'node', node: 'pg0' }, 'pg0', ['pg0']],
  [{ kind: 'nodes', nodes: ['pg0', 'pg1'] }, 'pg0, pg1', ['pg0', 'pg1']],
  [{ kind: 'edge', upstream: 'pg0', downstream: 'pg2' }, 'pg0→pg2', ['pg0', 'pg2']],
  [{ kind: 'slot', node: 'pg1', slot: 'standby_pg9' }, 'pg1/standby_pg9', ['pg1']],
  [{ kind: 'pooler', pooler: 'pgb0' }, 'pgb0', ['pgb0']],
  [{ kind: 'pool', pooler: 'pgb0', database: 'chat' }, 'pgb0/chat', ['pgb0']],
  [{ kind: 'cache', cache: 'redis1' }, 'redis1', ['redis1']],
  [{ kind: 'cache_link', master: 'redis0', replica: 'redis1' }, 'redis0→redis1', ['redis0', 'redis1']],
  [{ kind: 'metrics', source: 'prometheus' }, 'prometheus', ['prometheus']],
];

describe('subject', () => {
  it.each(CASES)('labels %j as the engine prints it, and names what it touches', (s, label, names) => {
    expect(subjectLabel(s)).toBe(label);
    expect(subjectNames(s)).toEqual(names);
  });

  it('gives every kind a distinct key, even where labels coincide', () => {
    const keys = CASES.map(([s]) => subjectKey(s));
    expect(new Set(keys).size).toBe(CASES.length);
    // `pgb0` the pooler and `pgb0` a node; `a→b` an edge and a Redis link.
    expect(subjectKey({ kind: 'node', node: 'pgb0' })).not.toBe(subjectKey({ kind: 'pooler', pooler: 'pgb0' }));
    expect(subjectKey({ kind: 'edge', upstream: 'a', downstream: 'b' })).not.toBe(subjectKey({ kind: 'cache_link', master: 'a', replica: 'b' }));
    // Names with the label's separators in them cannot forge another subject.
    expect(subjectKey({ kind: 'pool', pooler: 'a/b', database: 'c' })).not.toBe(subjectKey({ kind: 'pool', pooler: 'a', database: 'b/c' }));
  });

  it('keys on field values, not on the order fields arrive in', () => {
    const wire = JSON.parse('{"downstream":"pg2","upstream":"pg0","kind":"edge"}') as Subject;
    expect(subjectKey(wire)).toBe(subjectKey(subjects.edge('pg0', 'pg2')));
    expect(subjectKey({ kind: 'nodes', nodes: ['pg1', 'pg0'] })).toBe(subjectKey({ kind: 'nodes', nodes: ['pg0', 'pg1'] }));
  });

  it('shows a kind from a newer engine by its kind, without throwing', () => {
    const future = { kind: 'shard', shard: 's1' } as unknown as Subject;
    expect(subjectLabel(future)).toBe('shard');
    expect(subjectNames(future)).toEqual([]);
    expect(subjectKey(future)).toContain('shard');
  });

  it('puts anomalies on the PostgreSQL node they are about', () => {
    expect(subjectNodes(subjects.edge('pg0', 'pg2')), "an edge's lag is its downstream's").toEqual(['pg2']);
    expect(subjectNodes({ kind: 'slot', node: 'pg1', slot: 's' })).toEqual(['pg1']);
    expect(subjectNodes(subjects.pool('pgb0', 'chat')), 'a pool is no PostgreSQL node').toEqual([]);
    const lag = anomaly('lag_over_threshold', subjects.edge('pg0', 'pg2'));
    const split = anomaly('split_brain', { kind: 'nodes', nodes: ['pg0', 'pg1'] }, { severity: 'critical' });
    const m = anomaliesByNode([lag, split]);
    expect(m.get('pg2')).toEqual([lag]);
    expect(m.get('pg0')).toEqual([split]);
    expect(m.get('pg1')).toEqual([split]);
  });

  it('colours a subject and its owners with the worst severity', () => {
    const m = healthBySubject([
      anomaly('pool_saturated', subjects.pool('pgb0', 'chat')),
      anomaly('pooler_unreachable', subjects.pooler('pgb1'), { severity: 'critical' }),
      anomaly('slot_retaining_wal', { kind: 'slot', node: 'pg1', slot: 's' }, { severity: 'critical' }),
      anomaly('cache_replica_link_down', { kind: 'cache_link', master: 'redis0', replica: 'redis1' }),
    ]);
    expect(healthOf(m, subjects.pool('pgb0', 'chat'))).toBe('warn');
    expect(healthOf(m, subjects.pooler('pgb0')), "a pool's pooler").toBe('warn');
    expect(healthOf(m, subjects.pooler('pgb1'))).toBe('crit');
    expect(healthOf(m, subjects.node('pg1')), "a slot's node").toBe('crit');
    expect(healthOf(m, subjects.cache('redis1')), "the replica of a broken link").toBe('warn');
    expect(healthOf(m, subjects.cache('redis0')), 'not its master').toBe('ok');
    expect(healthOf(m, subjects.node('pgb1')), 'a node named like a pooler is another subject').toBe('ok');
  });
});
