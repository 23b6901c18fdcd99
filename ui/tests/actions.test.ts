// Guarded actions in the UI: the pure logic (lib/actions.ts: the lock's
// countdown, confirmation matching, overrides and readiness, the progress
// list reduced from streamed events, verdict words), then the Actions panel
// and the audit trail mounted on a fake desktop (a DataSource with actions)
// and on sources without any (a browser on `fleetdeck serve`, the war room).
// Fenced nodes and paused pools are drawn as what they are.
import { afterEach, describe, expect, it } from 'vitest';
import { mount, type VueWrapper } from '@vue/test-utils';
import App from '../src/App.vue';
import { createStore, STORE } from '../src/state/store';
import type { ActionEvent } from '../src/generated/ActionEvent';
import type { Check } from '../src/generated/Check';
import type { Outcome } from '../src/generated/Outcome';
import type { Override } from '../src/generated/Override';
import type { Plan } from '../src/generated/Plan';
import type { Snapshot } from '../src/generated/Snapshot';
import {
  auditBody,
  blocking,
  chainVerdict,
  checkLook,
  clock,
  confirmMatches,
  duration,
  emptyProgress,
  finish,
  lockWords,
  nodeOffer,
  OUTCOME_LOOK,
  overridesFrom,
  readiness,
  reduce,
  relockIn,
  runSummary,
  switchoverTargets,
  type ActionsApi,
  type ActionsState,
  type ActionTarget,
  type AuditTrail,
  type OpenRun,
} from '../src/lib/actions';
import { nodeHealth, nodeStatus, pausedPools, poolHealth, shortStatus } from '../src/lib/health';
import { anomaly, FakeSource, flush, healthySnapshot } from './helpers';
import { subjects } from '../src/lib/subject';

const check = (id: string, status: Check['status'], over: Partial<Check> = {}): Check => ({
  id,
  title: `${id} holds`,
  status,
  evidence: `${id}: what was read`,
  overridable: false,
  overridden: null,
  ...over,
});

const plan = (target: string): Plan => ({
  kind: 'switchover',
  targets: ['pg0', target],
  confirm: target,
  summary: `switch pg0's primary role to ${target}`,
  effects: ['pgb0/chat pauses, then follows the new primary'],
  steps: [
    { id: 'pause:pgb0', title: 'PAUSE pgb0/chat', detail: 'PAUSE chat' },
    { id: 'promote', title: `promote ${target}`, detail: 'SELECT pg_promote(true, 60)' },
  ],
});

const outcome = (kind: Outcome['kind'], target: string, over: Partial<Outcome> = {}): Outcome => ({
  kind,
  message: kind === 'planned' ? `dry run: every check passes; confirm by typing '${target}'` : `${kind}: ${target}`,
  run_id: null,
  audit_seq: null,
  plan: plan(target),
  checks: [check('one_primary', 'pass'), check('target_direct_child', 'pass')],
  steps: [],
  verification: [],
  ...over,
});

describe('the lock', () => {
  it('counts down from the state read, and says who unlocked it', () => {
    const st = { unlocked: true, relock_in_seconds: 600, operator: 'ada' };
    expect(relockIn(st, 1000, 1000)).toBe(600);
    expect(relockIn(st, 1000, 1000 + 54_500)).toBe(546);
    expect(relockIn(st, 1000, 1000 + 700_000), 'never below zero').toBe(0);
    expect(relockIn({ unlocked: false, relock_in_seconds: null }, 0, 0)).toBeNull();
    expect(relockIn(null, 0, 0)).toBeNull();
    expect(clock(545)).toBe('9:05');
    expect(clock(0)).toBe('0:00');
    expect(lockWords(st, 545)).toBe('UNLOCKED · ada · re-locks in 9:05');
    expect(lockWords({ unlocked: false, operator: 'ada' }, null)).toBe('READ-ONLY');
    expect(lockWords(null, null), 'before the first read: read-only').toBe('READ-ONLY');
  });
});

