// The app state: one store, created once at startup around a DataSource and
// provided to every component. Snapshots are held in a shallowRef and marked
// raw, so Vue never walks (or proxies) the ~70 KB object a 49-node fleet
// sends every second; components read plain data and re-render when the
// reference changes. Per-snapshot bookkeeping (history, first-seen times,
// notifications) happens once here, not in components.
import { computed, inject, markRaw, nextTick, reactive, ref, shallowRef, type App, type InjectionKey } from 'vue';
import type { FleetInfo } from '../generated/FleetInfo';
import type { Snapshot } from '../generated/Snapshot';
import type { UiError } from '../generated/UiError';
import { toUiError } from '../data/errors';
import type { DataSource, StreamState } from '../data/source';
import { HistoryRecorder } from './history';
import { AnomalyTracker, sortAnomalies } from './incidents';
import { NotificationGate } from './notifications';
import { PerfRecorder } from './perf';
import { anomaliesByNode, DEFAULT_CONNECTIONS_NEAR_MAX_RATIO, healthBySubject, splitBrain, type Health } from '../lib/health';
import type { Anomaly } from '../generated/Anomaly';
import { prometheusReading, type ReadingStatus } from '../lib/reading';
import { createActions } from './actions';

export type ViewName = 'overview' | 'topology' | 'pools' | 'queries' | 'cache' | 'ai';

export const VIEWS: readonly { name: ViewName; label: string; key: string }[] = [
  { name: 'overview', label: 'Overview', key: '1' },
  { name: 'topology', label: 'Topology', key: '2' },
  { name: 'pools', label: 'Pools', key: '3' },
  { name: 'queries', label: 'Queries', key: '4' },
  { name: 'cache', label: 'Cache', key: '5' },
  { name: 'ai', label: 'AI', key: '6' },
];

export const RANGES: readonly { seconds: number; label: string }[] = [
  { seconds: 300, label: '5m' },
  { seconds: 900, label: '15m' },
  { seconds: 3600, label: '1h' },
  { seconds: 6 * 3600, label: '6h' },
  { seconds: 24 * 3600, label: '24h' },
];

/** What every view derives from a snapshot, computed once per snapshot. */
export interface Derived {
  /** Health by subject key (read with `healthOf`). */
  health: Map<string, Health>;
  /** Anomalies by the PostgreSQL node they are shown on (see anomaliesByNode). */
  byNode: Map<string, Anomaly[]>;
  anomalies: Anomaly[];
  splitBrain: boolean;
}

export interface UiState {
  view: ViewName;
  kiosk: boolean;
  /** History range of every chart, seconds. */
  range: number;
  paletteOpen: boolean;
  helpOpen: boolean;
  selectedNode: string | null;
  selectedPool: string | null;
  selectedCache: string | null;
  cyclePaused: boolean;
  /** AI panels whose PromQL the user edited, by panel key. */
  aiEdits: Record<string, string>;
}

export interface StoreOptions {
  /** Wall clock (ms); tests pass a fake. */
  now?: () => number;
  /** Kiosk requested by the page (`?kiosk=1`). */
  kiosk?: boolean;
  /** Where `snapshotSeq` is written (tests may pass a detached element). */
  body?: HTMLElement;
  notifications?: NotificationGate;
}

