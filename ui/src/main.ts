// Startup: pick the DataSource (Tauri IPC inside the desktop shell, HTTP +
// SSE in a browser), build the store, mount, then start listening.
import './lib/fontawesome-config';
import 'uplot/dist/uPlot.min.css';
import './styles/app.css';
import { createApp } from 'vue';
import App from './App.vue';
import { selectSource } from './data/source';
import { clearHash } from './lib/url';
import { createStore, provideStore, VIEWS } from './state/store';

async function main(): Promise<void> {
  const params = new URLSearchParams(window.location.search);
  const kiosk = ['1', 'true', 'yes'].includes(params.get('kiosk') ?? '');
  const source = await selectSource();
  const store = createStore(source, { kiosk });
  const wanted = params.get('view') ?? window.location.hash.slice(1);
  const view = VIEWS.find((v) => v.name === wanted);
  if (view) store.ui.view = view.name;
  if (window.location.hash !== '') clearHash();
  // The end-to-end benchmark reads main-thread time per snapshot update here.
  window.__fleetdeckPerf = store.perf;
  const app = createApp(App);
  provideStore(app, store);
  app.mount('#app');
  await store.start();
}

void main();
