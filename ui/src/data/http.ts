// The browser side of `fleetdeck serve`: JSON over GET and snapshots over
// Server-Sent Events, decoded in a worker when one can start (statements.ts
// says why). The server is read-only, so ANALYZE is never sent.
// URLs are relative to the page (`api/...`), so the UI works under any path
// prefix; a `?token=` on the page URL is passed on to every request (serve
// asks for it when bound off loopback).
import type { FleetInfo } from '../generated/FleetInfo';
import type { PlanView } from '../generated/PlanView';
import type { RangeResult } from '../generated/RangeResult';
import type { Snapshot } from '../generated/Snapshot';
import { isUiError, toUiError, uiError } from './errors';
import type { DataSource, ExplainTarget, StreamState } from './source';
import { LazyStatements, type SplitSnapshot } from './statements';

export interface HttpSourceOptions {
  /** The page's URL: the base for `api/...` and where `?token=` is read. */
  pageUrl: string;
  fetch?: typeof fetch;
  EventSource?: typeof EventSource;
  /** Browser notifications; defaults to `window.Notification` when present. */
  Notification?: typeof Notification;
  /**
   * Decode the stream in a worker (default: when Worker exists and no
   * EventSource double was passed). Falls back to the main thread if the
   * worker cannot start.
   */
  worker?: boolean | (() => Worker);
}

export class HttpSource implements DataSource {
  readonly kind = 'http' as const;
  private readonly base: URL;
  private readonly token: string | null;
  private readonly fetchFn: typeof fetch;
  private readonly ES: typeof EventSource | undefined;
  private readonly Notif: typeof Notification | undefined;
  private es: EventSource | null = null;
  private worker: Worker | null = null;
  private readonly makeWorker: (() => Worker) | null;
  private readonly statements = new LazyStatements();
  private readonly snapshotCbs = new Set<(s: Snapshot, at: number) => void>();
  private readonly streamCbs = new Set<(s: StreamState) => void>();
  private state: StreamState = 'connecting';

  constructor(opts: HttpSourceOptions) {
    this.base = new URL(opts.pageUrl);
    this.base.search = '';
    this.base.hash = '';
    this.token = new URL(opts.pageUrl).searchParams.get('token');
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.ES = opts.EventSource ?? globalThis.EventSource;
    this.Notif = opts.Notification ?? (globalThis as { Notification?: typeof Notification }).Notification;
    const useWorker = opts.worker ?? (opts.EventSource === undefined && typeof Worker !== 'undefined');
    this.makeWorker =
      typeof useWorker === 'function'
        ? useWorker
        : useWorker
          ? () => new Worker(new URL('./sse-worker.ts', import.meta.url), { type: 'module', name: 'fleetdeck-sse' })
          : null;
  }

