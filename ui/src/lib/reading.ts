// How old the Prometheus numbers on screen are, and why they are not newer.
//
// The engine reads Prometheus on its own schedule, never inline with a
// refresh (crates/core/src/slow.rs): a frozen Prometheus must not hold the
// replication tree for its timeout. So a snapshot carries the latest good
// reading with when it was read (`ai.read_at`, `ai.age_seconds`), and while
// Prometheus fails or is overdue `ai.errors` gains a `prometheus: …` entry
// and the previous values stay. A panel showing those values must therefore
// say how old they are once that matters and why they are not newer: numbers
// never go quietly old, and a panel is never blank (before the first reading
// it says it is waiting).
//
// The alerts and targets come from the same reading. A read where only the
// alerts query failed keeps the previous alerts under a fresh `read_at` with
// an `alerts: …` error, so the alerts panel also watches its own part.
//
// Ages are the engine's (`age_seconds`, or `taken_at − read_at`), both from
// the engine's clock: a browser on another machine with a skewed clock still
// sees the right age. The snapshot itself going old is the stream banners'
// business, not this.
import type { Ai } from '../generated/Ai';
import { seconds } from './format';

/**
 * - `off`: this fleet has no Prometheus;
 * - `waiting`: none read yet and none failed (the engine just started);
 * - `fresh`: the latest reading is recent;
 * - `stale`: older than `STALE_INTERVALS` refreshes without any error (a read in flight);
 * - `failing`: the latest attempt failed or is overdue; the values shown (if any) are older.
 */
export type ReadingState = 'off' | 'waiting' | 'fresh' | 'stale' | 'failing';

export interface ReadingStatus {
  state: ReadingState;
  /** Age of the values shown, seconds; null before the first reading. */
  ageSeconds: number | null;
  /** When they were read (RFC 3339, the engine's clock), for a tooltip. */
  readAt: string | null;
  /** One short line for next to the numbers; empty when fresh. Text, never HTML. */
  text: string;
  /** The errors that make it `failing`, verbatim from the engine. */
  errors: string[];
}

/** A reading is stale once older than this many refresh intervals (a healthy one is at most about one old). */
export const STALE_INTERVALS = 2;

/** The engine's default `probe.interval_ms`, until the fleet info says otherwise. */
export const DEFAULT_INTERVAL_MS = 1000;

/** How the engine prefixes an error of the whole Prometheus read. */
export const PROMETHEUS_PREFIX = 'prometheus: ';

/** "0.4 s", "14 s", "2 min 5 s": an age read at a glance. */
export function ageWords(s: number): string {
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  return seconds(s);
}

/** Age of the reading in seconds: the engine's `age_seconds`, else `taken_at − read_at`; null before the first. */
export function readingAge(ai: Pick<Ai, 'read_at' | 'age_seconds'>, takenAt?: string | null): number | null {
  if (ai.age_seconds !== null && ai.age_seconds !== undefined && Number.isFinite(ai.age_seconds)) return Math.max(0, ai.age_seconds);
  if (!ai.read_at || !takenAt) return null;
  const age = (Date.parse(takenAt) - Date.parse(ai.read_at)) / 1000;
  return Number.isFinite(age) ? Math.max(0, age) : null;
}

export interface ReadingOptions {
  /** The fleet's refresh interval, ms (FleetInfo.interval_ms). */
  intervalMs?: number | null;
  /** FleetInfo.prometheus: false when the fleet has none, null when not known yet. */
  configured?: boolean | null;
  /** The snapshot's `taken_at`, for engines that send `read_at` without `age_seconds`. */
  takenAt?: string | null;
  /**
   * A part of the reading that can fail on its own (`alerts`, or an AI panel
   * key such as `ttft_p99_seconds`): its `part: …` errors count as failing too.
   */
  part?: string;
}

/** What to say about the Prometheus reading a snapshot carries (`ai` null: no snapshot yet). */
export function prometheusReading(ai: Ai | null | undefined, opts: ReadingOptions = {}): ReadingStatus {
  const off = opts.configured === false;
  const nothing = (errors: string[]): ReadingStatus => ({
    state: off ? 'off' : 'waiting',
    ageSeconds: null,
    readAt: null,
    text: off ? 'no Prometheus configured' : 'waiting for Prometheus',
    errors,
  });
  if (!ai) return nothing([]);
  const intervalMs = opts.intervalMs && opts.intervalMs > 0 ? opts.intervalMs : DEFAULT_INTERVAL_MS;
  // An engine from before slow sources sends no `read_at` at all: it read
  // Prometheus inline, so its values are as old as the snapshot.
  const legacy = ai.read_at === undefined;
  const age = legacy ? (ai.available ? 0 : null) : readingAge(ai, opts.takenAt);
  const readAt = ai.read_at ?? null;
  const whole = ai.errors.filter((e) => e.startsWith(PROMETHEUS_PREFIX));
  const partPrefix = opts.part ? `${opts.part}: ` : null;
  const own = partPrefix ? ai.errors.filter((e) => e.startsWith(partPrefix)) : [];
  const errors = [...whole, ...own];
  const asOf = age === null ? null : `as of ${ageWords(age)} ago`;
  if (whole.length > 0) {
    return { state: 'failing', ageSeconds: age, readAt, text: asOf ?? 'no reading yet', errors };
  }
  if (age === null) {
    // Nothing read and nothing failed: the first read is still under way (or there is no Prometheus).
    return nothing(own);
  }
  if (own.length > 0) {
    // The reading is recent but this part of it failed: what is shown is from an earlier one.
    return { state: 'failing', ageSeconds: age, readAt, text: 'kept from an earlier reading', errors };
  }
  if (age > (STALE_INTERVALS * intervalMs) / 1000) {
    return { state: 'stale', ageSeconds: age, readAt, text: asOf!, errors: [] };
  }
  return { state: 'fresh', ageSeconds: age, readAt, text: '', errors: [] };
}

/** The values shown are older than they should be (draw them marked). */
export const isOld = (r: ReadingStatus): boolean => r.state === 'stale' || (r.state === 'failing' && r.ageSeconds !== null);

/** There are no values to show at all (draw the reason instead of dashes). */
export const isEmpty = (r: ReadingStatus): boolean => r.ageSeconds === null;
