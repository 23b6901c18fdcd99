import { describe, expect, it } from 'vitest';
import { AnomalyTracker, anomalyKey, formatClock, sortAnomalies } from '../src/state/incidents';
import type { Anomaly } from '../src/generated/Anomaly';
import { subjects } from '../src/lib/subject';
import { anomaly, unreachableSnapshot } from './helpers';

const lagSubject = subjects.edge('pg0', 'pg2');
const poolSubject = subjects.pool('pgb0', 'chat');
const at = (ms: number) => new Date(ms).toISOString();

// Anomalies from an engine that sent no `since`: the UI's first-seen fallback.
const a = (kind: Anomaly['kind'], subject = lagSubject, severity: Anomaly['severity'] = 'warning') => anomaly(kind, subject, { severity });

describe('AnomalyTracker: the engine says when an episode started', () => {
  it('counts the incident from the earliest `since` of the active anomalies, not from when the UI saw them', () => {
    const t = new AnomalyTracker(0);
    const lag = anomaly('lag_over_threshold', lagSubject, { since: at(40_000) });
    const pool = anomaly('pool_saturated', poolSubject, { since: at(10_000) });
    t.update([lag, pool], 100_000);
    expect(t.incidentStart(), 'the pool saturated first, per the engine').toBe(10_000);
    expect(t.started(lag)).toBe(40_000);
    expect(t.firstSeen(lag), 'what this UI saw is kept apart').toBe(100_000);
  });

  it('a restarted app (a fresh tracker) shows the old start the engine kept, not its own start time', () => {
    // The incident began at 09:00; the app (or browser tab) restarts at 09:47.
    const began = Date.parse('2026-11-23T09:00:00.000Z');
    const restart = Date.parse('2026-11-23T09:47:00.000Z');
    const before = new AnomalyTracker();
    const down = anomaly('node_unreachable', subjects.node('pg3'), { severity: 'critical', since: at(began) });
    before.update([down], began + 1000);
    const after = new AnomalyTracker();
    expect(after.incidentStart(), 'nothing fed yet').toBeNull();
    after.update([down], restart);
    expect(after.incidentStart()).toBe(began);
    expect(formatClock(restart - after.incidentStart()!)).toBe('00:47:00');
  });

  it('moves the start to the next-oldest active anomaly when the oldest clears', () => {
    const t = new AnomalyTracker(0);
    const lag = anomaly('lag_over_threshold', lagSubject, { since: at(1000) });
    const pool = anomaly('pool_saturated', poolSubject, { since: at(5000) });
    t.update([lag, pool], 9000);
    t.update([pool], 10_000);
    expect(t.incidentStart()).toBe(5000);
    t.update([], 11_000);
    expect(t.incidentStart(), 'all clear').toBeNull();
  });

  it('mixes engine starts with first-seen fallbacks for anomalies that have no `since`', () => {
    const t = new AnomalyTracker(0);
    const tracked = anomaly('pool_saturated', poolSubject, { since: at(50_000) });
    const untracked = a('lag_over_threshold');
    t.update([untracked], 20_000);
    t.update([untracked, tracked], 60_000);
    expect(t.incidentStart(), 'the untracked one was seen at 20 s, before the tracked one started').toBe(20_000);
  });

  it('ignores a `since` that does not parse and falls back to first seen', () => {
    const t = new AnomalyTracker(0);
    const odd = anomaly('lag_over_threshold', lagSubject, { since: 'yesterday-ish' });
    t.update([odd], 7000);
    expect(t.incidentStart()).toBe(7000);
  });
});

