// Memory of the desktop app over time: the app process and every process
// below it (WebKitWebProcess, WebKitNetworkProcess, bwrap), sampled every
// second for BENCH_SECONDS (default 120) while it watches the running lab. Reports
// RSS (what `top` shows; counts shared pages once per process) and PSS
// (shared pages split between sharers, so the sum is honest).
//   xvfb-run -a node bench/rss.mjs
import { spawn } from 'node:child_process';
import fs from 'node:fs';
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

const app = spawn(desktopBinary(), ['--fleet', fleet], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
app.stderr.on('data', (c) => (log += c));
const samples = [];
try {
  for (let t = 0; t < seconds; t++) {
    await new Promise((r) => setTimeout(r, 1000));
    if (app.exitCode !== null) throw new Error(`the app exited (${app.exitCode}):\n${log}`);
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
    samples.push({ t: t + 1, rss_mib: rss / 1024, pss_mib: pss / 1024, byComm });
    if ((t + 1) % 10 === 0) console.log(`t=${t + 1}s rss=${round(rss / 1024)} MiB pss=${round(pss / 1024)} MiB ${JSON.stringify(byComm)}`);
  }
} finally {
  app.kill('SIGTERM');
}
const rss = samples.map((s) => s.rss_mib);
const pss = samples.map((s) => s.pss_mib);
const last = samples.at(-1);
console.log(
  JSON.stringify({
    bench: 'rss',
    fleet,
    seconds,
    processes: Object.keys(last.byComm),
    rss_mib: { first: round(rss[0]), median: round(median(rss)), max: round(Math.max(...rss)), last: round(rss.at(-1)) },
    pss_mib: { first: round(pss[0]), median: round(median(pss)), max: round(Math.max(...pss)), last: round(pss.at(-1)) },
    rss_by_process_last_kib: last.byComm,
  }),
);
