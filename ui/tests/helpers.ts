// Test doubles and fixtures shared by the UI tests. The fixtures are real
// snapshots of the lab (1 primary + 48 replicas in three tiers), recorded
// with `fleetdeck snapshot --json`: one healthy, one taken while every probe
// timed out (98 anomalies). Recorded before anomalies had typed subjects;
// their anomalies were converted to the current contract (Subject objects,
// `since` a fixed time before `taken_at`, empty `figures`, a `store` status).
import healthy from './fixtures/lab-48-healthy.json';
import unreachable from './fixtures/lab-48-unreachable.json';
import type { DataSource, ExplainTarget, StreamState } from '../src/data/source';
import type { FleetInfo } from '../src/generated/FleetInfo';
import type { PlanView } from '../src/generated/PlanView';
import type { RangeResult } from '../src/generated/RangeResult';
import type { Snapshot } from '../src/generated/Snapshot';
import type { Anomaly } from '../src/generated/Anomaly';
import type { Subject } from '../src/generated/Subject';
import { subjectLabel } from '../src/lib/subject';

/**
 * A recorded snapshot brought to the current contract: poolers recorded
 * before `Pooler.paused` existed had no database paused.
 */
function current(recorded: unknown): Snapshot {
  const s = structuredClone(recorded) as Snapshot;
  for (const p of s.poolers) p.paused ??= [];
  return s;
}

export function healthySnapshot(): Snapshot {
  return current(healthy);
}

export function unreachableSnapshot(): Snapshot {
  return current(unreachable);
}

/**
 * An anomaly as the engine sends it. `since` defaults to null (an engine that
 * has not tracked it); the message names the subject by its label.
 */
export function anomaly(
  kind: Anomaly['kind'],
  subject: Subject,
  opts: { severity?: Anomaly['severity']; since?: string | null; message?: string; figures?: Record<string, number> } = {},
): Anomaly {
  return {
    kind,
    subject,
    severity: opts.severity ?? 'warning',
    message: opts.message ?? `${kind.replace(/_/g, ' ')} on ${subjectLabel(subject)}`,
    since: opts.since ?? null,
    figures: opts.figures ?? {},
  };
}

/** The healthy fixture `i` seconds later, with seq advanced. */
export function tick(base: Snapshot, i: number): Snapshot {
  const s = structuredClone(base);
  s.seq = base.seq + i;
  s.taken_at = new Date(Date.parse(base.taken_at) + i * 1000).toISOString();
  return s;
}

/**
 * `base` with its Prometheus reading as the engine's slow source leaves it
 * (crates/core/src/slow.rs): read `ageSeconds` before `taken_at`, or never
 * (`null`: the engine's `Ai::default()`, every value null, no alerts or
 * targets), with `errors` as its `ai.errors` (`prometheus: …` while the
 * read fails or is overdue, `alerts: …` when only that part failed).
 */
export function withPrometheusReading(base: Snapshot, opts: { ageSeconds: number | null; errors?: string[] }): Snapshot {
  const s = structuredClone(base);
  if (opts.ageSeconds === null) {
    s.ai = {
      available: false,
      errors: [],
      generation_tokens_per_second: null,
      prompt_tokens_per_second: null,
      requests_running: null,
      requests_waiting: null,
      ttft_p50_seconds: null,
      ttft_p99_seconds: null,
      e2e_p99_seconds: null,
      success_per_second: null,
      kv_cache_usage: null,
      moderation_per_second: {},
      moderation_p99_seconds: null,
      read_at: null,
      age_seconds: null,
    };
    s.alerts = [];
    s.targets = [];
  } else {
    s.ai = {
      ...s.ai,
      errors: [],
      read_at: new Date(Date.parse(s.taken_at) - opts.ageSeconds * 1000).toISOString(),
      age_seconds: opts.ageSeconds,
    };
  }
  s.ai.errors.push(...(opts.errors ?? []));
  return s;
}

export const FLEET_INFO: FleetInfo = {
  name: 'lab',
  path: '/var/tmp/fleetdeck-lab/fleet.toml',
  interval_ms: 1000,
  prometheus: false,
  queries: {
    generation_tokens_per_second: 'sum(rate(vllm:generation_tokens_total[1m]))',
    moderation_per_second: 'sum by (decision) (rate(moderation_requests_total[1m]))',
  },
  kiosk: false,
  read_only: false,
  connections_near_max_ratio: 0.9,
};

export class FakeSource implements DataSource {
  readonly kind = 'tauri' as const;
  info: FleetInfo = { ...FLEET_INFO };
  latest: Snapshot | null = null;
  private cbs = new Set<(s: Snapshot, at: number) => void>();
  private streamCbs = new Set<(s: StreamState) => void>();
  notified: { title: string; body: string }[] = [];
  explained: { node: string; target: ExplainTarget; analyze: boolean }[] = [];
  ranges: { promql: string; rangeSeconds: number }[] = [];
  plan: PlanView = {
    node: 'pg1',
    query: 'SELECT 1',
    analyzed: false,
    generic: false,
    plan_json: JSON.stringify([{ Plan: { 'Node Type': 'Result', 'Startup Cost': 0, 'Total Cost': 0.01, 'Plan Rows': 1, 'Plan Width': 4 } }]),
  };

  fleetInfo(): Promise<FleetInfo> {
    return Promise.resolve(this.info);
  }
  latestSnapshot(): Promise<Snapshot | null> {
    return Promise.resolve(this.latest);
  }
  onSnapshot(cb: (s: Snapshot, at: number) => void): () => void {
    this.cbs.add(cb);
    return () => this.cbs.delete(cb);
  }
  onStream(cb: (s: StreamState) => void): () => void {
    this.streamCbs.add(cb);
    cb('up');
    return () => this.streamCbs.delete(cb);
  }
  emit(s: Snapshot): void {
    for (const cb of this.cbs) cb(s, performance.now());
  }
  stream(state: StreamState): void {
    for (const cb of this.streamCbs) cb(state);
  }
  range(promql: string, rangeSeconds: number): Promise<RangeResult> {
    this.ranges.push({ promql, rangeSeconds });
    return Promise.resolve({ query: promql, step_seconds: 1, series: [] });
  }
  explain(node: string, target: ExplainTarget, analyze: boolean): Promise<PlanView> {
    this.explained.push({ node, target, analyze });
    return Promise.resolve({ ...this.plan, node });
  }
  notify(title: string, body: string): Promise<void> {
    this.notified.push({ title, body });
    return Promise.resolve();
  }
}

/** Let promises and Vue's scheduler settle. */
export async function flush(times = 3): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise((r) => setTimeout(r, 0));
}
