// The DataSource contract: the only way the UI talks to a backend. Two
// implementations exist, one over Tauri IPC (desktop) and one over HTTP +
// Server-Sent Events (`fleetdeck serve`, read-only); `selectSource` picks one
// at startup. Everything else in the UI is written against this interface, so
// tests drive the UI with a fake.
import type { FleetInfo } from '../generated/FleetInfo';
import type { PlanView } from '../generated/PlanView';
import type { RangeResult } from '../generated/RangeResult';
import type { Snapshot } from '../generated/Snapshot';
import type { ActionsApi } from '../lib/actions';

/** What to explain: a `pg_stat_statements` entry or ad-hoc SQL. */
export type ExplainTarget = { queryId: string } | { sql: string };

/** Whether the live stream is up; HTTP reconnects on its own while down. */
export type StreamState = 'connecting' | 'up' | 'down';

export interface DataSource {
  readonly kind: 'tauri' | 'http';
  /** The fleet and the mode; rejects with a UiError (`not_configured` when no fleet is open). */
  fleetInfo(): Promise<FleetInfo>;
  /** The newest snapshot for the first paint, or null (none yet, or the source pushes one on connect). */
  latestSnapshot(): Promise<Snapshot | null>;
  /** Every snapshot as it arrives. `receivedAt` is performance.now() when the transport handed it over. */
  onSnapshot(cb: (s: Snapshot, receivedAt: number) => void): () => void;
  /** Stream health changes (HTTP: EventSource open/error; Tauri: always up once listening). */
  onStream(cb: (state: StreamState) => void): () => void;
  range(promql: string, rangeSeconds: number): Promise<RangeResult>;
  explain(node: string, target: ExplainTarget, analyze: boolean): Promise<PlanView>;
  notify(title: string, body: string): Promise<void>;
  /** Desktop only: open another fleet file (the shell's fleet chooser). */
  setFleet?(path: string): Promise<FleetInfo>;
  /**
   * Desktop only: guarded actions and the audit trail. A browser on
   * `fleetdeck serve` has none (serve routes no action), so no Actions panel
   * or unlock control is ever drawn there.
   */
  readonly actions?: ActionsApi;
}

/** True inside the Tauri webview. */
export function inTauri(w: object = globalThis): boolean {
  return '__TAURI_INTERNALS__' in w;
}

/** The Tauri source or the HTTP one, by where the page runs. */
export async function selectSource(): Promise<DataSource> {
  if (inTauri(window)) {
    const { TauriSource } = await import('./tauri');
    return new TauriSource();
  }
  const { HttpSource } = await import('./http');
  return new HttpSource({ pageUrl: window.location.href });
}
