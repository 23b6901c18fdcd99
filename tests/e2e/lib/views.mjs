// What the tests need to know about the UI, in one place: the data-testid
// contract (documented by the UI) and how to reach each view. Shared by the
// desktop (WebDriver) and browser (playwright) tests through a tiny adapter
// with find(css) → handle|null, attr(handle, name), click(handle), keys(str).

import { waitFor } from './lab.mjs';

/** The `seq` of the snapshot the page drew last (body[data-snapshot-seq]), or null before the first. */
export async function drawnSeq(ui) {
  const body = await ui.find('body');
  const v = body && (await ui.attr(body, 'data-snapshot-seq'));
  return v === null || v === undefined || v === '' ? null : Number(v);
}

/** Resolves once the page has drawn a snapshot newer than the one it shows now (the engine refreshes every second). */
export async function nextSnapshotDrawn(ui, where) {
  const seq = await drawnSeq(ui);
  await waitFor(`a new snapshot drawn in ${where} (after #${seq})`, async () => {
    const now = await drawnSeq(ui);
    return now !== null && (seq === null || now > seq);
  }, { timeout: 20_000 });
}

/** Opens the command palette (`:`), types `query` and picks the first match. */
export async function palette(ui, query) {
  await ui.keys(':');
  const box = await ui.waitFor('the palette', () => ui.find('[data-testid=palette]'));
  const input = (await ui.find('[data-testid=palette] input')) ?? box;
  await ui.type(input, query);
  await ui.keys('\n');
}

/**
 * Shows view `name` (overview, topology, pools, queries, cache, ai) by its
 * tab, else (kiosk mode has no tabs) through the palette.
 */
export async function gotoView(ui, name) {
  const tab = await ui.find(`[data-testid=tab-${name}]`);
  if (tab) await ui.click(tab);
  else await palette(ui, name);
  await ui.waitFor(`the ${name} view`, () => ui.find(`[data-view=${name}]`));
}