describe('confirming', () => {
  it('matches the typed name exactly, surrounding spaces aside', () => {
    const p = plan('pg1');
    expect(confirmMatches('pg1', p)).toBe(true);
    expect(confirmMatches('  pg1 ', p)).toBe(true);
    expect(confirmMatches('PG1', p), 'case counts, as in the engine').toBe(false);
    expect(confirmMatches('pg', p)).toBe(false);
    expect(confirmMatches('pg12', p)).toBe(false);
    expect(confirmMatches('', { confirm: '' }), 'an empty confirmation never matches').toBe(false);
    expect(confirmMatches('pg1', null)).toBe(false);
  });

  it('sends an override only for a failed overridable check with a reason, and says what still blocks', () => {
    const checks = [
      check('target_lag', 'fail', { overridable: true }),
      check('index_builds', 'fail'),
      check('poolers', 'warn'),
      check('one_primary', 'pass', { overridable: true }),
    ];
    expect(overridesFrom(checks, { target_lag: '  drill ', one_primary: 'no' })).toEqual([{ check: 'target_lag', reason: 'drill' }]);
    expect(overridesFrom(checks, { target_lag: '   ' }), 'a blank reason is none').toEqual([]);
    expect(blocking(checks, {}).map((c) => c.id)).toEqual(['target_lag', 'index_builds']);
    expect(blocking(checks, { target_lag: 'drill' }).map((c) => c.id)).toEqual(['index_builds']);
  });

  it('is ready only with a plan, nothing blocking, the session unlocked and the name typed — and says what is missing first', () => {
    const ok = outcome('planned', 'pg1');
    const base = { planned: ok, unlocked: true, typed: 'pg1', reasons: {}, running: false };
    expect(readiness(base)).toEqual({ ok: true, why: '' });
    expect(readiness({ ...base, planned: null }).why).toBe('no plan yet');
    expect(readiness({ ...base, running: true }).why).toBe('an action is running');
    expect(readiness({ ...base, unlocked: false }).why).toMatch(/locked/);
    expect(readiness({ ...base, typed: 'pg' }).why).toBe('type pg1 to confirm');
    const hard = outcome('refused', 'pg3', { checks: [check('target_direct_child', 'fail')] });
    expect(readiness({ ...base, planned: hard, typed: 'pg3' }).why, 'a refusal no reason can lift comes first').toMatch(/^refused by preflight: target_direct_child holds/);
    const soft = outcome('refused', 'pg1', { checks: [check('target_lag', 'fail', { overridable: true })] });
    expect(readiness({ ...base, planned: soft }).why).toMatch(/^type a reason to override/);
    expect(readiness({ ...base, planned: soft, reasons: { target_lag: 'drill' } }).ok).toBe(true);
  });
});

