import { describe, expect, it } from 'vitest';
import { COMPACT, KIOSK, KIOSK_WIDE, ROOMY, layoutTree, overlaps, type TreeNodeInput } from '../src/lib/tree';
import { healthySnapshot, unreachableSnapshot } from './helpers';

const inputOf = (nodes: { name: string; upstream: string | null; role: TreeNodeInput['role'] }[]) =>
  nodes.map(({ name, upstream, role }) => ({ name, upstream, role }));

function assertNoOverlap(l: ReturnType<typeof layoutTree>) {
  for (let i = 0; i < l.nodes.length; i++)
    for (let j = i + 1; j < l.nodes.length; j++)
      expect(overlaps(l.nodes[i]!, l.nodes[j]!), `${l.nodes[i]!.name} and ${l.nodes[j]!.name} overlap`).toBe(false);
}

describe('replication tree layout', () => {
  const s = healthySnapshot();

  it.each([
    ['compact', COMPACT],
    ['roomy', ROOMY],
    ['kiosk', KIOSK],
    ['kiosk-wide', KIOSK_WIDE],
  ])('places the lab 1 + 48 (8/16/24 in three tiers) without overlap (%s)', (_n, opts) => {
    const l = layoutTree(inputOf(s.nodes), opts);
    expect(l.nodes).toHaveLength(49);
    assertNoOverlap(l);
    expect(l.columns).toBe(4);
    for (const n of l.nodes) {
      expect(n.x + n.w).toBeLessThanOrEqual(l.width);
      expect(n.y + n.h).toBeLessThanOrEqual(l.height);
    }
  });

  it('draws tiers as columns: every node one column right of its upstream, at the tier the backend discovered', () => {
    const l = layoutTree(inputOf(s.nodes));
    for (const n of s.nodes) {
      const p = l.byName.get(n.name)!;
      expect(p.depth, n.name).toBe(n.tier);
      if (n.upstream) expect(p.x).toBeGreaterThan(l.byName.get(n.upstream)!.x);
    }
  });

  it('keeps a parent within the vertical span of its children (edges do not cross)', () => {
    const l = layoutTree(inputOf(s.nodes));
    for (const [parent, kids] of l.children) {
      if (kids.length === 0) continue;
      const ys = kids.map((k) => l.byName.get(k)!.y);
      const py = l.byName.get(parent)!.y;
      expect(py).toBeGreaterThanOrEqual(Math.min(...ys));
      expect(py).toBeLessThanOrEqual(Math.max(...ys));
    }
  });

  it('survives a flat fleet of 1 + 48 direct replicas', () => {
    const nodes = [{ name: 'p', upstream: null, role: 'primary' as const }, ...Array.from({ length: 48 }, (_, i) => ({ name: `r${i}`, upstream: 'p', role: 'replica' as const }))];
    const l = layoutTree(nodes);
    assertNoOverlap(l);
    expect(l.columns).toBe(2);
  });

  it('lists nodes with no known upstream (unreachable) as roots below the tree', () => {
    const nodes = inputOf(s.nodes);
    const pg48 = nodes.find((n) => n.name === 'pg48')!;
    pg48.upstream = null;
    pg48.role = 'unknown';
    const l = layoutTree(nodes);
    assertNoOverlap(l);
    const p = l.byName.get('pg48')!;
    expect(p.depth).toBe(0);
    expect(p.y, 'below the primary tree').toBeGreaterThan(Math.max(...l.nodes.filter((n) => n.name !== 'pg48').map((n) => n.y)));
  });

  it('shows both primaries of a split brain as roots', () => {
    const l = layoutTree([
      { name: 'a', upstream: null, role: 'primary' },
      { name: 'b', upstream: null, role: 'primary' },
      { name: 'c', upstream: 'a', role: 'replica' },
    ]);
    expect(l.byName.get('a')!.depth).toBe(0);
    expect(l.byName.get('b')!.depth).toBe(0);
    assertNoOverlap(l);
  });

  it('war room: a fleet whose every probe timed out is a grid of four to a row, not a 49-row column', () => {
    const nodes = inputOf(unreachableSnapshot().nodes);
    const desk = layoutTree(nodes, COMPACT);
    expect(new Set(desk.nodes.map((n) => n.y)).size, 'at a desk: one per row').toBe(49);
    const l = layoutTree(nodes, KIOSK);
    assertNoOverlap(l);
    expect(l.columns).toBe(4);
    expect(new Set(l.nodes.map((n) => n.y)).size, '49 in rows of 4').toBe(13);
    expect(l.order, 'Up/Down still walk every node, in fleet order').toEqual(nodes.map((n) => n.name));
    const aspect = l.width / l.height;
    expect(aspect, 'closer to a screen than to a column').toBeGreaterThan(1);
  });

  it('war room: loose nodes go below the tree, as many to a row as the tree has columns', () => {
    const nodes = inputOf(s.nodes);
    for (const name of ['pg46', 'pg47', 'pg48']) Object.assign(nodes.find((n) => n.name === name)!, { upstream: null, role: 'unknown' });
    const l = layoutTree(nodes, KIOSK);
    assertNoOverlap(l);
    const treeBottom = Math.max(...l.nodes.filter((n) => !['pg46', 'pg47', 'pg48'].includes(n.name)).map((n) => n.y + n.h));
    const loose = ['pg46', 'pg47', 'pg48'].map((n) => l.byName.get(n)!);
    expect(loose.every((p) => p.y > treeBottom)).toBe(true);
    expect(new Set(loose.map((p) => p.y)).size, 'one row').toBe(1);
    expect(loose.map((p) => p.x)).toEqual([0, 1, 2].map((c) => KIOSK.padX + c * (KIOSK.nodeW + KIOSK.colGap)));
  });

  it('does not loop on an upstream cycle', () => {
    const l = layoutTree([
      { name: 'a', upstream: 'b', role: 'replica' },
      { name: 'b', upstream: 'a', role: 'replica' },
    ]);
    expect(l.nodes).toHaveLength(2);
    assertNoOverlap(l);
  });
});
