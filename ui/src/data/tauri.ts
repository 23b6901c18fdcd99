// The desktop side: commands and the `snapshot` event of the Tauri shell
// (src-tauri). Argument names are camelCase here; Tauri maps them to the
// commands' snake_case parameters.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { FleetInfo } from '../generated/FleetInfo';
import type { PlanView } from '../generated/PlanView';
import type { RangeResult } from '../generated/RangeResult';
import type { Snapshot } from '../generated/Snapshot';
import { toUiError } from './errors';
import type { DataSource, ExplainTarget, StreamState } from './source';

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toUiError(e);
  }
}

export class TauriSource implements DataSource {
  readonly kind = 'tauri' as const;
  private permission: Promise<boolean> | null = null;

  fleetInfo(): Promise<FleetInfo> {
    return call<FleetInfo>('fleet_info');
  }

  latestSnapshot(): Promise<Snapshot | null> {
    return call<Snapshot | null>('latest_snapshot');
  }

  onSnapshot(cb: (s: Snapshot, at: number) => void): () => void {
    let unlisten: (() => void) | null = null;
    let cancelled = false;
    void listen<Snapshot>('snapshot', (e) => cb(e.payload, performance.now())).then((u) => {
      if (cancelled) u();
      else unlisten = u;
    });
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }

  onStream(cb: (s: StreamState) => void): () => void {
    // IPC does not drop; staleness is shown from snapshot age instead.
    cb('up');
    return () => {};
  }

  range(promql: string, rangeSeconds: number): Promise<RangeResult> {
    return call<RangeResult>('query_range', { promql, rangeSeconds });
  }

  explain(node: string, target: ExplainTarget, analyze: boolean): Promise<PlanView> {
    return call<PlanView>('explain', {
      node,
      queryId: 'queryId' in target ? target.queryId : null,
      sql: 'sql' in target ? target.sql : null,
      analyze,
    });
  }

  setFleet(path: string): Promise<FleetInfo> {
    return call<FleetInfo>('set_fleet', { path });
  }

  async notify(title: string, body: string): Promise<void> {
    const n = await import('@tauri-apps/plugin-notification');
    if (this.permission === null) {
      this.permission = (async () => {
        if (await n.isPermissionGranted()) return true;
        return (await n.requestPermission()) === 'granted';
      })().catch(() => false);
    }
    if (await this.permission) n.sendNotification({ title, body });
  }
}