describe('the progress list', () => {
  const step = (seq: number, phase: 'started' | 'ok' | 'failed', ms: number | null = null): ActionEvent => ({
    event: 'step',
    step: { seq, id: `s${seq}`, title: `step ${seq}`, phase, ms, message: phase === 'started' ? null : phase === 'ok' ? 'ok' : 'boom' },
  });

  it('is reduced from the streamed events in order: started, then ✓/✗ with the time', () => {
    let p = emptyProgress();
    p = reduce(p, { event: 'planned', plan: plan('pg1') }, 1);
    p = reduce(p, { event: 'checked', checks: [check('one_primary', 'pass')] }, 2);
    p = reduce(p, step(1, 'started'), 10);
    expect(p.steps).toMatchObject([{ seq: 1, phase: 'started', heardAt: 10, ms: null }]);
    p = reduce(p, step(1, 'ok', 12.5), 23);
    p = reduce(p, step(2, 'started'), 30);
    p = reduce(p, step(2, 'failed', 4000), 4030);
    expect(p.steps.map((s) => [s.seq, s.phase, s.ms, s.heardAt])).toEqual([
      [1, 'ok', 12.5, 10],
      [2, 'failed', 4000, 30],
    ]);
    p = reduce(p, step(2, 'started'), 5000);
    expect(p.steps[1]!.phase, 'an end never goes back to started').toBe('failed');
    p = reduce(p, { event: 'verified', checks: [check('writes_land', 'pass')] });
    expect(p.verification).toHaveLength(1);
    const done = outcome('done', 'pg1', { audit_seq: 7, verification: [check('writes_land', 'pass')] });
    p = reduce(p, { event: 'finished', outcome: done });
    expect(p.outcome).toBe(done);
    expect(p.plan?.confirm).toBe('pg1');
  });

  it('takes an end heard without its start, sorted by seq, and fills in from the returned outcome', () => {
    let p = reduce(emptyProgress(), step(2, 'ok', 3));
    p = reduce(p, step(1, 'failed', 0));
    expect(p.steps.map((s) => s.seq)).toEqual([1, 2]);
    const o = outcome('rolled_back', 'pg1', {
      steps: [
        { seq: 1, id: 's1', title: 'step 1', phase: 'failed', ms: 0, message: 'boom' },
        { seq: 3, id: 's3', title: 'RESUME pgb0', phase: 'ok', ms: 2, message: 'ok' },
      ],
    });
    p = finish(p, o);
    expect(p.steps.map((s) => `${s.seq}:${s.phase}`)).toEqual(['1:failed', '2:ok', '3:ok']);
    expect(p.outcome?.kind).toBe('rolled_back');
  });

  it('writes times as ms or s', () => {
    expect(duration(412.4)).toBe('412 ms');
    expect(duration(3421)).toBe('3.4 s');
    expect(duration(42_000)).toBe('42 s');
    expect(duration(null)).toBe('');
  });
});

describe('verdicts', () => {
  it('gives every outcome its own word and colour', () => {
    const classes = Object.values(OUTCOME_LOOK).map((l) => l.cls);
    expect(new Set(classes).size, 'done, refused, rolled back and needs attention look different').toBe(classes.length);
    expect(OUTCOME_LOOK.done).toMatchObject({ word: 'DONE', cls: 'h-ok' });
    expect(OUTCOME_LOOK.refused.word).toBe('REFUSED');
    expect(OUTCOME_LOOK.rolled_back.word).toBe('ROLLED BACK');
    expect(OUTCOME_LOOK.needs_attention).toMatchObject({ word: 'NEEDS ATTENTION', cls: 'h-crit' });
    expect(checkLook(check('x', 'fail')).word).toBe('FAIL');
    expect(checkLook(check('x', 'fail', { overridden: 'drill' })).word).toBe('OVERRIDDEN');
    expect(checkLook(check('x', 'warn')).word).toBe('WARN');
  });

  it("reads an audit record's body for people, leaving out what is malformed", () => {
    const b = auditBody({
      run_id: 4,
      message: 'pg1 is the primary',
      effects: ['pgb0 pauses', 3],
      checks: [check('one_primary', 'pass'), { id: 'x', title: 'bad status', status: 'maybe' }, null],
      overrides: [{ check: 'target_lag', reason: 'drill' }, { check: 'y' }],
      steps: [{ name: 'promote', title: 'promote pg1', outcome: 'ok', ms: 37.2, message: 'out of recovery' }, { outcome: 'ok' }],
      verification: [check('writes_land', 'pass')],
    });
    expect(b.message).toBe('pg1 is the primary');
    expect(b.runId).toBe(4);
    expect(b.effects).toEqual(['pgb0 pauses']);
    expect(b.checks.map((c) => c.id)).toEqual(['one_primary']);
    expect(b.overrides).toEqual([{ check: 'target_lag', reason: 'drill' }]);
    expect(b.steps).toEqual([{ title: 'promote pg1', outcome: 'ok', ms: 37.2, message: 'out of recovery' }]);
    expect(b.verification).toHaveLength(1);
    expect(auditBody('not an object')).toEqual({ message: null, runId: null, effects: [], overrides: [], checks: [], steps: [], verification: [] });
  });

  it('says how a run to recover was left', () => {
    const r = { id: 3, kind: 'switchover', targets: ['pg0', 'pg1'], operator: 'ada', started_at: 'T', running: false, state: 'running', message: '' };
    expect(runSummary(r)).toBe('#3 switchover pg0 → pg1 by ada since T: interrupted, its console gone');
    expect(runSummary({ ...r, state: 'needs_attention', message: 'pgb0/chat paused' })).toBe('#3 switchover pg0 → pg1 by ada since T: ended needing attention — pgb0/chat paused');
    expect(runSummary({ ...r, running: true })).toBe('#3 switchover pg0 → pg1 by ada since T (still running in another console)');
  });

  it('says whether the audit chain is intact, or where it broke', () => {
    expect(chainVerdict({ records: 0, head: null, fault: null })).toEqual({ intact: true, text: 'intact · nothing recorded yet' });
    expect(chainVerdict({ records: 3, head: 'abcdef0123456789', fault: null }).text).toBe('intact · 3 records · head abcdef012345…');
    expect(chainVerdict({ records: 3, head: null, fault: { seq: 2, reason: 'hash mismatch' } })).toEqual({ intact: false, text: 'BROKEN at #2: hash mismatch' });
  });
});

