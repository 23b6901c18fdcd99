import { describe, expect, it, vi } from 'vitest';
import { HttpSource } from '../src/data/http';
import { healthySnapshot } from './helpers';

/** An EventSource double the tests drive by hand. */
class FakeEventSource {
  static last: FakeEventSource | null = null;
  url: string;
  closed = false;
  private handlers = new Map<string, ((e: Event) => void)[]>();
  constructor(url: string) {
    this.url = url;
    FakeEventSource.last = this;
  }
  addEventListener(type: string, h: (e: Event) => void) {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), h]);
  }
  fire(type: string, data?: string) {
    const e = data === undefined ? new Event(type) : new MessageEvent(type, { data });
    for (const h of this.handlers.get(type) ?? []) h(e);
  }
  close() {
    this.closed = true;
  }
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function source(pageUrl = 'http://127.0.0.1:7070/', fetchImpl?: typeof fetch) {
  const fetchMock = vi.fn(fetchImpl ?? (async () => jsonResponse(200, {})));
  const src = new HttpSource({ pageUrl, fetch: fetchMock as unknown as typeof fetch, EventSource: FakeEventSource as unknown as typeof EventSource });
  return { src, fetchMock };
}

describe('HttpSource', () => {
  it('builds api/ URLs relative to the page, so serve works under a path prefix', () => {
    const { src } = source('https://ops.example/fleetdeck/index.html#pools');
    expect(src.url('fleet')).toBe('https://ops.example/fleetdeck/api/fleet');
  });

  it('passes ?token= from the page to every request and to the event stream', async () => {
    const { src, fetchMock } = source('http://10.0.0.5:7070/?token=s3cr%2Ft&kiosk=1');
    await src.fleetInfo();
    expect(fetchMock.mock.calls[0]![0]).toBe('http://10.0.0.5:7070/api/fleet?token=s3cr%2Ft');
    await src.range('sum(rate(vllm:generation_tokens_total[1m]))', 900);
    const u = new URL(fetchMock.mock.calls[1]![0] as string);
    expect(u.pathname).toBe('/api/range');
    expect(u.searchParams.get('query')).toBe('sum(rate(vllm:generation_tokens_total[1m]))');
    expect(u.searchParams.get('range')).toBe('900');
    expect(u.searchParams.get('token')).toBe('s3cr/t');
    src.onSnapshot(() => {});
    expect(FakeEventSource.last!.url).toBe('http://10.0.0.5:7070/api/snapshots?token=s3cr%2Ft');
  });

  it('sends no token when the page has none', async () => {
    const { src, fetchMock } = source('http://127.0.0.1:7070/');
    await src.fleetInfo();
    expect(fetchMock.mock.calls[0]![0]).toBe('http://127.0.0.1:7070/api/fleet');
  });

  it('explains by query_id or by sql, never with ANALYZE', async () => {
    const { src, fetchMock } = source();
    await src.explain('pg2', { queryId: '-2054372657549079369' }, false);
    let u = new URL(fetchMock.mock.calls[0]![0] as string);
    expect([u.pathname, u.searchParams.get('node'), u.searchParams.get('query_id'), u.searchParams.has('sql')]).toEqual(['/api/explain', 'pg2', '-2054372657549079369', false]);
    await src.explain('pg1', { sql: "SELECT * FROM messages WHERE user_id = 42 AND x = 'a&b'" }, false);
    u = new URL(fetchMock.mock.calls[1]![0] as string);
    expect(u.searchParams.get('sql')).toBe("SELECT * FROM messages WHERE user_id = 42 AND x = 'a&b'");
    await expect(src.explain('pg1', { sql: 'SELECT 1' }, true)).rejects.toEqual({ code: 'refused', message: expect.any(String) });
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('passes the server UiError through on failure', async () => {
    const { src } = source(undefined, async () => jsonResponse(400, { code: 'bad_request', message: 'parse error at char 7' }));
    await expect(src.range('rate(', 300)).rejects.toEqual({ code: 'bad_request', message: 'parse error at char 7' });
  });

  it('maps a network failure to unreachable and a bare 502 to server', async () => {
    const { src } = source(undefined, async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(src.fleetInfo()).rejects.toMatchObject({ code: 'unreachable' });
    const { src: s2 } = source(undefined, async () => new Response('<html>Bad Gateway</html>', { status: 502 }));
    await expect(s2.fleetInfo()).rejects.toMatchObject({ code: 'server' });
    const { src: s3 } = source(undefined, async () => new Response('nope', { status: 401 }));
    await expect(s3.fleetInfo()).rejects.toMatchObject({ code: 'refused' });
  });

  it('delivers `snapshot` events and reports the stream going down and up', () => {
    const { src } = source();
    const got: number[] = [];
    const states: string[] = [];
    src.onStream((s) => states.push(s));
    const off = src.onSnapshot((s) => got.push(s.seq));
    const es = FakeEventSource.last!;
    es.fire('open');
    const s = healthySnapshot();
    es.fire('snapshot', JSON.stringify({ ...s, seq: 7 }));
    es.fire('error');
    es.fire('snapshot', 'not json');
    es.fire('open');
    es.fire('snapshot', JSON.stringify({ ...s, seq: 8 }));
    expect(got).toEqual([7, 8]);
    expect(states).toEqual(['connecting', 'up', 'down', 'up']);
    off();
    expect(es.closed, 'last subscriber gone: stream closed').toBe(true);
  });

  it('shows a browser notification only when permission was granted', async () => {
    const made: string[] = [];
    class N {
      static permission = 'denied';
      constructor(title: string) {
        made.push(title);
      }
    }
    const src = new HttpSource({ pageUrl: 'http://x/', fetch: vi.fn() as unknown as typeof fetch, Notification: N as unknown as typeof Notification });
    await src.notify('a', 'b');
    expect(made).toEqual([]);
    N.permission = 'granted';
    await src.notify('lab: pool saturated', 'pgb0/chat');
    expect(made).toEqual(['lab: pool saturated']);
  });
});
