// Vite builds the one UI that both the Tauri shell (custom protocol) and
// `fleetdeck serve` (any path prefix) load, so every asset URL is relative.
import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';
import { pev2FrozenPrototype } from './build/frozen-prototype';
import type { Plugin as PostcssPlugin, Rule } from 'postcss';

// PEV2 needs Bootstrap's CSS, and Bootstrap styles bare elements (body,
// table, h1, button...). Scope Bootstrap's and PEV2's rules under the plan
// container so the rest of FleetDeck keeps its own look. Tooltips (tippy) are
// attached to <body>, so their rules stay global; they are namespaced anyway.
const PLAN_SCOPE = '.fd-plan';
const SCOPED_FILES = /node_modules[\\/](bootstrap[\\/]dist[\\/]css|pev2[\\/]dist)[\\/]/;

function scopeSelector(sel: string): string {
  const s = sel.trim();
  if (s.includes('tippy')) return s;
  const root = /^(:root|html|body)(?![\w-])/;
  if (root.test(s)) return s.replace(root, PLAN_SCOPE);
  if (s.startsWith('[data-bs-theme')) return `${PLAN_SCOPE}${s}, ${PLAN_SCOPE} ${s}`;
  return `${PLAN_SCOPE} ${s}`;
}

const scopePlanCss: PostcssPlugin = {
  postcssPlugin: 'fleetdeck-scope-plan-css',
  Once(root) {
    const file = root.source?.input.file ?? '';
    if (!SCOPED_FILES.test(file)) return;
    root.walkRules((rule: Rule) => {
      const parent = rule.parent;
      if (parent && parent.type === 'atrule' && /keyframes$/i.test((parent as { name: string }).name)) return;
      rule.selectors = rule.selectors.map(scopeSelector);
    });
  },
};

export default defineConfig({
  base: './',
  plugins: [pev2FrozenPrototype(), vue()],
  css: {
    postcss: { plugins: [scopePlanCss] },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // pev2 (with d3, bootstrap, highlight.js) is one lazy chunk, loaded only
    // when a plan is first drawn.
    chunkSizeWarningLimit: 1500,
    // Assets as files, never inlined as data: URIs.
    assetsInlineLimit: 0,
  },
  server: {
    // `vite` dev server against a running `fleetdeck serve`:
    //   FLEETDECK_SERVE=http://127.0.0.1:7070 npm run dev
    proxy: process.env.FLEETDECK_SERVE
      ? { '/api': { target: process.env.FLEETDECK_SERVE, changeOrigin: true } }
      : undefined,
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
  },
});
