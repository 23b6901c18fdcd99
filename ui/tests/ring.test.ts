import { describe, expect, it } from 'vitest';
import { SeriesRing, type Window } from '../src/state/ring';

describe('SeriesRing', () => {
  it('keeps an hour and ten minutes at 1 s by default, allocating ten minutes at a time as rows arrive', () => {
    const r = new SeriesRing();
    expect(r.capacity, 'an hour of 1 s rows plus one chunk').toBe(4200);
    for (let t = 0; t < 10; t++) {
      r.beginRow(1000 + t);
      r.set('a', t);
    }
    // One row-time chunk (Float64) and one value chunk (Float32) of 600 rows,
    // one bucket-time chunk ([first, last] Float64) and one bucket chunk
    // ([min, max] Float32) of 300 buckets: not 24 h up front.
    expect(r.bytes()).toBe(600 * 8 + 600 * 4 + 300 * 16 + 300 * 8);
    expect(r.length).toBe(10);
    expect(r.latest('a')).toBe(9);
  });

  it('overwrites the oldest rows once full and reads them back in time order', () => {
    const r = new SeriesRing({ fineRows: 10, chunkSize: 5 });
    for (let t = 0; t < 23; t++) {
      r.beginRow(t);
      r.set('v', t * 10);
    }
    expect(r.length).toBe(10);
    const times = Array.from({ length: r.length }, (_, i) => r.timeAt(i));
    expect(times, 'the last 10 rows, oldest first').toEqual([13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
    expect(r.valueAt('v', 0)).toBe(130);
    const w = r.window(['v'], 15, 18);
    expect(w.x).toEqual([15, 16, 17, 18]);
    expect(w.ys[0]).toEqual([150, 160, 170, 180]);
  });

  it('reads NaN (a gap) where a series was not set in a row, including rows before it existed', () => {
    const r = new SeriesRing({ fineRows: 20, chunkSize: 10 });
    r.beginRow(1);
    r.set('a', 1);
    r.beginRow(2);
    r.set('a', 2);
    r.set('b', 20);
    r.beginRow(3);
    r.set('b', 30);
    const w = r.window(['a', 'b', 'never'], 0, 10);
    expect(w.ys[0]).toEqual([1, 2, null]);
    expect(w.ys[1]).toEqual([null, 20, 30]);
    expect(w.ys[2]).toEqual([null, null, null]);
  });

  it('refuses rows that are not newer than the last one (a snapshot delivered twice)', () => {
    const r = new SeriesRing({ fineRows: 10, chunkSize: 5 });
    expect(r.beginRow(5)).toBe(true);
    expect(r.beginRow(5)).toBe(false);
    expect(r.beginRow(4)).toBe(false);
    expect(r.length).toBe(1);
  });

  it('decimates long windows to min/max pairs so a one-second spike survives', () => {
    const r = new SeriesRing({ fineRows: 7200, chunkSize: 3600 });
    for (let t = 0; t < 3600; t++) {
      r.beginRow(t);
      r.set('lag', t === 1234 ? 1e6 : 10);
      r.set('hit', t === 2500 ? 0.1 : 0.99);
    }
    const w = r.window(['lag', 'hit'], 0, 3599, 200);
    expect(w.x.length).toBeLessThanOrEqual(200);
    expect(Math.max(...(w.ys[0] as number[]))).toBe(1e6);
    expect(Math.min(...(w.ys[1] as number[]))).toBeCloseTo(0.1, 5);
    for (let i = 1; i < w.x.length; i++) expect(w.x[i]!, 'x strictly increasing').toBeGreaterThan(w.x[i - 1]!);
  });

  it('includes the newest row at real unix-time magnitudes (regression: to + 1e-9 is lost in float64)', () => {
    const r = new SeriesRing({ fineRows: 10, chunkSize: 5 });
    for (let i = 0; i < 3; i++) {
      r.beginRow(1795422106.201 + i);
      r.set('v', i);
    }
    expect(r.window(['v'], 1795422106.201, 1795422108.201).ys[0]).toEqual([0, 1, 2]);
  });

  it('finds the window boundaries by time after wrapping', () => {
    const r = new SeriesRing({ fineRows: 100, chunkSize: 50 });
    for (let t = 0; t < 250; t++) {
      r.beginRow(t * 2);
      r.set('x', t);
    }
    expect(r.lowerBound(0)).toBe(0);
    expect(r.timeAt(r.lowerBound(451))).toBe(452);
    expect(r.window(['x'], 490, 1000).x).toEqual([490, 492, 494, 496, 498]);
  });
});

// A day and more of 1 s rows, as a war-room display accumulates them. Times
// are real unix magnitudes with a deterministic sub-second jitter.
const T0 = 1_795_422_106.201;
const HOUR = 3600;
const rowTime = (i: number) => T0 + i + 0.01 * Math.sin(i);

interface Run {
  rows: number;
  /** Called once per row after beginRow. */
  write: (r: SeriesRing, i: number) => void;
  /** Called after row i (for sampling the ring as it grows). */
  after?: (r: SeriesRing, i: number) => void;
}

function fill(rings: SeriesRing[], run: Run): number {
  for (let i = 0; i < run.rows; i++) {
    for (const r of rings) {
      if (!r.beginRow(rowTime(i))) expect.fail(`row ${i} refused`);
      run.write(r, i);
      run.after?.(r, i);
    }
  }
  return rowTime(run.rows - 1);
}

const at = (w: Window, k: number) => w.x.map((x, i) => [x, w.ys[k]![i]!] as const);

function expectIncreasing(w: Window): void {
  for (let i = 1; i < w.x.length; i++) {
    if (!(w.x[i]! > w.x[i - 1]!)) expect.fail(`x not strictly increasing at ${i}: ${w.x[i - 1]} then ${w.x[i]}`);
  }
}

describe('SeriesRing over days', () => {
  it('stops growing after the first day: 28,800 B per series, whatever the uptime', () => {
    const r = new SeriesRing();
    const series = 12;
    const cols = Array.from({ length: series }, (_, k) => r.column(`s${k}`));
    const sampled = new Map<number, number>();
    fill([r], {
      rows: 30 * HOUR,
      write: (r, i) => {
        for (let k = 0; k < series; k++) r.setCol(cols[k]!, (i * (k + 1)) % 97);
      },
      after: (r, i) => {
        if ((i + 1) % HOUR === 0) sampled.set((i + 1) / HOUR, r.bytes());
      },
    });
    // Shared: row times (Float64) and bucket [first, last] times (2 × Float64).
    const shared1h = 6 * 600 * 8 + 300 * 16;
    const shared = 7 * 600 * 8 + 5 * 300 * 16;
    expect(sampled.get(1), 'after an hour: 6 row chunks and one bucket chunk per series').toBe(shared1h + series * (6 * 600 * 4 + 300 * 8));
    expect(sampled.get(1)! / series).toBeLessThan(20_000);
    expect(sampled.get(24), 'after a day: 4200 rows × 4 B + 1500 buckets × 8 B per series').toBe(shared + series * 28_800);
    for (let h = 25; h <= 30; h++) expect(sampled.get(h), `bytes at hour ${h} equal those at hour 24`).toBe(sampled.get(24));
    // A single 24 h tier at 1 s held 86,400 × 4 B per series: twelve times as much.
    expect(sampled.get(30)! / series).toBeLessThan(86_400 * 4 / 10);
  });

  it('keeps a one-second spike and dip from hours ago in 6 h and 24 h windows', () => {
    const r = new SeriesRing();
    const rows = 30 * HOUR;
    const spike6 = rows - 3 * HOUR - 17; // in the buckets, inside a 6 h window
    const dip6 = rows - 4 * HOUR - 1234;
    const spike24 = rows - 20 * HOUR + 5;
    const dip24 = rows - 22 * HOUR + 29;
    const end = fill([r], {
      rows,
      write: (r, i) => {
        r.set('lag', i === spike6 ? 1e6 : i === spike24 ? 2e6 : 10 + (i % 7));
        r.set('hit', i === dip6 ? 0.1 : i === dip24 ? 0.2 : 0.99);
      },
    });
    const w6 = r.window(['lag', 'hit'], end - 6 * HOUR, end, 600);
    expect(w6.x.length, 'about maxPoints points of resolution').toBeGreaterThan(550);
    expect(w6.x.length).toBeLessThanOrEqual(600);
    expectIncreasing(w6);
    expect(Math.max(...(w6.ys[0] as number[]))).toBe(1e6);
    expect(Math.min(...(w6.ys[1] as number[]))).toBeCloseTo(0.1, 5);
    expect(w6.ys[0]!.includes(2e6), 'the spike 20 h ago is not in the 6 h window').toBe(false);
    // Each extreme sits at the slice holding its row, not smeared elsewhere.
    const spikeX = at(w6, 0).filter(([, v]) => v === 1e6).map(([x]) => x);
    expect(spikeX).toHaveLength(1);
    expect(Math.abs(spikeX[0]! - rowTime(spike6))).toBeLessThan(6 * HOUR / 300 + 60);

    const w24 = r.window(['lag', 'hit'], end - 24 * HOUR, end, 600);
    expect(w24.x.length).toBeGreaterThan(550);
    expect(w24.x.length).toBeLessThanOrEqual(600);
    expectIncreasing(w24);
    expect(w24.ys[0]).toContain(1e6);
    expect(w24.ys[0]).toContain(2e6);
    const lows = (w24.ys[1] as number[]).filter((v) => v < 0.5).sort();
    expect(lows).toHaveLength(2);
    expect(lows[0]).toBeCloseTo(0.1, 5);
    expect(lows[1]).toBeCloseTo(0.2, 5);
    expect(w24.x[0]!).toBeGreaterThanOrEqual(end - 24 * HOUR);
    expect(w24.x[w24.x.length - 1]!).toBeLessThanOrEqual(end);
  });

  it('draws the last hour exactly as a single 1 s tier would (5 m, 15 m, 1 h)', () => {
    const r = new SeriesRing();
    // The reference keeps every row at full resolution.
    const ref = new SeriesRing({ fineRows: 27 * HOUR, chunkSize: HOUR });
    const end = fill([r, ref], {
      rows: 27 * HOUR,
      write: (r, i) => {
        r.set('lag', i % 1000 === 3 ? 1e5 + i : (i * 7919) % 1013);
        if (i % 50 !== 0) r.set('gappy', Math.sin(i / 100));
      },
    });
    for (const range of [300, 900, 3600]) {
      for (const maxPoints of [600, 100_000]) {
        const got = r.window(['lag', 'gappy', 'never'], end - range, end, maxPoints);
        const want = ref.window(['lag', 'gappy', 'never'], end - range, end, maxPoints);
        expect(got, `${range} s at ${maxPoints} points`).toEqual(want);
      }
    }
    const raw = r.window(['lag'], end - 3600, end, 100_000);
    expect(raw.x.length, 'every row of the last hour is held').toBeGreaterThanOrEqual(3600);
  });

  it('keeps gaps as gaps: unset stretches, NaN, and series that appear or stop later', () => {
    const r = new SeriesRing();
    const rows = 30 * HOUR;
    const inH = (i: number, a: number, b: number) => i >= a * HOUR && i < b * HOUR;
    const end = fill([r], {
      rows,
      write: (r, i) => {
        r.set('on', 1);
        if (!inH(i, 10, 12)) r.set('unset', 2);
        r.set('nan', inH(i, 14, 15) ? NaN : 3);
        if (i >= 20 * HOUR) r.set('late', 4);
        if (i < 27 * HOUR) r.set('gone', 5);
        // A ten-second hole in the last hour, at full resolution.
        r.set('recent', i >= rows - 600 && i < rows - 590 ? null : 6);
      },
    });
    const start = rowTime(0);
    const margin = 24 * HOUR / 300 + 60; // a slice plus a bucket
    const hours = (x: number) => (x - start) / HOUR;
    const w = r.window(['on', 'unset', 'nan', 'late', 'gone', 'never'], end - 24 * HOUR, end, 600);
    expectIncreasing(w);
    const check = (k: number, name: string, gapFrom: number, gapTo: number) => {
      for (const [x, v] of at(w, k)) {
        const h = hours(x);
        if (h > gapFrom + margin / HOUR && h < gapTo - margin / HOUR) expect(v, `${name} at ${h.toFixed(2)} h`).toBeNull();
        if (h < gapFrom - margin / HOUR || h > gapTo + margin / HOUR) expect(v, `${name} at ${h.toFixed(2)} h`).not.toBeNull();
      }
    };
    expect(w.ys[0]!.every((v) => v === 1)).toBe(true);
    check(1, 'unset', 10, 12);
    check(2, 'nan', 14, 15);
    check(3, 'late', -Infinity, 20);
    check(4, 'gone', 27, Infinity);
    expect(w.ys[5]!.every((v) => v === null)).toBe(true);
    // Gaps are nulls, not zeros.
    expect(w.ys[1]).not.toContain(0);

    const recent = r.window(['recent'], end - 900, end, 100_000);
    const holes = at(recent, 0).filter(([, v]) => v === null);
    expect(holes.map(([x]) => x)).toEqual(Array.from({ length: 10 }, (_, j) => rowTime(rows - 600 + j)));
  });

  it('a column written again after hours away reads gaps for the hours it missed', () => {
    const r = new SeriesRing({ fineRows: 60, chunkSize: 30, bucketSeconds: 10, buckets: 40, bucketChunk: 20 });
    for (let t = 0; t < 1000; t++) {
      r.beginRow(t);
      if (t < 100 || t >= 990) r.set('x', t);
      r.set('y', 1);
    }
    const w = r.window(['x', 'y'], 600, 999, 1000);
    const xs = at(w, 0);
    expect(xs.filter(([x, v]) => x < 985 && v !== null), 'no stale values from an earlier lap').toEqual([]);
    expect(xs.filter(([x]) => x >= 990).every(([, v]) => v !== null)).toBe(true);
    expect(w.ys[1]!.every((v) => v === 1)).toBe(true);
  });
});