describe('fenced nodes and paused pools', () => {
  it('a fenced former primary offers a rejoin, never an action, and is never called a primary', () => {
    const s = healthySnapshot();
    const pg0 = { ...s.nodes.find((n) => n.name === 'pg0')!, role: 'fenced' as const };
    const offer = nodeOffer(pg0);
    expect(offer.kind).toBe('rejoin');
    expect(offer.kind === 'rejoin' && offer.hint).toContain('lab/lab rejoin pg0');
    expect(offer.kind === 'rejoin' && offer.hint).toContain('pg_rewind');
    expect(nodeStatus(pg0, [])).toBe('fenced · needs rejoin');
    expect(shortStatus(nodeStatus(pg0, []))).toBe('fenced');
    expect(nodeHealth(pg0, new Map())).toBe('warn');
    expect(nodeOffer({ name: 'pg1', role: 'replica', reachable: true }).kind).toBe('switchover');
    expect(nodeOffer({ name: 'pg0', role: 'primary', reachable: false }).kind).toBe('failover');
    expect(nodeOffer({ name: 'pg0', role: 'primary', reachable: true }).kind).toBe('none');
    expect(switchoverTargets([pg0, { name: 'pg1', role: 'replica' }, { name: 'pg9', role: 'unknown' }])).toEqual(['pg1']);
  });

  it('a paused pool is critical, saturated or not', () => {
    const p = healthySnapshot().pools[0]!;
    expect(poolHealth(p)).toBe('ok');
    expect(poolHealth(p, true)).toBe('crit');
    expect([...pausedPools([{ name: 'pgb0', paused: ['chat'] }, { name: 'pgb1', paused: [] }])]).toEqual(['pgb0/chat']);
  });
});

// ---------------------------------------------------------------- mounted

/** The shell's action commands, faked: pg3 is refused (a cascade), anything else plans and runs. */
class FakeActions implements ActionsApi {
  st: ActionsState = { unlocked: false, operator: null, relock_in_seconds: null, idle_limit_seconds: 600, available: true, open_runs: [] };
  cbs = new Set<(e: ActionEvent) => void>();
  plans: ActionTarget[] = [];
  runs: { what: ActionTarget; confirm: string; overrides: Override[] }[] = [];
  audited: Outcome[] = [];

