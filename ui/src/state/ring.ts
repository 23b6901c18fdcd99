// The app's own history when Prometheus is absent (and for the numbers
// Prometheus does not have: pools, backends, cache INFO): one row per
// snapshot, one column per series, 24 h at 1 s. Columns are Float32Array
// chunks of an hour each, allocated as rows arrive, so memory follows uptime
// (≈14 KiB per series per hour) instead of reserving the full day up front,
// and no snapshot object is ever retained. Values are float32: charts need
// about seven significant digits, not more. A missing value is NaN.
//
// Cost per snapshot is one write per value actually set: a column remembers
// the last row it was written in, rows it skipped are filled with NaN when it
// is next written, and reads past that row are NaN. Nothing walks every
// column on every row.

/** A window of history shaped for uPlot: shared x (unix seconds), one y array per key, null = gap. */
export interface Window {
  x: number[];
  ys: (number | null)[][];
}

/** One series. Get it once with `column(key)` and write through it. */
export interface Column {
  readonly key: string;
  chunks: (Float32Array | undefined)[];
  /** Absolute row last written (-1: never). */
  lastRow: number;
}

export class SeriesRing {
  readonly capacity: number;
  readonly chunkSize: number;
  private readonly times: (Float64Array | undefined)[] = [];
  private readonly cols = new Map<string, Column>();
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

  /** Absolute index of the oldest row kept. */
  private get first(): number {
    return this.written > this.capacity ? this.written - this.capacity : 0;
  }

  /** Start a row at `t` (unix seconds); every column reads NaN in it until set. False when `t` is not newer than the last row. */
  beginRow(t: number): boolean {
    if (!(t > this.lastTime)) return false;
    const slot = this.written % this.capacity;
    const c = (slot / this.chunkSize) | 0;
    let tc = this.times[c];
    if (tc === undefined) {
      tc = new Float64Array(this.chunkSize);
      this.times[c] = tc;
    }
    tc[slot % this.chunkSize] = t;
    this.written++;
    this.lastTime = t;
    return true;
  }

  column(key: string): Column {
    let col = this.cols.get(key);
    if (col === undefined) {
      col = { key, chunks: [], lastRow: -1 };
      this.cols.set(key, col);
    }
    return col;
  }

  private write(col: Column, row: number, v: number): void {
    const slot = row % this.capacity;
    const c = (slot / this.chunkSize) | 0;
    let vc = col.chunks[c];
    if (vc === undefined) {
      vc = new Float32Array(this.chunkSize).fill(NaN);
      col.chunks[c] = vc;
    }
    vc[slot % this.chunkSize] = v;
  }

  /** Set a column in the current row. */
  setCol(col: Column, v: number | null | undefined): void {
    const row = this.written - 1;
    if (row < 0 || col.lastRow >= row) {
      if (row >= 0 && col.lastRow === row) this.write(col, row, v === null || v === undefined ? NaN : v);
      return;
    }
    // Rows this column skipped (not set in those snapshots) become gaps; at
    // most one lap back, older rows are gone anyway. A new column's chunks
    // start as NaN, so it has nothing to fill.
    if (col.lastRow >= 0) {
      for (let r = Math.max(col.lastRow + 1, row - this.capacity + 1); r < row; r++) this.write(col, r, NaN);
    }
    this.write(col, row, v === null || v === undefined ? NaN : v);
    col.lastRow = row;
  }

  /** Set `key` in the current row. */
  set(key: string, v: number | null | undefined): void {
    this.setCol(this.column(key), v);
  }

  private read(col: Column | undefined, abs: number): number {
    if (col === undefined || abs > col.lastRow) return NaN;
    const slot = abs % this.capacity;
    const vc = col.chunks[(slot / this.chunkSize) | 0];
    return vc === undefined ? NaN : vc[slot % this.chunkSize]!;
  }

  timeAt(i: number): number {
    const slot = (this.first + i) % this.capacity;
    return this.times[(slot / this.chunkSize) | 0]![slot % this.chunkSize]!;
  }

