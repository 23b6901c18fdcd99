// Guarded actions in the desktop (design §4), the pure part: the shapes the
// shell's action commands answer with (src-tauri/src/commands/actions.rs;
// the core's Plan, Check, Outcome and ActionEvent are generated, these few
// desktop-only ones are written here by hand and kept minimal), and what the
// Actions panel derives from them — the lock's countdown, whether the typed
// confirmation matches, which failed checks still block, the live progress
// list reduced from the streamed events, and the words and colours of each
// verdict. No Vue here: tests/actions.test.ts drives it directly.
import type { ActionEvent } from '../generated/ActionEvent';
import type { Check } from '../generated/Check';
import type { Node } from '../generated/Node';
import type { Outcome } from '../generated/Outcome';
import type { OutcomeKind } from '../generated/OutcomeKind';
import type { Override } from '../generated/Override';
import type { Plan } from '../generated/Plan';
import type { StepPhase } from '../generated/StepPhase';
import type { Health } from './health';

/** What the shell can do (`ActionKind`). */
export type ActionKind = 'switchover' | 'failover' | 'recovery';

/** One journaled step of a run (`StepRecord`). */
export interface RunStep {
  seq: number;
  step: string;
  title: string;
  started_at: string;
  ended_at: string | null;
  /** `ok`, `failed`, or null: started and never ended. */
  outcome: string | null;
  ms: number | null;
  message: string | null;
}

/**
 * A run that needs someone (`OpenRun`: a `RunRecord` and whether its console
 * still runs it): no end yet (running, or interrupted), or ended needing
 * attention and not recovered yet.
 */
export interface OpenRun {
  id: number;
  fleet: string;
  kind: string;
  targets: string[];
  operator: string;
  os_user: string;
  host: string;
  pid: number;
  started_at: string;
  /** Set once it ended (needing attention); null while running or interrupted. */
  ended_at: string | null;
  /** `running` (or interrupted), `needs_attention`. */
  state: string;
  message: string;
  steps: RunStep[];
  /** Running now in a live console: neither interrupted nor ended. */
  running: boolean;
}

/** `actions_state`: the session's lock and the fleet's open runs. */
export interface ActionsState {
  unlocked: boolean;
  /** The name given at the first unlock (kept after a re-lock). */
  operator: string | null;
  /** Seconds until it re-locks without an action command (null while locked). */
  relock_in_seconds: number | null;
  idle_limit_seconds: number;
  /** Some node or pooler has an action login. */
  available: boolean;
  open_runs: OpenRun[];
}

/** One audit record (`AuditRecord`). */
export interface AuditRecord {
  seq: number;
  prev_hash: string;
  hash: string;
  entry: {
    fleet: string;
    action: string;
    targets: string[];
    os_user: string;
    operator: string;
    started_at: string;
    ended_at: string;
    outcome: string;
    body: unknown;
  };
}

/** The chain's verdict (`AuditVerification`). */
export interface AuditVerification {
  records: number;
  head: string | null;
  fault: { seq: number; reason: string } | null;
}

/** `audit_trail`: this fleet's records newest first, and the whole chain's verdict. */
export interface AuditTrail {
  records: AuditRecord[];
  total: number;
  verification: AuditVerification;
}

/** What to run: a kind and its target (a node, or an interrupted run's id). */
export interface ActionTarget {
  kind: ActionKind;
  /** Switchover: the node to promote. Failover: the replica to promote (null: the most advanced). */
  target: string | null;
  /** Recovery: the interrupted run. */
  runId: number | null;
}

/** The desktop's action commands (absent in a browser: `fleetdeck serve` has no action). */
export interface ActionsApi {
  state(): Promise<ActionsState>;
  unlock(operator: string | null): Promise<ActionsState>;
  lock(): Promise<ActionsState>;
  /** A dry run: plan and checks, nothing changed. */
  plan(what: ActionTarget, overrides: Override[]): Promise<Outcome>;
  /** Runs it; every event also arrives through `onEvent` before this resolves. */
  execute(what: ActionTarget, confirm: string, overrides: Override[]): Promise<Outcome>;
  auditTrail(limit: number): Promise<AuditTrail>;
  onEvent(cb: (e: ActionEvent) => void): () => void;
}

// ---------------------------------------------------------------- the lock

