// The lab's layout, for tests that move its primary (a guarded switchover
// from the desktop) and must hand the lab back as built: pg0 the primary,
// every replica streaming from the upstream it was built with ($RUN/topology:
// a switchover makes cascades direct), each pgbK (K ≥ 1) in front of pgK
// again (a switchover re-points every pooler that routes to the primary), and
// no node fenced. The same as the CLI's lab tests do in
// crates/cli/tests/cli/switchover.rs (restore_lab, restore_layout).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliBinary } from './binaries.mjs';
import { fleetPath, lab, waitFor } from './lab.mjs';
import { engineSnapshot } from './serve.mjs';

/** The lab's run directory: where its fleet file, topology and pgbouncer/ are. */
export function runDir() {
  return path.dirname(fleetPath());
}

/** Each replica's built upstream: Map pgK → pgU, from $RUN/topology ("K U" lines). */
export function builtUpstreams() {
  const lines = fs.readFileSync(path.join(runDir(), 'topology'), 'utf8').split('\n');
  return new Map(lines.filter((l) => /^\d+ \d+$/.test(l)).map((l) => l.split(' ')).map(([k, u]) => [`pg${k}`, `pg${u}`]));
}

/** The fleet file's endpoints: { postgres: {pgK: {action}}, pgbouncer: {pgbK: {action, config_file}} }. */
export function endpoints(fleet = fleetPath()) {
  const out = { postgres: {}, pgbouncer: {} };
  for (const block of fs.readFileSync(fleet, 'utf8').split(/^\[\[/m).slice(1)) {
    const kind = block.slice(0, block.indexOf(']]'));
    if (!(kind in out)) continue;
    const field = (k) => block.match(new RegExp(`^${k} = "([^"]*)"`, 'm'))?.[1];
    out[kind][field('name')] = { action: field('action'), config_file: field('config_file') };
  }
  return out;
}

/** Runs `sql` over `conninfo` with psql; the rows as text lines. */
export function psql(conninfo, sql) {
  return execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, '-c', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  }).trim();
}

/** Who is what now, as the engine sees it: { primaries: [...], nodes: Map name → {role, upstream} }. */
export function roles(fleet = fleetPath()) {
  const s = engineSnapshot(fleet);
  const nodes = new Map(s.nodes.map((n) => [n.name, { role: n.role, upstream: n.upstream ?? null }]));
  return { primaries: s.nodes.filter((n) => n.role === 'primary').map((n) => n.name), nodes };
}

/** `node`'s replay lag in bytes as the engine reads it now (null: not a replica, or unknown). */
export function lagBytes(node, fleet = fleetPath()) {
  return engineSnapshot(fleet).nodes.find((n) => n.name === node)?.replay_lag_bytes ?? null;
}

/** Whether the lab is as built: pg0 the only primary, nothing fenced, each replica under its built upstream. */
export function isBuilt(r = roles(), built = builtUpstreams()) {
  if (r.primaries.length !== 1 || r.primaries[0] !== 'pg0') return false;
  for (const [node, up] of built) {
    const n = r.nodes.get(node);
    if (!n || n.role !== 'replica' || n.upstream !== up) return false;
  }
  return true;
}

/** Inactive replication slots on any node, as `node/slot` (the built lab has none). */
export function inactiveSlots(fleet = fleetPath()) {
  return Object.entries(endpoints(fleet).postgres).flatMap(([name, e]) =>
    psql(e.action, 'SELECT slot_name FROM pg_replication_slots WHERE NOT active')
      .split('\n')
      .filter((slot) => slot !== '')
      .map((slot) => `${name}/${slot}`),
  );
}

