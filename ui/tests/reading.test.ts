// Prometheus is read on the engine's own schedule (crates/core/src/slow.rs):
// a snapshot carries the latest good reading with its age and, while the read
// fails or is overdue, a `prometheus: …` error. Whatever shows those numbers
// must say how old they are once stale and why while failing: never a blank,
// never silently old numbers.
import { afterEach, describe, expect, it } from 'vitest';
import { mount, type VueWrapper } from '@vue/test-utils';
import App from '../src/App.vue';
import { createStore, STORE } from '../src/state/store';
import { ageWords, prometheusReading, readingAge } from '../src/lib/reading';
import type { Snapshot } from '../src/generated/Snapshot';
import { FakeSource, flush, healthySnapshot, withPrometheusReading } from './helpers';

const OVERDUE = 'prometheus: no answer for 4.2 s (showing the reading of 5 s ago)';
const REFUSED = 'prometheus: GET http://127.0.0.1:19090/api/v1/alerts: connection refused';

const reading = (ageSeconds: number | null, errors: string[] = []) => withPrometheusReading(healthySnapshot(), { ageSeconds, errors });

describe('prometheusReading: what to say about the reading a snapshot carries', () => {
  it('says nothing while the reading is under two refresh intervals old', () => {
    const s = reading(0.4);
    expect(prometheusReading(s.ai, { intervalMs: 1000 })).toEqual({ state: 'fresh', ageSeconds: 0.4, readAt: s.ai.read_at, text: '', errors: [] });
    expect(prometheusReading(reading(1.9).ai, { intervalMs: 1000 }).state, 'a read in flight is not news yet').toBe('fresh');
  });

  it('gives the age once it is older than two refresh intervals, of this fleet', () => {
    const r = prometheusReading(reading(14.2).ai, { intervalMs: 1000 });
    expect([r.state, r.text, r.errors], 'no error: a slow read still in flight').toEqual(['stale', 'as of 14 s ago', []]);
    expect(prometheusReading(reading(2.5).ai, { intervalMs: 1000 }).text).toBe('as of 2.5 s ago');
    expect(prometheusReading(reading(14.2).ai, { intervalMs: 10_000 }).state, 'a 10 s fleet reads Prometheus every 10 s').toBe('fresh');
    expect(prometheusReading(reading(14.2).ai, {}).state, 'the engine default (1 s) before the fleet info is in').toBe('stale');
  });

  it('gives the error verbatim and the age of the values still shown while failing', () => {
    const r = prometheusReading(reading(5.1, [OVERDUE, 'targets: no answer within 2s']).ai, { intervalMs: 1000 });
    expect(r.state).toBe('failing');
    expect(r.text).toBe('as of 5.1 s ago');
    expect(r.errors, "another part's error is that part's business").toEqual([OVERDUE]);
    // Failing soon after a good read (connection refused answers at once): the age is still said.
    expect(prometheusReading(reading(0.9, [REFUSED]).ai, { intervalMs: 1000 }).text).toBe('as of 0.9 s ago');
  });

  it('says there is no reading at all when the very first reads fail', () => {
    const r = prometheusReading(reading(null, [REFUSED]).ai, { intervalMs: 1000, configured: true });
    expect([r.state, r.text, r.errors, r.ageSeconds]).toEqual(['failing', 'no reading yet', [REFUSED], null]);
  });

  it('says "waiting for Prometheus" before the first reading, and nothing about Prometheus when the fleet has none', () => {
    const waiting = prometheusReading(reading(null).ai, { intervalMs: 1000, configured: true });
    expect([waiting.state, waiting.text]).toEqual(['waiting', 'waiting for Prometheus']);
    expect(prometheusReading(reading(null).ai, { configured: null }).text, 'fleet info not in yet').toBe('waiting for Prometheus');
    expect(prometheusReading(null, {}).text, 'no snapshot yet').toBe('waiting for Prometheus');
    const off = prometheusReading(reading(null).ai, { configured: false });
    expect([off.state, off.text]).toEqual(['off', 'no Prometheus configured']);
  });

  it("counts a part's own errors: alerts kept from an earlier read, a panel whose query failed", () => {
    const s = reading(0.3, ['alerts: no answer within 2s', 'ttft_p99_seconds: query returned 3 series']);
    expect(prometheusReading(s.ai, { part: 'alerts' })).toMatchObject({
      state: 'failing',
      text: 'kept from an earlier reading',
      errors: ['alerts: no answer within 2s'],
    });
    expect(prometheusReading(s.ai, { part: 'ttft_p99_seconds' }).errors).toEqual(['ttft_p99_seconds: query returned 3 series']);
    expect(prometheusReading(s.ai, { part: 'ttft_p50_seconds' }).state, 'the other panels are fine').toBe('fresh');
    expect(prometheusReading(s.ai, {}).state, 'the read as a whole answered').toBe('fresh');
    const both = prometheusReading(reading(6, [OVERDUE, 'alerts: no answer within 2s']).ai, { part: 'alerts' });
    expect([both.text, both.errors]).toEqual(['as of 6.0 s ago', [OVERDUE, 'alerts: no answer within 2s']]);
  });

  it("takes the age from the engine's clock: age_seconds, else taken_at − read_at (never the browser's clock)", () => {
    const s = reading(7);
    expect(readingAge(s.ai, s.taken_at)).toBe(7);
    const noAge = { ...s.ai, age_seconds: null };
    expect(readingAge(noAge, s.taken_at)).toBeCloseTo(7, 6);
    expect(readingAge(noAge, null)).toBeNull();
    expect(prometheusReading(noAge, { takenAt: s.taken_at }).text).toBe('as of 7.0 s ago');
  });

  it('treats an engine from before slow sources (no read_at at all) as read with the snapshot', () => {
    const { read_at: _r, age_seconds: _a, ...legacy } = healthySnapshot().ai;
    expect(prometheusReading(legacy as Snapshot['ai'], {}).state).toBe('fresh');
  });

  it('words ages for a glance', () => {
    expect([0.4, 2.46, 14.2, 59.6, 125].map(ageWords)).toEqual(['0.4 s', '2.5 s', '14 s', '60 s', '2 min 5 s']);
  });
});

