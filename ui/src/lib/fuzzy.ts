// Fuzzy matching for the command palette: the query's characters must appear
// in order (case-insensitive); contiguous runs, matches at word starts and at
// the very start score higher, an exact label or token wins outright, and a
// match that stops inside a number loses, so "pg1" ranks pg1 above pg12.

export interface FuzzyMatch {
  score: number;
  /** Indices of the matched characters in the label (for highlighting as text spans). */
  positions: number[];
}

const SEPARATOR = /[\s/_\-.:>→]/;

const isBoundary = (label: string, i: number): boolean => {
  if (i === 0) return true;
  const prev = label[i - 1]!;
  const cur = label[i]!;
  if (SEPARATOR.test(prev)) return true;
  if (/[a-z]/.test(prev) && /[A-Z]/.test(cur)) return true;
  if (/[^0-9]/.test(prev) && /[0-9]/.test(cur)) return true;
  return false;
};

/** One left-to-right pass from `start`; `prefer` jumps to contiguous/boundary occurrences when it can. */
function pass(q: string, label: string, l: string, start: number, prefer: boolean): FuzzyMatch | null {
  const positions: number[] = [];
  let score = 0;
  let li = start;
  let prev = -2;
  for (let qi = 0; qi < q.length; qi++) {
    const ch = q[qi]!;
    let found = -1;
    for (let j = li; j < l.length; j++) {
      if (l[j] !== ch) continue;
      if (found === -1) found = j;
      if (!prefer || j === prev + 1 || isBoundary(label, j)) {
        found = j;
        break;
      }
    }
    if (found === -1) return null;
    score += 1;
    if (found === prev + 1) score += 5;
    if (isBoundary(label, found)) score += 4;
    if (found === 0) score += 6;
    if (prev >= 0) score -= Math.min(3, found - prev - 1) * 0.5;
    positions.push(found);
    prev = found;
    li = found + 1;
  }
  return { score, positions };
}

/** Score `label` against `query`; null when the characters do not all appear in order. */
export function fuzzyMatch(query: string, label: string): FuzzyMatch | null {
  const q = query.toLowerCase().replace(/\s+/g, '');
  if (q === '') return { score: 0, positions: [] };
  const l = label.toLowerCase();
  let best: FuzzyMatch | null = null;
  for (let start = l.indexOf(q[0]!); start !== -1; start = l.indexOf(q[0]!, start + 1)) {
    const m = pass(q, label, l, start, true) ?? pass(q, label, l, start, false);
    if (m === null) break; // a later start has even fewer characters left
    if (best === null || m.score > best.score) best = m;
  }
  if (best === null) return null;
  let score = best.score;
  if (l === q) score += 20;
  else if (l.split(SEPARATOR).includes(q)) score += 10;
  const last = best.positions[best.positions.length - 1]!;
  if (/[0-9]/.test(l[last]!) && /[0-9]/.test(l[last + 1] ?? '')) score -= 8;
  score -= label.length * 0.05;
  return { score, positions: best.positions };
}

export interface Ranked<T> {
  item: T;
  match: FuzzyMatch;
}

/** Items whose label matches, best first (ties keep the input order). */
export function fuzzyRank<T>(query: string, items: readonly T[], label: (t: T) => string, limit = 50): Ranked<T>[] {
  const out: (Ranked<T> & { i: number })[] = [];
  items.forEach((item, i) => {
    const match = fuzzyMatch(query, label(item));
    if (match !== null) out.push({ item, match, i });
  });
  out.sort((a, b) => b.match.score - a.match.score || a.i - b.i);
  return out.slice(0, limit).map(({ item, match }) => ({ item, match }));
}
