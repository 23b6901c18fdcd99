// When did this incident start? The engine follows each anomaly as an
// episode and sends its start as `since` (kept in its local store, so a
// restarted app or a browser opened mid-incident still shows the true
// start). The incident clock counts from the earliest start among the active
// anomalies and resets when nothing is active.
//
// `since` is null only from an engine that has not tracked the anomaly (or an
// older one); for those the UI falls back to when it first saw the anomaly
// itself. An anomaly that blinks out for a refresh or two (a probe timing out
// under load) keeps that first-seen time for `graceMs`, so a flapping
// symptom does not restart the fallback clock mid-incident.
import { naturalCompare } from '../lib/collate';
import { subjectKey, subjectLabel } from '../lib/subject';
import type { Anomaly } from '../generated/Anomaly';
import type { Severity } from '../generated/Severity';

export const anomalyKey = (a: Pick<Anomaly, 'kind' | 'subject'>): string => `${a.kind}\u0001${subjectKey(a.subject)}`;

const SEVERITY_RANK: Record<Severity, number> = { critical: 2, warning: 1 };
export const severityRank = (s: Severity): number => SEVERITY_RANK[s] ?? 0;

/** The engine's episode start (ms), or null when it sent none (or one that does not parse). */
export function engineSince(a: Pick<Anomaly, 'since'>): number | null {
  if (a.since === null || a.since === undefined) return null;
  const t = Date.parse(a.since);
  return Number.isFinite(t) ? t : null;
}

interface Seen {
  first: number;
  lastActive: number;
}

export class AnomalyTracker {
  private readonly seen = new Map<string, Seen>();
  /** The active anomalies of the latest update, by key. */
  private active = new Map<string, Pick<Anomaly, 'kind' | 'subject' | 'since'>>();
  constructor(private readonly graceMs = 15_000) {}

  /** Feed the anomalies of one snapshot seen at `now` (ms). Returns those seen for the first time. */
  update(anomalies: readonly Anomaly[], now: number): Anomaly[] {
    const fresh: Anomaly[] = [];
    const active = new Map<string, Anomaly>();
    for (const a of anomalies) {
      const k = anomalyKey(a);
      if (active.has(k)) continue;
      active.set(k, a);
      const s = this.seen.get(k);
      const expired = s !== undefined && !this.active.has(k) && now - s.lastActive > this.graceMs;
      if (s === undefined || expired) {
        this.seen.set(k, { first: now, lastActive: now });
        fresh.push(a);
      } else {
        s.lastActive = now;
      }
    }
    this.active = active;
    if (active.size === 0) {
      // Nothing wrong: the incident is over, and the next one starts afresh.
      this.seen.clear();
    } else {
      for (const [k, s] of this.seen) {
        if (!active.has(k) && now - s.lastActive > this.graceMs) this.seen.delete(k);
      }
    }
    return fresh;
  }

  /** When this UI first saw the anomaly (ms), whatever the engine says; null if not seen. */
  firstSeen(a: Pick<Anomaly, 'kind' | 'subject'>): number | null {
    return this.seen.get(anomalyKey(a))?.first ?? null;
  }

  /** When the anomaly started (ms): the engine's `since`, else when this UI first saw it. */
  started(a: Pick<Anomaly, 'kind' | 'subject' | 'since'>): number | null {
    return engineSince(a) ?? this.firstSeen(a);
  }

  /** When the current incident started (ms): the earliest start among the active anomalies, or null when nothing is active. */
  incidentStart(): number | null {
    let start: number | null = null;
    for (const a of this.active.values()) {
      const f = this.started(a);
      if (f !== null && (start === null || f < start)) start = f;
    }
    return start;
  }
}

/** Most severe first, then oldest first, then by kind and subject for a stable order. */
export function sortAnomalies(list: readonly Anomaly[], tracker?: AnomalyTracker): Anomaly[] {
  const started = (a: Anomaly) => (tracker ? tracker.started(a) : engineSince(a)) ?? Infinity;
  return list
    .map((a) => ({ a, start: started(a), label: subjectLabel(a.subject) }))
    .sort((x, y) => {
      const s = severityRank(y.a.severity) - severityRank(x.a.severity);
      if (s !== 0) return s;
      if (x.start !== y.start) return x.start < y.start ? -1 : 1;
      return x.a.kind < y.a.kind ? -1 : x.a.kind > y.a.kind ? 1 : naturalCompare(x.label, y.label);
    })
    .map((x) => x.a);
}

/** "hh:mm:ss" (or "d hh:mm:ss") of a duration in ms. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d > 0 ? `${d}d ` : ''}${p(h)}:${p(m)}:${p(s)}`;
}
