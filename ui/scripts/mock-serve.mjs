#!/usr/bin/env node
// A stand-in for `fleetdeck serve` for UI work without the Rust side: serves
// ui/dist and the HTTP half of the DataSource contract from a recorded
// snapshot (tests/fixtures), replayed every second with a fresh seq, a fresh
// taken_at and some movement in the numbers.
//
//   node scripts/mock-serve.mjs [--port 7171] [--fixture tests/fixtures/lab-48-healthy.json]
//                               [--incident pool|lag|down|split] [--kiosk] [--token T] [--dist DIR]
//
// GET api/fleet · GET api/snapshots (SSE, event `snapshot`) · GET api/range ·
// GET api/explain. No dependencies beyond Node itself.
import { createServer } from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const uiDir = resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = args[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
};
const port = Number(opt('port', 7171));
const fixture = resolve(uiDir, String(opt('fixture', 'tests/fixtures/lab-48-healthy.json')));
const incident = opt('incident', '');
const kiosk = Boolean(opt('kiosk', false));
const token = opt('token', null);
const intervalMs = Number(opt('interval', 1000));
const dist = resolve(uiDir, String(opt('dist', 'dist')));

const base = JSON.parse(readFileSync(fixture, 'utf8'));
let seq = 0;

function jitter(v, spread) {
  return Math.max(0, v + (Math.random() - 0.5) * spread);
}

function nextSnapshot() {
  const s = structuredClone(base);
  s.seq = seq++;
  s.taken_at = new Date().toISOString();
  s.refresh_ms = jitter(300, 200);
  for (const n of s.nodes) {
    if (n.replay_lag_bytes !== null) n.replay_lag_bytes = Math.round(jitter(n.replay_lag_bytes, 8192));
  }
  for (const e of s.edges) if (e.lag_bytes !== null) e.lag_bytes = Math.round(jitter(e.lag_bytes, 8192));
  for (const p of s.pools) {
    p.cl_active = Math.round(jitter(p.cl_active, 3));
    p.sv_active = Math.min(p.pool_size, Math.round(jitter(p.sv_active, 2)));
  }
  for (const c of s.caches) {
    c.ops_per_second = Math.round(jitter(c.ops_per_second, 20));
    if (c.hit_ratio !== null) c.hit_ratio = Math.min(1, jitter(c.hit_ratio, 0.05));
  }
  if (s.ai.available) {
    s.ai.generation_tokens_per_second = jitter(s.ai.generation_tokens_per_second ?? 0, 500);
    s.ai.requests_running = Math.round(jitter(s.ai.requests_running ?? 0, 6));
  }
  const anomalies = [];
  if (incident === 'pool' && s.pools[0]) {
    const p = s.pools[0];
    Object.assign(p, { cl_waiting: 6, sv_active: p.pool_size, maxwait_seconds: 3.2, saturated: true, saturation_reasons: ['6 clients waiting', 'maxwait 3.2 s over 1.0 s'] });
    anomalies.push({ kind: 'pool_saturated', severity: 'warning', subject: `${p.name}/${p.database}`, message: `pool ${p.name}/${p.database} is saturated: 6 clients waiting` });
  }
  if (incident === 'lag') {
    const e = s.edges.find((x) => x.downstream === 'pg2');
    const n = s.nodes.find((x) => x.name === 'pg2');
    if (e && n) {
      e.lag_bytes = 200_000_000 + seq * 1_000_000;
      e.lag_seconds = 40 + seq;
      e.healthy = false;
      n.replay_paused = true;
      n.replay_lag_bytes = e.lag_bytes;
      n.replay_lag_seconds = e.lag_seconds;
      anomalies.push({ kind: 'replay_paused', severity: 'warning', subject: 'pg2', message: 'pg2 has WAL replay paused' });
      anomalies.push({ kind: 'lag_over_threshold', severity: 'warning', subject: `${e.upstream}→pg2`, message: `pg2 is ${e.lag_bytes} bytes behind` });
    }
  }
  if (incident === 'down') {
    const n = s.nodes[s.nodes.length - 1];
    Object.assign(n, { reachable: false, role: 'unknown', upstream: null, tier: null, error: 'connection refused', senders: [], slots: [], wal_receiver: null });
    s.edges = s.edges.filter((e) => e.downstream !== n.name);
    anomalies.push({ kind: 'node_unreachable', severity: 'critical', subject: n.name, message: `${n.name} (${n.address}) is unreachable: connection refused` });
  }
  if (incident === 'split') {
    const n = s.nodes.find((x) => x.name === 'pg1');
    if (n) {
      n.role = 'primary';
      n.timeline = 2;
      anomalies.push({ kind: 'split_brain', severity: 'critical', subject: 'pg0 (timeline 1),pg1 (timeline 2)', message: 'SPLIT BRAIN: 2 nodes are out of recovery and accept writes: pg0 (timeline 1), pg1 (timeline 2)' });
    }
  }
  s.anomalies = [...anomalies, ...s.anomalies];
  return s;
}

