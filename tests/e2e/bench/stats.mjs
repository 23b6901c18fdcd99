// Small statistics for the benchmarks.

/** The q-quantile (0..1) of `values` by nearest rank. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const median = (v) => quantile(v, 0.5);

/** Rounds to `d` decimals for printing. */
export const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
