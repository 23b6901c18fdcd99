// The browser's snapshot stream, decoded off the main thread (see
// statements.ts for why). Messages in: { url }. Messages out:
// { type: 'open' | 'error' } and { type: 'snapshot', rest, statementsJson }.
import type { Snapshot } from '../generated/Snapshot';
import { splitSnapshot } from './statements';

const last = { sig: null as string | null };
let es: EventSource | null = null;

self.onmessage = (e: MessageEvent<{ url: string } | { close: true }>) => {
  if ('close' in e.data) {
    es?.close();
    es = null;
    return;
  }
  es?.close();
  last.sig = null;
  es = new EventSource(e.data.url);
  es.addEventListener('open', () => postMessage({ type: 'open' }));
  es.addEventListener('error', () => postMessage({ type: 'error' }));
  es.addEventListener('snapshot', (ev) => {
    let snap: Snapshot;
    try {
      snap = JSON.parse((ev as MessageEvent<string>).data) as Snapshot;
    } catch {
      return;
    }
    postMessage({ type: 'snapshot', ...splitSnapshot(snap, last) });
  });
};