  state() {
    return Promise.resolve({ ...this.st });
  }
  unlock(operator: string | null) {
    const name = operator?.trim() || this.st.operator;
    if (!name) return Promise.reject({ code: 'bad_request', message: 'give your name' });
    this.st = { ...this.st, unlocked: true, operator: name, relock_in_seconds: 600 };
    return this.state();
  }
  lock() {
    this.st = { ...this.st, unlocked: false, relock_in_seconds: null };
    return this.state();
  }
  private dry(what: ActionTarget): Outcome {
    const target = what.target ?? 'pg1';
    if (target === 'pg3') {
      return outcome('refused', 'pg3', {
        message: 'refused by preflight, nothing changed: pg3 streams directly from pg0 — pg3 is Replica, upstream pg1, WAL receiver streaming',
        checks: [check('one_primary', 'pass'), check('target_direct_child', 'fail', { evidence: 'pg3 is Replica, upstream pg1, WAL receiver streaming' })],
      });
    }
    return outcome('planned', target);
  }
  plan(what: ActionTarget) {
    this.plans.push(what);
    return Promise.resolve(this.dry(what));
  }
  execute(what: ActionTarget, confirm: string, overrides: Override[]) {
    if (!this.st.unlocked) return Promise.reject({ code: 'refused', message: 'refused, nothing changed: actions are locked' });
    this.runs.push({ what, confirm, overrides });
    const dry = this.dry(what);
    const emit = (e: ActionEvent) => this.cbs.forEach((cb) => cb(e));
    emit({ event: 'planned', plan: dry.plan! });
    emit({ event: 'checked', checks: dry.checks });
    emit({ event: 'step', step: { seq: 1, id: 'pause:pgb0', title: 'PAUSE pgb0/chat', phase: 'started', ms: null, message: null } });
    emit({ event: 'step', step: { seq: 1, id: 'pause:pgb0', title: 'PAUSE pgb0/chat', phase: 'ok', ms: 3.2, message: 'ok' } });
    emit({ event: 'step', step: { seq: 2, id: 'promote', title: `promote ${what.target}`, phase: 'started', ms: null, message: null } });
    emit({ event: 'step', step: { seq: 2, id: 'promote', title: `promote ${what.target}`, phase: 'ok', ms: 812, message: 'promoted on timeline 3' } });
    const verification = [check('writes_land', 'pass', { evidence: `a write landed on ${what.target}` })];
    emit({ event: 'verified', checks: verification });
    const done = outcome('done', what.target ?? '?', { run_id: 4, audit_seq: 12, verification, message: `${what.target} is the primary` });
    this.audited.push(done);
    emit({ event: 'finished', outcome: done });
    return Promise.resolve(done);
  }
  auditTrail(): Promise<AuditTrail> {
    const records = this.audited.map((o) => ({
      seq: o.audit_seq!,
      prev_hash: '0'.repeat(64),
      hash: 'f'.repeat(64),
      entry: {
        fleet: 'lab',
        action: 'switchover',
        targets: o.plan!.targets,
        os_user: 'root',
        operator: this.st.operator ?? 'root',
        started_at: '2026-01-01T00:00:00.000Z',
        ended_at: '2026-01-01T00:00:02.000Z',
        outcome: o.kind,
        body: { message: o.message },
      },
    }));
    return Promise.resolve({ records, total: records.length, verification: { records: records.length, head: 'f'.repeat(64), fault: null } });
  }
  onEvent(cb: (e: ActionEvent) => void) {
    this.cbs.add(cb);
    return () => this.cbs.delete(cb);
  }
}

class DesktopSource extends FakeSource {
  readonly actions = new FakeActions();
}

let wrapper: VueWrapper | null = null;
afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
  document.body.innerHTML = '';
});

async function mountApp(source: FakeSource, snapshot: Snapshot = healthySnapshot()) {
  const store = createStore(source);
  wrapper = mount(App, { global: { provide: { [STORE as symbol]: store } }, attachTo: document.body });
  await store.start();
  source.emit(snapshot);
  await flush();
  return store;
}

const $ = (sel: string) => document.querySelector(sel) as HTMLElement | null;
const $$ = (sel: string) => [...document.querySelectorAll(sel)] as HTMLElement[];
/** Presses `k` on the focused element (or the window), as a keyboard would. */
async function press(k: string): Promise<void> {
  const target: EventTarget = document.activeElement && document.activeElement !== document.body ? document.activeElement : window;
  target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
  await flush();
}
/** Types into the focused input. */
async function type(text: string): Promise<void> {
  const el = document.activeElement as HTMLInputElement;
  el.value += text;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  await flush();
}