/** `fleetdeck switchover --fleet F --to NODE --yes --confirm NODE`, recording in `dataDir`: { status, output }. */
export function cliSwitchover(fleet, to, dataDir) {
  const r = spawnSync(cliBinary(), ['switchover', '--fleet', fleet, '--to', to, '--yes', '--confirm', to], {
    encoding: 'utf8',
    env: { ...process.env, FLEETDECK_DATA_DIR: dataDir, FLEETDECK_OPERATOR: 'e2e restore' },
    timeout: 300_000,
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const port = (conninfo) => Number(conninfo.match(/\bport=(\d+)/)[1]);
const withHostPort = (conninfo, p) => conninfo.replace(/\bhost=\S+/, 'host=127.0.0.1').replace(/\bport=\d+/, `port=${p}`);

/**
 * Each replica back under its built upstream (a slot on the upstream, then
 * ALTER SYSTEM primary_conninfo and a reload, awaited streaming; its slot
 * elsewhere dropped), and each pgbK (K ≥ 1) back in front of pgK (its ini
 * rewritten, then RELOAD). Needs pg0 as the primary.
 */
export async function restoreLayout(fleet = fleetPath()) {
  const ep = endpoints(fleet);
  // A node just rejoined (pg_rewind, restart) may not take connections yet.
  for (const [name, e] of Object.entries(ep.postgres)) {
    await waitFor(`${name} accepting connections`, () => psql(e.action, 'SELECT 1') === '1', { timeout: 60_000, interval: 500 });
  }
  for (const [node, up] of builtUpstreams()) {
    const conn = ep.postgres[node].action;
    const upPort = port(ep.postgres[up].action);
    const streamingFrom = () => psql(conn, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'");
    if (streamingFrom() === String(upPort)) continue;
    psql(
      ep.postgres[up].action,
      `SELECT pg_create_physical_replication_slot('${node}', true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${node}')`,
    );
    const current = psql(conn, "SELECT current_setting('primary_conninfo')");
    const moved = withHostPort(current, upPort).replaceAll("'", "''");
    psql(conn, `ALTER SYSTEM SET primary_conninfo = '${moved}'`);
    psql(conn, 'SELECT pg_reload_conf()');
    await waitFor(`${node} streaming from ${up} again`, () => streamingFrom() === String(upPort), { timeout: 60_000, interval: 500 });
  }
  // A replica moved back under its built upstream leaves its slot on the node
  // it streamed from meanwhile, inactive and holding WAL (the engine reports
  // it as slot_retaining_wal): a slot pgK lives on pgK's built upstream only.
  for (const [node, up] of builtUpstreams()) {
    for (const [other, e] of Object.entries(ep.postgres)) {
      if (other === up || other === node) continue;
      psql(e.action, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${node}' AND NOT active`);
    }
  }
  for (const node of builtUpstreams().keys()) {
    const pooler = node.replace(/^pg/, 'pgb');
    const e = ep.pgbouncer[pooler];
    if (!e?.config_file) continue;
    const want = port(ep.postgres[node].action);
    const text = fs.readFileSync(e.config_file, 'utf8');
    const put = text.replace(/^(chat\s*=.*)$/m, (line) => withHostPort(line, want));
    if (put === text) continue;
    fs.writeFileSync(e.config_file, put);
    psql(e.action, 'RELOAD');
  }
}

/**
 * Puts the lab back as built, from wherever a test left it: fenced nodes
 * rejoined (`lab/lab rejoin`), pg0 made the primary again by the CLI's
 * switchover (recorded in `dataDir`), the old primary rejoined, the layout
 * restored. Returns what it did, for the test's diagnostics.
 */
export async function restoreLab(fleet, dataDir) {
  const did = [];
  for (let round = 0; round < 4; round++) {
    const r = roles(fleet);
    for (const [name, n] of r.nodes) {
      if (n.role === 'fenced') {
        lab('rejoin', name);
        did.push(`lab/lab rejoin ${name}`);
      }
    }
    const now = roles(fleet);
    if (now.primaries.length === 1 && now.primaries[0] === 'pg0') {
      if ([...now.nodes.values()].every((n) => n.role === 'primary' || n.role === 'replica')) {
        await restoreLayout(fleet);
        did.push('layout restored');
        await waitFor('the lab as built', () => isBuilt(roles(fleet)), { timeout: 60_000, interval: 1000 });
        return did;
      }
    } else if (now.primaries.length === 1) {
      const o = cliSwitchover(fleet, 'pg0', dataDir);
      did.push(`fleetdeck switchover --to pg0: exit ${o.status}`);
      if (o.status !== 0 && o.status !== 5) throw new Error(`switching back to pg0 failed (exit ${o.status}):\n${o.output}`);
    } else {
      lab('incident', 'clear');
      did.push('lab/lab incident clear');
    }
  }
  throw new Error(`the lab could not be put back as built: ${JSON.stringify([...roles(fleet).nodes])} (did: ${did.join('; ')})`);
}