export function createStore(source: DataSource, opts: StoreOptions = {}) {
  const now = opts.now ?? (() => Date.now());
  const info = shallowRef<FleetInfo | null>(null);
  const infoError = shallowRef<UiError | null>(null);
  const snapshot = shallowRef<Snapshot | null>(null);
  const stream = ref<StreamState>('connecting');
  const lastReceived = ref<number | null>(null);
  const history = new HistoryRecorder();
  const historyVersion = ref(0);
  const tracker = new AnomalyTracker();
  const incidentStart = ref<number | null>(null);
  const gate = opts.notifications ?? new NotificationGate();
  const perf = new PerfRecorder();
  const ui = reactive<UiState>({
    view: 'overview',
    kiosk: opts.kiosk ?? false,
    range: 900,
    paletteOpen: false,
    helpOpen: false,
    selectedNode: null,
    selectedPool: null,
    selectedCache: null,
    cyclePaused: false,
    aiEdits: {},
  });
  let lastSeq = -1;
  let lastTakenAt = '';
  const unsubs: (() => void)[] = [];

  const derived = computed<Derived | null>(() => {
    const s = snapshot.value;
    if (s === null) return null;
    return {
      health: healthBySubject(s.anomalies),
      byNode: anomaliesByNode(s.anomalies),
      anomalies: sortAnomalies(s.anomalies, tracker),
      splitBrain: splitBrain(s),
    };
  });

  /** One snapshot in: bookkeeping, then a render; its cost lands in `perf`. */
  function ingest(s: Snapshot, receivedAt: number = performance.now()): void {
    // The shell may hand the same snapshot twice (latest_snapshot and the event).
    const decodeMs = performance.now() - receivedAt;
    if (s.seq === lastSeq && s.taken_at === lastTakenAt) return;
    if (lastTakenAt !== '' && s.taken_at < lastTakenAt) return;
    lastSeq = s.seq;
    lastTakenAt = s.taken_at;
    const wall = now();
    if (history.record(s)) historyVersion.value = history.version;
    tracker.update(s.anomalies, wall);
    incidentStart.value = tracker.incidentStart();
    for (const n of gate.consider(s, wall)) {
      source.notify(n.title, n.body).catch(() => {});
    }
    lastReceived.value = wall;
    snapshot.value = markRaw(s);
    const body = opts.body ?? (typeof document !== 'undefined' ? document.body : undefined);
    void nextTick(() => {
      if (body) body.dataset.snapshotSeq = String(s.seq);
      perf.record(performance.now() - receivedAt, decodeMs);
    });
  }

  /**
   * Benchmark hook (window.__fleetdeckPerf.backfill): replace the history with
   * `seconds` rows at 1 s ending at the latest snapshot, its numbers wobbling
   * deterministically, so charts hold a full window without waiting for it.
   */
  function backfill(seconds: number): number {
    const s = snapshot.value;
    if (s === null) return 0;
    const end = Date.parse(s.taken_at);
    history.clear();
    for (let i = seconds; i >= 1; i--) {
      const f = 1 + 0.25 * Math.sin(i / 37);
      const row: Snapshot = {
        ...s,
        taken_at: new Date(end - i * 1000).toISOString(),
        pools: s.pools.map((p) => ({ ...p, cl_active: Math.round(p.cl_active * f), cl_waiting: i % 300 < 20 ? 3 : 0 })),
        nodes: s.nodes.map((n) => ({ ...n, replay_lag_bytes: n.replay_lag_bytes === null ? null : Math.round(n.replay_lag_bytes * f) })),
        caches: s.caches.map((c) => ({ ...c, ops_per_second: c.ops_per_second * f, evicted_keys: c.evicted_keys + (seconds - i) })),
      };
      history.record(row);
    }
    history.record(s);
    historyVersion.value = history.version;
    return history.ring.length;
  }
  perf.backfill = backfill;

  async function loadInfo(): Promise<void> {
    try {
      const fi = await source.fleetInfo();
      info.value = markRaw(fi);
      infoError.value = null;
      if (fi.kiosk) ui.kiosk = true;
    } catch (e) {
      infoError.value = toUiError(e);
    }
  }

  async function start(): Promise<void> {
    unsubs.push(source.onStream((st) => (stream.value = st)));
    unsubs.push(source.onSnapshot((s, at) => ingest(s, at)));
    await loadInfo();
    try {
      const first = await source.latestSnapshot();
      if (first !== null) ingest(first);
    } catch {
      /* the event stream will bring one */
    }
  }

  async function setFleet(path: string): Promise<void> {
    if (!source.setFleet) return;
    const fi = await source.setFleet(path);
    info.value = markRaw(fi);
    infoError.value = null;
    if (fi.kiosk) ui.kiosk = true;
  }

  /**
   * What to say about the latest snapshot's Prometheus reading: its age once
   * stale, the error while failing, "waiting for Prometheus" before the first
   * (`part`: `alerts` or an AI panel key, whose own errors count too).
   */
  function prometheus(part?: string): ReadingStatus {
    const s = snapshot.value;
    return prometheusReading(s?.ai, { intervalMs: info.value?.interval_ms, configured: info.value?.prometheus ?? null, takenAt: s?.taken_at, part });
  }

  /** Actions (ANALYZE, the SQL box, PromQL edits) are offered only here. */
  const canAct = computed(() => !ui.kiosk);
  const readOnly = computed(() => info.value?.read_only ?? true);
  /**
   * Guarded actions (switchover, failover, recovery) and the audit trail:
   * only in the desktop, never in the war room, and only for a fleet with an
   * action login. Even then the session starts locked.
   */
  const actions = createActions(
    source.actions,
    computed(() => !!source.actions && !ui.kiosk && info.value !== null && !info.value.read_only),
    () => ui.kiosk,
    now,
  );

  function stop(): void {
    for (const u of unsubs.splice(0)) u();
    actions.stop();
  }
  /** The fleet's `[thresholds] connections_near_max_ratio` (the engine's default until the fleet info is in). */
  const nearMaxRatio = computed(() => info.value?.connections_near_max_ratio ?? DEFAULT_CONNECTIONS_NEAR_MAX_RATIO);

  return {
    source,
    info,
    infoError,
    snapshot,
    derived,
    stream,
    lastReceived,
    history,
    historyVersion,
    tracker,
    incidentStart,
    perf,
    ui,
    canAct,
    readOnly,
    actions,
    nearMaxRatio,
    prometheus,
    now,
    ingest,
    backfill,
    start,
    stop,
    loadInfo,
    setFleet,
  };
}

export type Store = ReturnType<typeof createStore>;

export const STORE: InjectionKey<Store> = Symbol('fleetdeck-store');

export function provideStore(app: App, store: Store): void {
  app.provide(STORE, store);
}

export function useStore(): Store {
  const s = inject(STORE);
  if (!s) throw new Error('FleetDeck store not provided');
  return s;
}