/** Seconds left before the session re-locks, counting down from when the state was read. */
export function relockIn(state: Pick<ActionsState, 'unlocked' | 'relock_in_seconds'> | null, readAtMs: number, nowMs: number): number | null {
  if (!state || !state.unlocked || state.relock_in_seconds === null) return null;
  return Math.max(0, Math.ceil(state.relock_in_seconds - (nowMs - readAtMs) / 1000));
}

/** `9:05` for 545 s. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The lock in words: `READ-ONLY`, or `UNLOCKED · ada · re-locks in 9:05`. */
export function lockWords(state: Pick<ActionsState, 'unlocked' | 'operator'> | null, left: number | null): string {
  if (!state || !state.unlocked) return 'READ-ONLY';
  const who = state.operator ? ` · ${state.operator}` : '';
  return `UNLOCKED${who}${left !== null ? ` · re-locks in ${clock(left)}` : ''}`;
}

// ---------------------------------------------------------------- confirming

/** The operator typed exactly what the plan asks (surrounding spaces aside; case counts, like the engine). */
export function confirmMatches(typed: string, plan: Pick<Plan, 'confirm'> | null | undefined): boolean {
  return !!plan && plan.confirm !== '' && typed.trim() === plan.confirm;
}

/** The overrides to send: each failed, overridable check with a non-blank reason typed for it. */
export function overridesFrom(checks: readonly Check[], reasons: Readonly<Record<string, string>>): Override[] {
  const out: Override[] = [];
  for (const c of checks) {
    const reason = (reasons[c.id] ?? '').trim();
    if (c.status === 'fail' && c.overridable && reason !== '' && !out.some((o) => o.check === c.id)) out.push({ check: c.id, reason });
  }
  return out;
}

/** Failed checks that still block once `reasons` are given: not overridable, or overridable without a reason. */
export function blocking(checks: readonly Check[], reasons: Readonly<Record<string, string>>): Check[] {
  const given = new Set(overridesFrom(checks, reasons).map((o) => o.check));
  return checks.filter((c) => c.status === 'fail' && c.overridden === null && !given.has(c.id));
}

export interface Readiness {
  ok: boolean;
  /** Why not, in words (empty when ok). */
  why: string;
}

/** Whether Enter may run the action now, and if not, what is missing, in the order the operator meets it. */
export function readiness(a: {
  planned: Outcome | null;
  unlocked: boolean;
  typed: string;
  reasons: Readonly<Record<string, string>>;
  running: boolean;
}): Readiness {
  const no = (why: string): Readiness => ({ ok: false, why });
  if (a.running) return no('an action is running');
  if (!a.planned || !a.planned.plan) return no('no plan yet');
  const still = blocking(a.planned.checks, a.reasons);
  const hard = still.filter((c) => !c.overridable);
  if (hard.length > 0) return no(`refused by preflight: ${hard.map((c) => c.title).join('; ')}`);
  if (still.length > 0) return no(`type a reason to override: ${still.map((c) => c.title).join('; ')}`);
  if (!a.unlocked) return no('actions are locked: unlock them first');
  if (!confirmMatches(a.typed, a.planned.plan)) return no(`type ${a.planned.plan.confirm} to confirm`);
  return { ok: true, why: '' };
}

// ---------------------------------------------------------------- progress

/** One row of the live progress list. */
export interface StepRow {
  seq: number;
  id: string;
  title: string;
  phase: StepPhase;
  /** Wall time once it ended, ms. */
  ms: number | null;
  message: string | null;
  /** When this UI heard it start (performance.now()), for a running clock; null when never heard. */
  heardAt: number | null;
}

/** Everything a run has shown so far. */
export interface Progress {
  plan: Plan | null;
  checks: Check[];
  steps: StepRow[];
  /** null until verification ran. */
  verification: Check[] | null;
  outcome: Outcome | null;
}

export const emptyProgress = (): Progress => ({ plan: null, checks: [], steps: [], verification: null, outcome: null });

function putStep(steps: readonly StepRow[], row: StepRow): StepRow[] {
  const i = steps.findIndex((s) => s.seq === row.seq);
  const out = [...steps];
  if (i < 0) out.push(row);
  else out[i] = { ...row, heardAt: out[i]!.heardAt ?? row.heardAt };
  return out.sort((x, y) => x.seq - y.seq);
}

