// pg_stat_statements make up most of a snapshot (≈ 440 of 520 KB for the
// 49-node lab: 20 statements with their full text per node) but change only
// when the engine re-reads them (every few refreshes) and are only looked at
// in the Queries view. In the browser the stream is therefore decoded in a
// worker, which sends the rest of the snapshot as an object and the
// statements as JSON text only when they changed; the main thread parses
// that text on first access to `snapshot.statements`, which most views never
// make.
import type { NodeStatements } from '../generated/NodeStatements';
import type { Snapshot } from '../generated/Snapshot';

/** What changes when the engine re-reads pg_stat_statements. */
export function statementsSignature(list: readonly NodeStatements[]): string {
  let sig = '';
  for (const n of list) sig += `${n.node}@${n.read_at}@${n.top.length}|`;
  return sig;
}

/** A snapshot without its statements, plus the statements' JSON when they changed (else null). */
export interface SplitSnapshot {
  rest: Omit<Snapshot, 'statements'>;
  statementsJson: string | null;
}

/** Worker side: split a parsed snapshot; `last` carries the previous signature between calls. */
export function splitSnapshot(s: Snapshot, last: { sig: string | null }): SplitSnapshot {
  const { statements, ...rest } = s;
  const sig = statementsSignature(statements ?? []);
  const changed = sig !== last.sig;
  last.sig = sig;
  return { rest, statementsJson: changed ? JSON.stringify(statements ?? []) : null };
}

/** Main side: keeps the latest statements text and parses it once, when first read. */
export class LazyStatements {
  private json = '[]';
  private parsed: NodeStatements[] | null = null;
  /** Times the text was actually parsed (tests). */
  parses = 0;

  update(json: string | null): void {
    if (json === null || json === this.json) return;
    this.json = json;
    this.parsed = null;
  }

  get(): NodeStatements[] {
    if (this.parsed === null) {
      this.parsed = JSON.parse(this.json) as NodeStatements[];
      this.parses++;
    }
    return this.parsed;
  }

  /** The full Snapshot, with `statements` as a lazy, cached property. */
  attach(rest: Omit<Snapshot, 'statements'>): Snapshot {
    const lazy = this;
    Object.defineProperty(rest, 'statements', {
      enumerable: true,
      configurable: true,
      get() {
        return lazy.get();
      },
    });
    return rest as Snapshot;
  }
}
