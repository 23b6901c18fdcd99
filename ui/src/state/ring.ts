// The app's own history when Prometheus is absent (and for the numbers
// Prometheus does not have: pools, backends, cache INFO): one row per
// snapshot, one column per series, kept in two tiers so memory is bounded and
// small however long the app runs (a war-room display runs for days).
//
// - Full resolution: the last `fineRows` rows (default 4200: an hour at 1 s
//   plus ten minutes), so the 5 m / 15 m / 1 h charts draw exactly the rows
//   they always did and never reach the coarse tier.
// - Downsampled: per `bucketSeconds` (default 60 s, aligned to the epoch) the
//   minimum and maximum of each series, for `buckets` buckets (default 1500:
//   25 h). A 6 h chart is ~360 buckets (~720 points) and a 24 h chart ~1440,
//   both at or above the 600 points a chart draws, and a one-second spike or
//   dip survives as its bucket's max or min.
//
// Memory per series, once full: 4200 × 4 B + 1500 × 2 × 4 B = 28,800 B
// (16,800 B after the first hour: 14,400 B of rows plus one 2,400 B bucket
// chunk). For ~1200 series (the 48-replica lab) that is ≈ 35 MB after 24 h,
// and it stays there; a single 24 h tier at 1 s was 345,600 B per series,
// ≈ 415 MB. Shared row and bucket times add 57.6 KB in all. Both tiers are
// allocated in chunks as rows arrive (600 rows, 300 buckets), and no snapshot
// object is ever retained. Values are float32: charts need about seven
// significant digits, not more. A missing value is NaN.
//
// The tiers are counted in rows and occupied buckets, not wall time: with a
// probe interval well under 1 s the full-resolution tier spans less than an
// hour (older rows are then drawn from buckets), and time the app was not
// recording (a suspended laptop) takes no room in either.
//
// Cost per snapshot is one row write and one bucket update per value actually
// set: a column remembers the last row and bucket it was written in, rows and
// buckets it skipped are filled with NaN when it is next written, and reads
// past them are NaN. Nothing walks every column on every row. A gap shorter
// than a bucket is only visible in the full-resolution tier: a bucket keeps
// the min and max of the values that were set in it.

/** A window of history shaped for uPlot: shared x (unix seconds), one y array per key, null = gap. */
export interface Window {
  x: number[];
  ys: (number | null)[][];
}

/** One series. Get it once with `column(key)` and write through it. */
export interface Column {
  readonly key: string;
  /** Full-resolution values, `chunkSize` rows per array. */
  chunks: (Float32Array | undefined)[];
  /** Absolute row last written (-1: never). */
  lastRow: number;
  /** Downsampled values, `bucketChunk` buckets per array, interleaved [min, max]. */
  buckets: (Float32Array | undefined)[];
  /** Absolute bucket last written (-1: never). */
  lastBucket: number;
}

/** Sizes of the two tiers; the defaults are the app's. */
export interface RingOptions {
  /** Rows kept at full resolution. Default 4200 (an hour at 1 s plus ten minutes). */
  fineRows?: number;
  /** Rows per full-resolution allocation; divides `fineRows`. Default 600. */
  chunkSize?: number;
  /** Seconds per downsampled bucket, aligned to the unix epoch. Default 60. */
  bucketSeconds?: number;
  /** Buckets kept. Default 1500 (25 h at 60 s, so a 24 h chart is covered). */
  buckets?: number;
  /** Buckets per allocation; divides `buckets`. Default 300. */
  bucketChunk?: number;
}

const DEFAULTS: Required<RingOptions> = {
  fineRows: 4200,
  chunkSize: 600,
  bucketSeconds: 60,
  buckets: 1500,
  bucketChunk: 300,
};

export class SeriesRing {
  /** What this ring was built with (a cleared history is rebuilt from it). */
  readonly options: Readonly<Required<RingOptions>>;
  /** Rows kept at full resolution. */
  readonly capacity: number;
  readonly chunkSize: number;
  readonly bucketSeconds: number;
  private readonly bucketCap: number;
  private readonly bucketChunk: number;

  private readonly times: (Float64Array | undefined)[] = [];
  private readonly cols = new Map<string, Column>();
  /** Rows ever written; the full-resolution tier holds the last min(written, capacity). */
  private written = 0;
  private lastTime = -Infinity;

  /** Per bucket [first row time, last row time], `bucketChunk` buckets per array. */
  private readonly bucketTimes: (Float64Array | undefined)[] = [];
  /** Buckets ever opened; the coarse tier holds the last min(bucketsWritten, bucketCap). */
  private bucketsWritten = 0;
  /** Epoch bucket number, floor(t / bucketSeconds), of the newest bucket. */
  private bucketNo = -Infinity;