describe('the Actions panel in the desktop', () => {
  it('starts read-only; from the topology, s plans a switchover, the name unlocks, the typed target runs it, and the steps, verification, outcome and audit record follow — keyboard only', async () => {
    const source = new DesktopSource();
    const store = await mountApp(source);
    expect($('[data-testid="actions-lock"]')!.dataset.unlocked, 'the app starts read-only').toBe('false');
    expect($('[data-testid="actions-lock"]')!.textContent).toContain('READ-ONLY');

    await press('2');
    store.ui.selectedNode = 'pg1';
    await flush();
    expect($('[data-testid="node-switchover"]')).not.toBeNull();
    await press('s');
    const panel = $('[data-testid="actions-panel"]')!;
    expect(panel, 's opens the Actions panel').not.toBeNull();
    expect([panel.dataset.kind, panel.dataset.target]).toEqual(['switchover', 'pg1']);
    expect(source.actions.plans).toEqual([{ kind: 'switchover', target: 'pg1', runId: null }]);
    expect($$('[data-testid="plan-step"]')).toHaveLength(2);
    const checks = $$('[data-testid="action-check"]');
    expect(checks.map((c) => c.dataset.status)).toEqual(['pass', 'pass']);
    expect(checks.every((c) => c.querySelector('[data-testid="check-evidence"]')!.textContent!.length > 0), 'every check with its evidence').toBe(true);
    expect($('[data-testid="action-confirm"]')!.hasAttribute('disabled'), 'no confirming while locked').toBe(true);
    expect(document.activeElement, 'locked: focus waits in the name field').toBe($('[data-testid="unlock-name"]'));

    await press('Enter');
    expect($('[data-testid="unlock-error"]')!.textContent, 'the first unlock needs a name').toContain('give your name');
    await type('Ada');
    await press('Enter');
    expect(source.actions.st.operator).toBe('Ada');
    expect($('[data-testid="actions-lock"]')!.dataset.unlocked).toBe('true');
    expect($('[data-testid="actions-lock"]')!.textContent).toMatch(/UNLOCKED · Ada · re-locks in (10:00|9:5\d)/);
    expect(document.activeElement, 'unlocked: on to the confirmation').toBe($('[data-testid="action-confirm"]'));

    await type('pg');
    await press('Enter');
    expect(source.actions.runs, 'Enter does nothing until the name matches').toHaveLength(0);
    expect($('[data-testid="action-why"]')!.textContent).toBe('type pg1 to confirm');
    expect($('[data-testid="action-execute"]')!.hasAttribute('disabled')).toBe(true);
    await type('1');
    expect($('[data-testid="action-confirm"]')!.dataset.matches).toBe('true');
    await press('Enter');
    expect(source.actions.runs).toEqual([{ what: { kind: 'switchover', target: 'pg1', runId: null }, confirm: 'pg1', overrides: [] }]);

    const steps = $$('[data-testid="action-step"]');
    expect(steps.map((s) => [s.dataset.id, s.dataset.phase])).toEqual([
      ['pause:pgb0', 'ok'],
      ['promote', 'ok'],
    ]);
    expect(steps[1]!.textContent).toContain('812 ms');
    expect(steps[1]!.textContent).toContain('promoted on timeline 3');
    expect($$('[data-testid="verify-check"]').map((c) => c.dataset.status)).toEqual(['pass']);
    const out = $('[data-testid="action-outcome"]')!;
    expect(out.dataset.kind).toBe('done');
    expect(out.classList.contains('h-ok')).toBe(true);
    expect(out.textContent).toContain('DONE');
    expect(document.activeElement, 'focus lands on the outcome').toBe(out);

    const link = $('[data-testid="action-audit-link"]')!;
    expect(link.textContent).toBe('audit #12');
    link.click();
    await flush();
    expect($('[data-testid="actions-panel"]')).toBeNull();
    const row = $('[data-testid="audit-record"][data-seq="12"]')!;
    expect(row.dataset.outcome).toBe('done');
    expect(document.activeElement, 'the record followed is focused').toBe(row);
    expect($('[data-testid="audit-body"]'), 'and its body open').not.toBeNull();
    expect($('[data-testid="audit-verdict"]')!.dataset.intact).toBe('true');
    await press('Enter');
    expect($('[data-testid="audit-body"]'), 'Enter folds it').toBeNull();
    await press('Escape');
    expect($('[data-testid="audit-trail"]')).toBeNull();
    await press('a');
    expect($('[data-testid="audit-trail"]'), 'a opens the audit trail').not.toBeNull();
    await press('Escape');
  });

  it('shows a refusal with its reason and offers no way to run it', async () => {
    const source = new DesktopSource();
    const store = await mountApp(source);
    await source.actions.unlock('Ada');
    await store.actions.refresh();
    store.actions.openPanel({ kind: 'switchover', target: 'pg3', runId: null });
    await flush();
    const dry = $('[data-testid="action-dry-run"]')!;
    expect(dry.dataset.kind).toBe('refused');
    expect(dry.textContent).toContain('REFUSED');
    expect(dry.textContent).toContain('upstream pg1');
    expect($('[data-testid="action-check"][data-id="target_direct_child"]')!.dataset.status).toBe('fail');
    expect(document.activeElement, 'focus on the refusal').toBe(dry);
    expect($('[data-testid="action-execute"]')!.hasAttribute('disabled')).toBe(true);
    expect($('[data-testid="action-why"]')!.textContent).toMatch(/^refused by preflight/);
    await press('Escape');
    expect($('[data-testid="actions-panel"]'), 'Esc closes').toBeNull();
    expect(source.actions.runs).toHaveLength(0);
  });

  it('offers switchovers, failover, interrupted actions and the audit trail in the palette', async () => {
    const source = new DesktopSource();
    await mountApp(source);
    await press(':');
    const first = async (query: string) => {
      const input = $('[data-testid="palette"]') as HTMLInputElement;
      input.value = query;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await flush();
      const li = $('[data-testid="palette-item"]')!;
      return [li.dataset.kind, li.querySelector('.label')!.textContent];
    };
    expect(await first('switchover pg1')).toEqual(['action', 'Switchover to pg1']);
    expect(await first('pg1'), 'a node name still jumps to the node first').toEqual(['node', 'pg1']);
    expect(await first('failover')).toEqual(['action', 'Failover…']);
    expect(await first('interrupted')).toEqual(['action', 'Actions: interrupted']);
    expect(await first('audit')).toEqual(['action', 'Audit trail']);
    expect(await first('unlock')).toEqual(['action', 'Unlock actions…']);
    await first('switchover pg17');
    await press('Enter');
    const panel = $('[data-testid="actions-panel"]')!;
    expect([panel.dataset.kind, panel.dataset.target], 'Enter opens the panel on it').toEqual(['switchover', 'pg17']);
  });

  it('a banner offers the recovery plan of an interrupted action', async () => {
    const source = new DesktopSource();
    const run: OpenRun = {
      id: 5,
      fleet: 'lab',
      kind: 'switchover',
      targets: ['pg0', 'pg1'],
      operator: 'Ada',
      os_user: 'root',
      host: 'desk',
      pid: 4242,
      started_at: '2026-01-01T00:00:00.000Z',
      ended_at: null,
      state: 'running',
      message: '',
      steps: [{ seq: 1, step: 'pause:pgb0', title: 'PAUSE pgb0/chat', started_at: '', ended_at: null, outcome: null, ms: null, message: null }],
      running: false,
    };
    source.actions.st.open_runs = [run];
    await mountApp(source);
    const banner = $('[data-testid="interrupted-banner"]')!;
    expect(banner.textContent).toContain('#5 switchover pg0 → pg1 by Ada since 2026-01-01T00:00:00.000Z: interrupted, its console gone');
    ($('[data-testid="banner-recover-5"]') as HTMLButtonElement).click();
    await flush();
    expect($('[data-testid="actions-panel"]')!.dataset.kind).toBe('recovery');
    expect(source.actions.plans.at(-1)).toEqual({ kind: 'recovery', target: null, runId: 5 });
    expect($('[data-testid="actions-panel"]')!.textContent).toContain('never ended');
  });

  it('draws a fenced node as "fenced · needs rejoin" with the rejoin hint, and s offers nothing on it', async () => {
    const source = new DesktopSource();
    const s = healthySnapshot();
    s.nodes.find((n) => n.name === 'pg0')!.role = 'fenced';
    s.anomalies.push(anomaly('needs_rejoin', subjects.node('pg0')));
    const store = await mountApp(source, s);
    await press('2');
    const box = $('[data-testid="node-pg0"]')!;
    expect(box.dataset.role).toBe('fenced');
    expect(box.classList.contains('primary'), 'never drawn as a primary').toBe(false);
    expect(box.classList.contains('fenced')).toBe(true);
    expect(box.textContent).toContain('fenced · needs rejoin');
    store.ui.selectedNode = 'pg0';
    await flush();
    expect($('[data-testid="node-rejoin-hint"]')!.textContent).toContain('lab/lab rejoin pg0');
    expect($('[data-testid="node-switchover"]')).toBeNull();
    await press('s');
    expect($('[data-testid="actions-panel"]')).toBeNull();
  });

  it('marks a paused pool PAUSED', async () => {
    const source = new DesktopSource();
    const s = healthySnapshot();
    const pool = s.pools[0]!;
    s.poolers.find((p) => p.name === pool.name)!.paused = [pool.database];
    await mountApp(source, s);
    await press('3');
    const row = $(`[data-testid="pool-${pool.name}-${pool.database}"]`)!;
    expect(row.dataset.paused).toBe('true');
    expect(row.textContent).toContain('PAUSED');
  });
});

