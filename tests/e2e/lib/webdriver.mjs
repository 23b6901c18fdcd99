// A minimal W3C WebDriver client over fetch, for tauri-driver (which forwards
// to WebKitWebDriver). Only what the tests use: sessions, finding elements,
// attributes, clicks, keys and script execution.

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriverError extends Error {}

export class Session {
  /** @param {string} base e.g. http://127.0.0.1:4444 @param {string} id */
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  /**
   * Creates a session. Capabilities are ONLY `tauri:options` (application and
   * args): tauri-driver turns them into WebKitGTK's; a browserName would make
   * WebKitWebDriver look for a browser and fail.
   */
  static async create(base, application, args = []) {
    const value = await call(base, 'POST', '/session', {
      capabilities: { alwaysMatch: { 'tauri:options': { application, args } } },
    });
    return new Session(base, value.sessionId);
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  async delete() {
    await this.cmd('DELETE', '');
  }

  /** Elements matching a CSS selector (ids). */
  async findAll(css) {
    const els = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return els.map((e) => e[ELEMENT]);
  }

  /** The first element matching `css`, or null. */
  async find(css) {
    return (await this.findAll(css))[0] ?? null;
  }

  attribute(el, name) {
    return this.cmd('GET', `/element/${el}/attribute/${encodeURIComponent(name)}`);
  }

  text(el) {
    return this.cmd('GET', `/element/${el}/text`);
  }

  click(el) {
    return this.cmd('POST', `/element/${el}/click`, {});
  }

  type(el, text) {
    return this.cmd('POST', `/element/${el}/value`, { text });
  }

  /** Runs `script` (a function body; `arguments` holds `args`) in the page. */
  execute(script, args = []) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  /**
   * Resolves once the page has painted its current DOM and the compositor had
   * time to put it on the X display (two animation frames, then `ms`): a
   * screenshot of the display taken right after a DOM change shows the old frame.
   */
  async painted(ms = 800) {
    try {
      await this.cmd('POST', '/execute/async', {
        script: 'const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));',
        args: [],
      });
    } catch {
      // WebKitWebDriver now and then answers an async script with "unknown
      // error" (seen in kiosk mode while views cycle); a picture a few frames
      // late is still the picture.
      ms += 500;
    }
    await new Promise((r) => setTimeout(r, ms));
  }

  /** Presses and releases each key of `keys` (e.g. ':' or '\uE007' for Enter) on the focused element. */
  async keys(keys) {
    const actions = [];
    for (const k of keys) actions.push({ type: 'keyDown', value: k }, { type: 'keyUp', value: k });
    await this.cmd('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions }] });
    await this.cmd('DELETE', '/actions');
  }
}

/** Enter, for `keys`. */
export const ENTER = '\uE007';

async function call(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    // A hung driver fails the call, not the whole run at the test timeout.
    signal: AbortSignal.timeout(60_000),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebDriverError(`${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (!res.ok || (json.value && json.value.error)) {
    const v = json.value ?? {};
    throw new WebDriverError(`${method} ${path}: ${v.error ?? res.status}: ${v.message ?? text.slice(0, 300)}`);
  }
  return json.value;
}