  constructor(options: RingOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    if (o.fineRows % o.chunkSize !== 0) throw new Error('fineRows must be a whole number of chunks');
    if (o.buckets % o.bucketChunk !== 0) throw new Error('buckets must be a whole number of chunks');
    if (!(o.bucketSeconds > 0)) throw new Error('bucketSeconds must be positive');
    this.options = Object.freeze(o);
    this.capacity = o.fineRows;
    this.chunkSize = o.chunkSize;
    this.bucketSeconds = o.bucketSeconds;
    this.bucketCap = o.buckets;
    this.bucketChunk = o.bucketChunk;
  }

  /** Rows held at full resolution (`timeAt`, `valueAt` and the bounds index these). */
  get length(): number {
    return Math.min(this.written, this.capacity);
  }

  get keys(): string[] {
    return [...this.cols.keys()];
  }

  /** Absolute index of the oldest full-resolution row kept. */
  private get first(): number {
    return this.written > this.capacity ? this.written - this.capacity : 0;
  }

  /** Absolute index of the oldest bucket kept. */
  private get bucketFirst(): number {
    return this.bucketsWritten > this.bucketCap ? this.bucketsWritten - this.bucketCap : 0;
  }

  private get bucketLength(): number {
    return Math.min(this.bucketsWritten, this.bucketCap);
  }

  /** Start a row at `t` (unix seconds); every column reads NaN in it until set. False when `t` is not newer than the last row. */
  beginRow(t: number): boolean {
    if (!(t > this.lastTime) || !Number.isFinite(t)) return false;
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

    const no = Math.floor(t / this.bucketSeconds);
    if (no !== this.bucketNo) {
      const bslot = this.bucketsWritten % this.bucketCap;
      const bc = (bslot / this.bucketChunk) | 0;
      let bt = this.bucketTimes[bc];
      if (bt === undefined) {
        bt = new Float64Array(2 * this.bucketChunk);
        this.bucketTimes[bc] = bt;
      }
      const o = 2 * (bslot % this.bucketChunk);
      bt[o] = t;
      bt[o + 1] = t;
      this.bucketsWritten++;
      this.bucketNo = no;
    } else {
      const bslot = (this.bucketsWritten - 1) % this.bucketCap;
      this.bucketTimes[(bslot / this.bucketChunk) | 0]![2 * (bslot % this.bucketChunk) + 1] = t;
    }
    return true;
  }

