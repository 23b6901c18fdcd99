import { describe, expect, it } from 'vitest';
import { NotificationGate, alertKey } from '../src/state/notifications';
import type { Alert } from '../src/generated/Alert';
import type { Anomaly } from '../src/generated/Anomaly';
import { subjects } from '../src/lib/subject';
import { anomaly as make, unreachableSnapshot } from './helpers';

/** Lag on the edge pg0→DOWN. */
const anomaly = (down: string): Anomaly => make('lag_over_threshold', subjects.edge('pg0', down), { message: `${down} is behind pg0` });
const alert = (name: string, state: string, labels: Record<string, string> = {}): Alert => ({
  name,
  state,
  severity: 'page',
  summary: `${name} summary`,
  active_at: null,
  labels: { alertname: name, ...labels },
});
const snap = (anomalies: Anomaly[], alerts: Alert[] = []) => ({ fleet: 'lab', anomalies, alerts });

describe('NotificationGate', () => {
  it('notifies a new anomaly once, not on every refresh', () => {
    const g = new NotificationGate();
    const lag = anomaly('pg2');
    expect(g.consider(snap([lag]), 1000)).toHaveLength(1);
    for (let t = 2000; t < 60_000; t += 1000) expect(g.consider(snap([lag]), t)).toEqual([]);
  });

  it('notifies each new anomaly as it appears', () => {
    const g = new NotificationGate();
    g.consider(snap([anomaly('pg2')]), 1000);
    const n = g.consider(snap([anomaly('pg2'), anomaly('pg3')]), 2000);
    expect(n).toHaveLength(1);
    expect(n[0]!.title, 'the title names the subject by its label').toBe('lab: warning lag over threshold · pg0→pg3');
    expect(n[0]!.body).toBe('pg3 is behind pg0');
  });

  it('notifies firing alerts (not pending ones), keyed by name and labels', () => {
    const g = new NotificationGate();
    expect(g.consider(snap([], [alert('ReplicaLag', 'pending', { instance: 'pg2' })]), 1000)).toEqual([]);
    const n = g.consider(snap([], [alert('ReplicaLag', 'firing', { instance: 'pg2' })]), 2000);
    expect(n).toHaveLength(1);
    expect(n[0]!.title).toContain('ReplicaLag');
    expect(g.consider(snap([], [alert('ReplicaLag', 'firing', { instance: 'pg2' })]), 3000)).toEqual([]);
    expect(g.consider(snap([], [alert('ReplicaLag', 'firing', { instance: 'pg2' }), alert('ReplicaLag', 'firing', { instance: 'pg3' })]), 4000)).toHaveLength(1);
  });

  it('stays quiet for a flapping anomaly, and speaks again after it has been gone a while', () => {
    const g = new NotificationGate(60_000);
    const lag = anomaly('pg2');
    g.consider(snap([lag]), 0);
    g.consider(snap([]), 1000);
    expect(g.consider(snap([lag]), 2000), 'flap: quiet').toEqual([]);
    g.consider(snap([]), 3000);
    g.consider(snap([]), 70_000);
    expect(g.consider(snap([lag]), 71_000), 'gone for over a minute: a new event').toHaveLength(1);
  });

  it('folds a burst (the first snapshot of a broken fleet) into one summary', () => {
    const g = new NotificationGate();
    const s = unreachableSnapshot();
    const n = g.consider(s, 0);
    expect(n).toHaveLength(1);
    expect(n[0]!.title).toContain(`${s.anomalies.length} anomalies`);
    expect(g.consider(s, 1000)).toEqual([]);
  });

  it('keys alerts independently of label order', () => {
    expect(alertKey({ name: 'A', labels: { b: '2', a: '1' } })).toBe(alertKey({ name: 'A', labels: { a: '1', b: '2' } }));
  });
});