/** `p` with one streamed event applied (a new object; `at` is performance.now() when it arrived). */
export function reduce(p: Progress, e: ActionEvent, at: number | null = null): Progress {
  switch (e.event) {
    case 'planned':
      return { ...p, plan: e.plan };
    case 'checked':
      return { ...p, checks: e.checks };
    case 'step': {
      const s = e.step;
      // An end never goes back to started (events of one run arrive in order, but be strict).
      const had = p.steps.find((r) => r.seq === s.seq);
      if (had && had.phase !== 'started' && s.phase === 'started') return p;
      return { ...p, steps: putStep(p.steps, { ...s, heardAt: s.phase === 'started' ? at : (had?.heardAt ?? null) }) };
    }
    case 'verified':
      return { ...p, verification: e.checks };
    case 'finished':
      return finish(p, e.outcome);
  }
}

/** `p` completed by the outcome the command returned (or the finished event carried): its steps and verification win. */
export function finish(p: Progress, o: Outcome): Progress {
  let steps = p.steps;
  for (const s of o.steps) steps = putStep(steps, { ...s, heardAt: null });
  return {
    plan: o.plan ?? p.plan,
    checks: o.checks.length > 0 ? o.checks : p.checks,
    steps,
    verification: o.verification.length > 0 ? o.verification : p.verification,
    outcome: o,
  };
}

// ---------------------------------------------------------------- words

export interface Look {
  word: string;
  glyph: string;
  /** The CSS class: `h-ok`, `h-warn`, `h-crit`, `h-rolled`, `h-info`. */
  cls: string;
}

/** Each outcome its own word, glyph and colour: done green, refused amber, rolled back violet, needs attention red. */
export const OUTCOME_LOOK: Record<OutcomeKind, Look> = {
  planned: { word: 'PLANNED', glyph: '◇', cls: 'h-info' },
  done: { word: 'DONE', glyph: '✓', cls: 'h-ok' },
  refused: { word: 'REFUSED', glyph: '⊘', cls: 'h-warn' },
  rolled_back: { word: 'ROLLED BACK', glyph: '↶', cls: 'h-rolled' },
  needs_attention: { word: 'NEEDS ATTENTION', glyph: '✕', cls: 'h-crit' },
};

/** An outcome stored as text in the journal or the audit log (`done`, `recovered`, …). */
export function outcomeLook(outcome: string): Look {
  if (outcome in OUTCOME_LOOK) return OUTCOME_LOOK[outcome as OutcomeKind];
  if (outcome === 'recovered') return { word: 'RECOVERED', glyph: '✓', cls: 'h-ok' };
  return { word: outcome.toUpperCase(), glyph: '?', cls: 'h-unknown' };
}

/** A check's verdict: pass, WARN, FAIL, or OVERRIDDEN once a reason was given. */
export function checkLook(c: Pick<Check, 'status' | 'overridden'>): Look {
  if (c.status === 'pass') return { word: 'pass', glyph: '✓', cls: 'h-ok' };
  if (c.status === 'warn') return { word: 'WARN', glyph: '!', cls: 'h-warn' };
  if (c.overridden !== null) return { word: 'OVERRIDDEN', glyph: '!', cls: 'h-warn' };
  return { word: 'FAIL', glyph: '✕', cls: 'h-crit' };
}

/** A progress row's mark: … while running, ✓ or ✗ once ended. */
export function stepLook(phase: StepPhase): Look {
  if (phase === 'ok') return { word: 'ok', glyph: '✓', cls: 'h-ok' };
  if (phase === 'failed') return { word: 'failed', glyph: '✗', cls: 'h-crit' };
  return { word: 'running', glyph: '…', cls: 'h-info' };
}

/** `412 ms`, `3.4 s`. */
export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** The chain's verdict in words, and whether it is intact. */
export function chainVerdict(v: AuditVerification): { intact: boolean; text: string } {
  if (v.fault) return { intact: false, text: `BROKEN at #${v.fault.seq}: ${v.fault.reason}` };
  if (v.records === 0) return { intact: true, text: 'intact · nothing recorded yet' };
  return { intact: true, text: `intact · ${v.records} record${v.records === 1 ? '' : 's'} · head ${(v.head ?? '').slice(0, 12)}…` };
}

