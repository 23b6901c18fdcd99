import { describe, expect, it } from 'vitest';
import { fuzzyMatch, fuzzyRank } from '../src/lib/fuzzy';
import { healthySnapshot } from './helpers';

const s = healthySnapshot();
const labels = [
  'Overview',
  'Topology',
  'Pools',
  'Queries',
  'Cache',
  'AI',
  ...s.nodes.map((n) => n.name),
  ...s.pools.map((p) => `${p.name}/${p.database}`),
  ...s.caches.map((c) => c.name),
];
const top = (q: string, n = 1) => fuzzyRank(q, labels, (x) => x).slice(0, n).map((r) => r.item);

describe('palette fuzzy matching', () => {
  it('needs every character, in order', () => {
    expect(fuzzyMatch('pg12', 'pg12')).not.toBeNull();
    expect(fuzzyMatch('p12', 'pg12')).not.toBeNull();
    expect(fuzzyMatch('21pg', 'pg12')).toBeNull();
    expect(fuzzyMatch('x', 'pg12')).toBeNull();
  });

  it('puts the exact node first, not a longer name that contains it', () => {
    expect(top('pg1')).toEqual(['pg1']);
    expect(top('pg12')).toEqual(['pg12']);
    expect(top('pg4')).toEqual(['pg4']);
  });

  it('finds a node from a sloppy query', () => {
    expect(top('p20')).toEqual(['pg20']);
    expect(top('PG20')).toEqual(['pg20']);
  });

  it('matches views by prefix or initials', () => {
    expect(top('topo')).toEqual(['Topology']);
    expect(top('ov')).toEqual(['Overview']);
    expect(top('cach')).toEqual(['Cache']);
  });

  it('finds pools and caches', () => {
    expect(top('pgb0')).toEqual(['pgb0/chat']);
    expect(top('pgb3/chat')).toEqual(['pgb3/chat']);
    expect(top('redis1')).toEqual(['redis1']);
  });

  it('returns everything in input order for an empty query', () => {
    expect(fuzzyRank('', labels, (x) => x, 1000).map((r) => r.item)).toEqual(labels);
  });

  it('reports matched positions for highlighting', () => {
    expect(fuzzyMatch('pg2', 'pg20')!.positions).toEqual([0, 1, 2]);
  });
});
