// Replication tree layout: tiers as columns (primary on the left), each node
// one row. Leaves take consecutive rows in depth-first order and a parent
// sits at the middle of its children, so no two nodes share a row within a
// column and no edge crosses another (a classic tidy tree, left to right).
// A fleet of 1 + 48 in three tiers is as tall as its leaves (≈ 30 rows) and
// four columns wide, which fits a screen where 48 boxes in a row would not.
// Nodes whose upstream is unknown (unreachable, or no primary in sight) are
// roots of their own, listed below the tree: one per row, or (war room,
// `looseColumns`) several to a row, so a fleet whose every probe timed out is
// a grid of boxes large enough to read rather than a 49-row column.
import type { Role } from '../generated/Role';

export interface TreeNodeInput {
  name: string;
  upstream: string | null;
  /** A fenced former primary is a root of its own, never placed as a primary. */
  role: Role;
}

export interface PlacedNode {
  name: string;
  parent: string | null;
  depth: number;
  /** Top-left corner and size, in layout units (SVG user units). */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface TreeLayout {
  nodes: PlacedNode[];
  byName: Map<string, PlacedNode>;
  /** Children in layout order (for keyboard navigation). */
  children: Map<string, string[]>;
  /** Depth-first order: what Up/Down walk through. */
  order: string[];
  width: number;
  height: number;
  columns: number;
}

export interface TreeOptions {
  nodeW: number;
  nodeH: number;
  colGap: number;
  rowGap: number;
  padX: number;
  padTop: number;
  padBottom: number;
  /** Lay loose nodes (no known upstream, no downstream) out this many to a row (at least as many as the tree has columns); one per row when unset. */
  looseColumns?: number;
}

export const COMPACT: TreeOptions = { nodeW: 96, nodeH: 18, colGap: 92, rowGap: 5, padX: 8, padTop: 20, padBottom: 6 };
export const ROOMY: TreeOptions = { nodeW: 168, nodeH: 42, colGap: 120, rowGap: 10, padX: 12, padTop: 28, padBottom: 12 };
/**
 * War-room boxes: one line each, the text as large as the row pitch allows
 * (names 17 units in a 22-unit pitch, against 11 in 23 for COMPACT), no tier
 * captions, and a column gap that fits a short lag label ("4.5K 0s") at
 * 16 units. The lab's 24 leaf rows then fill a 1080p panel with ~28 px names.
 */
export const KIOSK: TreeOptions = { nodeW: 116, nodeH: 20, colGap: 88, rowGap: 2, padX: 6, padTop: 9, padBottom: 4, looseColumns: 4 };
/** The same for a tree that has the whole screen's width (Topology): wide enough for the status word and connections. */
export const KIOSK_WIDE: TreeOptions = { ...KIOSK, nodeW: 210 };

export function layoutTree(input: readonly TreeNodeInput[], o: TreeOptions = COMPACT): TreeLayout {
  const names = new Set(input.map((n) => n.name));
  const parentOf = new Map<string, string | null>();
  for (const n of input) {
    parentOf.set(n.name, n.upstream !== null && n.upstream !== n.name && names.has(n.upstream) ? n.upstream : null);
  }
  const children = new Map<string, string[]>();
  for (const n of input) children.set(n.name, []);
  for (const n of input) {
    const p = parentOf.get(n.name);
    if (p) children.get(p)!.push(n.name);
  }
  const roleOf = new Map(input.map((n) => [n.name, n.role]));
  const rank = (name: string): number => {
    if (roleOf.get(name) === 'primary') return 0;
    if (children.get(name)!.length > 0) return 1;
    return 2;
  };
  const stableRoots = (list: string[]) =>
    list
      .map((name, i) => ({ name, i }))
      .sort((a, b) => rank(a.name) - rank(b.name) || a.i - b.i)
      .map((r) => r.name);
  let roots = stableRoots(input.filter((n) => parentOf.get(n.name) === null).map((n) => n.name));

  const slotY = new Map<string, number>();
  const depthOf = new Map<string, number>();
  const order: string[] = [];
  const placedParent = new Map<string, string | null>();
  let slot = 0;
  const visit = (name: string, depth: number, parent: string | null): void => {
    if (depthOf.has(name)) return; // a cycle (never in a sane fleet) is cut here
    depthOf.set(name, depth);
    placedParent.set(name, parent);
    order.push(name);
    const kids = children.get(name)!.filter((k) => !depthOf.has(k));
    if (kids.length === 0) {
      slotY.set(name, slot++);
      return;
    }
    for (const k of kids) visit(k, depth + 1, name);
    const placed = kids.filter((k) => placedParent.get(k) === name);
    slotY.set(name, (slotY.get(placed[0]!)! + slotY.get(placed[placed.length - 1]!)!) / 2);
  };
  let lastWasTree = false;
  const loose: string[] = [];
  const placeRoots = (rs: string[]) => {
    for (const r of rs) {
      const isTree = children.get(r)!.length > 0 || roleOf.get(r) === 'primary';
      if (!isTree && o.looseColumns !== undefined) {
        loose.push(r);
        continue;
      }
      // Half a row between the tree(s) and the loose nodes below them.
      if (lastWasTree && !isTree) slot += 0.5;
      lastWasTree = isTree;
      visit(r, 0, null);
    }
  };
  placeRoots(roots);
  // Anything left is on a cycle: make its first member a root.
  for (;;) {
    const rest = input.filter((n) => !depthOf.has(n.name) && !loose.includes(n.name)).map((n) => n.name);
    if (rest.length === 0) break;
    roots = [rest[0]!];
    placeRoots(roots);
  }
  // The loose grid: rows of `per` below everything else, in listing order.
  const gridCol = new Map<string, number>();
  if (loose.length > 0) {
    const treeColumns = [...depthOf.values()].reduce((m, d) => Math.max(m, d + 1), 0);
    const per = Math.max(1, o.looseColumns ?? 1, treeColumns);
    if (slot > 0) slot += 0.5;
    const top = slot;
    loose.forEach((name, i) => {
      depthOf.set(name, 0);
      placedParent.set(name, null);
      order.push(name);
      gridCol.set(name, i % per);
      slotY.set(name, top + Math.floor(i / per));
    });
    slot = top + Math.ceil(loose.length / per);
  }

  const pitch = o.nodeH + o.rowGap;
  const nodes: PlacedNode[] = input.map((n) => {
    const depth = depthOf.get(n.name)!;
    return {
      name: n.name,
      parent: placedParent.get(n.name) ?? null,
      depth,
      x: o.padX + (gridCol.get(n.name) ?? depth) * (o.nodeW + o.colGap),
      y: o.padTop + slotY.get(n.name)! * pitch,
      w: o.nodeW,
      h: o.nodeH,
    };
  });
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const columns = nodes.reduce((m, n) => Math.max(m, (gridCol.get(n.name) ?? n.depth) + 1), 0);
  const placedChildren = new Map<string, string[]>();
  for (const name of order) placedChildren.set(name, []);
  for (const name of order) {
    const p = placedParent.get(name);
    if (p) placedChildren.get(p)!.push(name);
  }
  return {
    nodes,
    byName,
    children: placedChildren,
    order,
    columns,
    width: o.padX * 2 + columns * o.nodeW + Math.max(0, columns - 1) * o.colGap,
    height: o.padTop + Math.max(1, slot) * pitch - o.rowGap + o.padBottom,
  };
}

/** A smooth edge from the parent's right side to the child's left side. */
export function edgePath(from: PlacedNode, to: PlacedNode): string {
  const x1 = from.x + from.w;
  const y1 = from.y + from.h / 2;
  const x2 = to.x;
  const y2 = to.y + to.h / 2;
  const mx = (x1 + x2) / 2;
  return `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
}

/** True when two placed nodes' boxes intersect (used by tests and a debug assert). */
export function overlaps(a: PlacedNode, b: PlacedNode): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}
