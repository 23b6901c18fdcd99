// Shaping Prometheus range answers for uPlot.
import type { RangeResult } from '../generated/RangeResult';

/** `decision=allowed, instance=…` (text only; never HTML). */
export function seriesLabel(labels: Record<string, string>, fallback: string): string {
  const ks = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort();
  if (ks.length === 0) return labels.__name__ ?? fallback;
  return ks.map((k) => `${k}=${labels[k]}`).join(', ');
}

/** Every series on the union of their timestamps, null where one has no point. */
export function alignRange(r: RangeResult): { x: number[]; ys: (number | null)[][] } {
  const times = new Set<number>();
  for (const s of r.series) for (const [t] of s.points) times.add(t);
  const x = [...times].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys = r.series.map((s) => {
    const y: (number | null)[] = new Array<number | null>(x.length).fill(null);
    for (const [t, v] of s.points) y[index.get(t)!] = v;
    return y;
  });
  return { x, ys };
}
