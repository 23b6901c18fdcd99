import { describe, expect, it } from 'vitest';
import { AnomalyTracker, formatClock, sortAnomalies } from '../src/state/incidents';
import type { Anomaly } from '../src/generated/Anomaly';
import { unreachableSnapshot } from './helpers';

const a = (kind: Anomaly['kind'], subject: string, severity: Anomaly['severity'] = 'warning'): Anomaly => ({
  kind,
  subject,
  severity,
  message: `${kind} on ${subject}`,
});

describe('AnomalyTracker (incident clock)', () => {
  it('starts the clock at the first anomaly and keeps it while any is active', () => {
    const t = new AnomalyTracker(0);
    expect(t.update([], 1000)).toEqual([]);
    expect(t.incidentStart(), 'nothing active, no incident').toBeNull();
    const lag = a('lag_over_threshold', 'pg0→pg2');
    expect(t.update([lag], 2000)).toEqual([lag]);
    expect(t.incidentStart()).toBe(2000);
    const pool = a('pool_saturated', 'pgb0/chat');
    expect(t.update([lag, pool], 3000), 'only the new one is fresh').toEqual([pool]);
    expect(t.incidentStart(), 'still the first one').toBe(2000);
    expect(t.firstSeen(pool)).toBe(3000);
  });

  it('moves the start to the oldest anomaly still active when the first one clears', () => {
    const t = new AnomalyTracker(0);
    const lag = a('lag_over_threshold', 'pg0→pg2');
    const pool = a('pool_saturated', 'pgb0/chat');
    t.update([lag], 1000);
    t.update([lag, pool], 5000);
    t.update([pool], 9000);
    expect(t.incidentStart()).toBe(5000);
  });

  it('resets when none are active, and a later anomaly starts a new incident', () => {
    const t = new AnomalyTracker(60_000);
    const lag = a('lag_over_threshold', 'pg0→pg2');
    t.update([lag], 1000);
    t.update([], 2000);
    expect(t.incidentStart()).toBeNull();
    expect(t.update([lag], 3000), 'seen again after an all-clear: new').toEqual([lag]);
    expect(t.incidentStart()).toBe(3000);
  });

  it('keys by kind and subject: the same kind on another subject is another anomaly', () => {
    const t = new AnomalyTracker(0);
    t.update([a('node_unreachable', 'pg3')], 1000);
    const fresh = t.update([a('node_unreachable', 'pg3'), a('node_unreachable', 'pg4')], 2000);
    expect(fresh.map((x) => x.subject)).toEqual(['pg4']);
  });

  it('keeps first-seen through a brief flap within an incident (grace), forgets after it', () => {
    const t = new AnomalyTracker(10_000);
    const lag = a('lag_over_threshold', 'pg0→pg2');
    const down = a('node_unreachable', 'pg3', 'critical');
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
    const w1 = a('pool_saturated', 'pgb1/chat');
    const w2 = a('lag_over_threshold', 'pg0→pg2');
    const c = a('node_unreachable', 'pg3', 'critical');
    t.update([w2], 1000);
    t.update([w2, w1, c], 2000);
    expect(sortAnomalies([w1, w2, c], t)).toEqual([c, w2, w1]);
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