  valueAt(key: string, i: number): number {
    return this.read(this.cols.get(key), this.first + i);
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

  /** First logical row with time > t. */
  upperBound(t: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timeAt(mid) <= t) lo = mid + 1;
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
    const b = Math.max(a, this.upperBound(to));
    const n = b - a;
    const first = this.first;
    const cols = keys.map((k) => this.cols.get(k));
    const x: number[] = [];
    const ys: (number | null)[][] = keys.map(() => []);
    if (n === 0) return { x, ys };
    const times = this.readTimes(first + a, n);
    if (n <= maxPoints) {
      for (let i = 0; i < n; i++) x.push(times[i]!);
      for (let k = 0; k < keys.length; k++) {
        const vals = this.readColumn(cols[k], first + a, n);
        const y = ys[k]!;
        for (let i = 0; i < n; i++) {
          const v = vals[i]!;
          y.push(v !== v ? null : v);
        }
      }
      return { x, ys };
    }
    const buckets = Math.max(1, Math.floor(maxPoints / 2));
    const per = n / buckets;
    const bounds: [number, number][] = [];
    for (let bi = 0; bi < buckets; bi++) {
      const s = Math.floor(bi * per);
      const e = Math.min(n, Math.floor((bi + 1) * per));
      if (e <= s) continue;
      bounds.push([s, e]);
      const t0 = times[s]!;
      const t1 = times[e - 1]!;
      x.push(t0, t1 > t0 ? t0 + (t1 - t0) / 2 : t0 + 1e-3);
    }
    for (let k = 0; k < keys.length; k++) {
      const vals = this.readColumn(cols[k], first + a, n);
      const y = ys[k]!;
      for (const [s, e] of bounds) {
        let mn = Infinity;
        let mx = -Infinity;
        let imn = -1;
        let imx = -1;
        for (let i = s; i < e; i++) {
          const v = vals[i]!;
          if (v !== v) continue;
          if (v < mn) {
            mn = v;
            imn = i;
          }
          if (v > mx) {
            mx = v;
            imx = i;
          }
        }
        if (imn < 0) y.push(null, null);
        else if (imn <= imx) y.push(mn, mx);
        else y.push(mx, mn);
      }
    }
    return { x, ys };
  }

  // Scratch buffers reused by window(): a chart update allocates only its output.
  private scratchT = new Float64Array(0);
  private scratchV = new Float32Array(0);

  /** `n` row times from absolute row `abs`, copied chunk by chunk (a reused buffer). */
  private readTimes(abs: number, n: number): Float64Array {
    if (this.scratchT.length < n) this.scratchT = new Float64Array(Math.max(n, this.scratchT.length * 2));
    const out = this.scratchT;
    let i = 0;
    while (i < n) {
      const slot = (abs + i) % this.capacity;
      const c = (slot / this.chunkSize) | 0;
      const o = slot % this.chunkSize;
      const len = Math.min(n - i, this.chunkSize - o);
      out.set(this.times[c]!.subarray(o, o + len), i);
      i += len;
    }
    return out;
  }

  /** `n` values of a column from absolute row `abs` (NaN where unset), copied chunk by chunk (a reused buffer). */
  private readColumn(col: Column | undefined, abs: number, n: number): Float32Array {
    if (this.scratchV.length < n) this.scratchV = new Float32Array(Math.max(n, this.scratchV.length * 2));
    const out = this.scratchV;
    out.fill(NaN, 0, n);
    if (col === undefined) return out;
    const valid = Math.min(n, col.lastRow - abs + 1);
    let i = 0;
    while (i < valid) {
      const slot = (abs + i) % this.capacity;
      const c = (slot / this.chunkSize) | 0;
      const o = slot % this.chunkSize;
      const len = Math.min(valid - i, this.chunkSize - o);
      const vc = col.chunks[c];
      if (vc !== undefined) out.set(vc.subarray(o, o + len), i);
      i += len;
    }
    return out;
  }

  /** Bytes held by typed arrays (for the diagnostics line and tests). */
  bytes(): number {
    let total = 0;
    for (const c of this.times) if (c) total += c.byteLength;
    for (const col of this.cols.values()) for (const c of col.chunks) if (c) total += c.byteLength;
    return total;
  }
}
