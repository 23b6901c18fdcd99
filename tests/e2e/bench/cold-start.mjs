// Cold start of the desktop app to the first snapshot drawn: from the
// WebDriver request that launches the app until body[data-snapshot-seq]
// appears (the UI sets it when it has drawn a snapshot). Median of RUNS
// (default 5) launches against the running lab. Use the release binary:
//   cargo build --release -p fleetdeck-desktop
//   xvfb-run -a node bench/cold-start.mjs
import { startDesktop } from '../lib/desktop.mjs';
import { fleetPath } from '../lib/lab.mjs';
import { desktopBinary } from '../lib/binaries.mjs';
import { median, round } from './stats.mjs';

const runs = Number(process.env.RUNS ?? 5);
const fleet = fleetPath();
const windowUp = [];
const firstDrawn = [];

for (let i = 0; i < runs; i++) {
  const desktop = await startDesktop(['--fleet', fleet]);
  const up = performance.now();
  try {
    const s = desktop.session;
    const deadline = up + 60_000;
    for (;;) {
      const body = await s.find('body');
      const seq = body && (await s.attribute(body, 'data-snapshot-seq'));
      if (seq !== null && seq !== undefined && seq !== '') break;
      if (performance.now() > deadline) throw new Error('no snapshot drawn within 60 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const drawn = performance.now();
    windowUp.push(up - desktop.startedAt);
    firstDrawn.push(drawn - desktop.startedAt);
    console.log(`run ${i + 1}: window up ${round(up - desktop.startedAt)} ms, first snapshot drawn ${round(drawn - desktop.startedAt)} ms`);
  } finally {
    await desktop.close();
  }
  await new Promise((r) => setTimeout(r, 1000));
}

console.log(
  JSON.stringify({
    bench: 'cold-start',
    binary: desktopBinary(),
    fleet,
    runs,
    window_up_ms_median: round(median(windowUp)),
    first_snapshot_drawn_ms_median: round(median(firstDrawn)),
    first_snapshot_drawn_ms: firstDrawn.map((x) => round(x)),
  }),
);
