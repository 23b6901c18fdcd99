// Memory of the desktop app over time: the app process and every process
// below it (WebKitWebProcess, WebKitNetworkProcess, bwrap), sampled every
// second for BENCH_SECONDS (default 120) while it watches the running lab. Reports
// RSS (what `top` shows; counts shared pages once per process) and PSS
// (shared pages split between sharers, so the sum is honest).
//   xvfb-run -a node bench/rss.mjs
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { desktopBinary } from '../lib/binaries.mjs';
import { fleetPath } from '../lib/lab.mjs';
import { median, round } from './stats.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 120);
const fleet = fleetPath();

/** pid → { ppid, comm } for every process. */
function processes() {
  const all = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      all.set(Number(d), { ppid, comm });
    } catch {
      /* gone */
    }
  }
  return all;
}

/** `pid` and its descendants. */
function tree(pid) {
  const all = processes();
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, info] of all) if (info.ppid === out[i]) out.push(p);
  return out.map((p) => ({ pid: p, comm: all.get(p)?.comm ?? '?' }));
}

function kib(file, key) {
  try {
    const m = fs.readFileSync(file, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

// A scratch config home: the app remembers the fleet it opened.
const config = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdeck-bench-config-'));
const app = spawn(desktopBinary(), ['--fleet', fleet], {
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, XDG_CONFIG_HOME: config },
});
let log = '';
app.stderr.on('data', (c) => (log += c));
const samples = [];
try {
  const started = Date.now();
  let lastPrint = 0;
  // Wall-clock seconds: one sample a second, however long reading /proc takes.
  for (let t = 1; t <= seconds; t = Math.round((Date.now() - started) / 1000) + 1) {
    await new Promise((r) => setTimeout(r, Math.max(0, started + t * 1000 - Date.now())));
    if (app.exitCode !== null || app.signalCode !== null) throw new Error(`the app exited (${app.exitCode ?? app.signalCode}):\n${log}`);
    const procs = tree(app.pid);
    const byComm = {};
    let rss = 0;
    let pss = 0;
    for (const { pid, comm } of procs) {
      const r = kib(`/proc/${pid}/status`, 'VmRSS');
      const p = kib(`/proc/${pid}/smaps_rollup`, 'Pss');
      rss += r;
      pss += p;
      byComm[comm] = (byComm[comm] ?? 0) + r;
    }
    samples.push({ t, rss_mib: rss / 1024, pss_mib: pss / 1024, byComm });
    if (t - lastPrint >= 10 && (lastPrint = t)) console.log(`t=${t}s rss=${round(rss / 1024)} MiB pss=${round(pss / 1024)} MiB ${JSON.stringify(byComm)}`);
  }
} finally {
  app.kill('SIGTERM');
  fs.rmSync(config, { recursive: true, force: true });
}
/**
 * First, median, max and last of `key`, and whether it grows: the median of
 * the first and of the last fifth of the run (the first minute left out, the
 * page is still loading then).
 */
function summary(all, key) {
  const v = all.map((s) => s[key]);
  const settled = all.filter((s) => s.t > 60).map((s) => s[key]);
  const fifth = Math.max(1, Math.floor(settled.length / 5));
  return {
    first: round(v[0]),
    median: round(median(v)),
    max: round(Math.max(...v)),
    last: round(v.at(-1)),
    first_fifth_median: round(median(settled.slice(0, fifth))),
    last_fifth_median: round(median(settled.slice(-fifth))),
  };
}
const last = samples.at(-1);
console.log(
  JSON.stringify({
    bench: 'rss',
    fleet,
    seconds,
    processes: Object.keys(last.byComm),
    rss_mib: summary(samples, 'rss_mib'),
    pss_mib: summary(samples, 'pss_mib'),
    rss_by_process_last_kib: last.byComm,
  }),
);
