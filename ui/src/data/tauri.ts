// The desktop side: commands and the pushed events of the Tauri shell
// (src-tauri). Argument names are camelCase here; Tauri maps them to the
// commands' snake_case parameters. The shell pushes JSON text (decoded here:
// an object payload would be compiled as script), pg_stat_statements on their
// own `statements` event only when re-read, and every `snapshot` without them
// (src-tauri/src/push.rs); they are put back together here, so the rest of
// the UI sees whole snapshots. Guarded actions are the `actions` part: their
// commands are granted to the console window only (capabilities/actions.json),
// and each event of a running action arrives as `action-event`.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { FleetInfo } from '../generated/FleetInfo';
import type { NodeStatements } from '../generated/NodeStatements';
import type { PlanView } from '../generated/PlanView';
import type { RangeResult } from '../generated/RangeResult';
import type { Snapshot } from '../generated/Snapshot';
import type { ActionEvent } from '../generated/ActionEvent';
import type { Outcome } from '../generated/Outcome';
import type { Override } from '../generated/Override';
import type { ActionsApi, ActionsState, ActionTarget, AuditTrail } from '../lib/actions';
import { toUiError } from './errors';
import type { DataSource, ExplainTarget, StreamState } from './source';

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toUiError(e);
  }
}

/** The shell's action commands (src-tauri/src/commands/actions.rs). */
export const tauriActions: ActionsApi = {
  state: () => call<ActionsState>('actions_state'),
  unlock: (operator) => call<ActionsState>('actions_unlock', { operator }),
  lock: () => call<ActionsState>('actions_lock'),
  plan: (what: ActionTarget, overrides: Override[]) =>
    call<Outcome>('action_plan', { kind: what.kind, target: what.target, runId: what.runId, overrides }),
  execute: (what: ActionTarget, confirm: string, overrides: Override[]) =>
    call<Outcome>('action_execute', { kind: what.kind, target: what.target, runId: what.runId, confirm, overrides }),
  auditTrail: (limit) => call<AuditTrail>('audit_trail', { limit }),
  onEvent(cb: (e: ActionEvent) => void): () => void {
    let stop: (() => void) | null = null;
    let cancelled = false;
    void listen<ActionEvent>('action-event', (e) => cb(e.payload)).then((u) => {
      if (cancelled) u();
      else stop = u;
    });
    return () => {
      cancelled = true;
      stop?.();
    };
  },
};

export class TauriSource implements DataSource {
  readonly kind = 'tauri' as const;
  readonly actions = tauriActions;
  private permission: Promise<boolean> | null = null;
  /** The statements pushed last (null before the first push). */
  private statements: NodeStatements[] | null = null;

  fleetInfo(): Promise<FleetInfo> {
    return call<FleetInfo>('fleet_info');
  }

  async latestSnapshot(): Promise<Snapshot | null> {
    const s = await call<Snapshot | null>('latest_snapshot');
    // Whole; its statements stand until the next push (which may have come first).
    if (s !== null && this.statements === null) this.statements = s.statements;
    return s;
  }

  onSnapshot(cb: (s: Snapshot, at: number) => void): () => void {
    const unlisten: (() => void)[] = [];
    let cancelled = false;
    const keep = (u: () => void) => {
      if (cancelled) u();
      else unlisten.push(u);
    };
    void listen<string>('statements', (e) => {
      this.statements = JSON.parse(e.payload) as NodeStatements[];
    }).then(keep);
    void listen<string>('snapshot', (e) => {
      const at = performance.now();
      const s = JSON.parse(e.payload) as Snapshot;
      s.statements = this.statements ?? [];
      cb(s, at);
    }).then(keep);
    return () => {
      cancelled = true;
      for (const u of unlisten.splice(0)) u();
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
