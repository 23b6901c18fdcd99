import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listeners = new Map<string, (e: { payload: unknown }) => void>();
const unlisten = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock('@tauri-apps/api/event', () => ({
  listen: async (name: string, cb: (e: { payload: unknown }) => void) => {
    listeners.set(name, cb);
    return unlisten;
  },
}));
const notification = {
  isPermissionGranted: vi.fn(async () => false),
  requestPermission: vi.fn(async () => 'granted'),
  sendNotification: vi.fn(),
};
vi.mock('@tauri-apps/plugin-notification', () => notification);

import { TauriSource } from '../src/data/tauri';
import { inTauri } from '../src/data/source';

beforeEach(() => {
  invoke.mockReset();
  listeners.clear();
});

describe('TauriSource', () => {
  it('calls the shell commands by their names with camelCase arguments', async () => {
    const src = new TauriSource();
    invoke.mockResolvedValue({});
    await src.fleetInfo();
    await src.latestSnapshot();
    await src.range('sum(vllm:num_requests_running)', 3600);
    await src.explain('pg2', { queryId: '42' }, true);
    await src.explain('pg1', { sql: 'SELECT 1' }, false);
    await src.setFleet('/tmp/fleet.toml');
    expect(invoke.mock.calls).toEqual([
      ['fleet_info', undefined],
      ['latest_snapshot', undefined],
      ['query_range', { promql: 'sum(vllm:num_requests_running)', rangeSeconds: 3600 }],
      ['explain', { node: 'pg2', queryId: '42', sql: null, analyze: true }],
      ['explain', { node: 'pg1', queryId: null, sql: 'SELECT 1', analyze: false }],
      ['set_fleet', { path: '/tmp/fleet.toml' }],
    ]);
  });

  it('rejects with the UiError the command returned', async () => {
    const src = new TauriSource();
    invoke.mockRejectedValue({ code: 'not_configured', message: 'no fleet file' });
    await expect(src.fleetInfo()).rejects.toEqual({ code: 'not_configured', message: 'no fleet file' });
    invoke.mockRejectedValue('command explain not allowed by ACL');
    await expect(src.explain('pg0', { sql: 'x' }, false)).rejects.toEqual({ code: 'internal', message: 'command explain not allowed by ACL' });
  });

  it('decodes the `snapshot` event (JSON text) and stops on unsubscribe', async () => {
    const src = new TauriSource();
    const got: number[] = [];
    const off = src.onSnapshot((s) => got.push(s.seq));
    await Promise.resolve();
    listeners.get('snapshot')!({ payload: JSON.stringify({ seq: 3 }) });
    expect(got).toEqual([3]);
    off();
    expect(unlisten).toHaveBeenCalledTimes(2);
  });

  it('puts the statements pushed on their own event back into every snapshot', async () => {
    const src = new TauriSource();
    const got: { seq: number; statements: unknown[] }[] = [];
    src.onSnapshot((s) => got.push({ seq: s.seq, statements: s.statements }));
    await Promise.resolve();
    listeners.get('snapshot')!({ payload: JSON.stringify({ seq: 1, statements: [] }) });
    const read = [{ node: 'pg0', read_at: 't1', top: [{ query: 'SELECT 1' }] }];
    listeners.get('statements')!({ payload: JSON.stringify(read) });
    listeners.get('snapshot')!({ payload: JSON.stringify({ seq: 2, statements: [] }) });
    listeners.get('snapshot')!({ payload: JSON.stringify({ seq: 3, statements: [] }) });
    expect(got).toEqual([
      { seq: 1, statements: [] },
      { seq: 2, statements: read },
      { seq: 3, statements: read },
    ]);
  });

  it('takes the statements of latest_snapshot until the first push', async () => {
    const src = new TauriSource();
    const whole = [{ node: 'pg1', read_at: 't0', top: [] }];
    invoke.mockResolvedValue({ seq: 0, statements: whole });
    await src.latestSnapshot();
    const got: unknown[] = [];
    src.onSnapshot((s) => got.push(s.statements));
    await Promise.resolve();
    listeners.get('snapshot')!({ payload: JSON.stringify({ seq: 1, statements: [] }) });
    expect(got).toEqual([whole]);
  });

  it('asks for notification permission once, then sends', async () => {
    const src = new TauriSource();
    await src.notify('t1', 'b1');
    await src.notify('t2', 'b2');
    expect(notification.requestPermission).toHaveBeenCalledTimes(1);
    expect(notification.sendNotification.mock.calls).toEqual([[{ title: 't1', body: 'b1' }], [{ title: 't2', body: 'b2' }]]);
  });

  it('is chosen by the presence of __TAURI_INTERNALS__', () => {
    expect(inTauri({})).toBe(false);
    expect(inTauri({ __TAURI_INTERNALS__: {} })).toBe(true);
  });
});
