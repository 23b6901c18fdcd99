// Number formatting for a console read at a glance: few digits, units always.

export const DASH = '—';

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const abs = Math.abs(v);
  if (abs < 1024) return `${Math.round(v)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let x = v / 1024;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(Math.abs(x) < 10 ? 1 : 0)} ${units[i]}`;
}

export function seconds(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const abs = Math.abs(v);
  if (abs === 0) return '0 s';
  if (abs < 0.001) return `${(v * 1e6).toFixed(0)} µs`;
  if (abs < 1) return `${(v * 1000).toFixed(abs < 0.01 ? 1 : 0)} ms`;
  if (abs < 60) return `${v.toFixed(abs < 10 ? 2 : 1)} s`;
  if (abs < 3600) return `${Math.floor(v / 60)} min ${Math.round(v % 60)} s`;
  return `${Math.floor(v / 3600)} h ${Math.round((v % 3600) / 60)} min`;
}

export function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? DASH : seconds(v / 1000);
}

export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return `${(v * 100).toFixed(digits)} %`;
}

/** 1234 → "1.2k", 0.5 → "0.5", 12 → "12". */
export function num(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${(v / 1e9).toFixed(digits)}G`;
  if (abs >= 1e6) return `${(v / 1e6).toFixed(digits)}M`;
  if (abs >= 1e4) return `${(v / 1e3).toFixed(digits)}k`;
  if (abs >= 100 || Number.isInteger(v)) return `${Math.round(v)}`;
  return v.toFixed(abs < 1 ? 2 : digits);
}

export function rate(v: number | null | undefined, unit = '/s'): string {
  return v === null || v === undefined ? DASH : `${num(v)}${unit}`;
}

/** Age of an RFC 3339 instant relative to `now` (ms). */
export function age(iso: string | null | undefined, now: number): string {
  if (!iso) return DASH;
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return DASH;
  return seconds(Math.max(0, (now - t) / 1000));
}

export function lag(bytesV: number | null | undefined, secondsV: number | null | undefined): string {
  return `${bytes(bytesV)} · ${seconds(secondsV)}`;
}

/** Bytes in at most five characters, for a label read across a room: "0B", "384B", "4.5K", "303M", "1.2G". */
export function bytesShort(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const abs = Math.abs(v);
  if (abs < 1024) return `${Math.round(v)}B`;
  const units = ['K', 'M', 'G', 'T', 'P'];
  let x = v / 1024;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(Math.abs(x) < 10 ? 1 : 0)}${units[i]}`;
}

/** Seconds as short as they stay exact enough: "0s", "73ms", "2.5s", "38s", "1m38s", "2h05m". */
export function secondsShort(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const abs = Math.abs(v);
  if (abs === 0) return '0s';
  if (abs < 1) return `${Math.round(v * 1000)}ms`;
  if (abs < 10) return `${v.toFixed(1)}s`;
  if (abs < 60) return `${Math.round(v)}s`;
  const whole = Math.round(v);
  if (abs < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

/** Replication lag for the war-room tree, where the label must fit a column gap at a large size: "4.5K 0s". */
export function lagShort(bytesV: number | null | undefined, secondsV: number | null | undefined): string {
  return `${bytesShort(bytesV)} ${secondsShort(secondsV)}`;
}

/** A coarse age: "12s", "4m", "2h 05m", "3d 4h": changes rarely once past a minute. */
export function compactAge(msV: number): string {
  const s = Math.max(0, Math.floor(msV / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