describe('where no action exists', () => {
  it('a browser on fleetdeck serve (no actions in its source) shows no lock, no Actions panel and no action in the palette', async () => {
    const source = new FakeSource();
    source.info = { ...source.info, read_only: true };
    const store = await mountApp(source);
    expect(store.actions.offered.value).toBe(false);
    expect($('[data-testid="actions-lock"]')).toBeNull();
    await press('2');
    store.ui.selectedNode = 'pg1';
    await flush();
    expect($('[data-testid="node-switchover"]')).toBeNull();
    await press('s');
    await press('a');
    expect($('[data-testid="actions-panel"]')).toBeNull();
    expect($('[data-testid="audit-trail"]')).toBeNull();
    await press(':');
    expect($$('[data-testid="palette-item"][data-kind="action"]')).toHaveLength(0);
  });

  it('the war room shows none of it, and entering it locks an unlocked session', async () => {
    const source = new DesktopSource();
    const store = await mountApp(source);
    await source.actions.unlock('Ada');
    await store.actions.refresh();
    await flush();
    expect($('[data-testid="actions-lock"]')!.dataset.unlocked).toBe('true');
    await press('w');
    expect(store.ui.kiosk).toBe(true);
    await flush();
    expect(source.actions.st.unlocked, 'war-room mode locks the session').toBe(false);
    expect($('[data-testid="actions-lock"]')).toBeNull();
    store.ui.view = 'topology';
    store.ui.selectedNode = 'pg1';
    await flush();
    expect($('[data-testid="node-switchover"]')).toBeNull();
    await press('a');
    store.actions.openPanel({ kind: 'switchover', target: 'pg1', runId: null });
    await flush();
    expect($('[data-testid="actions-panel"]')).toBeNull();
    expect($('[data-testid="audit-trail"]')).toBeNull();
  });
});
