import { describe, expect, it } from 'vitest';
import { SeriesRing } from '../src/state/ring';

describe('SeriesRing', () => {
  it('keeps 24 h at 1 s by default, allocating an hour at a time as rows arrive', () => {
    const r = new SeriesRing();
    expect(r.capacity, '24 h of 1 s rows').toBe(86_400);
    for (let t = 0; t < 10; t++) {
      r.beginRow(1000 + t);
      r.set('a', t);
    }
    // One time chunk (Float64) and one value chunk (Float32) of 3600 rows: not 24 h up front.
    expect(r.bytes()).toBe(3600 * 8 + 3600 * 4);
    expect(r.length).toBe(10);
    expect(r.latest('a')).toBe(9);
  });

  it('overwrites the oldest rows once full and reads them back in time order', () => {
    const r = new SeriesRing(10, 5);
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
    const r = new SeriesRing(20, 10);
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
    const r = new SeriesRing(10, 5);
    expect(r.beginRow(5)).toBe(true);
    expect(r.beginRow(5)).toBe(false);
    expect(r.beginRow(4)).toBe(false);
    expect(r.length).toBe(1);
  });

  it('decimates long windows to min/max pairs so a one-second spike survives', () => {
    const r = new SeriesRing(7200, 3600);
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
    const r = new SeriesRing(10, 5);
    for (let i = 0; i < 3; i++) {
      r.beginRow(1795422106.201 + i);
      r.set('v', i);
    }
    expect(r.window(['v'], 1795422106.201, 1795422108.201).ys[0]).toEqual([0, 1, 2]);
  });

  it('finds the window boundaries by time after wrapping', () => {
    const r = new SeriesRing(100, 50);
    for (let t = 0; t < 250; t++) {
      r.beginRow(t * 2);
      r.set('x', t);
    }
    expect(r.lowerBound(0)).toBe(0);
    expect(r.timeAt(r.lowerBound(451))).toBe(452);
    expect(r.window(['x'], 490, 1000).x).toEqual([490, 492, 494, 496, 498]);
  });
});
