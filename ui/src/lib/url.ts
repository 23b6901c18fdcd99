/** Drop the URL's #fragment without a reload or a hashchange event. */
export function clearHash(): void {
  try {
    history.replaceState(history.state, '', `${window.location.pathname}${window.location.search}`);
  } catch {
    /* sandboxed document: harmless */
  }
}
