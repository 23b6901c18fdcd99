// The desktop's guarded actions as app state: the session's lock (read from
// the shell, its countdown ticking here), the fleet's interrupted runs, and
// which of the Actions panel and the audit trail is open on what. Offered
// only when the data source has actions (the desktop; never a browser on
// `fleetdeck serve`), the fleet has an action login, and the app is not the
// war-room display; entering war-room mode locks an unlocked session.
//
// The lock is the shell's: this only reads it. Reading it is not activity
// (src-tauri/src/action_session.rs), so the countdown is computed here from
// the last read and the state is read again every POLL_MS and when it runs out.
import { computed, reactive, ref, shallowRef, watch, type Ref } from 'vue';
import type { UiError } from '../generated/UiError';
import { toUiError } from '../data/errors';
import { relockIn, type ActionsApi, type ActionsState, type ActionTarget } from '../lib/actions';

/** How often the lock and the open runs are read again while actions are offered. */
export const POLL_MS = 15_000;

export interface ActionsUi {
  /** The Actions panel, on what (null: closed). */
  panel: ActionTarget | null;
  /** Bumped on every open, so a panel re-opened on the same target plans again. */
  opened: number;
  /** The audit trail is open; `auditSeq` is the record to show first (expanded). */
  auditOpen: boolean;
  auditSeq: number | null;
  /** An action runs in the panel: it stays open until the action ends. */
  running: boolean;
}

export function createActions(api: ActionsApi | undefined, offered: Ref<boolean>, kiosk: () => boolean, now: () => number) {
  const state = shallowRef<ActionsState | null>(null);
  const readAt = ref(0);
  const error = shallowRef<UiError | null>(null);
  const clock = ref(now());
  const ui = reactive<ActionsUi>({ panel: null, opened: 0, auditOpen: false, auditSeq: null, running: false });
  let ticker: ReturnType<typeof setInterval> | null = null;
  let poller: ReturnType<typeof setInterval> | null = null;

  const relockLeft = computed(() => relockIn(state.value, readAt.value, clock.value));
  const unlocked = computed(() => (state.value?.unlocked ?? false) && (relockLeft.value ?? 1) > 0);
  /** Runs to recover: interrupted (console gone) or ended needing attention; not one running now. */
  const interrupted = computed(() => (state.value?.open_runs ?? []).filter((r) => !r.running));

  function take(s: ActionsState): ActionsState {
    state.value = s;
    readAt.value = now();
    clock.value = readAt.value;
    error.value = null;
    return s;
  }

  async function refresh(): Promise<void> {
    if (!api || !offered.value) return;
    try {
      take(await api.state());
    } catch (e) {
      error.value = toUiError(e);
    }
  }

  /** Unlocks as `operator` (null: the name given before); rejects with the shell's UiError. */
  async function unlock(operator: string | null): Promise<ActionsState> {
    if (!api) throw toUiError('actions are not offered here', 'refused');
    return take(await api.unlock(operator));
  }

  async function lock(): Promise<void> {
    if (!api) return;
    try {
      take(await api.lock());
    } catch (e) {
      error.value = toUiError(e);
    }
  }

  function openPanel(what: ActionTarget): void {
    if (!offered.value || ui.running) return;
    ui.auditOpen = false;
    ui.panel = what;
    ui.opened += 1;
    void refresh();
  }

  function closePanel(): void {
    if (ui.running) return;
    ui.panel = null;
    void refresh();
  }

  function openAudit(seq: number | null = null): void {
    if (!offered.value || ui.running) return;
    ui.panel = null;
    ui.auditSeq = seq;
    ui.auditOpen = true;
  }

  function closeAudit(): void {
    ui.auditOpen = false;
    ui.auditSeq = null;
  }

  function stopTimers(): void {
    if (ticker !== null) clearInterval(ticker);
    if (poller !== null) clearInterval(poller);
    ticker = poller = null;
  }

  // The countdown ticks while unlocked; at zero the shell has locked: read it.
  watch(
    () => state.value?.unlocked ?? false,
    (on) => {
      if (ticker !== null) clearInterval(ticker);
      ticker = null;
      if (!on) return;
      ticker = setInterval(() => {
        clock.value = now();
        if (relockLeft.value === 0) void refresh();
      }, 1000);
    },
  );

  watch(
    offered,
    (on) => {
      if (poller !== null) clearInterval(poller);
      poller = null;
      if (!on) {
        ui.panel = null;
        ui.auditOpen = false;
        return;
      }
      void refresh();
      poller = setInterval(() => void refresh(), POLL_MS);
    },
    { immediate: true },
  );

  // The war room never holds an unlocked session.
  watch(kiosk, (k) => {
    if (k && state.value?.unlocked) void lock();
  });

  return {
    /** The data source can act at all (the desktop). */
    available: !!api,
    api,
    offered,
    state,
    error,
    relockLeft,
    unlocked,
    interrupted,
    ui,
    refresh,
    unlock,
    lock,
    openPanel,
    closePanel,
    openAudit,
    closeAudit,
    stop: stopTimers,
  };
}

export type Actions = ReturnType<typeof createActions>;