const fleetInfo = {
  name: base.fleet,
  path: fixture,
  interval_ms: intervalMs,
  prometheus: true,
  queries: {
    generation_tokens_per_second: 'sum(rate(vllm:generation_tokens_total[1m]))',
    prompt_tokens_per_second: 'sum(rate(vllm:prompt_tokens_total[1m]))',
    requests_running: 'sum(vllm:num_requests_running)',
    requests_waiting: 'sum(vllm:num_requests_waiting)',
    ttft_p50_seconds: 'histogram_quantile(0.5, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[1m])))',
    ttft_p99_seconds: 'histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[1m])))',
    e2e_p99_seconds: 'histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[1m])))',
    success_per_second: 'sum(rate(vllm:request_success_total[1m]))',
    kv_cache_usage: 'avg(vllm:kv_cache_usage_perc)',
    moderation_per_second: 'sum by (decision) (rate(moderation_requests_total[1m]))',
    moderation_p99_seconds: 'histogram_quantile(0.99, sum by (le) (rate(moderation_request_latency_seconds_bucket[1m])))',
  },
  kiosk,
  read_only: true,
};

function rangeResult(query, range) {
  const now = Math.floor(Date.now() / 1000);
  const step = Math.max(1, Math.ceil(range / 10_000));
  const mk = (labels, f) => ({ labels, points: Array.from({ length: Math.floor(range / step) }, (_, i) => [now - range + i * step, f(i)]) });
  const series = /decision/.test(query)
    ? ['allowed', 'flagged', 'blocked'].map((d, k) => mk({ decision: d }, (i) => (k === 0 ? 37 : 1) + Math.sin(i / 30) * (k === 0 ? 5 : 0.3)))
    : [mk({}, (i) => 100 + 20 * Math.sin(i / 50))];
  return { query, step_seconds: step, series };
}

const CANNED_PLAN = JSON.stringify([
  {
    Plan: {
      'Node Type': 'Limit', 'Startup Cost': 0.0, 'Total Cost': 18334.5, 'Plan Rows': 50, 'Plan Width': 64,
      Plans: [
        {
          'Node Type': 'Seq Scan', 'Parent Relationship': 'Outer', 'Relation Name': 'messages', Alias: 'messages',
          'Startup Cost': 0.0, 'Total Cost': 18334.5, 'Plan Rows': 120, 'Plan Width': 64, Filter: '(user_id = $1)',
        },
      ],
    },
  },
]);

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.json': 'application/json' };
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const clients = new Set();
setInterval(() => {
  if (clients.size === 0) return;
  const data = `event: snapshot\ndata: ${JSON.stringify(nextSnapshot())}\n\n`;
  for (const res of clients) res.write(data);
}, intervalMs);

function json(res, code, body) {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Security-Policy': CSP });
  res.end(JSON.stringify(body));
}

createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const p = url.pathname;
  if (p.startsWith('/api/')) {
    if (token !== null && url.searchParams.get('token') !== token) return json(res, 401, { code: 'refused', message: 'a token is required' });
    if (p === '/api/fleet') return json(res, 200, fleetInfo);
    if (p === '/api/snapshots') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
      res.write(`event: snapshot\ndata: ${JSON.stringify(nextSnapshot())}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    if (p === '/api/range') {
      const q = url.searchParams.get('query') ?? '';
      if (q.includes('syntax error')) return json(res, 400, { code: 'bad_request', message: 'parse error at char 7: unexpected identifier' });
      return json(res, 200, rangeResult(q, Number(url.searchParams.get('range') ?? 900)));
    }
    if (p === '/api/explain') {
      const node = url.searchParams.get('node') ?? '';
      const sql = url.searchParams.get('sql');
      const qid = url.searchParams.get('query_id');
      const stmt = base.statements.flatMap((n) => n.top).find((s) => s.query_id === qid);
      return json(res, 200, { node, query: sql ?? stmt?.query ?? '', analyzed: false, generic: sql === null, plan_json: CANNED_PLAN });
    }
    return json(res, 404, { code: 'bad_request', message: `no such endpoint ${p}` });
  }
  let file = normalize(join(dist, p === '/' ? 'index.html' : p));
  if (!file.startsWith(dist) || !existsSync(file) || statSync(file).isDirectory()) file = join(dist, 'index.html');
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP });
  res.end(readFileSync(file));
}).listen(port, '127.0.0.1', () => {
  console.log(`mock fleetdeck serve on http://127.0.0.1:${port}/ (fixture ${fixture}${incident ? `, incident ${incident}` : ''})`);
});