describe('AnomalyTracker: first-seen fallback (no `since`)', () => {
  it('starts the clock at the first anomaly and keeps it while any is active', () => {
    const t = new AnomalyTracker(0);
    expect(t.update([], 1000)).toEqual([]);
    expect(t.incidentStart(), 'nothing active, no incident').toBeNull();
    const lag = a('lag_over_threshold');
    expect(t.update([lag], 2000)).toEqual([lag]);
    expect(t.incidentStart()).toBe(2000);
    const pool = a('pool_saturated', poolSubject);
    expect(t.update([lag, pool], 3000), 'only the new one is fresh').toEqual([pool]);
    expect(t.incidentStart(), 'still the first one').toBe(2000);
    expect(t.firstSeen(pool)).toBe(3000);
  });

  it('resets when none are active, and a later anomaly starts a new incident', () => {
    const t = new AnomalyTracker(60_000);
    const lag = a('lag_over_threshold');
    t.update([lag], 1000);
    t.update([], 2000);
    expect(t.incidentStart()).toBeNull();
    expect(t.update([lag], 3000), 'seen again after an all-clear: new').toEqual([lag]);
    expect(t.incidentStart()).toBe(3000);
  });

  it('keys by kind and subject fields: the same kind on another subject is another anomaly', () => {
    const t = new AnomalyTracker(0);
    t.update([a('node_unreachable', subjects.node('pg3'))], 1000);
    const fresh = t.update([a('node_unreachable', subjects.node('pg3')), a('node_unreachable', subjects.node('pg4'))], 2000);
    expect(fresh.map((x) => x.subject)).toEqual([subjects.node('pg4')]);
    // A pooler and a node that share a name are still different subjects.
    expect(anomalyKey(a('node_unreachable', subjects.node('x')))).not.toBe(anomalyKey(a('node_unreachable', subjects.pooler('x'))));
  });

  it('keeps first-seen through a brief flap within an incident (grace), forgets after it', () => {
    const t = new AnomalyTracker(10_000);
    const lag = a('lag_over_threshold');
    const down = a('node_unreachable', subjects.node('pg3'), 'critical');
    t.update([lag, down], 1000);
    t.update([down], 2000); // lag blinks out for one refresh
    expect(t.update([lag, down], 3000), 'back within the grace: not new').toEqual([]);
    expect(t.firstSeen(lag)).toBe(1000);
    t.update([down], 4000);
    expect(t.update([lag, down], 20_000), 'back after the grace: new').toEqual([lag]);
  });
});

describe('sortAnomalies', () => {
  it('puts critical first, then the oldest', () => {
    const t = new AnomalyTracker(0);
    const w1 = a('pool_saturated', subjects.pool('pgb1', 'chat'));
    const w2 = a('lag_over_threshold');
    const c = a('node_unreachable', subjects.node('pg3'), 'critical');
    t.update([w2], 1000);
    t.update([w2, w1, c], 2000);
    expect(sortAnomalies([w1, w2, c], t)).toEqual([c, w2, w1]);
  });

  it("orders by the engine's start without a tracker, and by subject label (pg2 before pg10) on a tie", () => {
    const old = anomaly('lag_over_threshold', subjects.edge('pg0', 'pg10'), { since: at(1000) });
    const newer = anomaly('lag_over_threshold', subjects.edge('pg0', 'pg2'), { since: at(2000) });
    expect(sortAnomalies([newer, old])).toEqual([old, newer]);
    const p10 = a('node_unreachable', subjects.node('pg10'));
    const p2 = a('node_unreachable', subjects.node('pg2'));
    expect(sortAnomalies([p10, p2])).toEqual([p2, p10]);
  });

  it('orders a real 98-anomaly snapshot with every critical before every warning', () => {
    const s = unreachableSnapshot();
    const sorted = sortAnomalies(s.anomalies);
    const firstWarning = sorted.findIndex((x) => x.severity === 'warning');
    expect(firstWarning).toBeGreaterThan(0);
    expect(sorted.slice(firstWarning).every((x) => x.severity === 'warning')).toBe(true);
  });
});

describe('formatClock', () => {
  it('prints hh:mm:ss and days past 24 h', () => {
    expect(formatClock(0)).toBe('00:00:00');
    expect(formatClock(61_500)).toBe('00:01:01');
    expect(formatClock(3 * 3600_000 + 5_000)).toBe('03:00:05');
    expect(formatClock(26 * 3600_000)).toBe('1d 02:00:00');
  });
});
