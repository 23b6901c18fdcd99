import { describe, expect, it, vi } from 'vitest';
import { LazyStatements, splitSnapshot } from '../src/data/statements';
import { HttpSource } from '../src/data/http';
import { healthySnapshot, tick } from './helpers';
import type { Snapshot } from '../src/generated/Snapshot';

describe('statements off the main thread', () => {
  it('sends the statements text only when the engine re-read them', () => {
    const last = { sig: null as string | null };
    const a = healthySnapshot();
    const first = splitSnapshot(a, last);
    expect(first.statementsJson).not.toBeNull();
    expect('statements' in first.rest).toBe(false);
    expect(splitSnapshot(tick(a, 1), last).statementsJson, 'same read_at: not resent').toBeNull();
    const b = tick(a, 5);
    b.statements[3]!.read_at = '2026-11-23T09:21:51.201Z';
    expect(splitSnapshot(b, last).statementsJson).not.toBeNull();
  });

  it('parses the statements once, on first read, and keeps them across snapshots that did not resend them', () => {
    const lazy = new LazyStatements();
    const a = healthySnapshot();
    const last = { sig: null as string | null };
    const s1 = splitSnapshot(a, last);
    lazy.update(s1.statementsJson);
    const snap1 = lazy.attach(s1.rest);
    expect(lazy.parses, 'nothing parsed until someone looks').toBe(0);
    expect(snap1.statements).toEqual(a.statements);
    expect(snap1.statements).toBe(snap1.statements);
    const s2 = splitSnapshot(tick(a, 1), last);
    lazy.update(s2.statementsJson);
    const snap2 = lazy.attach(s2.rest);
    expect(snap2.statements).toBe(snap1.statements);
    expect(lazy.parses).toBe(1);
  });
});

class FakeWorker {
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  posted: unknown[] = [];
  terminated = false;
  postMessage(m: unknown) {
    this.posted.push(m);
  }
  terminate() {
    this.terminated = true;
  }
  send(data: unknown) {
    this.onmessage?.(new MessageEvent('message', { data }));
  }
}

describe('HttpSource with the stream in a worker', () => {
  it('hands the worker the stream URL (with the token) and rebuilds snapshots from its messages', () => {
    const w = new FakeWorker();
    const src = new HttpSource({ pageUrl: 'http://h:1/?token=t', fetch: vi.fn() as unknown as typeof fetch, worker: () => w as unknown as Worker });
    const got: Snapshot[] = [];
    const states: string[] = [];
    src.onStream((s) => states.push(s));
    src.onSnapshot((s) => got.push(s));
    expect(w.posted[0]).toEqual({ url: 'http://h:1/api/snapshots?token=t' });
    const last = { sig: null as string | null };
    const a = healthySnapshot();
    w.send({ type: 'open' });
    w.send({ type: 'snapshot', ...splitSnapshot(a, last) });
    w.send({ type: 'snapshot', ...splitSnapshot(tick(a, 1), last) });
    w.send({ type: 'error' });
    expect(got.map((s) => s.seq)).toEqual([0, 1]);
    expect(got[1]!.statements).toEqual(a.statements);
    expect(got[1]!.nodes).toHaveLength(49);
    expect(states).toEqual(['connecting', 'up', 'down']);
  });

  it('falls back to a main-thread EventSource when the worker fails to load', () => {
    const w = new FakeWorker();
    const opened: string[] = [];
    class ES {
      constructor(url: string) {
        opened.push(url);
      }
      addEventListener() {}
      close() {}
    }
    const src = new HttpSource({
      pageUrl: 'http://h:1/',
      fetch: vi.fn() as unknown as typeof fetch,
      EventSource: ES as unknown as typeof EventSource,
      worker: () => w as unknown as Worker,
    });
    src.onSnapshot(() => {});
    expect(opened).toEqual([]);
    w.onerror!(new Event('error'));
    expect(w.terminated).toBe(true);
    expect(opened).toEqual(['http://h:1/api/snapshots']);
  });
});