/** A step as the audit record keeps it. */
export interface AuditStep {
  title: string;
  outcome: string;
  ms: number | null;
  message: string | null;
}

/** An audit record's body, read for people: whatever is missing or malformed is left out. */
export interface AuditBody {
  message: string | null;
  runId: number | null;
  effects: string[];
  overrides: Override[];
  checks: Check[];
  steps: AuditStep[];
  verification: Check[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function asCheck(v: unknown): Check | null {
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.title !== 'string') return null;
  const status = v.status === 'pass' || v.status === 'warn' || v.status === 'fail' ? v.status : null;
  if (status === null) return null;
  return { id: v.id, title: v.title, status, evidence: str(v.evidence) ?? '', overridable: v.overridable === true, overridden: str(v.overridden) };
}

/** The body the engine audits (crates/core/src/action/mod.rs `finish`): message, checks, overrides, steps, verification. */
export function auditBody(body: unknown): AuditBody {
  const b = isObject(body) ? body : {};
  return {
    message: str(b.message),
    runId: num(b.run_id),
    effects: list(b.effects).filter((e): e is string => typeof e === 'string'),
    overrides: list(b.overrides).flatMap((o) => (isObject(o) && typeof o.check === 'string' && typeof o.reason === 'string' ? [{ check: o.check, reason: o.reason }] : [])),
    checks: list(b.checks).flatMap((c) => asCheck(c) ?? []),
    steps: list(b.steps).flatMap((st) =>
      isObject(st) && typeof st.title === 'string' ? [{ title: st.title, outcome: str(st.outcome) ?? '?', ms: num(st.ms), message: str(st.message) }] : [],
    ),
    verification: list(b.verification).flatMap((c) => asCheck(c) ?? []),
  };
}

/** A run's title: `switchover pg0 → pg1`, `failover to pg2`. */
export function actionTitle(what: ActionTarget): string {
  switch (what.kind) {
    case 'switchover':
      return `Switchover to ${what.target ?? '?'}`;
    case 'failover':
      return what.target ? `Failover to ${what.target}` : 'Failover (most advanced replica)';
    case 'recovery':
      return `Recovery of action #${what.runId ?? '?'}`;
  }
}

// ---------------------------------------------------------------- where actions are offered

/** What a node offers: switchover to a replica, failover when the primary is down, a rejoin hint for a fenced one. */
export type NodeOffer = { kind: 'switchover' } | { kind: 'failover' } | { kind: 'rejoin'; hint: string } | { kind: 'none'; why: string };

/** The way back for a fenced former primary. */
export function rejoinHint(node: string): string {
  return `${node} is a fenced former primary: it needs a rejoin as a replica of the current primary (pg_rewind), e.g. lab/lab rejoin ${node} in the lab`;
}

export function nodeOffer(n: Pick<Node, 'name' | 'role' | 'reachable'>): NodeOffer {
  if (n.role === 'fenced') return { kind: 'rejoin', hint: rejoinHint(n.name) };
  if (n.role === 'replica') return { kind: 'switchover' };
  if (n.role === 'primary') return n.reachable ? { kind: 'none', why: 'the primary: switch over to one of its replicas' } : { kind: 'failover' };
  return n.reachable ? { kind: 'none', why: `${n.name}'s role is unknown` } : { kind: 'failover' };
}

/** The nodes a switchover may be asked for (the engine checks which it allows: a cascade replica is refused with its reason). */
export function switchoverTargets(nodes: readonly Pick<Node, 'name' | 'role'>[]): string[] {
  return nodes.filter((n) => n.role === 'replica').map((n) => n.name);
}

/** A run's summary for the interrupted-actions banner. */
export function runSummary(r: Pick<OpenRun, 'id' | 'kind' | 'targets' | 'operator' | 'started_at' | 'running' | 'state' | 'message'>): string {
  const head = `#${r.id} ${r.kind} ${r.targets.join(' → ')} by ${r.operator} since ${r.started_at}`;
  if (r.running) return `${head} (still running in another console)`;
  if (r.state === 'needs_attention') return `${head}: ended needing attention${r.message ? ` — ${r.message}` : ''}`;
  return `${head}: interrupted, its console gone`;
}

/** Health for a lock badge: unlocked is a warning (the console can change the fleet). */
export const lockHealth = (unlocked: boolean): Health => (unlocked ? 'warn' : 'ok');
