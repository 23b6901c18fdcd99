// The app's own history when Prometheus is absent (and for the numbers
// Prometheus does not have: pools, backends, cache INFO): one row per
// snapshot, one column per series, 24 h at 1 s. Columns are Float32Array
// chunks of an hour each, allocated as rows arrive, so memory follows uptime
// (≈14 KiB per series per hour) instead of reserving the full day up front,
// and no snapshot object is ever retained. Values are float32: charts need
// about seven significant digits, not more. A missing value is NaN.

/** A window of history shaped for uPlot: shared x (unix seconds), one y array per key, null = gap. */
export interface Window {
  x: number[];
  ys: (number | null)[][];
}

export class SeriesRing {
  readonly capacity: number;
  readonly chunkSize: number;
  private readonly times: (Float64Array | undefined)[] = [];
  private readonly cols = new Map<string, (Float32Array | undefined)[]>();
  /** Rows ever written; the ring holds the last min(written, capacity). */
  private written = 0;
  private lastTime = -Infinity;

  constructor(capacity = 24 * 3600, chunkSize = 3600) {
    if (capacity % chunkSize !== 0) throw new Error('capacity must be a whole number of chunks');
    this.capacity = capacity;
    this.chunkSize = chunkSize;
  }

  get length(): number {
    return Math.min(this.written, this.capacity);
  }

  get keys(): string[] {
    return [...this.cols.keys()];
  }

  /** Start a row at `t` (unix seconds); every column reads NaN in it until set. False when `t` is not newer than the last row. */
  beginRow(t: number): boolean {
    if (!(t > this.lastTime)) return false;
    const slot = this.written % this.capacity;
    const c = (slot / this.chunkSize) | 0;
    const o = slot % this.chunkSize;
    let tc = this.times[c];
    if (tc === undefined) {
      tc = new Float64Array(this.chunkSize);
      this.times[c] = tc;
    }
    tc[o] = t;
    for (const chunks of this.cols.values()) {
      const vc = chunks[c];
      if (vc !== undefined) vc[o] = NaN;
    }
    this.written++;
    this.lastTime = t;
    return true;
  }

  /** Set `key` in the current row. */
  set(key: string, v: number | null | undefined): void {
    if (this.written === 0) return;
    const slot = (this.written - 1) % this.capacity;
    const c = (slot / this.chunkSize) | 0;
    let chunks = this.cols.get(key);
    if (chunks === undefined) {
      chunks = [];
      this.cols.set(key, chunks);
    }
    let vc = chunks[c];
    if (vc === undefined) {
      vc = new Float32Array(this.chunkSize).fill(NaN);
      chunks[c] = vc;
    }
    vc[slot % this.chunkSize] = v === null || v === undefined ? NaN : v;
  }

  /** Logical row i (0 = oldest kept) → physical slot. */
  private slot(i: number): number {
    const start = this.written > this.capacity ? this.written % this.capacity : 0;
    return (start + i) % this.capacity;
  }

  timeAt(i: number): number {
    const s = this.slot(i);
    return this.times[(s / this.chunkSize) | 0]![s % this.chunkSize]!;
  }

  valueAt(key: string, i: number): number {
    const chunks = this.cols.get(key);
    if (chunks === undefined) return NaN;
    const s = this.slot(i);
    const vc = chunks[(s / this.chunkSize) | 0];
    return vc === undefined ? NaN : vc[s % this.chunkSize]!;
  }

  /** The newest value of `key`, NaN if none in the last row. */
  latest(key: string): number {
    return this.length === 0 ? NaN : this.valueAt(key, this.length - 1);
  }

  /** First logical row with time ≥ t. */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timeAt(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Rows with from ≤ t ≤ to for `keys`. Above `maxPoints` rows it keeps, per
   * bucket, each series' minimum and maximum in the order they occurred, so
   * spikes and dips survive the decimation.
   */
  window(keys: readonly string[], from: number, to: number, maxPoints = 1000): Window {
    const a = this.lowerBound(from);
    let b = this.lowerBound(to + 1e-9);
    if (b < a) b = a;
    const n = b - a;
    const cols = keys.map((k) => this.cols.get(k));
    const read = (ci: number, i: number): number => {
      const chunks = cols[ci];
      if (chunks === undefined) return NaN;
      const s = this.slot(i);
      const vc = chunks[(s / this.chunkSize) | 0];
      return vc === undefined ? NaN : vc[s % this.chunkSize]!;
    };
    const x: number[] = [];
    const ys: (number | null)[][] = keys.map(() => []);
    if (n <= maxPoints) {
      for (let i = a; i < b; i++) {
        x.push(this.timeAt(i));
        for (let k = 0; k < keys.length; k++) {
          const v = read(k, i);
          ys[k]!.push(Number.isNaN(v) ? null : v);
        }
      }
      return { x, ys };
    }
    const buckets = Math.max(1, Math.floor(maxPoints / 2));
    const per = n / buckets;
    for (let bi = 0; bi < buckets; bi++) {
      const s = a + Math.floor(bi * per);
      const e = Math.min(b, a + Math.floor((bi + 1) * per));
      if (e <= s) continue;
      const t0 = this.timeAt(s);
      const t1 = this.timeAt(e - 1);
      x.push(t0, t1 > t0 ? t0 + (t1 - t0) / 2 : t0 + 1e-3);
      for (let k = 0; k < keys.length; k++) {
        let mn = Infinity;
        let mx = -Infinity;
        let imn = -1;
        let imx = -1;
        for (let i = s; i < e; i++) {
          const v = read(k, i);
          if (Number.isNaN(v)) continue;
          if (v < mn) {
            mn = v;
            imn = i;
          }
          if (v > mx) {
            mx = v;
            imx = i;
          }
        }
        const y = ys[k]!;
        if (imn < 0) y.push(null, null);
        else if (imn <= imx) y.push(mn, mx);
        else y.push(mx, mn);
      }
    }
    return { x, ys };
  }

  /** Bytes held by typed arrays (for the diagnostics line and tests). */
  bytes(): number {
    let total = 0;
    for (const c of this.times) if (c) total += c.byteLength;
    for (const chunks of this.cols.values()) for (const c of chunks) if (c) total += c.byteLength;
    return total;
  }
}
