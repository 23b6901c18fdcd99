// Desktop notifications for new anomalies and newly firing alerts, once each.
// A key (kind + subject key, or alert name+labels) is notified when it appears and
// then stays quiet until it has been absent for `quietMs`: an anomaly that
// flaps every other refresh does not buzz the on-call's desktop every second.
// Many at once (the first snapshot of a broken fleet) become one summary.
import type { Alert } from '../generated/Alert';
import type { Anomaly } from '../generated/Anomaly';
import type { Snapshot } from '../generated/Snapshot';
import { anomalyKey, severityRank } from './incidents';
import { subjectLabel } from '../lib/subject';

export interface Notice {
  title: string;
  body: string;
}

export const alertKey = (a: Pick<Alert, 'name' | 'labels'>): string =>
  `${a.name}{${Object.keys(a.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(a.labels[k])}`)
    .join(',')}}`;

export class NotificationGate {
  private readonly lastSeen = new Map<string, number>();
  constructor(
    private readonly quietMs = 5 * 60_000,
    private readonly maxSingle = 3,
  ) {}

  /** The notices one snapshot deserves (possibly none). */
  consider(s: Pick<Snapshot, 'anomalies' | 'alerts' | 'fleet'>, now: number): Notice[] {
    const freshAnomalies: Anomaly[] = [];
    const freshAlerts: Alert[] = [];
    const present = new Set<string>();
    for (const a of s.anomalies) {
      const k = `anomaly:${anomalyKey(a)}`;
      if (present.has(k)) continue;
      present.add(k);
      if (!this.lastSeen.has(k)) freshAnomalies.push(a);
      this.lastSeen.set(k, now);
    }
    for (const a of s.alerts) {
      if (a.state !== 'firing') continue;
      const k = `alert:${alertKey(a)}`;
      if (present.has(k)) continue;
      present.add(k);
      if (!this.lastSeen.has(k)) freshAlerts.push(a);
      this.lastSeen.set(k, now);
    }
    for (const [k, t] of this.lastSeen) {
      if (!present.has(k) && now - t > this.quietMs) this.lastSeen.delete(k);
    }
    const total = freshAnomalies.length + freshAlerts.length;
    if (total === 0) return [];
    if (total > this.maxSingle) {
      const crit = freshAnomalies.filter((a) => a.severity === 'critical').length;
      const worst = [...freshAnomalies].sort((a, b) => severityRank(b.severity) - severityRank(a.severity))[0];
      const parts = [
        freshAnomalies.length > 0 ? `${freshAnomalies.length} anomalies (${crit} critical)` : '',
        freshAlerts.length > 0 ? `${freshAlerts.length} alerts firing` : '',
      ].filter(Boolean);
      return [
        {
          title: `${s.fleet}: ${parts.join(', ')}`,
          body: worst ? worst.message : freshAlerts.map((a) => a.name).join(', '),
        },
      ];
    }
    return [
      ...freshAnomalies.map((a) => ({ title: `${s.fleet}: ${a.severity} ${a.kind.replace(/_/g, ' ')} · ${subjectLabel(a.subject)}`, body: a.message })),
      ...freshAlerts.map((a) => ({
        title: `${s.fleet}: alert ${a.name} firing`,
        body: a.summary ?? alertKey(a),
      })),
    ];
  }
}