let wrapper: VueWrapper | null = null;
afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
  document.body.innerHTML = '';
});

async function show(s: Snapshot, opts: { view?: 'overview' | 'ai'; prometheus?: boolean } = {}) {
  const source = new FakeSource();
  source.info = { ...source.info, prometheus: opts.prometheus ?? true };
  const store = createStore(source);
  wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
  await store.start();
  source.emit(s);
  await flush();
  store.ui.view = opts.view ?? 'overview';
  await flush();
  return { source, store };
}

const $ = (sel: string) => document.querySelector(sel) as HTMLElement | null;
const $$ = (sel: string) => [...document.querySelectorAll(sel)] as HTMLElement[];
const note = (within: string) => $(`${within} [data-testid="prometheus-reading"]`);
const panels = () => $$('[data-testid^="ai-panel-"]');

describe('the AI view', () => {
  it('draws a fresh reading without any note', async () => {
    await show(reading(0.4), { view: 'ai' });
    expect($$('[data-testid="prometheus-reading"]')).toHaveLength(0);
    expect($('[data-testid="ai-panel-generation_tokens_per_second"] [data-testid="ai-value"]')!.textContent).toBe('4653');
  });

  it('marks every panel stale with the age of its value, and keeps the value', async () => {
    await show(reading(14.2), { view: 'ai' });
    expect(note('[data-view="ai"]')!.textContent).toContain('as of 14 s ago');
    expect(panels().length).toBeGreaterThanOrEqual(11);
    for (const p of panels()) {
      expect(p.dataset.reading, p.dataset.testid).toBe('stale');
      const n = p.querySelector('[data-testid="prometheus-reading"]') as HTMLElement;
      expect(n.dataset.state).toBe('stale');
      expect(n.textContent, 'words, not colour alone').toMatch(/STALE\s+as of 14 s ago/);
      expect(p.querySelector('[data-testid="ai-value"]')!.classList.contains('old'), 'the value is drawn marked').toBe(true);
    }
    expect($('[data-testid="ai-panel-generation_tokens_per_second"] [data-testid="ai-value"]')!.textContent, 'the last value stays').toBe('4653');
  });

  it("shows Prometheus' error in every panel while failing, with the age of the values kept", async () => {
    await show(reading(5.1, [OVERDUE]), { view: 'ai' });
    for (const p of panels()) {
      const n = p.querySelector('[data-testid="prometheus-reading"]') as HTMLElement;
      expect(n.dataset.state, p.dataset.testid).toBe('failing');
      expect(n.textContent).toContain('as of 5.1 s ago');
      expect(n.textContent).toContain(OVERDUE);
    }
    expect($('[data-testid="ai-panel-kv_cache_usage"] [data-testid="ai-value"]')!.textContent).toBe('17 %');
    expect($('.error-box'), 'values are still there: no "did not answer" box').toBeNull();
  });

  it('says "waiting for Prometheus" in every panel before the first reading, not that it did not answer', async () => {
    await show(reading(null), { view: 'ai' });
    expect(note('[data-view="ai"]')!.textContent).toContain('waiting for Prometheus');
    for (const p of panels()) expect(p.querySelector('[data-testid="prometheus-reading"]')!.textContent).toContain('waiting for Prometheus');
    expect(document.body.textContent).not.toContain('did not answer');
  });

  it('says Prometheus did not answer when there never was a reading', async () => {
    await show(reading(null, [REFUSED]), { view: 'ai' });
    expect($('.error-box')!.textContent).toContain(REFUSED);
    expect($('[data-testid="ai-panel-requests_running"] [data-testid="prometheus-reading"]')!.textContent).toContain('no reading yet');
  });

  it("puts a panel's own failed query under that panel only", async () => {
    await show(reading(0.3, ['ttft_p99_seconds: query returned 3 series: aggregate it']), { view: 'ai' });
    expect(note('[data-testid="ai-panel-ttft_p99_seconds"]')!.textContent).toContain('query returned 3 series');
    expect(note('[data-testid="ai-panel-ttft_p50_seconds"]')).toBeNull();
  });
});

