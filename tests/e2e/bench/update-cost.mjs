// Main-thread time per snapshot update, from the UI's own recorder
// (window.__fleetdeckPerf: the snapshot handler plus the synchronous render
// it triggers), on the running lab: in the desktop app (WebKitGTK, through
// tauri-driver) and in Chromium on `fleetdeck serve`. Each target is watched
// for BENCH_SECONDS (default 60) after the recorder is reset. BACKFILL=3600
// first fills the chart history with an hour of 1 s points (the UI's
// window.__fleetdeckPerf.backfill), to measure updates with full charts.
// Chart redraws run in the next animation frame and are reported apart.
// Each view in VIEWS (default overview,pools,ai) is measured in turn with the
// history range at RANGE (default 1h): the pool charts draw from the ring,
// the AI charts from Prometheus range queries over that hour.
//   BACKFILL=3600 xvfb-run -a node bench/update-cost.mjs
import { startDesktop } from '../lib/desktop.mjs';
import { fleetPath, waitFor } from '../lib/lab.mjs';
import { launchChromium, startServe } from '../lib/serve.mjs';
import { gotoView } from '../lib/views.mjs';
import { median, quantile, round } from './stats.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const fleet = fleetPath();
const backfill = Number(process.env.BACKFILL ?? 0);
const views = (process.env.VIEWS ?? 'overview,pools,ai').split(',');
const range = process.env.RANGE ?? '1h';
const read =
  'const p = window.__fleetdeckPerf; return p ? { durations: [...p.durations], decode: [...p.decode], charts: [...(p.charts ?? [])], total: p.total } : null;';
const reset = `const p = window.__fleetdeckPerf; if (!p) return false; if (${backfill} > 0 && p.backfill) p.backfill(${backfill}); p.reset(); return true;`;

function summary(target, view, r) {
  const d = r.durations;
  const c = r.charts;
  return {
    bench: 'update-cost',
    target,
    view,
    range,
    fleet,
    seconds,
    backfill_seconds: backfill,
    updates: r.total,
    median_ms: round(median(d), 2),
    of_which_decode_median_ms: round(median(r.decode), 2),
    p99_ms: round(quantile(d, 0.99), 2),
    max_ms: round(Math.max(...d), 2),
    chart_frames: c.length,
    chart_median_ms: round(median(c), 2),
    chart_p99_ms: round(quantile(c, 0.99), 2),
  };
}

if (!process.env.SKIP_DESKTOP) {
  const desktop = await startDesktop(['--fleet', fleet]);
  try {
    const s = desktop.session;
    const ui = { find: (css) => s.find(css), click: (el) => s.click(el), waitFor };
    await waitFor('the first snapshot drawn', () => s.find('body[data-snapshot-seq]'), { timeout: 60_000 });
    for (const view of views) {
      await gotoView(ui, view);
      await s.click(await waitFor(`range ${range}`, () => s.find(`[data-testid=range-${range}]`)));
      await waitFor('the perf recorder', () => s.execute(reset));
      await new Promise((r) => setTimeout(r, seconds * 1000));
      console.log(JSON.stringify(summary('desktop (WebKitGTK)', view, await s.execute(read))));
    }
  } finally {
    await desktop.close();
  }
}

if (!process.env.SKIP_BROWSER) {
  const serve = await startServe(fleet);
  let browser;
  try {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(serve.url);
    const ui = { find: (css) => page.$(css), click: (h) => h.click(), waitFor };
    await waitFor('the first snapshot drawn', () => page.$('body[data-snapshot-seq]'), { timeout: 60_000 });
    for (const view of views) {
      await gotoView(ui, view);
      await page.click(`[data-testid=range-${range}]`);
      await waitFor('the perf recorder', () => page.evaluate(`(() => { ${reset} })()`));
      await new Promise((r) => setTimeout(r, seconds * 1000));
      console.log(JSON.stringify(summary('browser (Chromium, fleetdeck serve)', view, await page.evaluate(`(() => { ${read} })()`))));
    }
  } finally {
    try {
      await browser?.close();
    } finally {
      serve.close();
    }
  }
}