  column(key: string): Column {
    let col = this.cols.get(key);
    if (col === undefined) {
      col = { key, chunks: [], lastRow: -1, buckets: [], lastBucket: -1 };
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

  private writeBucket(col: Column, bucket: number, lo: number, hi: number): void {
    const slot = bucket % this.bucketCap;
    const c = (slot / this.bucketChunk) | 0;
    let bc = col.buckets[c];
    if (bc === undefined) {
      bc = new Float32Array(2 * this.bucketChunk).fill(NaN);
      col.buckets[c] = bc;
    }
    const o = 2 * (slot % this.bucketChunk);
    bc[o] = lo;
    bc[o + 1] = hi;
  }

  /** Fold `v` into the column's newest bucket. */
  private fold(col: Column, v: number): void {
    const bucket = this.bucketsWritten - 1;
    if (col.lastBucket < bucket) {
      // Buckets this column skipped become gaps, as rows do below.
      if (col.lastBucket >= 0) {
        for (let b = Math.max(col.lastBucket + 1, bucket - this.bucketCap + 1); b < bucket; b++) this.writeBucket(col, b, NaN, NaN);
      }
      this.writeBucket(col, bucket, v, v);
      col.lastBucket = bucket;
      return;
    }
    if (v !== v) return;
    const slot = bucket % this.bucketCap;
    const bc = col.buckets[(slot / this.bucketChunk) | 0]!;
    const o = 2 * (slot % this.bucketChunk);
    const lo = bc[o]!;
    if (lo !== lo) {
      bc[o] = v;
      bc[o + 1] = v;
    } else {
      if (v < lo) bc[o] = v;
      if (v > bc[o + 1]!) bc[o + 1] = v;
    }
  }

  /** Set a column in the current row. */
  setCol(col: Column, v: number | null | undefined): void {
    const row = this.written - 1;
    if (row < 0 || col.lastRow > row) return;
    const x = v === null || v === undefined ? NaN : v;
    if (col.lastRow === row) {
      // Set twice in one row: the row keeps the last value, its bucket both.
      this.write(col, row, x);
      this.fold(col, x);
      return;
    }
    // Rows this column skipped (not set in those snapshots) become gaps; at
    // most one lap back, older rows are gone anyway. A new column's chunks
    // start as NaN, so it has nothing to fill.
    if (col.lastRow >= 0) {
      for (let r = Math.max(col.lastRow + 1, row - this.capacity + 1); r < row; r++) this.write(col, r, NaN);
    }
    this.write(col, row, x);
    col.lastRow = row;
    this.fold(col, x);
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

  /** Time of the first row in logical bucket `i`. */
  private bucketTimeAt(i: number): number {
    const slot = (this.bucketFirst + i) % this.bucketCap;
    return this.bucketTimes[(slot / this.bucketChunk) | 0]![2 * (slot % this.bucketChunk)]!;
  }

  /** First logical bucket whose first row is at ≥ t (`strict`: > t). */
  private bucketBound(t: number, strict: boolean): number {
    let lo = 0;
    let hi = this.bucketLength;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const bt = this.bucketTimeAt(mid);
      if (bt < t || (strict && bt === t)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * From this time on the full-resolution tier holds every row: the start of
   * the first bucket none of whose rows were dropped. -Infinity while nothing
   * was dropped.
   */
  private fineFrom(): number {
    return Math.ceil(this.timeAt(0) / this.bucketSeconds) * this.bucketSeconds;
  }

  /**
   * Rows with from ≤ t ≤ to for `keys`. Above `maxPoints` rows it keeps, per
   * slice, each series' minimum and maximum in the order they occurred, so
   * spikes and dips survive the decimation. A window that starts before the
   * full-resolution tier is drawn from buckets up to it, then from rows.
   */
  window(keys: readonly string[], from: number, to: number, maxPoints = 1000): Window {
    // Nothing dropped yet, or the window starts at a row still held: rows only,
    // exactly as a single 1 s tier would draw them.
    if (this.written <= this.capacity || from >= this.timeAt(0)) return this.fineWindow(keys, from, to, maxPoints);
    return this.mixedWindow(keys, from, to, maxPoints, this.fineFrom());
  }

  /** A window wholly in the full-resolution tier: rows as they are, or sliced by row count. */
  private fineWindow(keys: readonly string[], from: number, to: number, maxPoints: number): Window {
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
      pushX(x, times[s]!, times[e - 1]!);
    }
    for (let k = 0; k < keys.length; k++) {
      const vals = this.readColumn(cols[k], first + a, n);
      const y = ys[k]!;
      for (const [s, e] of bounds) {
        const m = new Extremes();
        m.rows(vals, s, e, 0);
        m.push(y);
      }
    }
    return { x, ys };
  }

  /**
   * A window reaching back before `fineFrom`: buckets starting in
   * [from, fineFrom), then rows in [fineFrom, to], cut into
   * floor(maxPoints / 2) equal slices of time (buckets and rows are not the
   * same length, so slicing by count would crowd the last hour). Each slice
   * is the min and max of what falls in it.
   */
  private mixedWindow(keys: readonly string[], from: number, to: number, maxPoints: number, fineFrom: number): Window {
    const ca = this.bucketBound(from, false);
    const cb = Math.max(ca, Math.min(this.bucketBound(fineFrom, false), this.bucketBound(to, true)));
    const fa = this.lowerBound(Math.max(from, fineFrom));
    const fb = Math.max(fa, this.upperBound(to));
    const nc = cb - ca;
    const nf = fb - fa;
    const n = nc + nf;
    const cols = keys.map((k) => this.cols.get(k));
    const x: number[] = [];
    const ys: (number | null)[][] = keys.map(() => []);
    if (n === 0) return { x, ys };
    const bt = this.readBucketTimes(this.bucketFirst + ca, nc);
    const ft = this.readTimes(this.first + fa, nf);
    // Entry i < nc is bucket ca + i, spanning [bt[2i], bt[2i + 1]]; the rest are rows.
    const start = (i: number) => (i < nc ? bt[2 * i]! : ft[i - nc]!);
    const end = (i: number) => (i < nc ? bt[2 * i + 1]! : ft[i - nc]!);
    const t0 = start(0);
    const slices = Math.max(1, Math.floor(maxPoints / 2));
    const width = (end(n - 1) - t0) / slices;
    const bounds: [number, number][] = [];
    let s = 0;
    let cur = 0;
    for (let i = 0; i < n; i++) {
      const si = width > 0 ? Math.min(slices - 1, Math.floor((start(i) - t0) / width)) : 0;
      if (si !== cur && i > s) {
        bounds.push([s, i]);
        s = i;
      }
      cur = si;
    }
    bounds.push([s, n]);
    for (const [a, e] of bounds) pushX(x, start(a), end(e - 1));
    for (let k = 0; k < keys.length; k++) {
      const b = this.readBuckets(cols[k], this.bucketFirst + ca, nc);
      const vals = this.readColumn(cols[k], this.first + fa, nf);
      const y = ys[k]!;
      for (const [a, e] of bounds) {
        const m = new Extremes();
        for (let i = a, ce = Math.min(e, nc); i < ce; i++) m.add(b[2 * i]!, b[2 * i + 1]!, i);
        m.rows(vals, Math.max(a, nc), e, nc);
        m.push(y);
      }
    }
    return { x, ys };
  }

  // Scratch buffers reused by window(): a chart update allocates only its output.
  private scratchT = new Float64Array(0);
  private scratchV = new Float32Array(0);
  private scratchBT = new Float64Array(0);
  private scratchB = new Float32Array(0);

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

  /** [first, last] row times of `n` buckets from absolute bucket `abs` (a reused buffer). */
  private readBucketTimes(abs: number, n: number): Float64Array {
    if (this.scratchBT.length < 2 * n) this.scratchBT = new Float64Array(Math.max(2 * n, this.scratchBT.length * 2));
    const out = this.scratchBT;
    let i = 0;
    while (i < n) {
      const slot = (abs + i) % this.bucketCap;
      const c = (slot / this.bucketChunk) | 0;
      const o = slot % this.bucketChunk;
      const len = Math.min(n - i, this.bucketChunk - o);
      out.set(this.bucketTimes[c]!.subarray(2 * o, 2 * (o + len)), 2 * i);
      i += len;
    }
    return out;
  }

  /** [min, max] of a column in `n` buckets from absolute bucket `abs` (NaN where unset; a reused buffer). */
  private readBuckets(col: Column | undefined, abs: number, n: number): Float32Array {
    if (this.scratchB.length < 2 * n) this.scratchB = new Float32Array(Math.max(2 * n, this.scratchB.length * 2));
    const out = this.scratchB;
    out.fill(NaN, 0, 2 * n);
    if (col === undefined) return out;
    const valid = Math.min(n, col.lastBucket - abs + 1);
    let i = 0;
    while (i < valid) {
      const slot = (abs + i) % this.bucketCap;
      const c = (slot / this.bucketChunk) | 0;
      const o = slot % this.bucketChunk;
      const len = Math.min(valid - i, this.bucketChunk - o);
      const bc = col.buckets[c];
      if (bc !== undefined) out.set(bc.subarray(2 * o, 2 * (o + len)), 2 * i);
      i += len;
    }
    return out;
  }

  /** Bytes held by typed arrays (for the diagnostics line and tests). */
  bytes(): number {
    let total = 0;
    for (const c of this.times) if (c) total += c.byteLength;
    for (const c of this.bucketTimes) if (c) total += c.byteLength;
    for (const col of this.cols.values()) {
      for (const c of col.chunks) if (c) total += c.byteLength;
      for (const c of col.buckets) if (c) total += c.byteLength;
    }
    return total;
  }
}

/** Two x values for a min/max pair spanning [t0, t1], strictly increasing. */
function pushX(x: number[], t0: number, t1: number): void {
  x.push(t0, t1 > t0 ? t0 + (t1 - t0) / 2 : t0 + 1e-3);
}

/** A slice's minimum and maximum, and where in the slice each was seen. */
class Extremes {
  private mn = Infinity;
  private mx = -Infinity;
  private imn = -1;
  private imx = -1;

  /** Takes a value range [lo, hi] seen at position `i` (a bucket, or a row with lo = hi); NaN is a gap. */
  add(lo: number, hi: number, i: number): void {
    if (lo !== lo) return;
    if (lo < this.mn) {
      this.mn = lo;
      this.imn = i;
    }
    if (hi > this.mx) {
      this.mx = hi;
      this.imx = i;
    }
  }

  /** Takes rows: position i in [from, to) is vals[i - offset]. */
  rows(vals: ArrayLike<number>, from: number, to: number, offset: number): void {
    for (let i = from; i < to; i++) {
      const v = vals[i - offset]!;
      this.add(v, v, i);
    }
  }

  /** Appends the min and max in the order they occurred (two nulls when the slice has no value). */
  push(y: (number | null)[]): void {
    if (this.imn < 0) y.push(null, null);
    else if (this.imn <= this.imx) y.push(this.mn, this.mx);
    else y.push(this.mx, this.mn);
  }
}
