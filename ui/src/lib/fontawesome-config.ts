// PEV2 bundles Font Awesome, which by default injects a <style> element at
// runtime. The app's CSP (style-src 'self') would block it, so tell Font
// Awesome not to, before PEV2's module runs, and ship its CSS as a file
// instead (see PlanViewer.vue). Imported first wherever PEV2 is imported.
declare global {
  interface Window {
    FontAwesomeConfig?: { autoAddCss?: boolean };
  }
}

if (typeof window !== 'undefined') {
  window.FontAwesomeConfig = { ...(window.FontAwesomeConfig ?? {}), autoAddCss: false };
}

export {};
