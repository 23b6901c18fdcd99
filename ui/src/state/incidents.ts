// When did this incident start? Snapshots only say what is wrong *now*, so
// the UI remembers when each anomaly (kind + subject) was first seen. The
// incident clock counts from the earliest first-seen among the active ones
// and resets when nothing is active. An anomaly that blinks out for a refresh
// or two (a probe timing out under load) keeps its first-seen time for
// `graceMs`, so a flapping symptom does not restart the clock mid-incident.
import { naturalCompare } from '../lib/collate';
import type { Anomaly } from '../generated/Anomaly';
import type { Severity } from '../generated/Severity';

export const anomalyKey = (a: Pick<Anomaly, 'kind' | 'subject'>): string => `${a.kind}\u0000${a.subject}`;

const SEVERITY_RANK: Record<Severity, number> = { critical: 2, warning: 1 };
export const severityRank = (s: Severity): number => SEVERITY_RANK[s] ?? 0;

interface Seen {
  first: number;
  lastActive: number;
}

export class AnomalyTracker {
  private readonly seen = new Map<string, Seen>();
  private active = new Set<string>();
  constructor(private readonly graceMs = 15_000) {}

  /** Feed the anomalies of one snapshot seen at `now` (ms). Returns those seen for the first time. */
  update(anomalies: readonly Anomaly[], now: number): Anomaly[] {
    const fresh: Anomaly[] = [];
    const active = new Set<string>();
    for (const a of anomalies) {
      const k = anomalyKey(a);
      if (active.has(k)) continue;
      active.add(k);
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

  firstSeen(a: Pick<Anomaly, 'kind' | 'subject'>): number | null {
    return this.seen.get(anomalyKey(a))?.first ?? null;
  }

  /** When the current incident started (ms), or null when nothing is active. */
  incidentStart(): number | null {
    let start: number | null = null;
    for (const k of this.active) {
      const f = this.seen.get(k)?.first;
      if (f !== undefined && (start === null || f < start)) start = f;
    }
    return start;
  }
}

/** Most severe first, then oldest first, then by subject for a stable order. */
export function sortAnomalies(list: readonly Anomaly[], tracker?: AnomalyTracker): Anomaly[] {
  return [...list].sort((a, b) => {
    const s = severityRank(b.severity) - severityRank(a.severity);
    if (s !== 0) return s;
    if (tracker) {
      const fa = tracker.firstSeen(a) ?? Infinity;
      const fb = tracker.firstSeen(b) ?? Infinity;
      if (fa !== fb) return fa - fb;
    }
    return (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : naturalCompare(a.subject, b.subject));
  });
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
