// How wide a line of text is drawn, for SVG labels that must stay inside a
// box or a column gap (the war-room tree, where text is as large as the row
// allows). Measured with a canvas in the page's own sans font; a rough
// per-character estimate where there is no canvas (tests under jsdom).

/** A character's advance in ems when nothing can measure it (DejaVu Sans, bold digits and lower case, rounded up). */
const FALLBACK_EM = 0.68;
/** Lag labels change every second: forget old measurements rather than grow. */
const MAX_CACHED = 4000;

let ctx: CanvasRenderingContext2D | null | undefined;
let family = 'sans-serif';
const cache = new Map<string, number>();

function context(): CanvasRenderingContext2D | null {
  if (ctx !== undefined) return ctx;
  ctx = null;
  if (typeof document === 'undefined') return ctx;
  try {
    ctx = document.createElement('canvas').getContext('2d');
    family = getComputedStyle(document.documentElement).getPropertyValue('--sans').trim() || family;
  } catch {
    ctx = null;
  }
  return ctx;
}

/** Width in px (= SVG user units before scaling) of `text` at `size` px and `weight`. */
export function textWidth(text: string, size: number, weight = 400): number {
  const key = `${weight}\u0000${size}\u0000${text}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const c = context();
  let w: number;
  if (c) {
    c.font = `${weight} ${size}px ${family}`;
    w = c.measureText(text).width;
  } else {
    w = text.length * size * FALLBACK_EM;
  }
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, w);
  return w;
}