describe('the overview: inference summary and alerts', () => {
  const withAlert = (s: Snapshot) => {
    s.alerts.push({ name: 'ReplicaLagHigh', state: 'firing', severity: 'page', summary: 'pg2 is behind', active_at: null, labels: { alertname: 'ReplicaLagHigh', instance: 'pg2' } });
    return s;
  };

  it('show a fresh reading without any note', async () => {
    await show(withAlert(reading(0.4)));
    expect($('[data-testid="ai-summary"]')!.dataset.reading).toBe('fresh');
    expect(note('[data-testid="ai-summary"]')).toBeNull();
    expect(note('[data-testid="alerts"]')).toBeNull();
    expect($('[data-testid="alert"]')!.dataset.name).toBe('ReplicaLagHigh');
  });

  it('mark an old reading stale with its age, keeping the numbers and the alerts', async () => {
    await show(withAlert(reading(14.2)));
    for (const within of ['[data-testid="ai-summary"]', '[data-testid="alerts"]']) {
      const n = note(within)!;
      expect(n.dataset.state, within).toBe('stale');
      expect(n.textContent).toMatch(/STALE\s+as of 14 s ago/);
    }
    expect($('[data-testid="ai-summary"] dl')!.textContent, 'the last numbers stay').toContain('4653');
    expect($('[data-testid="ai-summary"] dl')!.classList.contains('old')).toBe(true);
    expect($('[data-testid="alert"]')!.dataset.name, 'the last alerts stay').toBe('ReplicaLagHigh');
  });

  it("show Prometheus' error while failing", async () => {
    await show(withAlert(reading(5.1, [OVERDUE])));
    for (const within of ['[data-testid="ai-summary"]', '[data-testid="alerts"]']) {
      expect(note(within)!.textContent, within).toContain(OVERDUE);
      expect(note(within)!.textContent).toContain('as of 5.1 s ago');
    }
    expect($$('[data-testid="ai-summary"] .errs li').map((l) => l.textContent), 'said once, in the note').toEqual([]);
  });

  it('say "waiting for Prometheus" before the first reading, and claim no alerts', async () => {
    await show(reading(null));
    expect(note('[data-testid="ai-summary"]')!.textContent).toContain('waiting for Prometheus');
    expect($('[data-testid="ai-summary"] dl'), 'no row of dashes').toBeNull();
    expect(note('[data-testid="alerts"]')!.textContent).toContain('waiting for Prometheus');
    expect($('[data-testid="alerts"]')!.textContent, 'nothing was read, so nothing is known to be fine').not.toContain('NONE');
  });

  it('say so when the fleet has no Prometheus', async () => {
    await show(reading(null), { prometheus: false });
    expect(note('[data-testid="ai-summary"]')!.textContent).toContain('no Prometheus configured');
    expect(note('[data-testid="alerts"]')!.dataset.state).toBe('off');
  });

  it('say when the alerts alone are kept from an earlier reading', async () => {
    await show(withAlert(reading(0.3, ['alerts: no answer within 2s'])));
    expect(note('[data-testid="alerts"]')!.textContent).toContain('kept from an earlier reading');
    expect(note('[data-testid="alerts"]')!.textContent).toContain('alerts: no answer within 2s');
    expect(note('[data-testid="ai-summary"]'), 'the inference numbers are current').toBeNull();
  });

  it('follow the reading from one snapshot to the next', async () => {
    const { source } = await show(reading(0.4));
    expect(note('[data-testid="alerts"]')).toBeNull();
    const late = reading(3.4, [OVERDUE]);
    late.seq += 1;
    late.taken_at = new Date(Date.parse(late.taken_at) + 3000).toISOString();
    source.emit(late);
    await flush();
    expect(note('[data-testid="alerts"]')!.dataset.state).toBe('failing');
    const back = reading(0.2);
    back.seq += 2;
    back.taken_at = new Date(Date.parse(back.taken_at) + 4000).toISOString();
    source.emit(back);
    await flush();
    expect(note('[data-testid="alerts"]'), 'recovered: the note goes').toBeNull();
  });

  it('render server text as text', async () => {
    const evil = 'prometheus: <img src=x onerror=alert(1)>';
    await show(reading(3, [evil]));
    expect(note('[data-testid="alerts"]')!.textContent).toContain(evil);
    expect(document.querySelector('img[src=x]')).toBeNull();
  });
});