  /** `api/<path>` relative to the page, with the query and the token. */
  url(path: string, params: Record<string, string | number | undefined> = {}): string {
    const u = new URL(`api/${path}`, this.base);
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined) u.searchParams.set(k, String(v));
    }
    if (this.token !== null) u.searchParams.set('token', this.token);
    return u.toString();
  }

  private async get<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(this.url(path, params), { headers: { Accept: 'application/json' } });
    } catch (e) {
      throw uiError('unreachable', `cannot reach the FleetDeck server: ${toUiError(e).message}`);
    }
    let body: unknown = undefined;
    const text = await res.text();
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      if (isUiError(body)) throw body;
      const code = res.status === 401 || res.status === 403 ? 'refused' : res.status >= 500 ? 'server' : 'bad_request';
      throw uiError(code, `HTTP ${res.status} ${res.statusText} from ${path}`.trim());
    }
    if (body === undefined) throw uiError('internal', `${path}: the server answered without JSON`);
    return body as T;
  }

  fleetInfo(): Promise<FleetInfo> {
    return this.get<FleetInfo>('fleet');
  }

  /** The stream sends the newest snapshot as soon as it connects. */
  latestSnapshot(): Promise<Snapshot | null> {
    return Promise.resolve(null);
  }

  onSnapshot(cb: (s: Snapshot, at: number) => void): () => void {
    this.snapshotCbs.add(cb);
    this.connect();
    return () => {
      this.snapshotCbs.delete(cb);
      this.maybeDisconnect();
    };
  }

  onStream(cb: (s: StreamState) => void): () => void {
    this.streamCbs.add(cb);
    cb(this.state);
    return () => {
      this.streamCbs.delete(cb);
    };
  }

  private setState(s: StreamState): void {
    if (s === this.state) return;
    this.state = s;
    for (const cb of this.streamCbs) cb(s);
  }

  private connect(): void {
    if (this.es !== null || this.worker !== null) return;
    if (this.makeWorker !== null && this.connectWorker()) return;
    this.connectHere();
  }

  private emit(snap: Snapshot, at: number): void {
    this.setState('up');
    for (const cb of this.snapshotCbs) cb(snap, at);
  }

  /** The stream in a worker; false when no worker could be made. */
  private connectWorker(): boolean {
    let w: Worker;
    try {
      w = this.makeWorker!();
    } catch {
      return false;
    }
    this.worker = w;
    w.onmessage = (e: MessageEvent) => {
      // Taken before touching e.data: its structured-clone decoding is main-thread work.
      const at = performance.now();
      const m = e.data as { type: 'open' } | { type: 'error' } | ({ type: 'snapshot' } & SplitSnapshot);
      if (m.type === 'open') this.setState('up');
      else if (m.type === 'error') this.setState('down');
      else {
        this.statements.update(m.statementsJson);
        this.emit(this.statements.attach(m.rest), at);
      }
    };
    // A worker that cannot load (CSP worker-src, file://) reports an error
    // event: read the stream on the main thread instead.
    w.onerror = () => {
      if (this.worker !== w) return;
      w.terminate();
      this.worker = null;
      if (this.snapshotCbs.size > 0) this.connectHere();
    };
    w.postMessage({ url: this.url('snapshots') });
    return true;
  }

  private connectHere(): void {
    if (this.es !== null) return;
    if (this.ES === undefined) {
      this.setState('down');
      return;
    }
    const es = new this.ES(this.url('snapshots'));
    this.es = es;
    es.addEventListener('open', () => this.setState('up'));
    // EventSource retries by itself after an error; CLOSED means it gave up
    // (e.g. a 401/404), which still reads as "down" to the operator.
    es.addEventListener('error', () => this.setState('down'));
    es.addEventListener('snapshot', (ev) => {
      const at = performance.now();
      let snap: Snapshot;
      try {
        snap = JSON.parse((ev as MessageEvent<string>).data) as Snapshot;
      } catch {
        return;
      }
      this.emit(snap, at);
    });
  }

  private maybeDisconnect(): void {
    if (this.snapshotCbs.size > 0) return;
    if (this.es !== null) {
      this.es.close();
      this.es = null;
    }
    if (this.worker !== null) {
      this.worker.postMessage({ close: true });
      this.worker.terminate();
      this.worker = null;
    }
    this.setState('connecting');
  }

  range(promql: string, rangeSeconds: number): Promise<RangeResult> {
    return this.get<RangeResult>('range', { query: promql, range: Math.round(rangeSeconds) });
  }

  explain(node: string, target: ExplainTarget, analyze: boolean): Promise<PlanView> {
    if (analyze) {
      return Promise.reject(uiError('refused', 'EXPLAIN ANALYZE is not offered in the browser: it is read-only'));
    }
    const params: Record<string, string> = { node };
    if ('queryId' in target) params.query_id = target.queryId;
    else params.sql = target.sql;
    return this.get<PlanView>('explain', params);
  }

  async notify(title: string, body: string): Promise<void> {
    const N = this.Notif;
    if (N === undefined || N.permission !== 'granted') return;
    try {
      new N(title, { body });
    } catch {
      /* some browsers only allow notifications from a service worker */
    }
  }
}
